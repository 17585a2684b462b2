package app_test

import (
	"fmt"
	"net/url"
	"testing"
)

// BenchmarkCreateInteraction measures POST /api/v1/interactions through the whole
// stack: parsing, validation, the patient check and the insert.
func BenchmarkCreateInteraction(b *testing.B) {
	e := newEnv(b)
	e.createPatient("A11")
	body := `{"insurance_no":"A11","symptoms":"dry cough","metrics":{"temp":37.4,"BP":"120/80","ECG":"Normal"},` +
		`"health_status":5,"qa":{"since":"2 weeks"},"next_steps":{"next_visit":"2024-10-12","prescribed_meds":["ABC 20mg"]},"label":["fever","respiratory"]}`
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res := e.do("POST", "/api/v1/interactions", body); res.status != 201 {
			b.Fatalf("status %d: %s", res.status, res.body)
		}
	}
}

// BenchmarkHistoryPage measures one page of 20 of a patient's history, filtered by a
// label, in a collection of 2,000 interactions across 20 patients.
func BenchmarkHistoryPage(b *testing.B) {
	e := newEnv(b)
	for p := 0; p < 20; p++ {
		no := fmt.Sprintf("P%02d", p)
		e.createPatient(no)
		for i := 0; i < 100; i++ {
			label := []string{"fever", "skin", "gut", "cardio"}[i%4]
			e.mustDo(201, "POST", "/api/v1/interactions", fmt.Sprintf(
				`{"insurance_no":%q,"interaction_date":"2024-01-01T00:00:00Z","label":[%q],"metrics":{"BP":"120/80"}}`, no, label))
		}
	}
	path := "/api/v1/patients/P07/interactions?limit=20&label=" + url.QueryEscape("fever,skin")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res := e.do("GET", path, ""); res.status != 200 {
			b.Fatalf("status %d: %s", res.status, res.body)
		}
	}
}
