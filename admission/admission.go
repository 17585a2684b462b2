// Package admission bounds how many costly operations run at once. On the embedded
// store every query but a lookup by _id reads its whole collection, and concurrent
// reads only queue inside the store until every one of them times out; a Gate lets a
// few run and turns the rest away at once when they could not finish in their time.
package admission

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/clinic/interactions/models"
)

// Gate admits up to a fixed number of operations at a time. A nil *Gate admits every
// operation.
type Gate struct {
	slots chan struct{}
	now   func() time.Time

	mu      sync.Mutex
	waiting int
	// typical is a moving average of how long an admitted operation takes.
	typical time.Duration
}

// New returns a gate admitting n operations at a time, reading the time from now
// (time.Now when nil).
func New(n int, now func() time.Time) *Gate {
	if now == nil {
		now = time.Now
	}
	return &Gate{slots: make(chan struct{}, n), now: now}
}

// Enter admits an operation, waiting for a free slot while ctx allows. It returns at
// once with models.ErrBusy when, by the typical time of an operation and the number
// already waiting, the operation could not get a slot and finish before ctx's
// deadline; and with models.ErrBusy when ctx ends while it waits. The caller calls
// the returned leave when the operation ends.
func (g *Gate) Enter(ctx context.Context) (leave func(), err error) {
	if g == nil {
		return func() {}, nil
	}
	select {
	case g.slots <- struct{}{}:
		return g.leave(g.now()), nil
	default:
	}
	g.mu.Lock()
	ahead, typical := g.waiting, g.typical
	if deadline, ok := ctx.Deadline(); ok && typical > 0 {
		// Each slot frees about once per typical operation.
		wait := time.Duration(ahead+1) * typical / time.Duration(cap(g.slots))
		if g.now().Add(wait + typical).After(deadline) {
			g.mu.Unlock()
			return nil, fmt.Errorf("%w: %d waiting for %d slots", models.ErrBusy, ahead, cap(g.slots))
		}
	}
	g.waiting++
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.waiting--
		g.mu.Unlock()
	}()
	select {
	case g.slots <- struct{}{}:
		return g.leave(g.now()), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", models.ErrBusy, ctx.Err())
	}
}

// leave returns the function that frees the slot of an operation admitted at start
// and counts its time into the typical one.
func (g *Gate) leave(start time.Time) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			took := g.now().Sub(start)
			g.mu.Lock()
			if g.typical == 0 {
				g.typical = took
			} else {
				g.typical += (took - g.typical) / 5
			}
			g.mu.Unlock()
			<-g.slots
		})
	}
}
