package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/csvimport"
	"github.com/clinic/interactions/loader"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/storetest"
)

// sharedSeedProject is the original project's export, beside the repository.
const sharedSeedProject = "../../shared/data/seed-project"

var importStart = time.Date(2025, 3, 14, 15, 9, 26, 535_897_000, time.UTC)

func TestImportSharedSeedProject(t *testing.T) {
	if _, err := os.Stat(sharedSeedProject); err != nil {
		t.Skipf("skipped: the shared data %s is absent (it is beside the repository, not in it): %v", sharedSeedProject, err)
	}
	db := newDatabase(t)
	importTime := time.Date(2026, 3, 4, 5, 6, 7, 8e6, time.UTC)
	stdout, stderr, err := runSeedAt(t, db, importTime, "-csv", sharedSeedProject)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	mustContain(t, "summary", stdout,
		sharedSeedProject+": 2 patient rows, 13 interaction rows",
		"patients:     2 inserted, 0 already present",
		"interactions: 13 inserted, 0 already present",
		"skipped rows: none")

	ins := storetest.Interactions(t, db)
	if len(ins) != 13 || len(storetest.Patients(t, db)) != 2 {
		t.Fatalf("stored %d interactions, want 13", len(ins))
	}
	// The export has no interaction_date: every interaction is dated at the import's
	// one start time, which is also its created_at.
	start := importTime
	for id, in := range ins {
		if !in.InteractionDate.Equal(start) || !in.CreatedAt.Equal(start) {
			t.Errorf("interaction %s: interaction_date %s, created_at %s, want both %s", id, in.InteractionDate, in.CreatedAt, start)
		}
	}
	for id, want := range map[string][]string{"2": {"fever", "skin"}, "12": {"cold", "fever"}, "10": {"gut", "fever"}, "13": {}} {
		if !slices.Equal(ins[id].Label, want) {
			t.Errorf("label of %s = %q, want %q", id, ins[id].Label, want)
		}
	}
	if nv := ins["3"].NextSteps.NextVisit; nv == nil || nv.Format(time.DateOnly) != "2024-11-22" {
		t.Errorf("next_visit of 3 = %v, want 2024-11-22", nv)
	}

	stdout, stderr, err = runSeed(t, db, "-csv", sharedSeedProject)
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, stderr)
	}
	mustContain(t, "second summary", stdout, "patients:     0 inserted, 2 already present", "interactions: 0 inserted, 13 already present")
}

func TestImportReportsAndSkipsBadRows(t *testing.T) {
	repo, db := newRepository(t)
	ctx := context.Background()
	stored, err := models.NewPatient(bson.D{{Key: "insurance_no", Value: "P77"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := repo.CreatePatient(ctx, stored); err != nil {
		t.Fatalf("create patient: %v", err)
	}

	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(csvimport.PatientFile, "insurance_no,fname,age\n"+
		"K1,Kim,40\n"+
		"K2,Kai,200\n")
	write(csvimport.InteractionFile, "id,insurance_no,health_status,metrics,label\n"+
		"i1,K1,5,\"{\"\"BP\"\": \"\"120/80\"\"}\",fever\n"+
		"i2,K1,11,,fever\n"+
		"i3,K1,4,\"{\"\"BP\"\": 120/80}\",gut\n"+
		"i4,Z99,4,,skin\n"+
		"i5,K2,4,,skin\n"+
		"i6,P77,6,,cold\n")

	rep, err := loader.CSV(ctx, repo, os.DirFS(dir), dir, importStart, loader.WriteOptions{Batch: 2, Inflight: 3})
	if err != nil {
		t.Fatalf("loader.CSV: %v", err)
	}
	if rep.Patients.Inserted != 1 || rep.Patients.Existing != 0 || rep.Interactions.Inserted != 2 || rep.Interactions.Existing != 0 {
		t.Errorf("patients %+v, interactions %+v; want 1 and 2 inserted", rep.Patients, rep.Interactions)
	}
	var out bytes.Buffer
	printCSV(&out, rep, dir)
	name := func(f string) string { return filepath.Join(dir, f) }
	mustContain(t, "summary", out.String(),
		"skipped rows: 5",
		name(csvimport.PatientFile)+" line 3: age: must be an integer from 0 to 150",
		name(csvimport.InteractionFile)+" line 3: health_status: must be an integer from 1 to 10",
		name(csvimport.InteractionFile)+" line 4: metrics: is not valid JSON (error at character 11)",
		name(csvimport.InteractionFile)+" line 5: insurance_no: no patient has this insurance number, in Patient.csv or in the store",
		name(csvimport.InteractionFile)+" line 6: insurance_no: no patient has this insurance number",
	)
	summary := strings.ReplaceAll(out.String(), dir, "DIR")
	for _, value := range []string{"Z99", "K2", "Kai", "200"} {
		if strings.Contains(summary, value) {
			t.Errorf("summary repeats the value %q:\n%s", value, out.String())
		}
	}

	ins := storetest.Interactions(t, db)
	if len(ins) != 2 {
		t.Errorf("stored interactions %v, want i1 and i6", slices.Sorted(maps.Keys(ins)))
	}
	for _, id := range []string{"i1", "i6"} {
		if _, ok := ins[id]; !ok {
			t.Errorf("interaction %s not stored", id)
		}
	}
	for _, id := range []string{"i2", "i3", "i4", "i5"} {
		if _, err := repo.Interaction(ctx, id); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("interaction %s: %v, want not stored", id, err)
		}
	}
	ps := storetest.Patients(t, db)
	if _, ok := ps["K2"]; ok || len(ps) != 2 {
		t.Errorf("stored patients %d (K2 stored: %v), want P77 and K1", len(ps), ok)
	}
}

func TestBundledFilesMatchOriginal(t *testing.T) {
	if _, err := os.Stat(sharedSeedProject); err != nil {
		t.Skipf("skipped: the shared data %s is absent (it is beside the repository, not in it): %v", sharedSeedProject, err)
	}
	read := func(path string) []byte {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	if !bytes.Equal(read("data/Patient.csv"), read(filepath.Join(sharedSeedProject, csvimport.PatientFile))) {
		t.Error("data/Patient.csv differs from the original")
	}

	bundled := strings.Split(string(read("data/Interaction.csv")), "\r\n")
	original := strings.Split(string(read(filepath.Join(sharedSeedProject, csvimport.InteractionFile))), "\r\n")
	if len(bundled) != len(original) {
		t.Fatalf("data/Interaction.csv has %d lines, the original %d", len(bundled), len(original))
	}
	for i := range bundled {
		if bundled[i] == "" && original[i] == "" {
			continue
		}
		cut := strings.LastIndexByte(bundled[i], ',')
		if cut < 0 || bundled[i][:cut] != original[i] {
			t.Errorf("line %d: %q is not the original %q and one more column", i+1, bundled[i], original[i])
			continue
		}
		if last := bundled[i][cut+1:]; i == 0 && last != "interaction_date" {
			t.Errorf("added column is %q, want interaction_date", last)
		} else if _, err := time.Parse(time.RFC3339, last); i > 0 && err != nil {
			t.Errorf("line %d: interaction_date %q: %v", i+1, last, err)
		}
	}
}

func TestRunWithSkippedRowsExitsThree(t *testing.T) {
	db := newDatabase(t)
	dir := t.TempDir()
	for name, content := range map[string]string{
		csvimport.PatientFile: "insurance_no,fname,age\n" +
			"K1,Kim,40\n" +
			"K2,Kai,200\n",
		csvimport.InteractionFile: "id,insurance_no,health_status\n" +
			"i1,K1,5\n" +
			"i2,K1,11\n" +
			"i3,K1,4\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	stdout, stderr, err := runSeed(t, db, "-csv", dir)
	var skipped *skippedError
	if !errors.As(err, &skipped) || skipped.count != 2 {
		t.Fatalf("run = %v, want a *skippedError for 2 rows\nstderr: %s", err, stderr)
	}
	var message bytes.Buffer
	if status := exitStatus(err, &message); status != 3 {
		t.Errorf("exit status %d, want 3", status)
	}
	mustContain(t, "message", message.String(), "seed: 2 rows skipped, as listed in the summary; everything else was loaded")
	mustContain(t, "summary", stdout,
		dir+": 2 patient rows, 3 interaction rows",
		"patients:     1 inserted, 0 already present",
		"interactions: 2 inserted, 0 already present",
		"skipped rows: 2\n",
		filepath.Join(dir, csvimport.PatientFile)+" line 3: age:",
		filepath.Join(dir, csvimport.InteractionFile)+" line 3: health_status:")
	if n := len(storetest.Interactions(t, db)); n != 2 {
		t.Errorf("%d interactions stored, want 2", n)
	}

	// Everything the files hold that can be loaded is present now: the same rows are
	// skipped again, and nothing else happens.
	stdout, _, err = runSeed(t, db, "-csv", dir)
	if exitStatus(err, io.Discard) != 3 {
		t.Errorf("second run = %v, want exit status 3 again", err)
	}
	mustContain(t, "second summary", stdout, "patients:     0 inserted, 1 already present", "skipped rows: 2\n")

	// A run that skips nothing exits 0.
	if _, stderr, err := runSeed(t, db); err != nil || exitStatus(err, io.Discard) != 0 {
		t.Errorf("bundled dataset = %v, want exit status 0\n%s", err, stderr)
	}
}
