package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/fhir"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/reconcile"
	"github.com/clinic/interactions/records"
)

// syntheaSample is the Synthea sample of ../shared, beside the repository.
const syntheaSample = "../../shared/data/synthea-10"

// BenchmarkSummary measures GET /summary and GET /report through the whole stack
// (key check, audit event, one read of the patient and their chart, the
// computation, the JSON or HTML) on the store of the tests, for the longest chart of
// the imported Synthea sample and for a generated patient with 1,000 visits: cold,
// each request to a new server, which has computed nothing yet; warm, the same
// request again to one server, of a chart that has not changed, answered from what
// it computed the first time.
func BenchmarkSummary(b *testing.B) {
	b.Run("synthea-longest", func(b *testing.B) {
		if _, err := os.Stat(syntheaSample); err != nil {
			b.Skipf("skipped: the Synthea sample is not at %s (it comes with ../shared)", syntheaSample)
		}
		e := newEnv(b)
		no, visits := importLongestChart(b, e)
		benchmarkChartRoutes(b, e, no, visits)
	})
	b.Run("generated-1000", func(b *testing.B) {
		e := newEnv(b)
		const visits = 1000
		storeGeneratedChart(b, e, "GEN-1000", visits)
		benchmarkChartRoutes(b, e, "GEN-1000", visits)
	})
}

// benchmarkChartRoutes measures the summary and the report of patient no, whose
// chart holds visits interactions, cold and warm.
func benchmarkChartRoutes(b *testing.B, e *env, no string, visits int) {
	for _, route := range []string{"summary", "report"} {
		path := "/api/v1/patients/" + no + "/" + route
		b.Run(route+"/cold", func(b *testing.B) {
			var size int
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				server, err := app.NewServer(slog.New(slog.DiscardHandler), e.repo, app.ServerConfig{RequestTimeout: time.Minute})
				if err != nil {
					b.Fatal(err)
				}
				fresh := *e
				fresh.app = server
				b.StartTimer()
				size = fresh.get(b, path)
			}
			b.ReportMetric(float64(visits), "visits")
			b.ReportMetric(float64(size), "bytes")
		})
		b.Run(route+"/warm", func(b *testing.B) {
			e.get(b, path)
			var size int
			for b.Loop() {
				size = e.get(b, path)
			}
			b.ReportMetric(float64(visits), "visits")
			b.ReportMetric(float64(size), "bytes")
		})
	}
}

// get sends GET path with the clinician's key straight to the app, without the
// contract check of do, which would be timed too, and returns the body's size.
func (e *env) get(b *testing.B, path string) int {
	req := httptest.NewRequest("GET", path, nil)
	req.Header.Set("Authorization", "Bearer "+e.key)
	res, err := e.app.Test(req, 60_000)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != 200 {
		b.Fatalf("GET %s: %d %v\n%.300s", path, res.StatusCode, err, data)
	}
	return len(data)
}

// importLongestChart imports the Synthea sample as the seed tool does and returns
// the insurance number of the patient with the most interactions, and how many.
func importLongestChart(b *testing.B, e *env) (string, int) {
	ctx := context.Background()
	now := time.Now()
	clock := func() time.Time { return now }
	im := reconcile.New(e.repo, records.NewPatients(e.repo, e.repo.PatientVersions(), clock),
		records.NewInteractions(e.repo, e.repo.InteractionVersions(), clock), 1000)
	if _, err := fhir.Read(ctx, syntheaSample, fhir.Options{Now: now}, im); err != nil {
		b.Fatal(err)
	}
	if err := im.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	cur, err := e.db.Collection("interactions").Find(ctx, bson.D{})
	if err != nil {
		b.Fatal(err)
	}
	var docs []struct {
		InsuranceNo string `bson:"insurance_no"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		b.Fatal(err)
	}
	counts := map[string]int{}
	longest := ""
	for _, d := range docs {
		counts[d.InsuranceNo]++
		if counts[d.InsuranceNo] > counts[longest] {
			longest = d.InsuranceNo
		}
	}
	return longest, counts[longest]
}

// storeGeneratedChart stores patient no with n weekly visits, each with the vitals
// of the seed tool's synthetic patients (temp, BP, heart_rate, spo2, weight, ECG),
// a health status, labels and next steps.
func storeGeneratedChart(b *testing.B, e *env, no string, n int) {
	e.createPatient(no)
	r := rand.New(rand.NewPCG(1, 2))
	start := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -7*n)
	ailments := []string{"Hypertension", "Type 2 diabetes", "Influenza", "Back pain", "Asthma"}
	interactions := make([]models.Interaction, n)
	for i := range interactions {
		at := start.AddDate(0, 0, 7*i).Add(9 * time.Hour)
		status := 1 + r.IntN(10)
		next := at.Truncate(24*time.Hour).AddDate(0, 0, 7)
		interactions[i] = models.Interaction{
			ID: fmt.Sprintf("%s-%04d", no, i), InsuranceNo: no, InteractionDate: at, Ailment: ailments[r.IntN(len(ailments))],
			Metrics: bson.D{
				{Key: "temp", Value: 36.4 + float64(r.IntN(25))/10},
				{Key: "BP", Value: fmt.Sprintf("%d/%d", 115+r.IntN(40), 70+r.IntN(20))},
				{Key: "heart_rate", Value: int64(60 + r.IntN(40))},
				{Key: "spo2", Value: int64(93 + r.IntN(7))},
				{Key: "weight", Value: 80 + float64(r.IntN(60)-30)/10},
				{Key: "ECG", Value: "Normal"},
			},
			HealthStatus: &status,
			NextSteps: &models.NextSteps{NextVisit: &next, PrescribedMeds: []string{"Ramipril 5mg", "Metformin 500mg"}[:1+r.IntN(2)],
				PrescribedTests: []string{"HbA1c"}},
			Label: []string{"chronic", "cardio"}, Version: 1, CreatedAt: at, UpdatedAt: at,
		}
	}
	if _, err := e.repo.InsertInteractions(context.Background(), interactions); err != nil {
		b.Fatal(err)
	}
}
