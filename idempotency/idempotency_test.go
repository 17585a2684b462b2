package idempotency

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinic/interactions/models"
)

// memStore keeps records in memory, one at a time, as the store's unique _id would.
type memStore struct {
	mu      sync.Mutex
	records map[string]models.IdempotencyRecord
	// onGet, when set, is called under the lock each time a record is read.
	onGet func(rec *models.IdempotencyRecord)
}

func newMemStore() *memStore { return &memStore{records: map[string]models.IdempotencyRecord{}} }

func (s *memStore) InsertIdempotencyRecord(_ context.Context, rec models.IdempotencyRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.records[rec.ID]; ok {
		return models.ErrConflict
	}
	s.records[rec.ID] = rec
	return nil
}

func (s *memStore) IdempotencyRecord(_ context.Context, id string) (models.IdempotencyRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.records[id]
	if !ok {
		return models.IdempotencyRecord{}, models.ErrNotFound
	}
	if s.onGet != nil {
		s.onGet(&rec)
		s.records[id] = rec
	}
	return rec, nil
}

func (s *memStore) TakeOverIdempotencyRecord(_ context.Context, id, token, newToken string, leaseUntil time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.records[id]
	if !ok || rec.Token != token || rec.State != models.IdempotencyPending {
		return false, nil
	}
	rec.Token, rec.LeaseUntil = newToken, leaseUntil
	s.records[id] = rec
	return true, nil
}

func (s *memStore) CompleteIdempotencyRecord(_ context.Context, held models.IdempotencyRecord, answer models.IdempotentAnswer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.records[held.ID]
	if !ok || rec.Token != held.Token {
		return models.ErrNotFound
	}
	rec.State, rec.IdempotentAnswer = models.IdempotencyDone, answer
	s.records[held.ID] = rec
	return nil
}

func (s *memStore) ReleaseIdempotencyRecord(_ context.Context, id, token string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rec, ok := s.records[id]; ok && rec.Token == token && rec.State == models.IdempotencyPending {
		delete(s.records, id)
	}
	return nil
}

func (s *memStore) get(id string) (models.IdempotencyRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.records[id]
	return rec, ok
}

// fakeClock is a clock that moves only when the keeper sleeps.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps int
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.sleeps++
	c.mu.Unlock()
	return ctx.Err()
}

const lease = 30 * time.Second

func newKeeper(store Store, clock *fakeClock) *Keeper {
	return New(store, Options{Lease: lease, Now: clock.Now, Sleep: clock.Sleep})
}

var created = models.IdempotentAnswer{Status: 201, Headers: map[string]string{"Location": "/x/1"}, Body: `{"id":"1"}`}

func TestFirstRequestRunsAndRetriesReplay(t *testing.T) {
	store, clock := newMemStore(), newFakeClock()
	k := newKeeper(store, clock)
	req := Request{ID: "route key k1", Fingerprint: "f1"}
	var reserved []string
	run := func(_ context.Context, id string) models.IdempotentAnswer {
		reserved = append(reserved, id)
		return created
	}
	got, replayed, err := k.Do(context.Background(), req, run)
	if err != nil || replayed || got.Status != 201 {
		t.Fatalf("first Do = %+v, %v, %v", got, replayed, err)
	}
	rec, _ := store.get(req.ID)
	if rec.State != models.IdempotencyDone || rec.Body != created.Body || rec.ReservedID != reserved[0] ||
		!rec.CreatedAt.Equal(clock.Now()) || !rec.LeaseUntil.Equal(clock.Now().Add(lease)) {
		t.Errorf("kept record = %+v", rec)
	}
	for range 3 {
		got, replayed, err = k.Do(context.Background(), req, run)
		if err != nil || !replayed || got.Body != created.Body || got.Headers["Location"] != "/x/1" {
			t.Errorf("retry = %+v, %v, %v", got, replayed, err)
		}
	}
	if len(reserved) != 1 {
		t.Errorf("ran %d times, want once", len(reserved))
	}
	if _, _, err := k.Do(context.Background(), Request{ID: req.ID, Fingerprint: "other"}, run); !errors.Is(err, models.ErrIdempotencyKeyReused) {
		t.Errorf("another request with the key: %v, want ErrIdempotencyKeyReused", err)
	}
}

// TestRunContext runs a request under a context without a deadline, and one with:
// the run's context is live, and ends before the request's, leaving time to keep
// the answer.
func TestRunContext(t *testing.T) {
	k := newKeeper(newMemStore(), newFakeClock())
	run := func(t *testing.T, want func(ctx context.Context) string) func(context.Context, string) models.IdempotentAnswer {
		return func(ctx context.Context, _ string) models.IdempotentAnswer {
			if problem := want(ctx); problem != "" {
				t.Error(problem)
			}
			return created
		}
	}
	t.Run("no deadline", func(t *testing.T) {
		_, _, err := k.Do(context.Background(), Request{ID: "route key free", Fingerprint: "f"}, run(t, func(ctx context.Context) string {
			if err := ctx.Err(); err != nil {
				return "the run's context ended before it ran: " + err.Error()
			}
			return ""
		}))
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		outer, _ := ctx.Deadline()
		_, _, err := k.Do(ctx, Request{ID: "route key bound", Fingerprint: "f"}, run(t, func(ctx context.Context) string {
			if d, ok := ctx.Deadline(); !ok || !d.Before(outer) || ctx.Err() != nil {
				return "the run's context does not end before the request's"
			}
			return ""
		}))
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestFailedAnswersAreNotKept(t *testing.T) {
	store, clock := newMemStore(), newFakeClock()
	k := newKeeper(store, clock)
	req := Request{ID: "k", Fingerprint: "f"}
	var ids []string
	for _, status := range []int{503, 201} {
		got, replayed, err := k.Do(context.Background(), req, func(_ context.Context, id string) models.IdempotentAnswer {
			ids = append(ids, id)
			return models.IdempotentAnswer{Status: status}
		})
		if err != nil || replayed || got.Status != status {
			t.Fatalf("Do = %+v, %v, %v; want %d run anew", got, replayed, err, status)
		}
	}
	if len(ids) != 2 {
		t.Fatalf("ran %d times, want twice: a 5xx is not kept", len(ids))
	}
	t.Run("a 4xx is kept", func(t *testing.T) {
		req := Request{ID: "k4", Fingerprint: "f"}
		runs := 0
		for range 2 {
			got, _, err := k.Do(context.Background(), req, func(context.Context, string) models.IdempotentAnswer {
				runs++
				return models.IdempotentAnswer{Status: 404, Body: "{}"}
			})
			if err != nil || got.Status != 404 {
				t.Fatalf("Do = %+v, %v", got, err)
			}
		}
		if runs != 1 {
			t.Errorf("ran %d times, want once", runs)
		}
	})
}

// TestRacingRequestsRunOnce releases 20 requests with one key together: one runs,
// the others wait for its answer and get it.
func TestRacingRequestsRunOnce(t *testing.T) {
	store := newMemStore()
	k := New(store, Options{Lease: lease, Poll: time.Millisecond})
	req := Request{ID: "k", Fingerprint: "f"}
	var runs atomic.Int32
	release := make(chan struct{})
	start := make(chan struct{})
	answers := make([]models.IdempotentAnswer, 20)
	replays := make([]bool, 20)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() {
			<-start
			var err error
			answers[i], replays[i], err = k.Do(context.Background(), req, func(context.Context, string) models.IdempotentAnswer {
				runs.Add(1)
				<-release // the others find the key held meanwhile
				return created
			})
			if err != nil {
				t.Errorf("request %d: %v", i, err)
			}
		})
	}
	close(start)
	// Let the first run finish once it holds the key: the others find it held.
	for {
		if rec, ok := store.get(req.ID); ok && rec.State == models.IdempotencyPending {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if runs.Load() != 1 {
		t.Errorf("ran %d times, want once", runs.Load())
	}
	ran := 0
	for i, a := range answers {
		if a.Body != created.Body {
			t.Errorf("request %d got %+v", i, a)
		}
		if !replays[i] {
			ran++
		}
	}
	if ran != 1 {
		t.Errorf("%d answers were not replays, want 1", ran)
	}
}

// TestDeadRequestIsTakenOver leaves a key pending past its lease, as a request that
// died would: a retry of the same request runs with the reserved id of the first; a
// retry of another request is refused and takes nothing over.
func TestDeadRequestIsTakenOver(t *testing.T) {
	store, clock := newMemStore(), newFakeClock()
	k := newKeeper(store, clock)
	dead := models.IdempotencyRecord{
		ID: "k", RequestHash: "f", Token: "dead", ReservedID: "reserved-1", State: models.IdempotencyPending,
		CreatedAt: clock.Now().Add(-time.Minute), LeaseUntil: clock.Now().Add(-time.Second),
	}
	if err := store.InsertIdempotencyRecord(context.Background(), dead); err != nil {
		t.Fatal(err)
	}
	if _, _, err := k.Do(context.Background(), Request{ID: "k", Fingerprint: "other"}, nil); !errors.Is(err, models.ErrIdempotencyKeyReused) {
		t.Fatalf("another request: %v", err)
	}
	if rec, _ := store.get("k"); rec.Token != "dead" {
		t.Fatalf("another request took the key over: %+v", rec)
	}
	var reserved string
	got, replayed, err := k.Do(context.Background(), Request{ID: "k", Fingerprint: "f"}, func(_ context.Context, id string) models.IdempotentAnswer {
		reserved = id
		return created
	})
	if err != nil || replayed || got.Status != 201 {
		t.Fatalf("retry = %+v, %v, %v", got, replayed, err)
	}
	if reserved != "reserved-1" {
		t.Errorf("the retry ran with id %q, want the first's reserved-1", reserved)
	}
	if rec, _ := store.get("k"); rec.State != models.IdempotencyDone || rec.Token == "dead" {
		t.Errorf("record after the takeover: %+v", rec)
	}
}

// TestRetryWaitsForALiveRequest holds a key for a live request: a retry polls until
// the answer is kept and replays it; with a deadline too close, it answers
// ErrIdempotencyInProgress instead, keeping time to answer.
func TestRetryWaitsForALiveRequest(t *testing.T) {
	live := func(clock *fakeClock) models.IdempotencyRecord {
		return models.IdempotencyRecord{
			ID: "k", RequestHash: "f", Token: "alive", ReservedID: "r", State: models.IdempotencyPending,
			CreatedAt: clock.Now(), LeaseUntil: clock.Now().Add(time.Hour),
		}
	}
	t.Run("the kept answer, once there", func(t *testing.T) {
		store, clock := newMemStore(), newFakeClock()
		if err := store.InsertIdempotencyRecord(context.Background(), live(clock)); err != nil {
			t.Fatal(err)
		}
		reads := 0
		store.onGet = func(rec *models.IdempotencyRecord) {
			if reads++; reads == 5 { // the first request answers meanwhile
				rec.State, rec.IdempotentAnswer = models.IdempotencyDone, created
			}
		}
		got, replayed, err := newKeeper(store, clock).Do(context.Background(), Request{ID: "k", Fingerprint: "f"}, func(context.Context, string) models.IdempotentAnswer {
			t.Error("ran while the first request held the key")
			return models.IdempotentAnswer{}
		})
		if err != nil || !replayed || got.Body != created.Body {
			t.Fatalf("Do = %+v, %v, %v", got, replayed, err)
		}
		if clock.sleeps != 4 {
			t.Errorf("slept %d times, want 4: once per look at a held key", clock.sleeps)
		}
	})
	t.Run("in progress before the deadline", func(t *testing.T) {
		store, clock := newMemStore(), newFakeClock()
		if err := store.InsertIdempotencyRecord(context.Background(), live(clock)); err != nil {
			t.Fatal(err)
		}
		// The deadline is real time; the keeper measures it on its own clock.
		deadline := clock.Now().Add(time.Second)
		ctx, cancel := context.WithDeadline(context.WithoutCancel(context.Background()), time.Now().Add(time.Hour))
		defer cancel()
		ctx = deadlineOverride{ctx, deadline}
		_, _, err := newKeeper(store, clock).Do(ctx, Request{ID: "k", Fingerprint: "f"}, nil)
		if !errors.Is(err, models.ErrIdempotencyInProgress) {
			t.Fatalf("Do = %v, want ErrIdempotencyInProgress", err)
		}
		if left := deadline.Sub(clock.Now()); left < margin-25*time.Millisecond || left > margin {
			t.Errorf("gave up with %v left, want about %v", left, margin)
		}
		if rec, _ := store.get("k"); rec.Token != "alive" {
			t.Errorf("the live request's key was taken over: %+v", rec)
		}
	})
}

// deadlineOverride is ctx reporting another deadline, for a keeper on a fake clock.
type deadlineOverride struct {
	context.Context
	deadline time.Time
}

func (c deadlineOverride) Deadline() (time.Time, bool) { return c.deadline, true }
