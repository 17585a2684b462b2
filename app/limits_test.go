package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
	"github.com/clinic/interactions/summary"
	"github.com/clinic/interactions/vitals"
)

// objectOf returns a JSON object of n keys, <prefix>0 on, each holding value (JSON).
func objectOf(prefix string, n int, value string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%s", prefix+fmt.Sprint(i), value)
	}
	b.WriteByte('}')
	return b.String()
}

// TestDocumentLimits sends records past the caps on what one record may hold, as
// an attacker would: each is refused with 422, naming the cap and where, and
// nothing is stored.
func TestDocumentLimits(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")
	long := strings.Repeat("x", models.MaxMetricText+1)
	tests := []struct {
		name, path, body, field string
	}{
		// Under the body limit: before the caps, the store took longer than
		// REQUEST_TIMEOUT to store it (503), and stored it all the same.
		{"80,000 metrics in a 0.9 MB body", "/api/v1/interactions",
			`{"insurance_no":"A11","metrics":` + objectOf("k", 80_000, "1") + `}`, "metrics"},
		{"65 metrics", "/api/v1/interactions", `{"insurance_no":"A11","metrics":` + objectOf("k", 65, "1") + `}`, "metrics"},
		{"a metric's text", "/api/v1/interactions", `{"insurance_no":"A11","metrics":{"ECG":"` + long + `"}}`, "metrics.ECG"},
		{"an object", "/api/v1/interactions", `{"insurance_no":"A11","ward":` + objectOf("bed", 257, "1") + `}`, "ward"},
		{"an array", "/api/v1/interactions", `{"insurance_no":"A11","ward":[` + strings.Repeat("1,", 1000) + `1]}`, "ward"},
		{"a patient's object", "/api/v1/patients", `{"insurance_no":"B11","family":` + objectOf("m", 257, `"x"`) + `}`, "family"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fields := assertError(t, e.do("POST", tc.path, tc.body), 422, "document_limit_exceeded")
			if msg, _ := fields[tc.field].(string); !strings.Contains(msg, "the cap is") {
				t.Errorf("fields %v, want %s naming its cap", fields, tc.field)
			}
		})
	}
	if n, p := e.count(repository.InteractionsCollection), e.count(repository.PatientsCollection); n != 0 || p != 1 {
		t.Fatalf("%d interactions and %d patients stored, want 0 and 1", n, p)
	}

	t.Run("an amendment whose result is past a cap", func(t *testing.T) {
		e.mustDo(201, "POST", "/api/v1/interactions", `{"id":"1","insurance_no":"A11","metrics":`+objectOf("a", 60, "1")+`}`)
		fields := assertError(t, e.patch("/api/v1/interactions/1", `"1"`, `{"metrics":`+objectOf("b", 10, "2")+`}`),
			422, "document_limit_exceeded")
		if _, ok := fields["metrics"]; !ok {
			t.Errorf("fields %v, want metrics", fields)
		}
		got := e.mustDo(200, "GET", "/api/v1/interactions/1", "")
		if metrics, _ := got["metrics"].(map[string]any); got["version"] != 1.0 || len(metrics) != 60 {
			t.Errorf("the interaction changed: version %v, %d metrics", got["version"], len(metrics))
		}
		assertError(t, e.patch("/api/v1/patients/A11", `"1"`, `{"family":`+objectOf("m", 257, `"x"`)+`}`), 422, "document_limit_exceeded")
		if got := e.mustDo(200, "GET", "/api/v1/patients/A11", ""); got["version"] != 1.0 || got["family"] != nil {
			t.Errorf("the patient changed: %v", got)
		}
	})
}

// TestChartOfARecordPastTheLimits stores, straight into the store as a server
// without the caps did, an interaction of 20,000 metrics, and reads the patient's
// chart every way: each answers, and the summary and the report chart the vital
// signs and MaxOtherMetrics other metrics, and count the rest.
func TestChartOfARecordPastTheLimits(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")
	for i, v := range []string{`{"temp":37.1,"BP":"120/80"}`, `{"temp":37.4,"HR":70}`, `{"temp":"warm"}`} {
		e.mustDo(201, "POST", "/api/v1/interactions",
			fmt.Sprintf(`{"id":"v%d","insurance_no":"A11","interaction_date":"2024-09-0%dT09:00:00Z","metrics":%s}`, i, i+1, v))
	}
	const n = 20_000
	metrics := bson.D{{Key: "temp", Value: 38.5}, {Key: "BP", Value: "130/85"},
		{Key: "units", Value: numbered("k", 100, "mg")}}
	metrics = append(metrics, numbered("k", n, int32(5))...)
	now := time.Date(2024, 10, 1, 9, 0, 0, 0, time.UTC)
	bomb := models.Interaction{ID: "bomb", InsuranceNo: "A11", InteractionDate: now, Metrics: metrics, Label: []string{},
		Version: 1, CreatedAt: now, UpdatedAt: now}
	if _, err := e.db.Collection(repository.InteractionsCollection).InsertOne(context.Background(), bomb); err != nil {
		t.Fatal(err)
	}

	res := e.do("GET", "/api/v1/patients/A11/summary", "")
	if res.status != 200 {
		t.Fatalf("summary: %d %s", res.status, res.body)
	}
	var s summary.Summary
	if err := json.Unmarshal(res.body, &s); err != nil {
		t.Fatal(err)
	}
	var charted []string
	for _, series := range s.Vitals.Series {
		charted = append(charted, series.Metric)
	}
	// Read of the record: temp, BP, units and k0 to k60.
	want := []string{vitals.Temperature, vitals.Systolic, vitals.Diastolic, vitals.HeartRate,
		"k0", "k1", "k10", "k11", "k12", "k13", "k14", "k15", "k16", "k17", "k18", "k19", "k2", "k20", "k21", "k22"}
	if fmt.Sprint(charted) != fmt.Sprint(want) {
		t.Errorf("series %v\nwant   %v", charted, want)
	}
	if want := (vitals.LeftOut{Metrics: 61 - vitals.MaxOtherMetrics, Unread: n + 3 - 64}); s.Vitals.LeftOut != want {
		t.Errorf("left out %+v, want %+v", s.Vitals.LeftOut, want)
	}
	if len(s.Vitals.Latest) != 3+vitals.MaxOtherMetrics || len(s.Vitals.Unparseable) != 1 || s.Visits.Count != 4 {
		t.Errorf("%d latest values, %d unparseable, %d visits", len(s.Vitals.Latest), len(s.Vitals.Unparseable), s.Visits.Count)
	}

	res = e.do("GET", "/api/v1/patients/A11/report", "")
	if res.status != 200 {
		t.Fatalf("report: %d %s", res.status, res.body)
	}
	page := string(res.body)
	// The charts of the series and of health status, and the timeline.
	if charts := strings.Count(page, "<svg "); charts > len(want)+2 || !strings.Contains(page, "45 other metrics are not charted") ||
		!strings.Contains(page, fmt.Sprintf("%d metrics were not read", n+3-64)) {
		t.Errorf("the report draws %d charts, or does not say what it leaves out", charts)
	}
	if len(page) > 1<<20 {
		t.Errorf("the report is %d bytes", len(page))
	}

	history := e.mustDo(200, "GET", "/api/v1/patients/A11/interactions", "")
	items, _ := history["items"].([]any)
	if first, _ := items[0].(map[string]any); len(items) != 4 || first["id"] != "bomb" || len(first["metrics"].(map[string]any)) != n+3 {
		t.Errorf("the history does not list the record whole: %d items", len(items))
	}
	if lines := e.exportLines("A11", "", "application/x-ndjson"); len(lines) != 5 {
		t.Errorf("the export has %d lines, want the patient and 4 interactions", len(lines))
	}
	if lines := e.exportLines("A11", "?format=fhir-ndjson", "application/fhir+ndjson"); len(lines) < 5 {
		t.Errorf("the FHIR export has %d lines", len(lines))
	}
}

// numbered returns an object of n keys, <prefix>0 on, each holding value.
func numbered(prefix string, n int, value any) bson.D {
	d := make(bson.D, n)
	for i := range d {
		d[i] = bson.E{Key: prefix + fmt.Sprint(i), Value: value}
	}
	return d
}
