package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/repository"
	"github.com/clinic/interactions/storetest"
	"github.com/clinic/interactions/synthetic"
)

// TestGenerateIntoStore loads synthetic patients with the command: its summary
// counts them, and the store holds exactly the records the generator draws (whose
// plausibility package synthetic checks), made by the run; a second run adds nothing.
func TestGenerateIntoStore(t *testing.T) {
	db := newDatabase(t)
	now := time.Now()
	stdout, stderr, err := runSeedAt(t, db, now, "-generate", "25", "-seed", "42", "-batch", "50")
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	g := synthetic.New(42, now)
	want := 0
	for i := range 25 {
		want += g.Visits(i)
	}
	mustContain(t, "summary", stdout,
		"generating 25 synthetic patients (seed 42)",
		fmt.Sprintf("inserted %d documents (25 patients, %d interactions) in ", 25+want, want),
		" documents/s",
		"already present, left unchanged: 0 patients, 0 interactions")
	mustContain(t, "progress", stderr, "inserting", "docs")

	ps := storetest.Patients(t, db)
	ins := storetest.Interactions(t, db)
	if len(ps) != 25 || len(ins) != want {
		t.Fatalf("stored %d patients and %d interactions, want 25 and %d", len(ps), len(ins), want)
	}
	wantPatients, wantInteractions, err := synthetic.Generate(42, now, 25)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range wantPatients {
		stored, ok := ps[p.InsuranceNo]
		if !ok {
			t.Errorf("patient %s is not stored", p.InsuranceNo)
			continue
		}
		if stored.RecordedBy == nil || stored.RecordedBy.Key != "seed" || stored.RecordedBy.RequestID == "" {
			t.Errorf("patient %s recorded_by = %+v, want the seed run", p.InsuranceNo, stored.RecordedBy)
		}
		p.RecordedBy = stored.RecordedBy
		assertSameJSON(t, "patient "+p.InsuranceNo, stored, p)
	}
	for _, in := range wantInteractions {
		stored, ok := ins[in.ID]
		if !ok {
			t.Errorf("interaction %s is not stored", in.ID)
			continue
		}
		in.RecordedBy = stored.RecordedBy
		assertSameJSON(t, "interaction "+in.ID, stored, in)
	}

	stdout, stderr, err = runSeed(t, db, "-generate", "25", "-seed", "42")
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, stderr)
	}
	mustContain(t, "second summary", stdout,
		"inserted 0 documents (0 patients, 0 interactions) in ",
		fmt.Sprintf("already present, left unchanged: 25 patients, %d interactions", want))
	if n := len(storetest.Interactions(t, db)); n != want {
		t.Errorf("%d interactions after the second run, want %d", n, want)
	}
}

// assertSameJSON fails t when got and want, a stored record and the one the run was
// to store, differ in their JSON, as the API shows them.
func assertSameJSON(t *testing.T, what string, got, want any) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g, w) {
		t.Errorf("%s: stored\n%s\nwant\n%s", what, g, w)
	}
}

func TestGenerateTwiceChangesNothing(t *testing.T) {
	for _, tt := range []struct {
		args []string
		seed int
	}{
		{[]string{"-generate", "30", "-seed", "7"}, 7},
		{[]string{"-generate", "12"}, 1},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			db := newDatabase(t)
			stdout, stderr, err := runSeed(t, db, tt.args...)
			if err != nil {
				t.Fatalf("first run: %v\n%s", err, stderr)
			}
			mustContain(t, "summary", stdout, fmt.Sprintf("synthetic patients (seed %d)\n", tt.seed))
			before := storetest.Snapshot(t, db)
			patients := len(before[repository.PatientsCollection])
			interactions := len(before[repository.InteractionsCollection])

			// runSeed runs it an hour later, so visits would be dated differently.
			stdout, stderr, err = runSeed(t, db, tt.args...)
			if err != nil {
				t.Fatalf("second run: %v\n%s", err, stderr)
			}
			mustContain(t, "second summary", stdout,
				"inserted 0 documents (0 patients, 0 interactions) in ",
				fmt.Sprintf("already present, left unchanged: %d patients, %d interactions\n", patients, interactions))
			storetest.AssertSameSnapshot(t, before, storetest.Snapshot(t, db))
		})
	}
}

func TestGenerateMorePatientsOfASeed(t *testing.T) {
	db := newDatabase(t)
	if _, stderr, err := runSeed(t, db, "-generate", "20", "-seed", "3"); err != nil {
		t.Fatalf("first run: %v\n%s", err, stderr)
	}
	before := storetest.Snapshot(t, db)

	stdout, stderr, err := runSeed(t, db, "-generate", "30", "-seed", "3")
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, stderr)
	}
	g := synthetic.New(3, time.Now())
	old, added := 0, 0
	for i := range 30 {
		if i < 20 {
			old += g.Visits(i)
		} else {
			added += g.Visits(i)
		}
	}
	mustContain(t, "summary", stdout,
		fmt.Sprintf("inserted %d documents (10 patients, %d interactions) in ", 10+added, added),
		fmt.Sprintf("already present, left unchanged: 20 patients, %d interactions\n", old))

	after := storetest.Snapshot(t, db)
	for _, c := range []struct {
		name  string
		added int
	}{
		{repository.PatientsCollection, 10},
		{repository.InteractionsCollection, added},
	} {
		stored := map[string]bson.Raw{}
		for _, doc := range after[c.name] {
			stored[doc.Lookup("_id").String()] = doc
		}
		for _, doc := range before[c.name] {
			if id := doc.Lookup("_id").String(); !bytes.Equal(stored[id], doc) {
				t.Errorf("%s: %s changed or removed by the second run", c.name, id)
			}
		}
		if want := len(before[c.name]) + c.added; len(after[c.name]) != want {
			t.Errorf("%s: %d documents, want %d", c.name, len(after[c.name]), want)
		}
	}
	ps, _, err := synthetic.Generate(3, time.Now(), 30)
	if err != nil {
		t.Fatal(err)
	}
	stored := storetest.Patients(t, db)
	for _, p := range ps {
		if _, ok := stored[p.InsuranceNo]; !ok {
			t.Errorf("patient %s of seed 3 is not stored", p.InsuranceNo)
		}
	}
}
