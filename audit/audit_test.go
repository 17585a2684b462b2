package audit_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
	"github.com/clinic/interactions/storetest"
)

// memStore keeps the trail in memory. Its faults make a call fail the next time it
// is made: before it does anything ("before"), or after it has done its work, as
// an answer lost on the way back would ("after").
type memStore struct {
	mu          sync.Mutex
	heads       map[string]models.AuditChainHead
	events      map[string]models.AuditEvent
	checkpoints map[string]models.AuditCheckpoint
	faults      map[string]string // call → "before" or "after"
	down        bool
}

func newMemStore() *memStore {
	return &memStore{heads: map[string]models.AuditChainHead{}, events: map[string]models.AuditEvent{},
		checkpoints: map[string]models.AuditCheckpoint{}, faults: map[string]string{}}
}

var errStore = errors.New("the store did not answer")

// fault reports whether call fails at when, once.
func (m *memStore) fault(call, when string) bool {
	if m.down {
		return true
	}
	if m.faults[call] == when {
		delete(m.faults, call)
		return true
	}
	return false
}

func (m *memStore) AuditChainHeads(context.Context) ([]models.AuditChainHead, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fault("heads", "before") {
		return nil, errStore
	}
	return slices.Collect(maps.Values(m.heads)), nil
}

func (m *memStore) StartAuditChain(_ context.Context, h models.AuditChainHead) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fault("start", "before") {
		return errStore
	}
	if _, ok := m.heads[h.Chain]; ok {
		return models.ErrConflict
	}
	m.heads[h.Chain] = h
	if m.fault("start", "after") {
		return errStore
	}
	return nil
}

func (m *memStore) UpdateAuditChainHead(_ context.Context, h models.AuditChainHead) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fault("head", "before") {
		return errStore
	}
	if m.heads[h.Chain].LastSeq <= h.LastSeq {
		m.heads[h.Chain] = h
	}
	if m.fault("head", "after") {
		return errStore
	}
	return nil
}

func (m *memStore) InsertAuditEvents(_ context.Context, events []models.AuditEvent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fault("insert", "before") {
		return errStore
	}
	for _, e := range events {
		if _, ok := m.events[e.ID]; ok {
			return models.ErrConflict
		}
		m.events[e.ID] = e
	}
	if m.fault("insert", "after") {
		return errStore
	}
	return nil
}

func (m *memStore) AuditEvent(_ context.Context, id string) (models.AuditEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fault("event", "before") {
		return models.AuditEvent{}, errStore
	}
	e, ok := m.events[id]
	if !ok {
		return models.AuditEvent{}, models.ErrNotFound
	}
	return e, nil
}

func (m *memStore) AuditEventsUpTo(_ context.Context, ids []string) ([]models.AuditEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fault("event", "before") {
		return nil, errStore
	}
	var out []models.AuditEvent
	for _, id := range ids {
		e, ok := m.events[id]
		if !ok {
			break
		}
		out = append(out, e)
	}
	return out, nil
}

func (m *memStore) AuditCheckpoints(context.Context) ([]models.AuditCheckpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Collect(maps.Values(m.checkpoints)), nil
}

func (m *memStore) SaveAuditCheckpoint(_ context.Context, cp models.AuditCheckpoint) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.checkpoints[cp.Chain] = cp
	return nil
}

func (m *memStore) CountAuditEvents(context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int64(len(m.events)), nil
}

func (m *memStore) AuditEventChains(context.Context) (map[string]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]int64{}
	for _, e := range m.events {
		out[e.Chain]++
	}
	return out, nil
}

// headOf returns the head of chain.
func (m *memStore) headOf(chain string) models.AuditChainHead {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.heads[chain]
}

func (m *memStore) set(call, when string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.faults[call] = when
}

func (m *memStore) setDown(down bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.down = down
}

var key = []byte("0123456789abcdef0123456789abcdef")

func event(i int) models.AuditEvent {
	return models.AuditEvent{Time: time.Unix(int64(i), 0), Action: "patients.read", Method: "GET", Route: "/x",
		Status: 200, ClientIP: "127.0.0.1", RequestID: "r"}
}

func newWriter(t *testing.T, m *memStore) *audit.Writer {
	t.Helper()
	w, err := audit.NewWriter(m, audit.WriterOptions{Key: key, Process: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func verify(t *testing.T, m *memStore) models.AuditVerification {
	t.Helper()
	v, err := audit.NewTrail(m, audit.Keys{Current: key}, nil).Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestFaultsNeverWedgeTheChain makes each write of the trail fail, before or after
// the store did its work: the failed appends report errors (or succeed when their
// event was stored after all), every append after them succeeds, the sequence has no
// gap and the trail verifies.
func TestFaultsNeverWedgeTheChain(t *testing.T) {
	for _, tc := range []struct{ call, when string }{
		{"start", "before"}, {"start", "after"},
		{"insert", "before"}, {"insert", "after"},
		{"head", "before"}, {"head", "after"},
		{"heads", "before"},
	} {
		t.Run(tc.call+" fails "+tc.when, func(t *testing.T) {
			m := newMemStore()
			w := newWriter(t, m)
			ctx := context.Background()
			if tc.call != "start" && tc.call != "heads" {
				if _, err := w.Append(ctx, event(0)); err != nil {
					t.Fatal(err)
				}
			}
			m.set(tc.call, tc.when)
			_, err := w.Append(ctx, event(1))
			wantErr := tc.when == "before" && tc.call != "head"
			if (err != nil) != wantErr {
				t.Errorf("the append that met the fault: %v", err)
			}
			for i := 2; i < 5; i++ {
				if _, err := w.Append(ctx, event(i)); err != nil {
					t.Fatalf("append %d after the fault: %v", i, err)
				}
			}
			if v := verify(t, m); !v.OK || !v.Complete {
				t.Errorf("verify = %+v", v)
			}
			head := m.heads[w.ID()]
			if _, ok := m.events[audit.EventID(w.ID(), head.LastSeq+1)]; ok {
				t.Errorf("the head lags after the next append: %d", head.LastSeq)
			}
		})
	}
}

// TestStoreDownThenUp fails every call for a while: appends fail, none blocks, and
// the chain goes on when the store answers again.
func TestStoreDownThenUp(t *testing.T) {
	m := newMemStore()
	w := newWriter(t, m)
	ctx := context.Background()
	if _, err := w.Append(ctx, event(0)); err != nil {
		t.Fatal(err)
	}
	m.setDown(true)
	for i := 1; i < 4; i++ {
		if _, err := w.Append(ctx, event(i)); err == nil {
			t.Errorf("append %d succeeded with the store down", i)
		}
	}
	m.setDown(false)
	for i := 4; i < 7; i++ {
		if _, err := w.Append(ctx, event(i)); err != nil {
			t.Fatalf("append %d with the store back: %v", i, err)
		}
	}
	if v := verify(t, m); !v.OK {
		t.Errorf("verify = %+v", v)
	}
}

// TestAppendRespectsTheDeadline holds the writer busy: an append whose context ends
// first returns then, and does not wait for the writer.
func TestAppendRespectsTheDeadline(t *testing.T) {
	m := newMemStore()
	w := newWriter(t, m)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := w.Append(ctx, event(0)); !errors.Is(err, context.Canceled) {
		t.Errorf("append with an ended context: %v", err)
	}
	if _, err := w.Append(context.Background(), event(1)); err != nil {
		t.Fatal(err)
	}
}

// TestGroupCommit appends from 64 goroutines at once: every event is stored once,
// in one gapless chain, in fewer inserts than events.
func TestGroupCommit(t *testing.T) {
	m := &countingStore{memStore: newMemStore()}
	w, err := audit.NewWriter(m, audit.WriterOptions{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 64 {
		wg.Go(func() {
			<-start
			if _, err := w.Append(context.Background(), event(i)); err != nil {
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	if n := len(m.events); n != 65 {
		t.Errorf("%d events, want the chain's start and 64", n)
	}
	if m.inserts >= 64 {
		t.Errorf("%d inserts for 64 events: no batching", m.inserts)
	}
	if v := verify(t, m.memStore); !v.OK || v.Events != 65 {
		t.Errorf("verify = %+v", v)
	}
}

// countingStore counts inserts, each of which takes a millisecond, as a round trip
// to a real store does: appends arriving meanwhile wait for the next batch.
type countingStore struct {
	*memStore
	inserts int
}

func (c *countingStore) InsertAuditEvents(ctx context.Context, events []models.AuditEvent) error {
	c.mu.Lock()
	c.inserts++
	c.mu.Unlock()
	time.Sleep(time.Millisecond)
	return c.memStore.InsertAuditEvents(ctx, events)
}

// TestForgedEventAtTheEnd puts an event of someone else's at the chain's end: the
// writer goes on in a new chain, anchored to where the first really ended, and the
// forgery breaks the first chain's verification.
func TestForgedEventAtTheEnd(t *testing.T) {
	m := newMemStore()
	w := newWriter(t, m)
	ctx := context.Background()
	if _, err := w.Append(ctx, event(0)); err != nil {
		t.Fatal(err)
	}
	first := w.ID()
	forged := event(1)
	forged.Chain, forged.Seq, forged.ID = first, 3, audit.EventID(first, 3)
	forged.PrevHash = m.events[audit.EventID(first, 2)].Hash
	forged.Hash = audit.Hash(nil, forged)
	m.events[forged.ID] = forged
	m.set("insert", "after") // the next write's outcome is unknown: the writer reads back
	if _, err := w.Append(ctx, event(2)); err == nil {
		t.Log("the append that met the forgery succeeded")
	}
	if _, err := w.Append(ctx, event(3)); err != nil {
		t.Fatalf("append after the forgery: %v", err)
	}
	if w.ID() == first {
		t.Fatal("the writer did not go on in a new chain")
	}
	v := verify(t, m)
	if v.OK || len(v.Breaks) != 1 || v.Breaks[0].Chain != first || v.Breaks[0].Seq != 3 {
		t.Errorf("verify = %+v, want the forged event 3 of the first chain", v)
	}
}

// TestSealAndAnchors checks the chain's seal and its anchors: a second chain's first
// event records the first's end; a sealed chain ends with its seal, and an event
// after the seal breaks it.
func TestSealAndAnchors(t *testing.T) {
	m := newMemStore()
	ctx := context.Background()
	w1 := newWriter(t, m)
	for i := range 3 {
		if _, err := w1.Append(ctx, event(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w1.Close(ctx, event(9)); err != nil {
		t.Fatal(err)
	}
	if _, err := w1.Append(ctx, event(10)); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("append after close: %v", err)
	}
	head := m.heads[w1.ID()]
	if !head.Sealed || head.LastSeq != 5 || m.events[audit.EventID(w1.ID(), 5)].Action != models.AuditChainSeal {
		t.Fatalf("head after the seal: %+v", head)
	}
	w2 := newWriter(t, m)
	if _, err := w2.Append(ctx, event(0)); err != nil {
		t.Fatal(err)
	}
	start := m.events[audit.EventID(w2.ID(), 1)]
	if start.Action != models.AuditChainStart || len(start.Anchors) != 1 ||
		start.Anchors[0] != (models.AuditAnchor{Chain: w1.ID(), Seq: 5, Hash: head.LastHash}) {
		t.Fatalf("the second chain's start = %+v", start)
	}
	if v := verify(t, m); !v.OK || v.Chains != 2 || v.Events != 7 {
		t.Fatalf("verify = %+v", v)
	}
	// Later anchors record only the chains that moved since: none, then the third.
	n := len(m.events)
	if err := w2.Anchor(ctx, event(20)); err != nil || len(m.events) != n {
		t.Errorf("anchoring with no chain moved: %v, %d events written", err, len(m.events)-n)
	}
	w3 := newWriter(t, m)
	if _, err := w3.Append(ctx, event(0)); err != nil {
		t.Fatal(err)
	}
	if err := w2.Anchor(ctx, event(21)); err != nil {
		t.Fatal(err)
	}
	note := m.events[audit.EventID(w2.ID(), 3)]
	if note.Action != models.AuditAnchorNote || len(note.Anchors) != 1 || note.Anchors[0].Chain != w3.ID() {
		t.Errorf("the anchor after the third chain moved = %+v, want the third chain alone", note)
	}
	if v := verify(t, m); !v.OK || v.Chains != 3 {
		t.Fatalf("verify = %+v", v)
	}
	// An event after the seal, keyed as if by the writer: only the seal catches it.
	after := event(11)
	after.Chain, after.Seq, after.ID, after.PrevHash = w1.ID(), 6, audit.EventID(w1.ID(), 6), head.LastHash
	after.Hash = audit.Hash(key, after)
	m.events[after.ID] = after
	if v := verify(t, m); v.OK || len(v.Breaks) != 1 || v.Breaks[0].Seq != 6 {
		t.Errorf("verify with an event after the seal = %+v", v)
	}
}

// TestSealThatWasNotStored closes a chain when its seal event cannot be stored, or
// is given up before it is: the head is not marked sealed without it, and the chain
// verifies, as a chain that stopped without its seal does.
func TestSealThatWasNotStored(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fault  bool
		cancel bool
	}{{"insert fails", true, false}, {"context ended", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMemStore()
			w := newWriter(t, m)
			if _, err := w.Append(context.Background(), event(0)); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			if tc.cancel {
				cancel()
			} else {
				defer cancel()
			}
			if tc.fault {
				m.set("insert", "before")
			}
			if err := w.Close(ctx, event(9)); err == nil {
				t.Error("a close whose seal was not stored succeeded")
			}
			// A second close returns once the writer has finished with the first.
			if err := w.Close(context.Background(), event(10)); err != nil {
				t.Fatal(err)
			}
			// Had the first close not reached the writer, the second sealed the chain.
			if head := m.headOf(w.ID()); tc.fault && head.Sealed {
				t.Errorf("head marked sealed without its seal event: %+v", head)
			}
			if v := verify(t, m); !v.OK {
				t.Errorf("verify = %+v", v)
			}
		})
	}
}

// TestVerifyGoesOnWhereItStopped verifies a chain with a deadline too short to read
// it all: the check says it is not complete, and the next goes on from its
// checkpoint to the end.
func TestVerifyGoesOnWhereItStopped(t *testing.T) {
	m := newMemStore()
	w := newWriter(t, m)
	// More events than a verification reads at once.
	for i := range 600 {
		if _, err := w.Append(context.Background(), event(i)); err != nil {
			t.Fatal(err)
		}
	}
	clock := time.Unix(0, 0)
	now := func() time.Time { return clock }
	// The fake clock runs a millisecond an event read: the first check's budget of
	// 40 ms ends within its first read.
	slow := &slowReads{memStore: m, tick: func(n int) { clock = clock.Add(time.Duration(n) * time.Millisecond) }}
	trail := audit.NewTrail(slow, audit.Keys{Current: key}, now)
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(time.Hour))
	defer cancel()
	first, err := trail.Verify(&shortDeadline{Context: ctx, deadline: time.Now().Add(50 * time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	if !first.OK || first.Complete || first.Events == 0 || first.Events >= 601 {
		t.Fatalf("first check = %+v", first)
	}
	second, err := trail.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !second.OK || !second.Complete || second.Events != 601 || second.Pending != 0 {
		t.Errorf("second check = %+v", second)
	}
}

// slowReads is a memStore whose reads of events advance a fake clock by their count.
type slowReads struct {
	*memStore
	tick func(n int)
}

func (s *slowReads) AuditEventsUpTo(ctx context.Context, ids []string) ([]models.AuditEvent, error) {
	s.tick(len(ids))
	return s.memStore.AuditEventsUpTo(ctx, ids)
}

// shortDeadline is a context reporting an earlier deadline than it ends at.
type shortDeadline struct {
	context.Context
	deadline time.Time
}

func (c *shortDeadline) Deadline() (time.Time, bool) { return c.deadline, true }

// faultyDB is the real repository with calls that fail once after doing their work,
// as a lost answer would.
type faultyDB struct {
	*repository.DB
	mu    sync.Mutex
	after map[string]bool
}

func (f *faultyDB) failAfter(call string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.after[call] {
		delete(f.after, call)
		return true
	}
	return false
}

func (f *faultyDB) StartAuditChain(ctx context.Context, h models.AuditChainHead) error {
	if err := f.DB.StartAuditChain(ctx, h); err != nil || !f.failAfter("start") {
		return err
	}
	return errStore
}

func (f *faultyDB) InsertAuditEvents(ctx context.Context, events []models.AuditEvent) error {
	if err := f.DB.InsertAuditEvents(ctx, events); err != nil || !f.failAfter("insert") {
		return err
	}
	return errStore
}

func (f *faultyDB) UpdateAuditChainHead(ctx context.Context, h models.AuditChainHead) error {
	if err := f.DB.UpdateAuditChainHead(ctx, h); err != nil || !f.failAfter("head") {
		return err
	}
	return errStore
}

// TestFaultsOnTheRealStore loses the answers of the chain's start, of an insert and
// of a head update on the real store: appends go on, gapless, and the trail verifies.
func TestFaultsOnTheRealStore(t *testing.T) {
	repo, _ := testStore.DB(t)
	db := &faultyDB{DB: repo, after: map[string]bool{"start": true}}
	w, err := audit.NewWriter(db, audit.WriterOptions{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 12 {
		switch i {
		case 3:
			db.mu.Lock()
			db.after["insert"] = true
			db.mu.Unlock()
		case 6:
			db.mu.Lock()
			db.after["head"] = true
			db.mu.Unlock()
		}
		if _, err := w.Append(ctx, event(i)); err != nil && i != 0 {
			t.Fatalf("append %d: %v", i, err)
		}
	}
	v, err := audit.NewTrail(repo, audit.Keys{Current: key}, nil).Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !v.OK || !v.Complete || v.Events < 12 {
		t.Errorf("verify = %+v", v)
	}
}

var testStore *storetest.Store

func TestMain(m *testing.M) { os.Exit(storetest.Main(m, &testStore)) }

// TestVerifyReportsEveryBreak breaks two chains of three in different ways: the
// verification lists both breaks and both chains, and verifies the third, whichever
// chain is checked first; on an intact trail the list of breaks is empty, not null.
func TestVerifyReportsEveryBreak(t *testing.T) {
	m := newMemStore()
	var chains []string
	for range 3 {
		chains = append(chains, appendSome(t, m, key, 4).ID())
	}
	v := verify(t, m)
	if !v.OK || v.Breaks == nil || v.ChainsFailed == nil || v.ChainsVerified != 3 {
		t.Fatalf("verify of an intact trail = %+v", v)
	}
	changed := m.events[audit.EventID(chains[0], 3)]
	changed.Status = 500
	m.events[changed.ID] = changed
	gone := m.events[audit.EventID(chains[1], 2)]
	delete(m.events, gone.ID)

	for range 2 { // and again: a break stays reported
		v = verify(t, m)
		if v.OK || v.BreaksTotal != 2 || len(v.Breaks) != 2 || v.ChainsFailedTotal != 2 || v.ChainsVerified != 1 || v.Chains != 3 {
			t.Fatalf("verify = %+v, want two breaks, two failed chains and one verified", v)
		}
		found := map[string]models.AuditBreak{}
		for _, b := range v.Breaks {
			found[b.Chain] = b
		}
		if b := found[chains[0]]; b.Seq != 3 || !strings.Contains(b.Reason, "hash does not match") {
			t.Errorf("break of the changed chain = %+v", b)
		}
		if b := found[chains[1]]; b.Seq != 2 || !strings.Contains(b.Reason, "missing") {
			t.Errorf("break of the cut chain = %+v", b)
		}
		if !slices.Equal(v.ChainsFailed, slices.Sorted(slices.Values(chains[:2]))) {
			t.Errorf("chains failed = %v, want %v", v.ChainsFailed, chains[:2])
		}
	}
}

// TestVerifyBoundsTheBreaks breaks more events than an answer lists: it lists the
// first MaxAuditBreaks and counts them all.
func TestVerifyBoundsTheBreaks(t *testing.T) {
	m := newMemStore()
	w := appendSome(t, m, key, models.MaxAuditBreaks+20)
	for seq := int64(2); seq < models.MaxAuditBreaks+22; seq++ {
		e := m.events[audit.EventID(w.ID(), seq)]
		e.Status = 500
		m.events[e.ID] = e
	}
	v := verify(t, m)
	if v.OK || len(v.Breaks) != models.MaxAuditBreaks || v.BreaksTotal != models.MaxAuditBreaks+20 {
		t.Errorf("verify lists %d breaks of %d, want %d of %d", len(v.Breaks), v.BreaksTotal, models.MaxAuditBreaks, models.MaxAuditBreaks+20)
	}
}

// TestRefusalsAreBounded counts refusals from more addresses than a flush writes
// events for: the rest are counted together, under the address "*".
func TestRefusalsAreBounded(t *testing.T) {
	m := newMemStore()
	w := newWriter(t, m)
	r := &audit.Refusals{}
	for i := range 1005 {
		r.Add(audit.Refusal{Action: audit.UnauthenticatedAction, Status: 401, ClientIP: fmt.Sprintf("10.0.%d.%d", i/256, i%256)}, "unauthenticated")
	}
	if err := r.Flush(context.Background(), w, time.Now()); err != nil {
		t.Fatal(err)
	}
	var events, rest int
	for _, e := range m.events {
		if e.Action != audit.UnauthenticatedAction {
			continue
		}
		events++
		if e.ClientIP == "*" {
			rest = e.Counts["unauthenticated"]
		}
	}
	if events != 1001 || rest != 5 {
		t.Errorf("%d events, %d refusals under *; want 1001 and 5", events, rest)
	}
}
