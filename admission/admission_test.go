package admission

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/clinic/interactions/models"
)

// clock is a time that moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func mustEnter(t *testing.T, g *Gate, ctx context.Context) func() {
	t.Helper()
	leave, err := g.Enter(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return leave
}

// waitFor yields until g has n operations waiting.
func waitFor(g *Gate, n int) {
	for {
		g.mu.Lock()
		w := g.waiting
		g.mu.Unlock()
		if w == n {
			return
		}
		runtime.Gosched()
	}
}

func TestGateAdmitsItsSlotsThenQueues(t *testing.T) {
	g := New(2, nil)
	ctx := context.Background()
	first, second := mustEnter(t, g, ctx), mustEnter(t, g, ctx)
	admitted := make(chan func())
	go func() { admitted <- mustEnter(t, g, ctx) }()
	waitFor(g, 1)
	first()
	first() // leaving twice frees one slot only
	third := <-admitted
	if _, err := g.Enter(withCancel(t)); !errors.Is(err, models.ErrBusy) {
		t.Errorf("a fourth operation with both slots taken and its context ended: %v, want ErrBusy", err)
	}
	second()
	third()
	mustEnter(t, g, ctx)()
}

func withCancel(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

func TestGateTurnsAwayWhatCannotFinishInTime(t *testing.T) {
	c := &clock{t: time.Now()}
	g := New(2, c.now)
	// One operation takes a second: that is the typical time now.
	leave := mustEnter(t, g, context.Background())
	c.add(time.Second)
	leave()
	a, b := mustEnter(t, g, context.Background()), mustEnter(t, g, context.Background())
	defer a()
	defer b()
	// Both slots taken: the next has its turn in about half a second, then runs a
	// second; with less time than that it is turned away at once.
	short, cancel := context.WithDeadline(context.Background(), c.now().Add(1400*time.Millisecond))
	defer cancel()
	if _, err := g.Enter(short); !errors.Is(err, models.ErrBusy) || !errors.Is(err, models.ErrUnavailable) {
		t.Errorf("an operation that cannot finish in time: %v, want ErrBusy", err)
	}
	if g.waiting != 0 {
		t.Errorf("%d waiting after a refusal", g.waiting)
	}
	// With the time it needs, it waits for its turn.
	long, cancel2 := context.WithDeadline(context.Background(), c.now().Add(time.Hour))
	defer cancel2()
	admitted := make(chan error)
	go func() {
		leave, err := g.Enter(long)
		if err == nil {
			leave()
		}
		admitted <- err
	}()
	waitFor(g, 1)
	a()
	if err := <-admitted; err != nil {
		t.Errorf("an operation with time enough: %v", err)
	}
}

func TestNilGateAdmitsEverything(t *testing.T) {
	var g *Gate
	for range 100 {
		if _, err := g.Enter(withCancel(t)); err != nil {
			t.Fatal(err)
		}
	}
}
