package deadline

import (
	"context"
	"testing"
	"time"
)

func TestReserve(t *testing.T) {
	tests := []struct {
		name string
		// left is the time the parent context has left.
		left time.Duration
		// least and most bound how long before the parent's deadline the work's comes:
		// a tenth of what is left when Reserve reads the clock, which is a little
		// less than left.
		least, most time.Duration
	}{
		{"a tenth of a short deadline", 2 * time.Second, 100 * time.Millisecond, 200 * time.Millisecond},
		{"at most a second of a long one", time.Minute, time.Second, time.Second},
		{"a tenth of a deadline already near", time.Second, 50 * time.Millisecond, 100 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			parent, cancel := context.WithTimeout(context.Background(), tc.left)
			defer cancel()
			work, cancelWork := Reserve(parent)
			defer cancelWork()
			end, _ := parent.Deadline()
			got, ok := work.Deadline()
			if !ok {
				t.Fatal("the work has no deadline")
			}
			if gap := end.Sub(got); gap < tc.least || gap > tc.most {
				t.Errorf("the work ends %v before its parent, want %v to %v", gap, tc.least, tc.most)
			}
		})
	}
}

func TestReserveWithoutDeadline(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	work, cancelWork := Reserve(parent)
	defer cancelWork()
	if _, ok := work.Deadline(); ok {
		t.Error("the work has a deadline its parent lacks")
	}
	cancel()
	<-work.Done() // ending the parent ends the work
}

func TestReserveCancel(t *testing.T) {
	parent, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	work, cancelWork := Reserve(parent)
	cancelWork()
	if work.Err() == nil || parent.Err() != nil {
		t.Errorf("after its cancel the work has %v, its parent %v; want the work ended alone", work.Err(), parent.Err())
	}
}

// TestShared checks the context of work done for several callers at once: it ends
// at the latest of their deadlines, not when the first caller gives up, and has no
// deadline when one of them has none.
func TestShared(t *testing.T) {
	type key struct{}
	at := time.Now().Add(time.Hour)
	first, cancelFirst := context.WithDeadline(context.WithValue(context.Background(), key{}, "first"), at)
	later, cancelLater := context.WithDeadline(context.Background(), at.Add(time.Minute))
	defer cancelLater()
	shared, cancel := Shared(first, later)
	defer cancel()
	cancelFirst()
	if got, ok := shared.Deadline(); !ok || !got.Equal(at.Add(time.Minute)) {
		t.Errorf("the shared deadline is %v, %v; want the latest, %v", got, ok, at.Add(time.Minute))
	}
	if shared.Err() != nil || shared.Value(key{}) != "first" {
		t.Errorf("the shared context ended with the first (%v), or lost its values (%v)", shared.Err(), shared.Value(key{}))
	}
	open, cancelOpen := Shared(later, context.Background())
	defer cancelOpen()
	if _, ok := open.Deadline(); ok {
		t.Error("a caller without a deadline shares one")
	}
}
