package insights

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// blobs returns n points around each centre, with their true cluster.
func blobs(centres [][]float64, n int, spread float64, seed uint64) ([][]float64, []int) {
	r := rand.New(rand.NewPCG(seed, 1))
	var points [][]float64
	var truth []int
	for c, centre := range centres {
		for range n {
			p := make([]float64, len(centre))
			for j, v := range centre {
				p[j] = v + r.NormFloat64()*spread
			}
			points = append(points, p)
			truth = append(truth, c)
		}
	}
	return points, truth
}

func TestKMeans(t *testing.T) {
	centres := [][]float64{{0, 0, 0}, {10, 0, 0}, {0, 10, 0}, {0, 0, 10}}
	tests := []struct {
		name    string
		centres [][]float64
		spread  float64
		k       int
		minARI  float64
	}{
		{"four separate blobs", centres, 1, 4, 0.99},
		{"four overlapping blobs", centres, 3, 4, 0.5},
		{"one blob, k 1", centres[:1], 1, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			points, truth := blobs(tc.centres, 50, tc.spread, 7)
			c := must(KMeans(context.Background(), points, tc.k, KMeansSeed))(t)
			if len(c.Sizes) != tc.k || len(c.Assign) != len(points) || len(c.Centroids) != tc.k {
				t.Fatalf("k %d, %d assignments, %d centroids", len(c.Sizes), len(c.Assign), len(c.Centroids))
			}
			if ari := AdjustedRandIndex(c.Assign, truth); ari < tc.minARI {
				t.Errorf("ARI %.3f, want at least %.2f", ari, tc.minARI)
			}
			if !slices.IsSortedFunc(c.Sizes, func(a, b int) int { return b - a }) {
				t.Errorf("sizes %v are not largest first", c.Sizes)
			}
			total := 0
			for _, s := range c.Sizes {
				total += s
			}
			if total != len(points) || c.Iterations < 1 || c.Iterations > MaxIterations {
				t.Errorf("sizes sum to %d, %d iterations", total, c.Iterations)
			}
			again := must(KMeans(context.Background(), points, tc.k, KMeansSeed))(t)
			if !slices.Equal(again.Assign, c.Assign) || again.Inertia != c.Inertia {
				t.Error("the same points and seed gave another clustering")
			}
		})
	}
}

func TestKMeansEdges(t *testing.T) {
	if c := must(KMeans(context.Background(), nil, 3, KMeansSeed))(t); len(c.Assign) != 0 || len(c.Sizes) != 0 {
		t.Errorf("no points: %+v", c)
	}
	same := [][]float64{{1, 1}, {1, 1}, {1, 1}, {2, 2}}
	c := must(KMeans(context.Background(), same, 5, KMeansSeed))(t)
	if len(c.Sizes) != 2 || !slices.Equal(c.Sizes, []int{3, 1}) || c.Inertia != 0 {
		t.Errorf("two distinct points, k 5: sizes %v inertia %g", c.Sizes, c.Inertia)
	}
	if d := c.Distance(same[3], 3); d != 0 {
		t.Errorf("distance %g", d)
	}
}

func TestAdjustedRandIndex(t *testing.T) {
	tests := []struct {
		name string
		a, b []int
		want float64
	}{
		{"identical", []int{0, 0, 1, 1, 2, 2}, []int{0, 0, 1, 1, 2, 2}, 1},
		{"renumbered", []int{0, 0, 1, 1, 2, 2}, []int{2, 2, 0, 0, 1, 1}, 1},
		// Pairs together: in a 3+3 = 6, in b 1+6 = 7, in both 1+3 = 4 (cells 2, 1
		// and 3 items); expected 6·7/15 = 2.8, maximum (6+7)/2 = 6.5.
		{"one item moved", []int{0, 0, 0, 1, 1, 1}, []int{0, 0, 1, 1, 1, 1}, (4 - 2.8) / (6.5 - 2.8)},
		// Together in a 2, in b 2, in both 0; expected 2·2/6, maximum 2.
		{"crossed", []int{0, 0, 1, 1}, []int{0, 1, 0, 1}, (0 - 4.0/6) / (2 - 4.0/6)},
		{"one cluster each", []int{0, 0, 0}, []int{1, 1, 1}, 1},
		{"too few items", []int{0}, []int{3}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := AdjustedRandIndex(tc.a, tc.b)
			if math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("ARI = %.6f, want %.6f", got, tc.want)
			}
		})
	}
}

// must returns a function that returns v, failing t when err is not nil.
func must[T any](v T, err error) func(t *testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// expiring is a context whose deadline passes once it has been asked n times
// whether it is done, by any of the goroutines it is given to: a request close to
// its deadline, without a clock.
type expiring struct {
	context.Context
	n atomic.Int64
}

func expiringAfter(n int64) *expiring {
	c := &expiring{Context: context.Background()}
	c.n.Store(n)
	return c
}

func (c *expiring) Err() error {
	if c.n.Add(-1) < 0 {
		return context.DeadlineExceeded
	}
	return nil
}

// closeToDeadline returns contexts past their deadline at once and after a few
// looks, for the computations that must stop at a request's deadline.
func closeToDeadline() map[string]func() context.Context {
	return map[string]func() context.Context{
		"past its deadline": func() context.Context {
			ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
			cancel()
			return ctx
		},
		"close to its deadline": func() context.Context { return expiringAfter(3) },
	}
}

func TestKMeansStopsAtTheDeadline(t *testing.T) {
	points, _ := blobs([][]float64{{0, 0}, {5, 5}, {0, 5}, {5, 0}}, 300, 2, 3)
	for name, ctx := range closeToDeadline() {
		t.Run(name, func(t *testing.T) {
			if _, err := KMeans(ctx(), points, 4, KMeansSeed); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v, want the context's", err)
			}
		})
	}
	// However late the deadline passes, up to the last look, KMeans stops.
	counting := expiringAfter(math.MaxInt64)
	if _, err := KMeans(counting, points, 4, KMeansSeed); err != nil {
		t.Fatal(err)
	}
	looks := math.MaxInt64 - counting.n.Load()
	if looks < Restarts*2 {
		t.Fatalf("KMeans looked at its context %d times", looks)
	}
	for n := range looks {
		if _, err := KMeans(expiringAfter(n), points, 4, KMeansSeed); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("deadline after %d of %d looks: err = %v", n, looks, err)
		}
	}
}
