package reconcile

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/fhir"
	"github.com/clinic/interactions/models"
)

// memoryStore keeps records in maps, counts the inserts and lookups made, and notes
// how many lookups ran at once at most.
type memoryStore struct {
	mu           sync.Mutex
	patients     map[string]models.Patient
	interactions map[string]models.Interaction
	inserts      int
	// present counts the records inserts were given that were stored already.
	present      int
	looked       []string
	running, max int
	failLookup   error
}

func newMemoryStore() *memoryStore {
	return &memoryStore{patients: map[string]models.Patient{}, interactions: map[string]models.Interaction{}}
}

func insertInto[T any](s *memoryStore, m map[string]T, recs []T, id func(T) string) (models.InsertResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inserts++
	var res models.InsertResult
	for i, r := range recs {
		if _, ok := m[id(r)]; ok {
			s.present++
			res.Existing++
			res.ExistingAt = append(res.ExistingAt, i)
			continue
		}
		m[id(r)] = r
		res.Inserted++
	}
	return res, nil
}

func lookupIn[T any](s *memoryStore, m map[string]T, id string) (T, error) {
	s.mu.Lock()
	s.looked = append(s.looked, id)
	s.running++
	s.max = max(s.max, s.running)
	s.mu.Unlock()
	runtime.Gosched() // let the batch's other lookups start
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running--
	var zero T
	if s.failLookup != nil {
		return zero, s.failLookup
	}
	r, ok := m[id]
	if !ok {
		return zero, models.ErrNotFound
	}
	return r, nil
}

func (s *memoryStore) InsertPatients(_ context.Context, ps []models.Patient) (models.InsertResult, error) {
	return insertInto(s, s.patients, ps, func(p models.Patient) string { return p.InsuranceNo })
}

func (s *memoryStore) InsertInteractions(_ context.Context, ins []models.Interaction) (models.InsertResult, error) {
	return insertInto(s, s.interactions, ins, func(in models.Interaction) string { return in.ID })
}

func (s *memoryStore) Patient(_ context.Context, no string) (models.Patient, error) {
	return lookupIn(s, s.patients, no)
}

func (s *memoryStore) Interaction(_ context.Context, id string) (models.Interaction, error) {
	return lookupIn(s, s.interactions, id)
}

// amender applies merge patches to the memory store's interactions and notes the
// ids amended, in order.
type amender struct {
	store   *memoryStore
	amended []string
}

func (a *amender) Apply(_ context.Context, cur models.Interaction, patch bson.D, _ string) (models.Interaction, error) {
	for _, e := range patch {
		if e.Key == "ailment" {
			cur.Ailment, _ = e.Value.(string)
		}
	}
	cur.Version++
	a.store.mu.Lock()
	a.store.interactions[cur.ID] = cur
	a.store.mu.Unlock()
	a.amended = append(a.amended, cur.ID)
	return cur, nil
}

// noPatients fails the test if a patient is amended.
type noPatients struct{ t *testing.T }

func (n noPatients) Apply(_ context.Context, cur models.Patient, _ bson.D, _ string) (models.Patient, error) {
	n.t.Errorf("patient %s amended", cur.InsuranceNo)
	return cur, nil
}

// imported returns interaction i of patient P1 as a FHIR import reads it, with the
// given ailment.
func imported(t *testing.T, i int, ailment string) models.Interaction {
	t.Helper()
	in, err := models.NewInteraction(bson.D{
		{Key: "id", Value: fmt.Sprintf("fhir-e%03d", i)}, {Key: "insurance_no", Value: "fhir-p1"},
		{Key: "interaction_date", Value: "2024-01-01T10:00:00Z"}, {Key: "ailment", Value: ailment},
	}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	in.Source = bson.D{{Key: "system", Value: "fhir"}, {Key: "encounter", Value: fmt.Sprintf("e%03d", i)}}
	return in
}

// importInteractions passes the interactions to a new importer over store, batch at a
// time, and flushes it.
func importInteractions(t *testing.T, store *memoryStore, am *amender, batch int, ins []models.Interaction) (*Importer, error) {
	t.Helper()
	im := New(store, noPatients{t}, am, batch)
	ctx := context.Background()
	for i, in := range ins {
		if err := im.Interaction(ctx, in, fhir.Origin{File: "Encounter.ndjson", Line: i + 1}); err != nil {
			return im, err
		}
	}
	return im, im.Flush(ctx)
}

// TestImportReadsOnlyWhatIsStored imports interactions into an empty store, then
// again with some changed and some new: a first import inserts without reading
// anything; a re-import reads each record at most once, by id, a bounded number at
// once, stops offering the store records it holds once a batch showed that most
// are, amends those that changed in file order, and counts everything exactly.
func TestImportReadsOnlyWhatIsStored(t *testing.T) {
	store := newMemoryStore()
	var first []models.Interaction
	for i := range 40 {
		first = append(first, imported(t, i, "Flu"))
	}
	am := &amender{store: store}
	im, err := importInteractions(t, store, am, 25, first)
	if err != nil {
		t.Fatal(err)
	}
	if got := im.Interactions(); got != (Counts{Inserted: 40}) || len(store.looked) != 0 || store.inserts != 2 {
		t.Fatalf("first import: %+v, %d lookups, %d inserts; want 40 inserted by 2 inserts, no lookup", got, len(store.looked), store.inserts)
	}

	// The same 40, of which 3 changed, and 20 new ones.
	second := slices.Clone(first)
	for _, i := range []int{4, 17, 33} {
		second[i] = imported(t, i, "Cold")
	}
	for i := 40; i < 60; i++ {
		second = append(second, imported(t, i, "Flu"))
	}
	store.looked, store.present = nil, 0
	im, err = importInteractions(t, store, am, 25, second)
	if err != nil {
		t.Fatal(err)
	}
	if got := im.Interactions(); got != (Counts{Inserted: 20, Updated: 3, Unchanged: 37}) {
		t.Errorf("re-import counts = %+v, want 20 inserted, 3 updated, 37 unchanged", got)
	}
	// The first batch (0 to 24) is inserted, all of it found stored and read;
	// the next ones are read first, and only what is missing inserted.
	var want []string
	for _, in := range second {
		want = append(want, in.ID)
	}
	slices.Sort(store.looked)
	if !slices.Equal(store.looked, want) || store.present != 25 {
		t.Errorf("re-import looked up %v and offered %d stored records to insert; want each of the 60 once, and 25",
			store.looked, store.present)
	}
	if !slices.Equal(am.amended, []string{"fhir-e004", "fhir-e017", "fhir-e033"}) {
		t.Errorf("amended %v, want e004, e017, e033 in file order", am.amended)
	}
	if store.max > lookups {
		t.Errorf("%d lookups ran at once, want at most %d", store.max, lookups)
	}
	if store.interactions["fhir-e017"].Ailment != "Cold" || store.interactions["fhir-e016"].Ailment != "Flu" {
		t.Errorf("stored e017 %q, e016 %q; want Cold and Flu", store.interactions["fhir-e017"].Ailment, store.interactions["fhir-e016"].Ailment)
	}
}

// TestImportLookupFails reports the store's error of a lookup, naming the batch.
func TestImportLookupFails(t *testing.T) {
	store := newMemoryStore()
	am := &amender{store: store}
	ins := []models.Interaction{imported(t, 1, "Flu"), imported(t, 2, "Flu")}
	if _, err := importInteractions(t, store, am, 10, ins); err != nil {
		t.Fatal(err)
	}
	store.failLookup = models.ErrUnavailable
	_, err := importInteractions(t, store, am, 10, ins)
	if !errors.Is(err, models.ErrUnavailable) {
		t.Errorf("re-import with failing lookups = %v, want ErrUnavailable", err)
	}
}

// TestReimportOfPatientsReadsTheirInteractionsFirst imports a patient and its
// interactions twice: on the second import the patient, found stored, tells the
// importer it is a re-import, so that not one interaction is offered to the store
// to insert before it is read.
func TestReimportOfPatientsReadsTheirInteractionsFirst(t *testing.T) {
	store := newMemoryStore()
	am := &amender{store: store}
	p, err := models.NewPatient(bson.D{{Key: "insurance_no", Value: "fhir-p1"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p.Source = bson.D{{Key: "system", Value: "fhir"}, {Key: "patient", Value: "p1"}}
	var ins []models.Interaction
	for i := range 30 {
		ins = append(ins, imported(t, i, "Flu"))
	}
	for run := range 2 {
		store.present = 0
		im := New(store, noPatients{t}, am, 10)
		ctx := context.Background()
		if err := im.Patient(ctx, p, fhir.Origin{File: "Patient.ndjson", Line: 1}); err != nil {
			t.Fatal(err)
		}
		for i, in := range ins {
			if err := im.Interaction(ctx, in, fhir.Origin{File: "Encounter.ndjson", Line: i + 1}); err != nil {
				t.Fatal(err)
			}
		}
		if err := im.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		want := Counts{Inserted: 30}
		if run == 1 {
			want = Counts{Unchanged: 30}
			if store.present != 1 {
				t.Errorf("re-import offered %d stored records to insert, want only the patient", store.present)
			}
		}
		if got := im.Interactions(); got != want {
			t.Errorf("run %d: interactions %+v, want %+v", run+1, got, want)
		}
	}
}
