package loader

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/clinic/interactions/models"
)

// gatedInsert is an insert that counts the calls running at once and holds each call
// until the test lets it go.
type gatedInsert struct {
	mu           sync.Mutex
	running, max int
	// started receives each call's batch as it starts; release lets one call return.
	started chan []int
	release chan error
}

func newGatedInsert() *gatedInsert {
	return &gatedInsert{started: make(chan []int, 100), release: make(chan error)}
}

func (g *gatedInsert) insert(ctx context.Context, docs []int) (models.InsertResult, error) {
	g.mu.Lock()
	g.running++
	g.max = max(g.max, g.running)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.running--
		g.mu.Unlock()
	}()
	g.started <- docs
	select {
	case err := <-g.release:
		if err != nil {
			return models.InsertResult{}, err
		}
		return models.InsertResult{Inserted: len(docs)}, nil
	case <-ctx.Done():
		return models.InsertResult{}, ctx.Err()
	}
}

// numbers returns 0 to n-1.
func numbers(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// insertingTen inserts 0 to 99 in ten batches through a writer for ctx of inflight
// calls at once, calling progress, in a goroutine, once inflight calls have started:
// done receives what insertBatches returns, and total adds up what the calls did.
func insertingTen(ctx context.Context, inflight int, progress func(int)) (g *gatedInsert, w *writer, total *models.InsertResult, done chan bool) {
	g = newGatedInsert()
	w = newWriter(ctx, inflight)
	total = &models.InsertResult{}
	done = make(chan bool)
	go func() { done <- insertBatches(w, numbers(100), 10, g.insert, total, progress) }()
	for range inflight {
		<-g.started
	}
	return g, w, total, done
}

// TestWriterInflight starts ten batches on a writer of three: three calls run at
// once, never more, and every batch is counted.
func TestWriterInflight(t *testing.T) {
	g, w, total, done := insertingTen(context.Background(), 3, nil)
	for range 10 {
		g.release <- nil
	}
	if !<-done {
		t.Fatal("insertBatches stopped early")
	}
	if err := w.wait(); err != nil {
		t.Fatal(err)
	}
	if g.max != 3 || total.Inserted != 100 {
		t.Errorf("%d calls at once and %d inserted; want 3 and 100", g.max, total.Inserted)
	}
}

// TestWriterInterrupted ends the load's context while two calls run: no call starts
// after it, the two run to their end and are counted, and wait reports the
// interruption.
func TestWriterInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var progressed int
	g, w, total, done := insertingTen(ctx, 2, func(n int) { progressed += n })
	cancel()
	if <-done {
		t.Error("insertBatches went on after the context ended")
	}
	waited := make(chan error)
	go func() { waited <- w.wait() }()
	g.release <- nil
	g.release <- nil
	err := <-waited
	if !errors.Is(err, context.Canceled) {
		t.Errorf("wait = %v, want context.Canceled", err)
	}
	if total.Inserted != 20 || progressed != 20 || len(g.started) != 0 {
		t.Errorf("%d counted, %d progressed, %d more calls; want the 20 of the two calls under way, and no more",
			total.Inserted, progressed, len(g.started))
	}
	interrupted := interrupted(ctx, total.Inserted, err)
	if want := "interrupted after 20 documents inserted: context canceled"; interrupted.Error() != want {
		t.Errorf("error = %q, want %q", interrupted, want)
	}
}

// TestWriterDrainIsBounded cuts a call that does not finish short once the drain
// has lasted its time, and reports the call's error with the interruption.
func TestWriterDrainIsBounded(t *testing.T) {
	g := newGatedInsert()
	ctx, cancel := context.WithCancel(context.Background())
	w := newWriter(ctx, 1)
	w.drain = time.Millisecond
	var total models.InsertResult
	insertBatches(w, numbers(5), 5, g.insert, &total, nil)
	<-g.started
	cancel()
	err := w.wait()
	if !errors.Is(err, context.Canceled) || total.Inserted != 0 {
		t.Errorf("wait = %v with %d inserted, want the call cut short and nothing counted", err, total.Inserted)
	}
}

// TestWriterStopsAfterAFailure fails the first of three calls under way: no call
// starts after it, the other two finish and are counted, and wait returns the
// failure.
func TestWriterStopsAfterAFailure(t *testing.T) {
	g, w, total, done := insertingTen(context.Background(), 3, nil)
	failure := errors.New("store broke")
	g.release <- failure
	if <-done {
		t.Error("insertBatches went on after a failure")
	}
	g.release <- nil
	g.release <- nil
	err := w.wait()
	if !errors.Is(err, failure) || total.Inserted != 20 {
		t.Errorf("wait = %v with %d inserted; want the failure and 20", err, total.Inserted)
	}
	if want := fmt.Sprintf("insert batch of 10: %v", failure); err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}
