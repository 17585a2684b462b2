// Package insights draws clinical insights from many patients' records: the
// questions doctors asked in similar visits, a patient's nearest patients under a
// feature vector, cohorts found by k-means, and counts of labels and ailments by
// month. It needs no store and no HTTP: callers read the records once and hand
// them over one at a time.
package insights

import (
	"cmp"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	"github.com/clinic/interactions/vitals"
)

// The fixed seed of k-means++: the same records always give the same cohorts.
const (
	KMeansSeed   = 0x5eed_c0_4057
	kmeansStream = 0x1a5c_f00d
)

// Bounds of the k-means iterations.
const (
	// MaxIterations caps the Lloyd iterations of one run; a run stops earlier once
	// no point changes cohort.
	MaxIterations = 100
	// Restarts is how many k-means++ runs are made, their initial centroids drawn
	// one after the other from the same seeded source; the one with the least
	// inertia is kept.
	Restarts = 4
)

// Clustering is the result of k-means.
type Clustering struct {
	// Assign gives each point's cluster, 0 to k-1; clusters are numbered by size,
	// largest first, ties by their first point.
	Assign []int
	// Centroids are the clusters' means, in the points' space.
	Centroids [][]float64
	// Sizes counts each cluster's points.
	Sizes []int
	// Inertia is the sum of the squared distances of the points to their centroids.
	Inertia float64
	// Iterations is the number of Lloyd iterations of the run kept.
	Iterations int
}

// checkEvery is how many items a loop goes through between two looks at its
// context: often enough to stop soon after the deadline, seldom enough to cost
// nothing.
const checkEvery = 1024

// stopped returns ctx's error when the loop at item i is due to look at ctx (every
// checkEvery items, the first included) and ctx is done.
func stopped(ctx context.Context, i int) error {
	if i%checkEvery != 0 {
		return nil
	}
	return ctx.Err()
}

// KMeans partitions points (all of one dimension) into k clusters: k-means++
// initialisation from a PCG source seeded with seed, then Lloyd iterations until no
// point changes cluster or MaxIterations, Restarts times; the run with the least
// inertia is kept (the first of equals). The runs run at once, each on its own
// goroutine. k is capped at the number of distinct points; with no points the
// result is empty. The same points, k and seed always give the same result. It
// stops with ctx's error once ctx is done: at the request's deadline.
func KMeans(ctx context.Context, points [][]float64, k int, seed uint64) (Clustering, error) {
	n := len(points)
	if n == 0 || k < 1 {
		return Clustering{Assign: []int{}, Centroids: [][]float64{}, Sizes: []int{}}, nil
	}
	d, err := distinct(ctx, points, k)
	if err != nil {
		return Clustering{}, err
	}
	k = min(k, d)
	// The runs' initial centroids come one after the other from the one source;
	// the runs themselves, which draw nothing from it, run at once.
	r := rand.New(rand.NewPCG(seed, kmeansStream))
	starts := make([][][]float64, Restarts)
	for run := range starts {
		if starts[run], err = plusPlus(ctx, points, k, r); err != nil {
			return Clustering{}, err
		}
	}
	runs := make([]Clustering, Restarts)
	errs := make([]error, Restarts)
	var wg sync.WaitGroup
	for run := range runs {
		wg.Go(func() { runs[run], errs[run] = lloyd(ctx, points, starts[run]) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return Clustering{}, err
	}
	best := runs[0]
	for _, c := range runs[1:] {
		if c.Inertia < best.Inertia {
			best = c
		}
	}
	return renumber(best), nil
}

// distinct returns the number of distinct points, counting no further than limit,
// or ctx's error once ctx is done.
func distinct(ctx context.Context, points [][]float64, limit int) (int, error) {
	var seen [][]float64
	for i, p := range points {
		if err := stopped(ctx, i); err != nil {
			return 0, err
		}
		if !slices.ContainsFunc(seen, func(q []float64) bool { return slices.Equal(p, q) }) {
			seen = append(seen, p)
			if len(seen) == limit {
				break
			}
		}
	}
	return len(seen), nil
}

// plusPlus picks k initial centroids among points by k-means++: the first at
// random, each next one with a probability proportional to its squared distance to
// the nearest centroid picked so far. It returns ctx's error once ctx is done.
func plusPlus(ctx context.Context, points [][]float64, k int, r *rand.Rand) ([][]float64, error) {
	centroids := [][]float64{slices.Clone(points[r.IntN(len(points))])}
	nearest := make([]float64, len(points))
	for i, p := range points {
		nearest[i] = sqDist(p, centroids[0])
	}
	for len(centroids) < k {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		total := 0.0
		for _, d := range nearest {
			total += d
		}
		pick := len(points) - 1
		if total > 0 {
			x := r.Float64() * total
			for i, d := range nearest {
				if x < d {
					pick = i
					break
				}
				x -= d
			}
		}
		for nearest[pick] == 0 && total > 0 { // rounding fell on a point already taken
			pick = (pick + 1) % len(points)
		}
		c := slices.Clone(points[pick])
		centroids = append(centroids, c)
		for i, p := range points {
			nearest[i] = min(nearest[i], sqDist(p, c))
		}
	}
	return centroids, nil
}

// lloyd runs Lloyd iterations from centroids until no point changes cluster or
// MaxIterations. A cluster left empty takes the point farthest from its centroid.
// It returns ctx's error once ctx is done.
func lloyd(ctx context.Context, points [][]float64, centroids [][]float64) (Clustering, error) {
	k, dim := len(centroids), len(points[0])
	assign := make([]int, len(points))
	for i := range assign {
		assign[i] = -1
	}
	sizes := make([]int, k)
	iterations := 0
	for iterations < MaxIterations {
		if err := ctx.Err(); err != nil {
			return Clustering{}, err
		}
		iterations++
		changed := false
		for i, p := range points {
			c, _ := closest(p, centroids)
			if c != assign[i] {
				assign[i], changed = c, true
			}
		}
		if !changed {
			break
		}
		for c := range centroids {
			clear(centroids[c])
			sizes[c] = 0
		}
		for i, p := range points {
			c := assign[i]
			sizes[c]++
			for j, v := range p {
				centroids[c][j] += v
			}
		}
		for c := range centroids {
			if sizes[c] == 0 {
				far := farthest(points, assign, centroids)
				copy(centroids[c], points[far])
				assign[far] = c
				continue
			}
			for j := range dim {
				centroids[c][j] /= float64(sizes[c])
			}
		}
	}
	inertia := 0.0
	clear(sizes)
	for i, p := range points {
		sizes[assign[i]]++
		inertia += sqDist(p, centroids[assign[i]])
	}
	return Clustering{Assign: assign, Centroids: centroids, Sizes: sizes, Inertia: inertia, Iterations: iterations}, nil
}

// closest returns the index of the centroid nearest p (the first of equals) and its
// squared distance.
func closest(p []float64, centroids [][]float64) (int, float64) {
	best, bestD := 0, math.Inf(1)
	for c, centroid := range centroids {
		if d := sqDist(p, centroid); d < bestD {
			best, bestD = c, d
		}
	}
	return best, bestD
}

// farthest returns the point farthest from its cluster's centroid.
func farthest(points [][]float64, assign []int, centroids [][]float64) int {
	far, farD := 0, -1.0
	for i, p := range points {
		if d := sqDist(p, centroids[assign[i]]); d > farD {
			far, farD = i, d
		}
	}
	return far
}

// renumber numbers c's clusters by size, largest first, ties by their first point.
func renumber(c Clustering) Clustering {
	k := len(c.Centroids)
	first := make([]int, k)
	for i := range first {
		first[i] = len(c.Assign)
	}
	for i, a := range c.Assign {
		first[a] = min(first[a], i)
	}
	order := make([]int, k)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Or(c.Sizes[b]-c.Sizes[a], first[a]-first[b]) })
	newID := make([]int, k)
	out := Clustering{Assign: make([]int, len(c.Assign)), Centroids: make([][]float64, k), Sizes: make([]int, k),
		Inertia: c.Inertia, Iterations: c.Iterations}
	for to, from := range order {
		newID[from] = to
		out.Centroids[to], out.Sizes[to] = c.Centroids[from], c.Sizes[from]
	}
	for i, a := range c.Assign {
		out.Assign[i] = newID[a]
	}
	return out
}

// Distance returns the Euclidean distance of point i, at p, to its cluster's
// centroid, rounded to 4 decimals.
func (c Clustering) Distance(p []float64, i int) float64 {
	return vitals.Round(math.Sqrt(sqDist(p, c.Centroids[c.Assign[i]])), 4)
}

// sqDist returns the squared Euclidean distance of a and b.
func sqDist(a, b []float64) float64 {
	s := 0.0
	for i, v := range a {
		d := v - b[i]
		s += d * d
	}
	return s
}

// AdjustedRandIndex returns the adjusted Rand index of two partitions of the same
// items, a[i] and b[i] being item i's cluster in each: 1 for the same partition
// (whatever the numbering), about 0 for partitions no more alike than chance.
// Partitions of fewer than two items, or both of one cluster, give 1.
func AdjustedRandIndex(a, b []int) float64 {
	n := min(len(a), len(b))
	if n < 2 {
		return 1
	}
	type pair struct{ x, y int }
	cells, rows, cols := map[pair]int{}, map[int]int{}, map[int]int{}
	for i := range n {
		cells[pair{a[i], b[i]}]++
		rows[a[i]]++
		cols[b[i]]++
	}
	choose2 := func(m int) float64 { return float64(m) * float64(m-1) / 2 }
	index, sumA, sumB := 0.0, 0.0, 0.0
	for _, m := range cells {
		index += choose2(m)
	}
	for _, m := range rows {
		sumA += choose2(m)
	}
	for _, m := range cols {
		sumB += choose2(m)
	}
	expected := sumA * sumB / choose2(n)
	maxIndex := (sumA + sumB) / 2
	if maxIndex == expected {
		return 1
	}
	return (index - expected) / (maxIndex - expected)
}
