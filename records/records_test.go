package records_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/records"
	"github.com/clinic/interactions/storetest"
)

// memStore keeps interactions and their archive in memory, with the archive's
// unique (record, version) index and a replace that checks the version.
type memStore struct {
	mu      sync.Mutex
	current map[string]models.Interaction
	archive map[string]models.Version[models.Interaction]
}

func newMemStore() *memStore {
	return &memStore{current: map[string]models.Interaction{}, archive: map[string]models.Version[models.Interaction]{}}
}

func archiveID(key models.RecordKey, v int) string {
	return fmt.Sprintf("%s/%s/%d", key.InsuranceNo, key.InteractionID, v)
}

func (s *memStore) CreateInteraction(_ context.Context, in models.Interaction) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.current[in.ID]; ok {
		return models.ErrConflict
	}
	s.current[in.ID] = in
	return nil
}

func (s *memStore) Interaction(_ context.Context, id string) (models.Interaction, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in, ok := s.current[id]
	if !ok {
		return models.Interaction{}, models.ErrNotFound
	}
	return in, nil
}

func (s *memStore) Archive(_ context.Context, v models.Version[models.Interaction]) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := archiveID(v.Document.Key(), v.Version)
	if _, ok := s.archive[id]; ok {
		return models.ErrConflict
	}
	s.archive[id] = v
	return nil
}

func (s *memStore) Archived(_ context.Context, key models.RecordKey, n int) (models.Version[models.Interaction], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.archive[archiveID(key, n)]
	if !ok {
		return models.Version[models.Interaction]{}, models.ErrNotFound
	}
	return v, nil
}

func (s *memStore) Following(ctx context.Context, current []models.Interaction) ([]models.Version[models.Interaction], error) {
	out := make([]models.Version[models.Interaction], len(current))
	for i, in := range current {
		v, err := s.Archived(ctx, in.Key(), in.Version+1)
		if err != nil && !errors.Is(err, models.ErrNotFound) {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (s *memStore) MarkCommitted(_ context.Context, key models.RecordKey, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.archive[archiveID(key, n)]; ok {
		v.Committed = true
		s.archive[archiveID(key, n)] = v
	}
	return nil
}

func (s *memStore) History(context.Context, models.HistoryQuery) (models.Page, error) {
	return models.Page{}, errors.New("not used")
}

func (s *memStore) Earlier(_ context.Context, key models.RecordKey, before, limit, _ int) ([]models.Interaction, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []models.Interaction
	for v := before - 1; v >= 1; v-- {
		if a, ok := s.archive[archiveID(key, v)]; ok {
			if len(out) == limit {
				return out, true, nil
			}
			out = append(out, a.Document)
		}
	}
	return out, false, nil
}

func (s *memStore) Commit(_ context.Context, next models.Interaction) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current[next.ID].Version < next.Version {
		s.current[next.ID] = next
	}
	return nil
}

// ticking is a clock a minute further on each time it is read.
func ticking() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Minute)
		return t
	}
}

func anyVersion(int) bool { return true }

func doc(t *testing.T, s string) bson.D {
	t.Helper()
	d, err := models.ParseDocument([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// newInteractions returns the rules over store, holding interaction 1 of A11.
func newInteractions(t *testing.T, store *memStore, versions records.Versions[models.Interaction]) *records.Interactions {
	t.Helper()
	s := records.NewInteractions(store, versions, ticking())
	in, err := models.NewInteraction(doc(t, `{"id":"1","insurance_no":"A11","remarks":"first","label":"fever"}`), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(context.Background(), in, "unused"); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAmend(t *testing.T) {
	store := newMemStore()
	s := newInteractions(t, store, store)
	ctx := context.Background()
	only := func(want int) records.Match { return func(v int) bool { return v == want } }

	if _, err := s.Amend(ctx, "1", only(2), doc(t, `{"remarks":"x"}`), ""); !errors.Is(err, models.ErrPreconditionFailed) {
		t.Errorf("amend with a stale version: %v", err)
	}
	var invalid *models.ValidationError
	if _, err := s.Amend(ctx, "1", only(1), doc(t, `{"id":"2"}`), ""); !errors.As(err, &invalid) || invalid.Fields["id"] == "" {
		t.Errorf("changing the id: %v", err)
	}
	v2, err := s.Amend(ctx, "1", only(1), doc(t, `{"remarks":null,"symptoms":"cough"}`), "why")
	if err != nil {
		t.Fatal(err)
	}
	if v2.Version != 2 || v2.Remarks != "" || v2.Symptoms != "cough" || v2.AmendmentReason != "why" || !v2.UpdatedAt.After(v2.CreatedAt) {
		t.Errorf("version 2 = %+v", v2)
	}
	v3, err := s.MarkEnteredInError(ctx, "1", only(2), "wrong patient")
	if err != nil {
		t.Fatal(err)
	}
	if v3.Version != 3 || v3.Status != models.StatusEnteredInError {
		t.Errorf("version 3 = %+v", v3)
	}
	var gone *models.GoneError
	if _, err := s.Get(ctx, "1"); !errors.As(err, &gone) || gone.Reason != "wrong patient" {
		t.Errorf("Get after entered-in-error: %v", err)
	}
	if _, err := s.Amend(ctx, "1", anyVersion, doc(t, `{"remarks":"x"}`), ""); !errors.As(err, &gone) {
		t.Errorf("amending an entered-in-error record: %v", err)
	}
	if _, err := s.MarkEnteredInError(ctx, "1", anyVersion, "again"); !errors.As(err, &gone) {
		t.Errorf("marking it again: %v", err)
	}

	page, err := s.Versions(ctx, "1", 0, 2)
	if err != nil || len(page.Items) != 2 || page.Items[0].Version != 3 || page.Items[1].Version != 2 || page.Next != 2 {
		t.Fatalf("first page = %+v, %v", page, err)
	}
	page, err = s.Versions(ctx, "1", page.Next, 2)
	if err != nil || len(page.Items) != 1 || page.Items[0].Remarks != "first" || page.Next != 0 {
		t.Errorf("second page = %+v, %v", page, err)
	}
	if v, err := s.Version(ctx, "1", 2); err != nil || v.Symptoms != "cough" {
		t.Errorf("version 2 = %+v, %v", v, err)
	}
	if _, err := s.Version(ctx, "1", 4); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("version 4: %v", err)
	}
}

func TestCreateReusesTheReservedID(t *testing.T) {
	store := newMemStore()
	s := newInteractions(t, store, store)
	ctx := context.Background()
	in, err := models.NewInteraction(doc(t, `{"insurance_no":"A11","ailment":"Flu"}`), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.Create(ctx, in, "reserved")
	if err != nil || first.ID != "reserved" {
		t.Fatalf("Create = %+v, %v", first, err)
	}
	again, err := s.Create(ctx, in, "reserved")
	if err != nil || again.ID != "reserved" || !again.CreatedAt.Equal(first.CreatedAt) {
		t.Errorf("a retry with the reserved id = %+v, %v; want the stored one", again, err)
	}
	other, _ := models.NewInteraction(doc(t, `{"insurance_no":"B22"}`), time.Now())
	if _, err := s.Create(ctx, other, "reserved"); !errors.Is(err, models.ErrConflict) {
		t.Errorf("another patient's create with a taken reserved id: %v, want a conflict", err)
	}
	named, _ := models.NewInteraction(doc(t, `{"id":"reserved","insurance_no":"A11","ailment":"Flu"}`), time.Now())
	if _, err := s.Create(ctx, named, "x"); !errors.Is(err, models.ErrConflict) {
		t.Errorf("a client's id that is taken: %v, want a conflict", err)
	}
}

// TestInterruptedAmendment stops an amendment at each of its steps, then has the
// client retry the same change and another client make a different one: the record
// moves one version only, the change is made once, and the different one is refused.
func TestInterruptedAmendment(t *testing.T) {
	for _, step := range []storetest.Step{storetest.BeforeArchive, storetest.BeforeIntent, storetest.BeforeCommit, storetest.AfterCommit} {
		t.Run(string(step), func(t *testing.T) {
			store := newMemStore()
			s := newInteractions(t, store, storetest.Interrupt[models.Interaction](store, step))
			ctx := context.Background()
			patch := doc(t, `{"remarks":"amended"}`)
			v1 := func(v int) bool { return v == 1 }
			if _, err := s.Amend(ctx, "1", v1, patch, "fix"); !errors.Is(err, storetest.ErrInterrupted) {
				t.Fatalf("interrupted: %v", err)
			}
			cur, _ := s.Get(ctx, "1")
			if want := map[bool]int{true: 2, false: 1}[step == storetest.AfterCommit]; cur.Version != want {
				t.Fatalf("after the interruption at version %d, want %d", cur.Version, want)
			}
			retried, err := s.Amend(ctx, "1", v1, patch, "fix")
			switch {
			case step == storetest.AfterCommit && !errors.Is(err, models.ErrPreconditionFailed):
				t.Errorf("retry after the commit: %v, want ErrPreconditionFailed", err)
			case step != storetest.AfterCommit && (err != nil || retried.Version != 2):
				t.Errorf("retry = version %d, %v", retried.Version, err)
			}
			if _, err := s.Amend(ctx, "1", v1, doc(t, `{"remarks":"other"}`), ""); !errors.Is(err, models.ErrPreconditionFailed) {
				t.Errorf("another change of version 1: %v", err)
			}
			cur, _ = s.Get(ctx, "1")
			if cur.Version != 2 || cur.Remarks != "amended" {
				t.Errorf("current = version %d %q", cur.Version, cur.Remarks)
			}
			if v, err := s.Version(ctx, "1", 1); err != nil || v.Remarks != "first" {
				t.Errorf("version 1 = %+v, %v", v, err)
			}
		})
	}
}

// TestAbandonedIntentIsCompleted leaves an intent behind: the next writer of that
// version completes it and is told the record changed.
func TestAbandonedIntentIsCompleted(t *testing.T) {
	store := newMemStore()
	s := newInteractions(t, store, storetest.Interrupt[models.Interaction](store, storetest.BeforeCommit))
	ctx := context.Background()
	if _, err := s.Amend(ctx, "1", anyVersion, doc(t, `{"remarks":"abandoned"}`), ""); !errors.Is(err, storetest.ErrInterrupted) {
		t.Fatal(err)
	}
	if _, err := s.Amend(ctx, "1", func(v int) bool { return v == 1 }, doc(t, `{"remarks":"other"}`), ""); !errors.Is(err, models.ErrPreconditionFailed) {
		t.Errorf("other writer: %v", err)
	}
	if cur, _ := s.Get(ctx, "1"); cur.Version != 2 || cur.Remarks != "abandoned" {
		t.Errorf("current = version %d %q, want the abandoned change completed", cur.Version, cur.Remarks)
	}
}

// metricsPatch returns a merge patch setting n metrics, m<from> on, to value.
func metricsPatch(from, n int, value any) bson.D {
	metrics := make(bson.D, n)
	for i := range metrics {
		metrics[i] = bson.E{Key: fmt.Sprintf("m%d", from+i), Value: value}
	}
	return bson.D{{Key: "metrics", Value: metrics}}
}

func TestAmendPastTheCaps(t *testing.T) {
	store := newMemStore()
	s := newInteractions(t, store, store)
	ctx := context.Background()
	if _, err := s.Amend(ctx, "1", anyVersion, metricsPatch(0, models.MaxMetrics-4, 1), ""); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		patch bson.D
	}{
		// Each within the caps, together past them.
		{"the result past a cap", metricsPatch(models.MaxMetrics-4, 10, 2)},
		// Refused before it is merged, so that no merge costs more than the caps
		// allow; even one that would remove as many.
		{"the patch past a cap", metricsPatch(0, 80_000, 3)},
		{"a patch of removals past a cap", metricsPatch(0, 80_000, nil)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var limit *models.LimitError
			if _, err := s.Amend(ctx, "1", anyVersion, tc.patch, ""); !errors.As(err, &limit) || limit.Fields["metrics"] == "" {
				t.Fatalf("err = %v, want a *models.LimitError naming metrics", err)
			}
			if in, err := s.Get(ctx, "1"); err != nil || in.Version != 2 || len(in.Metrics) != models.MaxMetrics-4 {
				t.Errorf("the record changed: version %d, %d metrics, %v", in.Version, len(in.Metrics), err)
			}
		})
	}
}
