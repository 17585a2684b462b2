package repository

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clinic/interactions/models"
)

func TestMatches(t *testing.T) {
	doc := bson.D{{Key: "token", Value: "t1"}, {Key: "state", Value: "pending"}, {Key: "version", Value: int32(3)}}
	below := func(n int) bson.D {
		return bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "version", Value: bson.D{{Key: "$lt", Value: n}}}},
			bson.D{{Key: "version", Value: bson.D{{Key: "$exists", Value: false}}}},
		}}}
	}
	for _, tc := range []struct {
		name   string
		doc    bson.D
		filter bson.D
		want   bool
	}{
		{"no condition", doc, nil, true},
		{"equal strings", doc, bson.D{{Key: "token", Value: "t1"}, {Key: "state", Value: "pending"}}, true},
		{"one differs", doc, bson.D{{Key: "token", Value: "t1"}, {Key: "state", Value: "done"}}, false},
		{"missing field", doc, bson.D{{Key: "owner", Value: "x"}}, false},
		{"integers however stored", doc, bson.D{{Key: "version", Value: int64(3)}}, true},
		{"below", doc, below(4), true},
		{"not below", doc, below(3), false},
		{"no version counts as below", bson.D{}, below(1), true},
		{"$lte at the limit", doc, bson.D{{Key: "version", Value: bson.D{{Key: "$lte", Value: 3}}}}, true},
		{"$lte beyond", doc, bson.D{{Key: "version", Value: bson.D{{Key: "$lte", Value: 2}}}}, false},
		{"$lt of a string", doc, bson.D{{Key: "token", Value: bson.D{{Key: "$lt", Value: 2}}}}, false},
		{"$exists true", doc, bson.D{{Key: "token", Value: bson.D{{Key: "$exists", Value: true}}}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := matches(tc.doc, tc.filter)
			if err != nil || got != tc.want {
				t.Errorf("matches = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	for _, bad := range []bson.D{
		{{Key: "version", Value: bson.D{{Key: "$gt", Value: 1}}}},
		{{Key: "token", Value: bson.A{"t1"}}},
		{{Key: "$or", Value: "x"}},
	} {
		if _, err := matches(doc, bad); err == nil {
			t.Errorf("matches(%v) took a filter it does not know", bad)
		}
	}
}

func TestTopology(t *testing.T) {
	for _, tc := range []struct {
		hello hello
		want  string
	}{
		{hello{}, "{standalone  }"},
		{hello{SetName: "rs0", Primary: "mongo1:27017"}, "{replica set rs0 mongo1:27017}"},
		{hello{Msg: "isdbgrid"}, "{sharded  }"},
	} {
		if got := fmt.Sprint(tc.hello.topology()); got != tc.want {
			t.Errorf("topology of %+v = %s, want %s", tc.hello, got, tc.want)
		}
	}
}

// TestKnownIsBounded fills a set of at most 8 keys with many more: it never holds
// more than 8, keeps the keys added or found most recently, and finds each of them.
func TestKnownIsBounded(t *testing.T) {
	k := newKnown(8)
	for i := range 100 {
		k.add(fmt.Sprint(i))
		if n := k.len(); n > 8 {
			t.Fatalf("%d keys held after %d added, want at most 8", n, i+1)
		}
	}
	for _, key := range []string{"96", "97", "98", "99"} {
		if !k.has(key) {
			t.Errorf("the recent key %s is not held", key)
		}
	}
	if k.has("0") || k.has("50") {
		t.Error("old keys are still held")
	}
	// A key found is kept as one of the most recent.
	k = newKnown(8)
	k.add("kept")
	for i := range 20 {
		k.add(fmt.Sprint(i))
		if !k.has("kept") {
			t.Fatalf("the key found after every add was dropped after %d adds", i+1)
		}
	}
}

// TestOneWriter sends writes from many goroutines at once through a DB whose store
// takes one writer at a time: they run one at a time, all of them; a write that
// waits past its context's end does not run and says so.
func TestOneWriter(t *testing.T) {
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://127.0.0.1:1")) // never reached
	if err != nil {
		t.Fatal(err)
	}
	s := New(client.Database("unused"), WithOneWriter())
	var running, most, ran atomic.Int64
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			err := s.write(context.Background(), func() error {
				n := running.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				time.Sleep(time.Millisecond)
				running.Add(-1)
				ran.Add(1)
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if most.Load() != 1 || ran.Load() != 50 {
		t.Errorf("%d writes ran, at most %d at once; want 50, one at a time", ran.Load(), most.Load())
	}

	held := make(chan struct{})
	release := make(chan struct{})
	go func() {
		_ = s.write(context.Background(), func() error {
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	if err := s.write(ctx, func() error { called = true; return nil }); !errors.Is(err, context.Canceled) || called {
		t.Errorf("a write whose context ended while it waited: %v, ran %v", err, called)
	}
	close(release)
}

// clearedPool stands for the driver's error of an operation that waited for a
// connection of a pool cleared meanwhile: an error of its own type, wrapping
// nothing, that says only that the operation may be retried.
type clearedPool struct{}

func (clearedPool) Error() string {
	return "connection pool for 127.0.0.1:27017 was cleared because another operation failed with: EOF"
}
func (clearedPool) Retryable() bool { return true }

// TestStoreErrorOfAClearedPool checks that an operation that lost the store while
// waiting for a connection answers that the store is unavailable (503), not that
// something failed inside the service (500).
func TestStoreErrorOfAClearedPool(t *testing.T) {
	err := fmt.Errorf("find API key: %w", storeError(fmt.Errorf("wrapped: %w", clearedPool{})))
	if !errors.Is(err, models.ErrUnavailable) {
		t.Errorf("storeError(a cleared pool) = %v, want models.ErrUnavailable", err)
	}
}
