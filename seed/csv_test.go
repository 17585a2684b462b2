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
	"testing/fstest"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

// sharedSeedProject is the original project's export, beside the repository.
const sharedSeedProject = "../../shared/data/seed-project"

var importStart = time.Date(2025, 3, 14, 15, 9, 26, 535_897_000, time.UTC)

// files returns an in-memory file system holding the given files.
func files(nameContent ...string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for i := 0; i+1 < len(nameContent); i += 2 {
		fsys[nameContent[i]] = &fstest.MapFile{Data: []byte(nameContent[i+1])}
	}
	return fsys
}

func TestReadDatasetInteractions(t *testing.T) {
	const patientsCSV = "insurance_no\nA11\n"
	tests := []struct {
		name  string
		csv   string
		check func(t *testing.T, in models.Interaction)
	}{
		{
			name: "next_visit day-month-year becomes a date",
			csv:  "id,insurance_no,next_steps\n1,A11,\"{\"\"next_visit\"\": \"\"12-10-2024\"\", \"\"prescribed_tests\"\": [\"\"MNO-A\"\"]}\"\n",
			check: func(t *testing.T, in models.Interaction) {
				want := time.Date(2024, 10, 12, 0, 0, 0, 0, time.UTC)
				if in.NextSteps == nil || in.NextSteps.NextVisit == nil || !in.NextSteps.NextVisit.Equal(want) {
					t.Errorf("next_steps = %+v, want next_visit %s", in.NextSteps, want)
				}
				if in.NextSteps != nil && !slices.Equal(in.NextSteps.PrescribedTests, []string{"MNO-A"}) {
					t.Errorf("prescribed_tests = %q", in.NextSteps.PrescribedTests)
				}
			},
		},
		{
			name: "next_visit single-digit day and month",
			csv:  "id,insurance_no,next_steps\n1,A11,\"{\"\"next_visit\"\": \"\"2-3-2024\"\"}\"\n",
			check: func(t *testing.T, in models.Interaction) {
				if got := in.NextSteps.NextVisit.Format(time.DateOnly); got != "2024-03-02" {
					t.Errorf("next_visit = %s, want 2024-03-02", got)
				}
			},
		},
		{
			name: "interaction_date day-month-year",
			csv:  "id,insurance_no,interaction_date\n1,A11,05-08-2024\n",
			check: func(t *testing.T, in models.Interaction) {
				if want := time.Date(2024, 8, 5, 0, 0, 0, 0, time.UTC); !in.InteractionDate.Equal(want) {
					t.Errorf("interaction_date = %s, want %s", in.InteractionDate, want)
				}
			},
		},
		{
			name: "interaction_date RFC 3339 with offset",
			csv:  "id,insurance_no,interaction_date\n1,A11,2024-08-05T11:30:00+02:00\n",
			check: func(t *testing.T, in models.Interaction) {
				if want := time.Date(2024, 8, 5, 9, 30, 0, 0, time.UTC); !in.InteractionDate.Equal(want) {
					t.Errorf("interaction_date = %s, want %s", in.InteractionDate, want)
				}
			},
		},
		{
			name: "empty interaction_date is the import's start",
			csv:  "id,insurance_no,interaction_date\n1,A11,\n",
			check: func(t *testing.T, in models.Interaction) {
				if want := models.StoreTime(importStart); !in.InteractionDate.Equal(want) || !in.CreatedAt.Equal(want) {
					t.Errorf("interaction_date = %s, created_at = %s, want both %s", in.InteractionDate, in.CreatedAt, want)
				}
			},
		},
		{
			name: "missing interaction_date column is the import's start",
			csv:  "id,insurance_no\n1,A11\n",
			check: func(t *testing.T, in models.Interaction) {
				if want := models.StoreTime(importStart); !in.InteractionDate.Equal(want) {
					t.Errorf("interaction_date = %s, want %s", in.InteractionDate, want)
				}
			},
		},
		{
			name: "label comma-separated, trimmed, lower-cased",
			csv:  "id,insurance_no,label\n1,A11,\"Fever,  SKIN ,fever\"\n",
			check: func(t *testing.T, in models.Interaction) {
				if !slices.Equal(in.Label, []string{"fever", "skin"}) {
					t.Errorf("label = %q, want [fever skin]", in.Label)
				}
			},
		},
		{
			name: "empty cells are absent",
			csv:  "id,insurance_no,ailment,symptoms,metrics,remarks,health_status,qa,next_steps,label\n1,A11,,,,,,,,\n",
			check: func(t *testing.T, in models.Interaction) {
				if in.Ailment != "" || in.Metrics != nil || in.HealthStatus != nil || in.QA != nil || in.NextSteps != nil || len(in.Label) != 0 {
					t.Errorf("interaction = %+v, want only id and insurance_no", in)
				}
			},
		},
		{
			name: "columns found by name in any order",
			csv:  "label,health_status,metrics,insurance_no,id\ngut,7,\"{\"\"temp\"\": 37.5, \"\"BP\"\": \"\"130/85\"\"}\",A11,x-9\n",
			check: func(t *testing.T, in models.Interaction) {
				if in.ID != "x-9" || in.InsuranceNo != "A11" || in.HealthStatus == nil || *in.HealthStatus != 7 ||
					!slices.Equal(in.Label, []string{"gut"}) || lookup(in.Metrics, "BP") != "130/85" || lookup(in.Metrics, "temp") != 37.5 {
					t.Errorf("interaction = %+v", in)
				}
			},
		},
		{
			name: "qa object keeps its order",
			csv:  "id,insurance_no,qa\n1,A11,\"{\"\"since\"\": \"\"4 weeks\"\", \"\"smoker\"\": \"\"no\"\"}\"\n",
			check: func(t *testing.T, in models.Interaction) {
				if len(in.QA) != 2 || in.QA[0].Key != "since" || in.QA[1].Value != "no" {
					t.Errorf("qa = %v", in.QA)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds, err := readDataset(files(patientFile, patientsCSV, interactionFile, tt.csv), "", importStart)
			if err != nil {
				t.Fatalf("readDataset: %v", err)
			}
			if len(ds.problems) > 0 || len(ds.interactions) != 1 {
				t.Fatalf("got %d interactions and problems %v, want one interaction and no problem", len(ds.interactions), ds.problems)
			}
			tt.check(t, ds.interactions[0].interaction)
		})
	}
}

func TestReadDatasetPatients(t *testing.T) {
	csv := "insurance_no,fname,age,email,related_docs,habits,pre_existing_conditions,pre_existing_medications,blood_type\n" +
		"A11,Vernon,30,vernon@example.com,,\"smoking, drinking\",Asthma,GTH 30mg,B+\n" +
		"B11,Beth,45,,\" , \",smoking,\"Hypertension, Obesity\",,AB+\n"
	ds, err := readDataset(files(patientFile, csv), "", importStart)
	if err != nil {
		t.Fatalf("readDataset: %v", err)
	}
	if len(ds.problems) > 0 || len(ds.patients) != 2 {
		t.Fatalf("got %d patients and problems %v, want 2 and none", len(ds.patients), ds.problems)
	}
	if !slices.Contains(ds.notes, interactionFile+": not found; loading patients only") {
		t.Errorf("notes = %q, want one about the missing %s", ds.notes, interactionFile)
	}
	a, b := ds.patients[0], ds.patients[1]
	if a.Age == nil || *a.Age != 30 || !slices.Equal(a.Habits, []string{"smoking", "drinking"}) ||
		!slices.Equal(a.PreExistingConditions, []string{"Asthma"}) || !slices.Equal(a.PreExistingMedications, []string{"GTH 30mg"}) {
		t.Errorf("A11 = %+v", a)
	}
	if b.Email != "" || b.RelatedDocs != nil || b.PreExistingMedications != nil ||
		!slices.Equal(b.PreExistingConditions, []string{"Hypertension", "Obesity"}) {
		t.Errorf("B11 = %+v; empty cells and lists must be absent", b)
	}
	if !a.CreatedAt.Equal(models.StoreTime(importStart)) {
		t.Errorf("created_at = %s, want the import's start", a.CreatedAt)
	}
}

func TestReadDatasetReportsBadRows(t *testing.T) {
	patientsCSV := "\ufeffinsurance_no, AGE ,email,blood_type,shoe_size,,\n" +
		"A11,30,a@example.com,B+,42,,\n" +
		"B11,abc,not-an-email,Q+,40,,\n" +
		"A11,31,,,,,\n" +
		"C11,1\n"
	interactionsCSV := "id,insurance_no,health_status,metrics,qa,next_steps\r\n" +
		"1,A11,5,,,\r\n" +
		"2,A11,11,,,\r\n" +
		"3,A11,4,\"{\"\"temp\"\": 37,\",,\r\n" +
		",A11,4,,,\r\n" +
		"1,A11,4,,,\r\n" +
		"5,A11,4,[1],\"{\"\"since\"\": 4}\",\"{\"\"next_visit\"\": \"\"31-02-2024\"\", \"\"doctor\"\": \"\"X\"\"}\"\r\n" +
		"6,A 11,4,\"{\"\"$gt\"\": 1}\",,\r\n"
	ds, err := readDataset(files(patientFile, patientsCSV, interactionFile, interactionsCSV), "dir", importStart)
	if err != nil {
		t.Fatalf("readDataset: %v", err)
	}
	if len(ds.patients) != 1 || ds.patients[0].InsuranceNo != "A11" || ds.patients[0].Extra != nil {
		t.Errorf("patients = %+v, want A11 only, without the ignored column", ds.patients)
	}
	if len(ds.interactions) != 1 || ds.interactions[0].interaction.ID != "1" {
		t.Errorf("interactions = %+v, want id 1 only", ds.interactions)
	}
	if ds.patientRows != 4 || ds.interactionRows != 7 {
		t.Errorf("rows = %d and %d, want 4 and 7", ds.patientRows, ds.interactionRows)
	}
	mustContain(t, "notes", strings.Join(ds.notes, "\n"), `dir/Patient.csv: column "shoe_size" is not one of`)

	want := []string{
		"dir/Patient.csv line 3: age: must be an integer from 0 to 150; blood_type: must be one of A+, A-, B+, B-, AB+, AB-, O+, O-; email: must be an email address",
		"dir/Patient.csv line 4: insurance_no: repeats line 2; only the first row is loaded",
		"dir/Patient.csv line 5: has 2 cells where the header has 7 columns",
		"dir/Interaction.csv line 3: health_status: must be an integer from 1 to 10",
		"dir/Interaction.csv line 4: metrics: is not valid JSON (it ends too early)",
		"dir/Interaction.csv line 5: id: is required in an import, so that loading the file again adds nothing",
		"dir/Interaction.csv line 6: id: repeats line 2; only the first row is loaded",
		"dir/Interaction.csv line 7: metrics: must hold a JSON object; next_steps.doctor: unknown field; next_steps holds next_visit, prescribed_meds, prescribed_tests and prescribed_specialist; next_steps.next_visit: must be an RFC 3339 date (2024-10-12) or date-time (2024-10-12T09:30:00Z); qa.since: answers must be strings",
		"dir/Interaction.csv line 8: insurance_no: must be 1-64 characters: letters, digits, '.', '_', ':' or '-', starting with a letter or digit; metrics.$gt: field names must not start with '$'",
	}
	var got []string
	for _, p := range ds.problems {
		got = append(got, p.String())
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, value := range []string{"not-an-email", "Q+", "abc", "A 11", "31-02-2024"} {
		if strings.Contains(strings.Join(got, "\n"), value) {
			t.Errorf("problems repeat the value %q", value)
		}
	}
}

func TestReadDatasetFileErrors(t *testing.T) {
	tests := []struct {
		name string
		fsys fstest.MapFS
		want string
	}{
		{"no files", files(), "neither Patient.csv nor Interaction.csv found"},
		{"no insurance_no column", files(patientFile, "fname,age\nA,3\n"), "Patient.csv: the header has no insurance_no column"},
		{"no id column", files(interactionFile, "insurance_no,label\nA11,x\n"), "Interaction.csv: the header has no id column"},
		{"column twice", files(patientFile, "insurance_no,Age,age\nA11,3,4\n"), `column "age" appears twice`},
		{"empty file", files(interactionFile, ""), "Interaction.csv: empty file"},
		{"broken header", files(patientFile, "insurance_no,\"fname\n"), "read Patient.csv header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readDataset(tt.fsys, "", importStart)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("readDataset = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestReadDatasetBadCSVRow(t *testing.T) {
	csv := "id,insurance_no\n1,A11\n2,\"A11\"x\n3,A11\n"
	ds, err := readDataset(files(interactionFile, csv), "", importStart)
	if err != nil {
		t.Fatalf("readDataset: %v", err)
	}
	if len(ds.interactions) != 2 || ds.interactions[1].interaction.ID != "3" || ds.interactions[1].line != 4 {
		t.Errorf("interactions = %+v, want ids 1 and 3", ds.interactions)
	}
	if len(ds.problems) != 1 || ds.problems[0].line != 3 || !strings.Contains(ds.problems[0].reason, "not valid CSV") {
		t.Errorf("problems = %v, want line 3 not valid CSV", ds.problems)
	}
}

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

	ins := interactions(t, db)
	if len(ins) != 13 || len(patients(t, db)) != 2 {
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
	write(patientFile, "insurance_no,fname,age\n"+
		"K1,Kim,40\n"+
		"K2,Kai,200\n")
	write(interactionFile, "id,insurance_no,health_status,metrics,label\n"+
		"i1,K1,5,\"{\"\"BP\"\": \"\"120/80\"\"}\",fever\n"+
		"i2,K1,11,,fever\n"+
		"i3,K1,4,\"{\"\"BP\"\": 120/80}\",gut\n"+
		"i4,Z99,4,,skin\n"+
		"i5,K2,4,,skin\n"+
		"i6,P77,6,,cold\n")

	rep, err := importCSV(ctx, repo, os.DirFS(dir), dir, importStart, writeOptions{batch: 2, inflight: 3})
	if err != nil {
		t.Fatalf("importCSV: %v", err)
	}
	if rep.patients.Inserted != 1 || rep.patients.Existing != 0 || rep.interactions.Inserted != 2 || rep.interactions.Existing != 0 {
		t.Errorf("patients %+v, interactions %+v; want 1 and 2 inserted", rep.patients, rep.interactions)
	}
	var out bytes.Buffer
	rep.print(&out, dir)
	name := func(f string) string { return filepath.Join(dir, f) }
	mustContain(t, "summary", out.String(),
		"skipped rows: 5",
		name(patientFile)+" line 3: age: must be an integer from 0 to 150",
		name(interactionFile)+" line 3: health_status: must be an integer from 1 to 10",
		name(interactionFile)+" line 4: metrics: is not valid JSON (error at character 11)",
		name(interactionFile)+" line 5: insurance_no: no patient has this insurance number, in Patient.csv or in the store",
		name(interactionFile)+" line 6: insurance_no: no patient has this insurance number",
	)
	summary := strings.ReplaceAll(out.String(), dir, "DIR")
	for _, value := range []string{"Z99", "K2", "Kai", "200"} {
		if strings.Contains(summary, value) {
			t.Errorf("summary repeats the value %q:\n%s", value, out.String())
		}
	}

	ins := interactions(t, db)
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
	ps := patients(t, db)
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
	if !bytes.Equal(read("data/Patient.csv"), read(filepath.Join(sharedSeedProject, patientFile))) {
		t.Error("data/Patient.csv differs from the original")
	}

	bundled := strings.Split(string(read("data/Interaction.csv")), "\r\n")
	original := strings.Split(string(read(filepath.Join(sharedSeedProject, interactionFile))), "\r\n")
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
		patientFile: "insurance_no,fname,age\n" +
			"K1,Kim,40\n" +
			"K2,Kai,200\n",
		interactionFile: "id,insurance_no,health_status\n" +
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
		filepath.Join(dir, patientFile)+" line 3: age:",
		filepath.Join(dir, interactionFile)+" line 3: health_status:")
	if n := len(interactions(t, db)); n != 2 {
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
