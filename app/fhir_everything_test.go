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
)

// TestFHIREverythingPagesTheExport pages Patient/$everything of a 700-encounter chart
// with a small _count while visits are added, and compares what it returns with the
// export's FHIR resources: each of them exactly once, the same, in the same order,
// and nothing else but the resources of the visits added meanwhile.
func TestFHIREverythingPagesTheExport(t *testing.T) {
	e := newEnv(t)
	e.createPatient("E700")
	ctx := context.Background()
	start := time.Date(2020, 1, 1, 9, 0, 0, 0, time.UTC)
	var visits []models.Interaction
	for i := range 700 {
		// Pairs of visits share a date, so that ties are broken by id across pages.
		doc := bson.D{{Key: "id", Value: fmt.Sprintf("e%03d", i)}, {Key: "insurance_no", Value: "E700"},
			{Key: "interaction_date", Value: start.Add(time.Duration(i/2) * 24 * time.Hour).Format(time.RFC3339)},
			{Key: "ailment", Value: "Influenza"}, {Key: "symptoms", Value: "cough; fever"},
			{Key: "metrics", Value: bson.D{{Key: "temp", Value: 37.5}, {Key: "BP", Value: "125/82"}}},
			{Key: "next_steps", Value: bson.D{{Key: "prescribed_meds", Value: bson.A{"Oseltamivir"}}}}}
		in, err := models.NewInteraction(doc, start)
		if err != nil {
			t.Fatal(err)
		}
		visits = append(visits, in)
	}
	if _, err := e.repo.InsertInteractions(ctx, visits); err != nil {
		t.Fatal(err)
	}
	e.changeInteraction("DELETE", "e123", "wrong patient", "")

	var want []string
	byID := map[string]string{}
	for _, r := range e.exportLines("E700", "?format=fhir-ndjson", "application/fhir+ndjson") {
		key := fmt.Sprint(r["resourceType"], "/", r["id"])
		want = append(want, key)
		byID[key] = jsonText(t, r)
	}

	var got []string
	seen := map[string]bool{}
	path := "/fhir/R4/Patient/E700/$everything?_count=37"
	total := -1
	for pages := 0; path != ""; pages++ {
		b := e.fhirBundle(path)
		if b.Total == nil {
			t.Fatalf("page %d has no total", pages+1)
		}
		if total == -1 {
			total = *b.Total
		}
		for _, entry := range b.Entry {
			key := fmt.Sprint(entry.Resource["resourceType"], "/", entry.Resource["id"])
			if seen[key] {
				t.Fatalf("%s returned twice", key)
			}
			seen[key] = true
			if exported, ok := byID[key]; ok {
				if mine := jsonText(t, entry.Resource); mine != exported {
					t.Errorf("%s differs from the export:\n%s\n%s", key, mine, exported)
				}
				got = append(got, key)
			} else if !strings.HasPrefix(fmt.Sprint(entry.Resource["id"]), "added-") {
				t.Errorf("%s is not in the export", key)
			}
		}
		if pages == 2 {
			// Visits added while the chart is paged: the newest before the pages read,
			// the oldest after.
			e.mustDo(201, "POST", "/api/v1/interactions", `{"id":"added-new","insurance_no":"E700","interaction_date":"2030-01-01T00:00:00Z","ailment":"Flu"}`)
			e.mustDo(201, "POST", "/api/v1/interactions", `{"id":"added-old","insurance_no":"E700","interaction_date":"2001-01-01T00:00:00Z","ailment":"Flu"}`)
		}
		path = ""
		if next := b.link("next"); next != "" {
			path = pathOf(t, next)
		}
		if pages > 500 {
			t.Fatal("the pages do not end")
		}
	}
	if len(got) != len(want) {
		t.Fatalf("$everything returned %d of the export's %d resources", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("resource %d: %s, the export has %s", i, got[i], want[i])
		}
	}
	if total != len(want) {
		t.Errorf("total %d, want %d", total, len(want))
	}
	if !seen["Encounter/added-old"] || seen["Encounter/added-new"] {
		t.Errorf("added visits: the older one returned %v, the newer one %v", seen["Encounter/added-old"], seen["Encounter/added-new"])
	}
	var enc map[string]any
	res, _ := e.fhirGet(200, "/fhir/R4/Encounter/e123")
	if err := json.Unmarshal(res.body, &enc); err != nil || enc["status"] != "entered-in-error" {
		t.Errorf("the Encounter entered in error: %v", enc["status"])
	}
}

// TestFHIRAuditsItsSubjects checks that a FHIR read of a patient's chart is found in
// the audit trail by the patient's insurance number.
func TestFHIRAuditsItsSubjects(t *testing.T) {
	e := newEnv(t)
	fhirChart(e, "AU1", 1)
	fhirChart(e, "AU2", 1)
	for _, path := range []string{
		"/fhir/R4/Patient/AU1", "/fhir/R4/Observation?patient=AU1", "/fhir/R4/Patient/AU1/$everything",
		"/fhir/R4/Observation/$lastn?patient=AU1", "/fhir/R4/Patient/AU1/$summary", "/fhir/R4/Encounter/AU1-v1",
	} {
		e.fhirGet(200, path)
	}
	e.fhirGet(200, "/fhir/R4/Patient?identifier=AU2")
	events := e.as(models.RoleAuditor).mustDo(200, "GET", "/api/v1/audit?insurance_no=AU1&limit=100", "")["items"].([]any)
	actions := map[string]int{}
	for _, ev := range events {
		actions[ev.(map[string]any)["action"].(string)]++
	}
	for action, n := range map[string]int{"fhir.read": 2, "fhir.search": 1, "fhir.everything": 1, "fhir.lastn": 1, "fhir.summary": 1} {
		if actions[action] != n {
			t.Errorf("%s: %d events of AU1, want %d (all: %v)", action, actions[action], n, actions)
		}
	}
	events = e.as(models.RoleAuditor).mustDo(200, "GET", "/api/v1/audit?insurance_no=AU2&action=fhir.search", "")["items"].([]any)
	if len(events) != 1 {
		t.Errorf("the search of AU2 by identifier: %d events", len(events))
	}
}
