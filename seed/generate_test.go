package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
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

	ps := patients(t, db)
	ins := interactions(t, db)
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
	if n := len(interactions(t, db)); n != want {
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
			before := snapshot(t, db)
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
			assertSameSnapshot(t, before, snapshot(t, db))
		})
	}
}

func TestGenerateMorePatientsOfASeed(t *testing.T) {
	db := newDatabase(t)
	if _, stderr, err := runSeed(t, db, "-generate", "20", "-seed", "3"); err != nil {
		t.Fatalf("first run: %v\n%s", err, stderr)
	}
	before := snapshot(t, db)

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

	after := snapshot(t, db)
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
	stored := patients(t, db)
	for _, p := range ps {
		if _, ok := stored[p.InsuranceNo]; !ok {
			t.Errorf("patient %s of seed 3 is not stored", p.InsuranceNo)
		}
	}
}

// orderStore records inserts, which may come from several goroutines at once, and
// checks that every interaction's patient is inserted before it, that no call holds
// more than batch documents and that no more than inflight calls run at once.
type orderStore struct {
	t               *testing.T
	batch, inflight int

	mu           sync.Mutex
	running      int
	patients     map[string]bool
	interactions int
}

func (s *orderStore) PatientExists(_ context.Context, no string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.patients[no], nil
}

// call checks a call of n documents, counting it as running until the function it
// returns is called.
func (s *orderStore) call(what string, n int) (done func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n > s.batch {
		s.t.Errorf("inserted %d %s at once, batch is %d", n, what, s.batch)
	}
	if s.running++; s.running > s.inflight {
		s.t.Errorf("%d calls at once, inflight is %d", s.running, s.inflight)
	}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.running--
	}
}

func (s *orderStore) InsertPatients(_ context.Context, ps []models.Patient) (models.InsertResult, error) {
	defer s.call("patients", len(ps))()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range ps {
		s.patients[p.InsuranceNo] = true
	}
	return models.InsertResult{Inserted: len(ps)}, nil
}

func (s *orderStore) InsertInteractions(_ context.Context, ins []models.Interaction) (models.InsertResult, error) {
	defer s.call("interactions", len(ins))()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, in := range ins {
		if !s.patients[in.InsuranceNo] {
			s.t.Errorf("interaction %s inserted before its patient", in.ID)
		}
	}
	s.interactions += len(ins)
	return models.InsertResult{Inserted: len(ins)}, nil
}

func TestLoadGeneratedBatches(t *testing.T) {
	for _, opts := range []writeOptions{{1, 1}, {7, 1}, {7, 3}, {50, 2}, {50, 8}, {1000, 2}} {
		t.Run(fmt.Sprintf("batch=%d/inflight=%d", opts.batch, opts.inflight), func(t *testing.T) {
			store := &orderStore{t: t, batch: opts.batch, inflight: opts.inflight, patients: map[string]bool{}}
			now := time.Now()
			rep, err := loadGenerated(context.Background(), store, generateOptions{patients: 30, writeOptions: opts, seed: 8, now: now}, newConsole(io.Discard))
			if err != nil {
				t.Fatalf("loadGenerated: %v", err)
			}
			_, want, _ := synthetic.Generate(8, now, 30)
			if len(store.patients) != 30 || store.interactions != len(want) {
				t.Errorf("stored %d patients and %d interactions, want 30 and %d", len(store.patients), store.interactions, len(want))
			}
			if rep.patients.Inserted != 30 || rep.interactions.Inserted != len(want) || rep.documents() != 30+len(want) {
				t.Errorf("report %+v", rep)
			}
		})
	}
}

// interruptingStore is a store that ends the load's context when the given number
// of interaction batches have started, as SIGINT would in the middle of a load.
type interruptingStore struct {
	recordStore
	after  int32
	calls  atomic.Int32
	cancel context.CancelFunc
}

func (s *interruptingStore) InsertInteractions(ctx context.Context, ins []models.Interaction) (models.InsertResult, error) {
	if s.calls.Add(1) == s.after {
		s.cancel()
	}
	return s.recordStore.InsertInteractions(ctx, ins)
}

// TestGenerateInterrupted interrupts loads with several batches under way: each
// stops with an error naming the documents it inserted, and its report counts
// exactly what the store holds, no interaction without its patient; the next run
// adds the rest and counts what the interrupted one stored as present.
func TestGenerateInterrupted(t *testing.T) {
	for _, opts := range []writeOptions{{batch: 40, inflight: 1}, {batch: 40, inflight: 4}} {
		t.Run(fmt.Sprintf("inflight=%d", opts.inflight), func(t *testing.T) {
			repo, db := newRepository(t)
			now := time.Now()
			gen := generateOptions{patients: 60, writeOptions: opts, seed: 5, now: now}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			store := &interruptingStore{recordStore: repo, after: 3, cancel: cancel}
			rep, err := loadGenerated(ctx, store, gen, newConsole(io.Discard))
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("loadGenerated = %v, want an interruption", err)
			}
			mustContain(t, "error", err.Error(), fmt.Sprintf("interrupted after %d documents inserted", rep.documents()))

			ps, ins := patients(t, db), interactions(t, db)
			if rep.patients.Inserted != len(ps) || rep.interactions.Inserted != len(ins) {
				t.Errorf("report says %d patients and %d interactions inserted, the store holds %d and %d",
					rep.patients.Inserted, rep.interactions.Inserted, len(ps), len(ins))
			}
			for _, in := range ins {
				if _, ok := ps[in.InsuranceNo]; !ok {
					t.Errorf("interaction %s is stored without its patient", in.ID)
				}
			}
			_, all, _ := synthetic.Generate(5, now, 60)
			if len(ins) == len(all) {
				t.Fatalf("the interrupted load stored all %d interactions", len(all))
			}

			again, err := loadGenerated(context.Background(), repo, gen, newConsole(io.Discard))
			if err != nil {
				t.Fatal(err)
			}
			if again.patients.Existing != len(ps) || again.interactions.Existing != len(ins) ||
				again.patients.Inserted+len(ps) != 60 || again.interactions.Inserted+len(ins) != len(all) {
				t.Errorf("second run %+v after %d patients and %d interactions stored, want the rest of 60 and %d",
					again, len(ps), len(ins), len(all))
			}
		})
	}
}

// TestGenerateConcurrentlyIntoStore loads with several batches at once into the
// store, twice: the same records as one at a time, counted exactly, and nothing
// added the second time.
func TestGenerateConcurrentlyIntoStore(t *testing.T) {
	repo, db := newRepository(t)
	now := time.Now()
	gen := generateOptions{patients: 50, writeOptions: writeOptions{batch: 30, inflight: 4}, seed: 9, now: now}
	rep, err := loadGenerated(context.Background(), repo, gen, newConsole(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	wantPatients, wantInteractions, err := synthetic.Generate(9, now, 50)
	if err != nil {
		t.Fatal(err)
	}
	ps, ins := patients(t, db), interactions(t, db)
	if rep.patients.Inserted != 50 || rep.interactions.Inserted != len(wantInteractions) ||
		len(ps) != 50 || len(ins) != len(wantInteractions) {
		t.Fatalf("report %+v, store %d patients and %d interactions; want 50 and %d",
			rep, len(ps), len(ins), len(wantInteractions))
	}
	for _, p := range wantPatients {
		if _, ok := ps[p.InsuranceNo]; !ok {
			t.Errorf("patient %s not stored", p.InsuranceNo)
		}
	}
	for _, in := range wantInteractions {
		if _, ok := ins[in.ID]; !ok {
			t.Errorf("interaction %s not stored", in.ID)
		}
	}
	before := snapshot(t, db)
	again, err := loadGenerated(context.Background(), repo, gen, newConsole(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	if again.documents() != 0 || again.patients.Existing != 50 || again.interactions.Existing != len(wantInteractions) {
		t.Errorf("second run %+v, want nothing inserted and everything present", again)
	}
	assertSameSnapshot(t, before, snapshot(t, db))
}
