package loader

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/storetest"
	"github.com/clinic/interactions/synthetic"
)

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
	for _, opts := range []WriteOptions{{1, 1}, {7, 1}, {7, 3}, {50, 2}, {50, 8}, {1000, 2}} {
		t.Run(fmt.Sprintf("batch=%d/inflight=%d", opts.Batch, opts.Inflight), func(t *testing.T) {
			store := &orderStore{t: t, batch: opts.Batch, inflight: opts.Inflight, patients: map[string]bool{}}
			now := time.Now()
			rep, err := Generated(context.Background(), store, GenerateOptions{Patients: 30, WriteOptions: opts, Seed: 8, Now: now}, nil)
			if err != nil {
				t.Fatalf("Generated: %v", err)
			}
			_, want, _ := synthetic.Generate(8, now, 30)
			if len(store.patients) != 30 || store.interactions != len(want) {
				t.Errorf("stored %d patients and %d interactions, want 30 and %d", len(store.patients), store.interactions, len(want))
			}
			if rep.Patients.Inserted != 30 || rep.Interactions.Inserted != len(want) || rep.Documents() != 30+len(want) {
				t.Errorf("report %+v", rep)
			}
		})
	}
}

// interruptingStore is a store that ends the load's context when the given number
// of interaction batches have started, as SIGINT would in the middle of a load.
type interruptingStore struct {
	RecordStore
	after  int32
	calls  atomic.Int32
	cancel context.CancelFunc
}

func (s *interruptingStore) InsertInteractions(ctx context.Context, ins []models.Interaction) (models.InsertResult, error) {
	if s.calls.Add(1) == s.after {
		s.cancel()
	}
	return s.RecordStore.InsertInteractions(ctx, ins)
}

// TestGenerateInterrupted interrupts loads with several batches under way: each
// stops with an error naming the documents it inserted, and its report counts
// exactly what the store holds, no interaction without its patient; the next run
// adds the rest and counts what the interrupted one stored as present.
func TestGenerateInterrupted(t *testing.T) {
	for _, opts := range []WriteOptions{{Batch: 40, Inflight: 1}, {Batch: 40, Inflight: 4}} {
		t.Run(fmt.Sprintf("inflight=%d", opts.Inflight), func(t *testing.T) {
			repo, db := testStore.DB(t)
			now := time.Now()
			gen := GenerateOptions{Patients: 60, WriteOptions: opts, Seed: 5, Now: now}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			store := &interruptingStore{RecordStore: repo, after: 3, cancel: cancel}
			rep, err := Generated(ctx, store, gen, nil)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Generated = %v, want an interruption", err)
			}
			if want := fmt.Sprintf("interrupted after %d documents inserted", rep.Documents()); !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}

			ps, ins := storetest.Patients(t, db), storetest.Interactions(t, db)
			if rep.Patients.Inserted != len(ps) || rep.Interactions.Inserted != len(ins) {
				t.Errorf("report says %d patients and %d interactions inserted, the store holds %d and %d",
					rep.Patients.Inserted, rep.Interactions.Inserted, len(ps), len(ins))
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

			again, err := Generated(context.Background(), repo, gen, nil)
			if err != nil {
				t.Fatal(err)
			}
			if again.Patients.Existing != len(ps) || again.Interactions.Existing != len(ins) ||
				again.Patients.Inserted+len(ps) != 60 || again.Interactions.Inserted+len(ins) != len(all) {
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
	repo, db := testStore.DB(t)
	now := time.Now()
	gen := GenerateOptions{Patients: 50, WriteOptions: WriteOptions{Batch: 30, Inflight: 4}, Seed: 9, Now: now}
	rep, err := Generated(context.Background(), repo, gen, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantPatients, wantInteractions, err := synthetic.Generate(9, now, 50)
	if err != nil {
		t.Fatal(err)
	}
	ps, ins := storetest.Patients(t, db), storetest.Interactions(t, db)
	if rep.Patients.Inserted != 50 || rep.Interactions.Inserted != len(wantInteractions) ||
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
	before := storetest.Snapshot(t, db)
	again, err := Generated(context.Background(), repo, gen, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Documents() != 0 || again.Patients.Existing != 50 || again.Interactions.Existing != len(wantInteractions) {
		t.Errorf("second run %+v, want nothing inserted and everything present", again)
	}
	storetest.AssertSameSnapshot(t, before, storetest.Snapshot(t, db))
}
