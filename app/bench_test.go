package app_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
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

// BenchmarkPatientDirectory measures a page of 20 of the patient directory, whole
// and searched by the start of a name, among 2,000 patients with a visit each, as a
// picker asks for them.
func BenchmarkPatientDirectory(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	now := time.Now()
	first := []string{"Anna", "José", "Zoë", "Bert", "Maria", "Jan"}
	last := []string{"Straße", "Müller", "Lopez", "O'Brien", "Nowak", "Smith", "Kim"}
	var patients []models.Patient
	var visits []models.Interaction
	for i := range 2000 {
		no := fmt.Sprintf("D%05d", i)
		p, err := models.NewPatient(bson.D{{Key: "insurance_no", Value: no}, {Key: "fname", Value: first[i%len(first)]},
			{Key: "lname", Value: fmt.Sprintf("%s%d", last[i%len(last)], i)}}, now)
		if err != nil {
			b.Fatal(err)
		}
		patients = append(patients, p)
		visits = append(visits, models.Interaction{ID: "d-" + no, InsuranceNo: no, Version: 1, InteractionDate: now, CreatedAt: now, UpdatedAt: now})
	}
	if _, err := e.repo.InsertPatients(ctx, patients); err != nil {
		b.Fatal(err)
	}
	if _, err := e.repo.InsertInteractions(ctx, visits); err != nil {
		b.Fatal(err)
	}
	for name, q := range map[string]string{"all": "", "q=lop": "&q=lop", "q=maria+now": "&q=maria+now"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if res := e.do("GET", "/api/v1/patients?limit=20"+q, ""); res.status != 200 {
					b.Fatalf("status %d: %s", res.status, res.body)
				}
			}
		})
	}
}
