package loader

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/clinic/interactions/models"
)

// drainTimeout bounds how long an interrupted load waits for the insertMany calls
// already under way.
const drainTimeout = 10 * time.Second

// writer runs the jobs of a load (each one or more insertMany calls), at most
// inflight at once, and adds up what they stored. When the load's context ends
// (SIGINT), it starts no more jobs and lets those under way finish, for at most
// drainTimeout, so that what it reports as stored is exactly what was. After the
// first failed job it starts no more either.
type writer struct {
	ctx context.Context
	// callCtx is what jobs run under: ctx's values, without its end.
	callCtx context.Context
	cancel  context.CancelFunc
	// drain bounds the wait for the jobs under way once ctx has ended.
	drain time.Duration
	slots chan struct{}
	wg    sync.WaitGroup
	// failed is closed when a job fails.
	failed chan struct{}

	// mu guards err and the results jobs add up (see count).
	mu  sync.Mutex
	err error
}

// newWriter returns a writer running at most inflight jobs at once for the load of
// ctx.
func newWriter(ctx context.Context, inflight int) *writer {
	callCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	return &writer{ctx: ctx, callCtx: callCtx, cancel: cancel, drain: drainTimeout,
		slots: make(chan struct{}, max(1, inflight)), failed: make(chan struct{})}
}

// start runs job in a goroutine of its own once fewer than inflight jobs run. It
// returns false, running nothing, when the load has ended or a job has failed.
func (w *writer) start(job func(ctx context.Context) error) bool {
	select {
	case w.slots <- struct{}{}:
	case <-w.ctx.Done():
		return false
	case <-w.failed:
		return false
	}
	if w.ctx.Err() != nil || w.stopped() {
		<-w.slots
		return false
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer func() { <-w.slots }()
		if err := job(w.callCtx); err != nil {
			w.fail(err)
		}
	}()
	return true
}

// stopped reports whether a job has failed.
func (w *writer) stopped() bool {
	select {
	case <-w.failed:
		return true
	default:
		return false
	}
}

// fail records the first error of a job.
func (w *writer) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
		close(w.failed)
	}
}

// count adds res to total, which only jobs of w change while they run, and calls
// progress, when not nil, with n; one job at a time.
func (w *writer) count(total *models.InsertResult, res models.InsertResult, progress func(int), n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	total.Add(res)
	if progress != nil {
		progress(n)
	}
}

// wait waits for the jobs started, for at most w.drain once the load has ended,
// and then cuts those still running short. It returns the first job's error, joined
// after the load's context's error when that has ended.
func (w *writer) wait() error {
	finished := make(chan struct{})
	go func() {
		w.wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
	case <-w.ctx.Done():
		timer := time.NewTimer(w.drain)
		select {
		case <-finished:
		case <-timer.C:
			w.cancel()
			<-finished
		}
		timer.Stop()
	}
	w.cancel()
	w.mu.Lock()
	defer w.mu.Unlock()
	return errors.Join(w.ctx.Err(), w.err)
}

// insertCall inserts docs with insert in one call and adds its result to total
// through w. It returns the store's error, wrapped.
func insertCall[T any](ctx context.Context, w *writer, docs []T,
	insert func(context.Context, []T) (models.InsertResult, error), total *models.InsertResult, progress func(int)) error {
	if len(docs) == 0 {
		return nil
	}
	res, err := insert(ctx, docs)
	if err != nil {
		return fmt.Errorf("insert batch of %d: %w", len(docs), err)
	}
	w.count(total, res, progress, len(docs))
	return nil
}

// insertSequence inserts docs with insert, at most batch at a time, one call after
// the other, adding the results to total through w. It returns the first error.
func insertSequence[T any](ctx context.Context, w *writer, docs []T, batch int,
	insert func(context.Context, []T) (models.InsertResult, error), total *models.InsertResult, progress func(int)) error {
	for len(docs) > 0 {
		n := min(batch, len(docs))
		if err := insertCall(ctx, w, docs[:n], insert, total, progress); err != nil {
			return err
		}
		docs = docs[n:]
	}
	return nil
}

// insertBatches starts jobs on w inserting docs with insert, at most batch at a
// time, adding the results to total. It returns false when w started no more jobs
// (see writer.start); wait then tells why.
func insertBatches[T any](w *writer, docs []T, batch int,
	insert func(context.Context, []T) (models.InsertResult, error), total *models.InsertResult, progress func(int)) bool {
	for len(docs) > 0 {
		n := min(batch, len(docs))
		part := docs[:n]
		if !w.start(func(ctx context.Context) error { return insertCall(ctx, w, part, insert, total, progress) }) {
			return false
		}
		docs = docs[n:]
	}
	return true
}
