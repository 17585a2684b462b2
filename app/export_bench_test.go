package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

// exportFormats are the formats the export benchmarks run, by their query.
var exportFormats = []struct{ name, query string }{
	{"ndjson", ""}, {"fhir", "?format=fhir"}, {"fhir-ndjson", "?format=fhir-ndjson"},
}

// benchExport runs b.N exports of patient no through the whole stack (key check,
// audit event, handler, the store) over a real connection, reading each answer as a
// client does, and reports its size, the interactions exported and, sampled while
// the answer is read, the most the process's heap held (the embedded store's
// included, which runs in this process).
func benchExport(b *testing.B, e *env, base, no, query string, interactions int) {
	b.Helper()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	var size int64
	buf := make([]byte, 64<<10)
	runtime.GC()
	for b.Loop() {
		req, _ := http.NewRequest("GET", base+"/api/v1/patients/"+no+"/export"+query, nil)
		req.Header.Set("Authorization", "Bearer "+e.key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		if res.StatusCode != 200 {
			b.Fatalf("status %d", res.StatusCode)
		}
		size = 0
		for {
			n, err := res.Body.Read(buf)
			size += int64(n)
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		res.Body.Close()
	}
	b.ReportMetric(float64(interactions), "interactions")
	b.ReportMetric(float64(size)/(1<<20), "output-MB")
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
}

// BenchmarkExportSynthea exports the longest chart of the Synthea sample (708
// encounters, with their notes) on the embedded store, in each format.
//
//	go test ./app -run XXX -bench 'Export' -benchtime 5x
func BenchmarkExportSynthea(b *testing.B) {
	const sample = "../../shared/data/synthea-10"
	if _, err := os.Stat(sample); err != nil {
		b.Skipf("the Synthea sample is not here (%v)", err)
	}
	e := newEnvWithTimeout(b, time.Minute)
	importFHIR(b, e.repo, sample)
	var longest string
	var most int
	for _, no := range patientsOf(b, e) {
		if n := len(e.chart(no, true)); n > most {
			longest, most = no, n
		}
	}
	base := e.listen()
	for _, f := range exportFormats {
		b.Run(f.name, func(b *testing.B) { benchExport(b, e, base, longest, f.query, most) })
	}
}

// BenchmarkExportGenerated exports a patient of 1,000 and one of 10,000 generated
// interactions (vitals, a med, a test, QA, remarks and labels each) on the embedded
// store: the time grows with the chart, the heap does not.
func BenchmarkExportGenerated(b *testing.B) {
	e := newEnvWithTimeout(b, time.Minute)
	base := e.listen()
	for _, n := range []int{1000, 10000} {
		no := fmt.Sprintf("GEN-%d", n)
		e.createPatient(no)
		insertGenerated(b, e, no, n)
		for _, f := range exportFormats {
			b.Run(fmt.Sprintf("%d/%s", n, f.name), func(b *testing.B) { benchExport(b, e, base, no, f.query, n) })
		}
	}
}

// insertGenerated stores n interactions of patient no, an hour apart, in batches.
func insertGenerated(b *testing.B, e *env, no string, n int) {
	b.Helper()
	start := time.Date(2020, 1, 1, 8, 0, 0, 0, time.UTC)
	var batch []models.Interaction
	for i := range n {
		doc := bson.D{
			{Key: "id", Value: fmt.Sprintf("%s-%05d", no, i)}, {Key: "insurance_no", Value: no},
			{Key: "interaction_date", Value: start.Add(time.Duration(i) * time.Hour).Format(time.RFC3339)},
			{Key: "ailment", Value: "Influenza"}, {Key: "symptoms", Value: "fever above 38°C; dry cough"},
			{Key: "metrics", Value: bson.D{{Key: "temp", Value: 38.4}, {Key: "BP", Value: "120/80"}, {Key: "HR", Value: int32(88)},
				{Key: "SpO2", Value: int32(97)}, {Key: "weight", Value: 71.5}}},
			{Key: "remarks", Value: "Rest and fluids; review in a week if the fever persists."},
			{Key: "qa", Value: bson.D{{Key: "since when?", Value: "4 days"}}},
			{Key: "next_steps", Value: bson.D{{Key: "prescribed_meds", Value: []string{"Oseltamivir 75mg"}}, {Key: "prescribed_tests", Value: []string{"CRP"}}}},
			{Key: "label", Value: []string{"fever", "respiratory"}},
		}
		in, err := models.NewInteraction(doc, time.Now())
		if err != nil {
			b.Fatal(err)
		}
		if batch = append(batch, in); len(batch) == 1000 || i == n-1 {
			if _, err := e.repo.InsertInteractions(context.Background(), batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}
