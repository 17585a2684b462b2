package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

// BenchmarkFHIRSearchPage measures a page of 20 of a FHIR search against the
// /api/v1 page it maps to, on a chart of 500 visits with vitals: Encounter?patient=
// (the first page, with its total, and a page by its cursor) against the history's
// first page, and Observation?patient=&code= of one vital sign against the same.
func BenchmarkFHIRSearchPage(b *testing.B) {
	e := newEnv(b)
	e.createPatient("BF1")
	start := time.Date(2020, 1, 1, 9, 0, 0, 0, time.UTC)
	var visits []models.Interaction
	for i := range 500 {
		in, err := models.NewInteraction(bson.D{{Key: "id", Value: fmt.Sprintf("bf-%03d", i)}, {Key: "insurance_no", Value: "BF1"},
			{Key: "interaction_date", Value: start.Add(time.Duration(i) * 24 * time.Hour).Format(time.RFC3339)},
			{Key: "ailment", Value: "Influenza"}, {Key: "metrics", Value: bson.D{{Key: "temp", Value: 37.5}, {Key: "BP", Value: "125/82"}, {Key: "HR", Value: 80}}}}, start)
		if err != nil {
			b.Fatal(err)
		}
		visits = append(visits, in)
	}
	if _, err := e.repo.InsertInteractions(context.Background(), visits); err != nil {
		b.Fatal(err)
	}
	next := e.fhirBundle("/fhir/R4/Encounter?patient=BF1&_count=20").link("next")
	for _, tc := range []struct{ name, path string }{
		{"api-v1-history", "/api/v1/patients/BF1/interactions?limit=20"},
		{"fhir-encounter-first", "/fhir/R4/Encounter?patient=BF1&_count=20"},
		{"fhir-encounter-next", pathOf(b, next)},
		{"fhir-observation-bp", "/fhir/R4/Observation?patient=BF1&code=85354-9&_count=20&_total=none"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			for b.Loop() {
				e.get(b, tc.path)
			}
		})
	}
}
