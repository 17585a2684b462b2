package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/reconcile"
	"github.com/clinic/interactions/records"
	"github.com/clinic/interactions/repository"
	"github.com/clinic/interactions/storetest"
)

// fhirFixture is the hand-written FHIR bulk data of package fhir's tests: 2 patients,
// 3 encounters that import, and a malformed line, an unknown resource type, a
// reference to a missing patient and one to a missing encounter (skipped), and an
// entered-in-error request (ignored).
const fhirFixture = "../fhir/testdata/bulk"

// syntheaSample is the real 10-patient Synthea sample of the shared data, absent
// from a user's clone.
const syntheaSample = "../../shared/data/synthea-10"

// runFHIR runs seed -fhir dir with args against db and fails t unless the run ends as
// it should with skipped resources skipped: with no error when there are none, and
// otherwise with a *skippedError counting them (exit status 3).
func runFHIR(t *testing.T, db *mongo.Database, dir string, skipped int, args ...string) (stdout, stderr string) {
	t.Helper()
	stdout, stderr, err := runSeed(t, db, append([]string{"-fhir", dir}, args...)...)
	var skip *skippedError
	switch {
	case skipped == 0 && err != nil:
		t.Fatalf("seed -fhir %s: %v\nstdout: %s\nstderr: %s", dir, err, stdout, stderr)
	case skipped > 0 && (!errors.As(err, &skip) || skip.count != skipped || exitStatus(err, io.Discard) != exitSkipped):
		t.Fatalf("seed -fhir %s: %v, want %d resources skipped (exit status 3)\nstdout: %s\nstderr: %s", dir, err, skipped, stdout, stderr)
	}
	return stdout, stderr
}

// fixturePrivate is patient data of the fixture that must not appear in logs or in
// the summary.
var fixturePrivate = []string{"Lopez", "Ana", "Cole", "Devin", "INS-4711", "fhir-pat-2", "pat-1", "234567", "ana@", "sore throat"}

func TestFHIRFixture(t *testing.T) {
	db := newDatabase(t)
	stdout, stderr := runFHIR(t, db, fhirFixture, 4)
	mustContain(t, "summary", stdout,
		"read 2 Patient, 4 Encounter, 5 Condition, 2 DocumentReference, 4 MedicationRequest, 8 Observation, 2 Procedure, 1 ServiceRequest",
		"patients:     2 inserted, 0 updated, 0 unchanged",
		"interactions: 3 inserted, 0 updated, 0 unchanged",
		"  Immunization (type not imported): 1\n",
		"  MedicationRequest (entered in error): 1\n",
		"  Observation (not a vital sign the import maps): 1\n",
		"skipped: 4\n",
		"  malformed JSON: 1\n    Patient.ndjson:3\n",
		"  reference to a missing Patient: 1\n    Encounter.ndjson:4\n",
		"  unknown resource type \"Frobnicate\": 1\n    Encounter.ndjson:5\n",
		"  reference to a missing Encounter: 1\n    Condition.ndjson:5\n")
	for _, private := range fixturePrivate {
		if strings.Contains(stderr, private) || strings.Contains(stdout, private) {
			t.Errorf("output holds patient data %q:\nstdout: %s\nstderr: %s", private, stdout, stderr)
		}
	}

	ps := storetest.Patients(t, db)
	if len(ps) != 2 {
		t.Fatalf("%d patients stored, want 2", len(ps))
	}
	ana := ps["INS-4711"]
	if ana.FName != "Ana Maria" || ana.LName != "Lopez" || ana.Sex != "F" || ana.Email != "ana@example.com" || ana.Version != 1 {
		t.Errorf("INS-4711 = %+v", ana)
	}
	if lookup(ana.Source, "patient") != "pat-1" || lookup(ana.Source, "system") != "fhir" {
		t.Errorf("INS-4711 source = %v", ana.Source)
	}
	ins := storetest.Interactions(t, db)
	if len(ins) != 3 {
		t.Fatalf("%d interactions stored, want 3", len(ins))
	}
	one := ins["fhir-enc-1"]
	if one.InsuranceNo != "INS-4711" || one.Ailment != "Acute viral pharyngitis" || strings.Join(one.Label, "|") != "ambulatory|acute viral pharyngitis" ||
		!one.InteractionDate.Equal(mustDate(t, "2024-03-01T08:30:00Z")) {
		t.Errorf("fhir-enc-1 = %+v", one)
	}
	if bp := lookup(one.Metrics, "BP"); bp != "120/80" || lookup(one.Metrics, "temp") != 38.4 {
		t.Errorf("fhir-enc-1 metrics = %v", one.Metrics)
	}
	if lookup(one.Source, "encounter") != "enc-1" {
		t.Errorf("fhir-enc-1 source = %v", one.Source)
	}
	if ins["fhir-enc-3"].InsuranceNo != "fhir-pat-2" {
		t.Errorf("fhir-enc-3 belongs to %q, want fhir-pat-2", ins["fhir-enc-3"].InsuranceNo)
	}

	// Again, in batches of 2: nothing changes, not even a timestamp.
	before := storetest.Snapshot(t, db)
	stdout, _ = runFHIR(t, db, fhirFixture, 4, "-batch", "2")
	mustContain(t, "second summary", stdout,
		"patients:     0 inserted, 0 updated, 2 unchanged",
		"interactions: 0 inserted, 0 updated, 3 unchanged")
	storetest.AssertSameSnapshot(t, before, storetest.Snapshot(t, db))
}

func TestFHIRMissingFolder(t *testing.T) {
	db := newDatabase(t)
	missing := filepath.Join(t.TempDir(), "nope")
	stdout, _, err := runSeed(t, db, "-fhir", missing)
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("run = %v, want an error naming %s", err, missing)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing", stdout)
	}
}

// copyDir copies the files of src into a new directory, applying edits (file name →
// old → new) to their contents, and returns the directory.
func copyDir(t *testing.T, src string, edits map[string]map[string]string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		for old, repl := range edits[e.Name()] {
			if !strings.Contains(text, old) {
				t.Fatalf("%s does not contain %q", e.Name(), old)
			}
			text = strings.ReplaceAll(text, old, repl)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func TestFHIRReimportAmendsWhatChanged(t *testing.T) {
	repo, db := newRepository(t)
	ctx := context.Background()
	runFHIR(t, db, fhirFixture, 4)

	// A clinician adds what the import never writes.
	anyVersion := func(int) bool { return true }
	if _, err := records.NewPatients(repo, repo.PatientVersions(), nil).
		Amend(ctx, "INS-4711", anyVersion, bson.D{{Key: "blood_type", Value: "B+"}}, "asked"); err != nil {
		t.Fatal(err)
	}
	interactions := records.NewInteractions(repo, repo.InteractionVersions(), nil)
	if _, err := interactions.Amend(ctx, "fhir-enc-1", anyVersion, bson.D{
		{Key: "metrics", Value: bson.D{{Key: "ECG", Value: "Normal"}}},
		{Key: "health_status", Value: int32(6)},
	}, "ECG done"); err != nil {
		t.Fatal(err)
	}

	// The source changes: a new phone number, another medication, no heart rate.
	changed := copyDir(t, fhirFixture, map[string]map[string]string{
		"Patient.ndjson":           {"+49 171 234567": "+49 171 999999"},
		"MedicationRequest.ndjson": {"Acetaminophen 325 MG Oral Tablet": "Ibuprofen 400 MG Oral Tablet"},
		"Observation.ndjson":       {`"code":"8867-4","display":"Heart rate"}],"text":"Heart rate"},"subject":{"reference":"Patient/pat-1"},"encounter":{"reference":"Encounter/enc-1"}`: `"code":"8867-4","display":"Heart rate"}],"text":"Heart rate"},"subject":{"reference":"Patient/pat-1"},"encounter":{"reference":"Encounter/enc-missing"}`},
	})
	stdout, _ := runFHIR(t, db, changed, 5)
	mustContain(t, "summary", stdout,
		"patients:     0 inserted, 1 updated, 1 unchanged",
		"interactions: 0 inserted, 1 updated, 2 unchanged",
		"reference to a missing Encounter: 2")

	ana, err := repo.Patient(ctx, "INS-4711")
	if err != nil {
		t.Fatal(err)
	}
	if ana.Version != 3 || ana.AmendmentReason != reconcile.Reason || ana.PhNo != "+49 171 999999" || ana.BloodType != "B+" {
		t.Errorf("INS-4711 = version %d (%q), phone %q, blood type %q; want version 3 (%q), the new phone, B+ kept",
			ana.Version, ana.AmendmentReason, ana.PhNo, ana.BloodType, reconcile.Reason)
	}
	one, err := repo.Interaction(ctx, "fhir-enc-1")
	if err != nil {
		t.Fatal(err)
	}
	if one.Version != 3 || one.AmendmentReason != reconcile.Reason {
		t.Errorf("fhir-enc-1 version %d (%q), want 3 (%q)", one.Version, one.AmendmentReason, reconcile.Reason)
	}
	if got := strings.Join(one.NextSteps.PrescribedMeds, "|"); got != "Ibuprofen 400 MG Oral Tablet|Penicillin V Potassium 250 MG Oral Tablet" {
		t.Errorf("fhir-enc-1 prescribed_meds = %q", got)
	}
	if lookup(one.Metrics, "HR") != nil || lookup(one.Metrics, "ECG") != "Normal" || lookup(one.Metrics, "BP") != "120/80" {
		t.Errorf("fhir-enc-1 metrics = %v; want HR gone, BP and the clinician's ECG kept", one.Metrics)
	}
	if units, _ := lookup(one.Metrics, "units").(bson.D); lookup(units, "HR") != nil || lookup(units, "BP") != "mm[Hg]" {
		t.Errorf("fhir-enc-1 metrics.units = %v; want HR gone", units)
	}
	if one.HealthStatus == nil || *one.HealthStatus != 6 {
		t.Errorf("fhir-enc-1 health_status = %v, want the clinician's 6", one.HealthStatus)
	}
	page, err := interactions.Versions(ctx, "fhir-enc-1", one.Version, 10)
	if err != nil {
		t.Fatal(err)
	}
	earlier := page.Items
	if len(earlier) != 2 || earlier[0].Version != 2 || lookup(earlier[0].Metrics, "HR") != int32(88) ||
		earlier[1].Version != 1 || earlier[1].NextSteps.PrescribedMeds[0] != "Acetaminophen 325 MG Oral Tablet" {
		t.Errorf("earlier versions of fhir-enc-1 = %+v; want 2 and 1 as they were", earlier)
	}

	// The same changed data again changes nothing.
	before := storetest.Snapshot(t, db)
	stdout, _ = runFHIR(t, db, changed, 5)
	mustContain(t, "third summary", stdout,
		"patients:     0 inserted, 0 updated, 2 unchanged",
		"interactions: 0 inserted, 0 updated, 3 unchanged")
	storetest.AssertSameSnapshot(t, before, storetest.Snapshot(t, db))
}

func TestFHIRLeavesOtherRecordsAlone(t *testing.T) {
	repo, db := newRepository(t)
	ctx := context.Background()
	// A patient entered through the API has the member number of the fixture's pat-1,
	// and an interaction has the id enc-3 would get.
	p, err := models.NewPatient(bson.D{{Key: "insurance_no", Value: "INS-4711"}, {Key: "fname", Value: "Someone"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.CreatePatient(ctx, p); err != nil {
		t.Fatal(err)
	}
	in, err := models.NewInteraction(bson.D{{Key: "id", Value: "fhir-enc-3"}, {Key: "insurance_no", Value: "INS-4711"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.CreateInteraction(ctx, in); err != nil {
		t.Fatal(err)
	}
	before := storetest.Snapshot(t, db)

	stdout, _ := runFHIR(t, db, fhirFixture, 8)
	mustContain(t, "summary", stdout,
		"patients:     1 inserted, 0 updated, 0 unchanged",
		"interactions: 0 inserted, 0 updated, 0 unchanged",
		"a stored patient not imported from this Patient has its insurance number; it and its interactions are left out: 1\n    Patient.ndjson:1\n",
		"its patient was left out: 2\n    Encounter.ndjson:1\n    Encounter.ndjson:2\n",
		"a stored interaction with this id was not imported from this Encounter of this patient; left out: 1\n    Encounter.ndjson:3\n")
	after := storetest.Snapshot(t, db)
	for _, c := range []string{repository.InteractionsCollection, repository.PatientVersionsCollection, repository.InteractionVersionsCollection} {
		if len(after[c]) != len(before[c]) {
			t.Errorf("%s: %d documents, %d before", c, len(after[c]), len(before[c]))
		}
	}
	if ps := storetest.Patients(t, db); ps["INS-4711"].FName != "Someone" || ps["INS-4711"].Version != 1 || ps["fhir-pat-2"].LName != "Cole" {
		t.Errorf("patients = %+v", ps)
	}
}

// TestFHIRSample imports the real Synthea sample, when present, twice.
func TestFHIRSample(t *testing.T) {
	if _, err := os.Stat(syntheaSample); err != nil {
		t.Skipf("skipped: the shared Synthea sample is absent (it is beside the repository, not in it): %v", err)
	}
	db := newDatabase(t)
	stdout, stderr := runFHIR(t, db, syntheaSample, 0)
	mustContain(t, "summary", stdout,
		"read 13 Patient, 1215 Encounter, 555 Condition, 1215 DocumentReference, 1745 MedicationRequest, 2056 Procedure",
		"patients:     13 inserted, 0 updated, 0 unchanged",
		"interactions: 1215 inserted, 0 updated, 0 unchanged",
		"  Immunization (type not imported): 161\n",
		"skipped: none")
	for _, private := range []string{"Devin82", "Cole117", "3af3708d", "555-478-8993"} {
		if strings.Contains(stderr, private) || strings.Contains(stdout, private) {
			t.Errorf("output holds patient data %q", private)
		}
	}
	ps, ins := storetest.Patients(t, db), storetest.Interactions(t, db)
	if len(ps) != 13 || len(ins) != 1215 {
		t.Fatalf("stored %d patients, %d interactions; want 13 and 1,215", len(ps), len(ins))
	}
	// One interaction per encounter: the stored ids are those of Encounter.000.ndjson.
	data, err := os.ReadFile(filepath.Join(syntheaSample, "Encounter.000.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var e struct {
			ID string `json:"id"`
		}
		if err := bson.UnmarshalExtJSON([]byte(line), false, &e); err != nil {
			t.Fatalf("Encounter.000.ndjson:%d: %v", i+1, err)
		}
		if _, ok := ins["fhir-"+e.ID]; !ok {
			t.Errorf("encounter %s (line %d) has no interaction", e.ID, i+1)
		}
	}
	seizure := ins["fhir-5bda154a-78f1-25fd-b0d0-65038042a21b"]
	if seizure.Ailment != "Seizure disorder" || strings.Join(seizure.Label, "|") != "emergency|seizure disorder" ||
		seizure.NextSteps == nil || strings.Join(seizure.NextSteps.PrescribedMeds, "|") != "Diazepam 5 MG Oral Tablet" ||
		!seizure.InteractionDate.Equal(mustDate(t, "1970-07-20T16:31:08Z")) ||
		seizure.InsuranceNo != "fhir-3af3708d-41f1-cd80-f3dd-ec5ac76072bf" {
		t.Errorf("seizure encounter = %+v", seizure)
	}
	if devin := ps["fhir-3af3708d-41f1-cd80-f3dd-ec5ac76072bf"]; devin.Age == nil || *devin.Age != 11 || devin.LName != "Cole117" {
		t.Errorf("patient 3af3708d = %+v", devin)
	}

	before := storetest.Snapshot(t, db)
	stdout, _ = runFHIR(t, db, syntheaSample, 0)
	mustContain(t, "second summary", stdout,
		"patients:     0 inserted, 0 updated, 13 unchanged",
		"interactions: 0 inserted, 0 updated, 1215 unchanged")
	storetest.AssertSameSnapshot(t, before, storetest.Snapshot(t, db))
}

// TestFHIRFile imports the repository's FHIR sample, one NDJSON file of mixed
// resource types (the export of two made-up patients), twice: the second run
// changes nothing.
func TestFHIRFile(t *testing.T) {
	const sample = "data/fhir-sample.ndjson"
	db := newDatabase(t)
	stdout, _ := runFHIR(t, db, sample, 0)
	mustContain(t, "summary", stdout,
		sample+": read 2 Patient, 4 Encounter, 4 Condition, 2 DocumentReference, 2 MedicationRequest, 17 Observation, 2 ServiceRequest",
		"patients:     2 inserted, 0 updated, 0 unchanged",
		"interactions: 4 inserted, 0 updated, 0 unchanged",
		"  QuestionnaireResponse (type not imported): 1\n",
		"skipped: none")
	ins := storetest.Interactions(t, db)
	if one := ins["fhir-demo-001-1"]; one.InsuranceNo != "DEMO-001" || one.Symptoms != "productive cough; mild fever" ||
		strings.Join(one.Label, "|") != "respiratory|ambulatory" || lookup(one.Metrics, "BP") != "128/84" {
		t.Errorf("fhir-demo-001-1 = %+v", one)
	}
	before := storetest.Snapshot(t, db)
	stdout, _ = runFHIR(t, db, sample, 0)
	mustContain(t, "summary", stdout, "patients:     0 inserted, 0 updated, 2 unchanged", "interactions: 0 inserted, 0 updated, 4 unchanged")
	storetest.AssertSameSnapshot(t, before, storetest.Snapshot(t, db))
}
