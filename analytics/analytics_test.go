package analytics

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/dataversion"
	"github.com/clinic/interactions/insights"
	"github.com/clinic/interactions/models"
)

// fakeRecords holds records in memory, at a version that each change moves. It
// counts its reads, and can hold the read of the visits until released.
type fakeRecords struct {
	mu       sync.Mutex
	changes  int64
	exact    bool
	patients []models.Patient
	visits   []models.Interaction
	// changed are the charts changed since each count of changes.
	changed map[int64][]string
	// hold, when set, holds each read of every visit until it is closed.
	hold chan struct{}
	// reading is told when a read of every visit starts.
	reading chan struct{}
	err     error
	whole   int
	charts  int
}

func (f *fakeRecords) DataVersion(context.Context) (dataversion.Version, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return dataversion.Counted("fake", f.changes, f.exact), nil
}

func (f *fakeRecords) ChangedSince(_ context.Context, v dataversion.Version) ([]string, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.exact || v.Epoch() != "fake" {
		return nil, false, nil
	}
	var nos []string
	for n := v.Changes(); n < f.changes; n++ {
		nos = append(nos, f.changed[n]...)
	}
	slices.Sort(nos)
	return slices.Compact(nos), true, nil
}

func (f *fakeRecords) EachPatient(_ context.Context, fn func(models.Patient) error) error {
	f.mu.Lock()
	patients := slices.Clone(f.patients)
	f.mu.Unlock()
	for _, p := range patients {
		if err := fn(p); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeRecords) EachVisit(ctx context.Context, q models.ScanQuery, fn func(models.Interaction) error) error {
	f.mu.Lock()
	f.whole++
	visits, hold, reading, err := slices.Clone(f.visits), f.hold, f.reading, f.err
	f.mu.Unlock()
	if reading != nil {
		reading <- struct{}{}
	}
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err != nil {
		return err
	}
	for _, in := range visits {
		if q.Matches(in) {
			if err := fn(in); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *fakeRecords) EachChart(_ context.Context, nos []string, patient func(models.Patient) error, visit func(models.Interaction) error) error {
	f.mu.Lock()
	f.charts++
	patients, visits := slices.Clone(f.patients), slices.Clone(f.visits)
	f.mu.Unlock()
	for _, p := range patients {
		if slices.Contains(nos, p.InsuranceNo) {
			if err := patient(p); err != nil {
				return err
			}
		}
	}
	for _, in := range visits {
		if slices.Contains(nos, in.InsuranceNo) && in.Status != models.StatusEnteredInError {
			if err := visit(in); err != nil {
				return err
			}
		}
	}
	return nil
}

// change applies edit to the records, as a write of the charts nos.
func (f *fakeRecords) change(edit func(f *fakeRecords), nos ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	edit(f)
	if f.changed == nil {
		f.changed = map[int64][]string{}
	}
	f.changed[f.changes] = nos
	f.changes++
}

// reads returns how many times every visit, and some charts, were read.
func (f *fakeRecords) reads() (whole, charts int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.whole, f.charts
}

// population returns the records of n patients with a few visits each.
func population(n int) *fakeRecords {
	f := &fakeRecords{exact: true}
	at := time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC)
	ailments := []string{"Influenza", "Hypertension", "Asthma", "Type 2 diabetes"}
	for i := range n {
		no := fmt.Sprintf("P%03d", i)
		age := 20 + i%60
		f.patients = append(f.patients, models.Patient{InsuranceNo: no, Age: &age, Sex: []string{"M", "F"}[i%2]})
		for j := range 2 + i%4 {
			h := 1 + (i+j)%10
			f.visits = append(f.visits, models.Interaction{ID: fmt.Sprintf("%s-%d", no, j), InsuranceNo: no,
				InteractionDate: at.AddDate(0, 0, 9*j+i%7), Ailment: ailments[i%4], Label: []string{"l" + fmt.Sprint(i%3)},
				Metrics:      bson.D{{Key: "temp", Value: 36.5 + float64((i+j)%9)/4}, {Key: "BP", Value: fmt.Sprintf("%d/80", 110+i%40)}},
				HealthStatus: &h})
		}
	}
	// Visits of a patient with no record (yet).
	for j := range 3 {
		f.visits = append(f.visits, models.Interaction{ID: fmt.Sprintf("P500-%d", j), InsuranceNo: "P500",
			InteractionDate: at.AddDate(0, 0, j), Ailment: "asthma", Label: []string{}})
	}
	return f
}

// TestModelKeptPerVersion asks the model many times, at once and one after the
// other: it is computed once per version of the records, whole the first time, and
// from the charts changed after; what it holds is what a model computed whole from
// the same records holds.
func TestModelKeptPerVersion(t *testing.T) {
	ctx := context.Background()
	f := population(120)
	m := New(f, Options{})
	var wg sync.WaitGroup
	spaces := make([]*insights.Space, 8)
	for i := range spaces {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, _, err := m.Space(ctx)
			if err != nil {
				t.Error(err)
			}
			spaces[i] = s
		}()
	}
	wg.Wait()
	for _, s := range spaces[1:] {
		if s != spaces[0] {
			t.Fatal("requests of one version were answered from different models")
		}
	}
	first, err := m.Cohorts(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := m.Cohorts(ctx, 4)
	if whole, charts := f.reads(); whole != 1 || charts != 0 || !reflect.DeepEqual(first, again) {
		t.Fatalf("read whole %d times, charts %d times; the same cohorts twice: %v", whole, charts, reflect.DeepEqual(first, again))
	}

	// Charts change: a visit amended, one entered in error, one added, a patient's
	// record amended and a patient added.
	f.change(func(f *fakeRecords) {
		f.visits[3].Ailment, f.visits[3].Label = "Asthma", []string{"l9"}
		f.visits[10].Status = models.StatusEnteredInError
		f.visits = append(f.visits, models.Interaction{ID: "new", InsuranceNo: "P007", InteractionDate: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
			Ailment: "Migraine", Label: []string{}, Metrics: bson.D{{Key: "temp", Value: 39.1}}})
		f.patients[20].Sex = "F"
		age := 33
		f.patients = append(f.patients, models.Patient{InsuranceNo: "P999", Age: &age}, models.Patient{InsuranceNo: "P500"})
		f.visits[len(f.visits)-2].Ailment = "Asthma " // a visit of P500, whose record is added
	}, f.visits[3].InsuranceNo, f.visits[10].InsuranceNo, "P007", "P020", "P999", "P500")
	updated, err := m.Cohorts(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	if whole, charts := f.reads(); whole != 1 || charts != 1 {
		t.Errorf("after the change: read whole %d times, charts %d times; want 1 and 1", whole, charts)
	}
	fresh, err := New(f, Options{}).Cohorts(ctx, 4)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(updated.Space.Profiles, fresh.Space.Profiles) || !reflect.DeepEqual(updated.Space.Vectors, fresh.Space.Vectors) {
		t.Error("the profiles brought up to date differ from those read whole")
	}
	if !reflect.DeepEqual(updated.Clustering, fresh.Clustering) || !reflect.DeepEqual(updated.Described, fresh.Described) {
		t.Errorf("the cohorts brought up to date differ from those read whole:\n%+v\n%+v", updated.Described, fresh.Described)
	}
	if reflect.DeepEqual(first.Space.Profiles, updated.Space.Profiles) || len(updated.Space.Profiles) != 122 {
		t.Error("the change left the profiles as they were")
	}

	// Records that cannot tell what changed are read whole again.
	f.exact = false
	f.change(func(f *fakeRecords) { f.visits[0].Ailment = "Flu" }, "P000")
	if _, _, err := m.Space(ctx); err != nil {
		t.Fatal(err)
	}
	if whole, charts := f.reads(); whole != 3 || charts != 1 {
		t.Errorf("after a change the store does not tell: read whole %d times (the fresh model's included), charts %d; want 3 and 1", whole, charts)
	}
}

// TestComputationOutlivesItsRequest asks for the model with a request whose
// deadline comes while the visits are read: the request fails with its context's
// error, and the computation goes on, so that the next request is answered from it
// without reading anything again.
func TestComputationOutlivesItsRequest(t *testing.T) {
	f := population(30)
	f.hold, f.reading = make(chan struct{}), make(chan struct{}, 1)
	m := New(f, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := m.Cohorts(ctx, 3)
		done <- err
	}()
	<-f.reading
	cancel() // the request's deadline
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("the request whose deadline came: %v", err)
	}
	close(f.hold) // the store hands the visits over after all
	c, err := m.Cohorts(context.Background(), 3)
	if err != nil || len(c.Space.Profiles) != 30 {
		t.Fatalf("the next request: %v, %v", c, err)
	}
	if whole, _ := f.reads(); whole != 1 {
		t.Errorf("the visits were read %d times; want once, by the computation the first request started", whole)
	}
}

// TestComputationWithinItsBudget stops a computation at its budget, past which
// nobody is served from it, and when the server stops; a computation that failed
// is tried again by the next request.
func TestComputationWithinItsBudget(t *testing.T) {
	f := population(10)
	f.hold = make(chan struct{})
	base, stop := context.WithCancel(context.Background())
	m := New(f, Options{Base: base, Budget: 50 * time.Millisecond})
	if _, _, err := m.Space(context.Background()); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a computation past its budget: %v", err)
	}
	f.mu.Lock()
	f.hold = nil
	f.err = models.ErrBusy
	f.mu.Unlock()
	if _, _, err := m.Space(context.Background()); !errors.Is(err, models.ErrBusy) {
		t.Errorf("a computation the store fails: %v", err)
	}
	f.mu.Lock()
	f.err = nil
	f.mu.Unlock()
	if s, _, err := m.Space(context.Background()); err != nil || len(s.Profiles) != 10 {
		t.Errorf("the next request after a failure: %v", err)
	}
	stop()
	f.change(func(*fakeRecords) {}, "P001")
	if _, _, err := m.Space(context.Background()); !errors.Is(err, context.Canceled) {
		t.Errorf("a computation once the server stops: %v", err)
	}
}

// TestModelOfAStoreCountingAfterItsWrites serves the model of a store that counts
// its changes after making them (MongoDB) for dataversion.MaxAge at most.
func TestModelOfAStoreCountingAfterItsWrites(t *testing.T) {
	f := population(10)
	f.exact = false
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	m := New(f, Options{Now: func() time.Time { return now }})
	for _, step := range []struct {
		after time.Duration
		whole int
	}{{0, 1}, {time.Minute, 1}, {dataversion.MaxAge, 2}, {time.Minute, 2}} {
		now = now.Add(step.after)
		if _, _, err := m.Space(context.Background()); err != nil {
			t.Fatal(err)
		}
		if whole, _ := f.reads(); whole != step.whole {
			t.Errorf("%v later: read whole %d times, want %d", step.after, whole, step.whole)
		}
	}
}
