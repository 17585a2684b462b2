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
