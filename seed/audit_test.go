package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
	"github.com/clinic/interactions/storetest"
)

// auditEvents returns the audit events stored in db, chain by chain, in order.
func auditEvents(t *testing.T, db *mongo.Database) []models.AuditEvent {
	t.Helper()
	ctx := context.Background()
	cur, err := db.Collection(repository.AuditEventsCollection).Find(ctx, bson.D{},
		options.Find().SetSort(bson.D{{Key: "chain", Value: 1}, {Key: "seq", Value: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	var events []models.AuditEvent
	if err := cur.All(ctx, &events); err != nil {
		t.Fatal(err)
	}
	return events
}

// runsOf returns the events of each chain in events, the chains in order.
func runsOf(events []models.AuditEvent) [][]models.AuditEvent {
	var runs [][]models.AuditEvent
	for i, e := range events {
		if i == 0 || e.Chain != events[i-1].Chain {
			runs = append(runs, nil)
		}
		runs[len(runs)-1] = append(runs[len(runs)-1], e)
	}
	return runs
}

// assertTrailVerifies checks that the audit trail in repo verifies whole.
func assertTrailVerifies(t *testing.T, repo *repository.DB) {
	t.Helper()
	v, err := audit.NewTrail(repo, audit.Keys{}, time.Now).Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK || !v.Complete || len(v.Breaks) != 0 {
		t.Errorf("verify = %+v, want a whole trail that verifies", v)
	}
}

// TestSeedRunsAreAudited loads the bundled dataset and a generated one: each run is
// one sealed chain of the audit trail, whose event names the command and what it
// loaded, and whose request id is the one the records name as their author's.
func TestSeedRunsAreAudited(t *testing.T) {
	repo, db := newRepository(t)
	for _, args := range [][]string{nil, {"-generate", "3"}} {
		if _, stderr, err := runSeed(t, db, args...); err != nil {
			t.Fatalf("seed %v: %v\nstderr: %s", args, err, stderr)
		}
	}
	runs := runsOf(auditEvents(t, db))
	if len(runs) != 2 {
		t.Fatalf("%d audit chains, want one per run: %+v", len(runs), runs)
	}
	want := []struct {
		action, route string
		counts        map[string]int
	}{
		{"seed.csv", "seed", map[string]int{
			"patient_rows": 2, "interaction_rows": 13, "rows_skipped": 0, "patients_inserted": 2,
			"patients_present": 0, "interactions_inserted": 13, "interactions_present": 0,
		}},
		{"seed.generate", "seed -generate 3 -seed 1", map[string]int{
			"patients_inserted": 3, "patients_present": 0, "interactions_present": 0,
		}},
	}
	byAction := map[string]models.AuditEvent{}
	for _, run := range runs {
		actions := []string{}
		for _, e := range run {
			actions = append(actions, e.Action)
		}
		if len(run) != 3 || run[0].Action != models.AuditChainStart || run[2].Action != models.AuditChainSeal {
			t.Errorf("a run's chain = %v, want its start, one event, its seal", actions)
			continue
		}
		byAction[run[1].Action] = run[1]
	}
	for _, w := range want {
		e, ok := byAction[w.action]
		if !ok {
			t.Errorf("no %s event", w.action)
			continue
		}
		if e.Route != w.route || e.Status != 200 || !strings.HasPrefix(e.KeyName, "seed command, by ") || e.RequestID == "" {
			t.Errorf("%s event = %+v", w.action, e)
		}
		for k, n := range w.counts {
			if got, ok := e.Counts[k]; !ok || got != n {
				t.Errorf("%s counts[%s] = %d (%v), want %d", w.action, k, got, ok, n)
			}
		}
	}
	if gen := byAction["seed.generate"]; gen.Counts["interactions_inserted"] != len(storetest.Interactions(t, db))-13 {
		t.Errorf("seed.generate counts %v interactions inserted, the store holds %d generated",
			gen.Counts["interactions_inserted"], len(storetest.Interactions(t, db))-13)
	}
	if a11 := storetest.Patients(t, db)["A11"]; a11.RecordedBy == nil || a11.RecordedBy.RequestID != byAction["seed.csv"].RequestID {
		t.Errorf("A11 recorded_by = %+v, want the request id of the seed.csv event %q", a11.RecordedBy, byAction["seed.csv"].RequestID)
	}
	assertTrailVerifies(t, repo)
}

// TestFHIRReimportAuditsEachAmendment re-imports changed FHIR data: the run's chain
// holds one amend event per record amended, naming it, then the run's event.
func TestFHIRReimportAuditsEachAmendment(t *testing.T) {
	repo, db := newRepository(t)
	runFHIR(t, db, fhirFixture, 4)
	changed := copyDir(t, fhirFixture, map[string]map[string]string{
		"Patient.ndjson":           {"+49 171 234567": "+49 171 999999"},
		"MedicationRequest.ndjson": {"Acetaminophen 325 MG Oral Tablet": "Ibuprofen 400 MG Oral Tablet"},
	})
	runFHIR(t, db, changed, 4)

	runs := runsOf(auditEvents(t, db))
	if len(runs) != 2 {
		t.Fatalf("%d audit chains, want one per run", len(runs))
	}
	var got []string
	for _, e := range runs[1] {
		got = append(got, e.Action+" "+e.InsuranceNo+" "+e.InteractionID)
		if strings.HasSuffix(e.Action, "amend") && e.Route != "seed -fhir "+changed {
			t.Errorf("%s route = %q", e.Action, e.Route)
		}
	}
	want := []string{
		models.AuditChainStart + "  ",
		"patients.amend INS-4711 ",
		"interactions.amend INS-4711 fhir-enc-1",
		"seed.fhir  ",
		models.AuditChainSeal + "  ",
	}
	if !slices.Equal(got, want) {
		t.Errorf("re-import's chain = %q, want %q", got, want)
	}
	run := runs[1][3]
	if run.Counts["patients_updated"] != 1 || run.Counts["interactions_updated"] != 1 || run.Counts["resources_skipped"] != 4 {
		t.Errorf("seed.fhir counts = %v", run.Counts)
	}
	assertTrailVerifies(t, repo)
}
