package insights_test

import (
	"context"
	"math/rand/v2"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/clinic/interactions/insights"
)

// heapObjects is the runtime metric of the heap's live objects, in bytes.
const heapObjects = "/memory/classes/heap/objects:bytes"

// liveHeap returns the heap's live objects in MB.
func liveHeap() float64 {
	sample := []metrics.Sample{{Name: heapObjects}}
	metrics.Read(sample)
	return float64(sample[0].Value.Uint64()) / (1 << 20)
}

// peakHeap samples the heap's live objects every millisecond until stop is called,
// which returns the largest sample in MB. The benchmarks of the package share it.
func peakHeap() (stop func() float64) {
	sample := []metrics.Sample{{Name: heapObjects}}
	var peak uint64
	var mu sync.Mutex
	done := make(chan struct{})
	finished := make(chan struct{})
	read := func() {
		metrics.Read(sample)
		mu.Lock()
		peak = max(peak, sample[0].Value.Uint64())
		mu.Unlock()
	}
	go func() {
		defer close(finished)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				read()
			}
		}
	}()
	return func() float64 {
		read()
		close(done)
		<-finished
		mu.Lock()
		defer mu.Unlock()
		return float64(peak) / (1 << 20)
	}
}

// BenchmarkKMeans clusters 10,000 points of the feature space's dimension (20
// labels, 30 ailments, age, sex, 7 latest readings and 7 slopes: 66) into 5
// cohorts, as /analytics/cohorts does for 10,000 patients once their vectors are
// built. It reports the peak of the live heap, the points included.
//
//	go test ./insights -run XXX -bench KMeans -benchtime 5x
func BenchmarkKMeans(b *testing.B) {
	const n, dim, k = 10_000, 66, 5
	r := rand.New(rand.NewPCG(1, 2))
	centres := make([][]float64, k)
	for c := range centres {
		centres[c] = make([]float64, dim)
		for j := range centres[c] {
			centres[c][j] = r.NormFloat64() * 2
		}
	}
	points := make([][]float64, n)
	for i := range points {
		points[i] = make([]float64, dim)
		for j, v := range centres[i%k] {
			points[i][j] = v + r.NormFloat64()
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	stop := peakHeap()
	var c insights.Clustering
	for b.Loop() {
		var err error
		if c, err = insights.KMeans(context.Background(), points, k, insights.KMeansSeed); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(stop(), "peak-heap-MB")
	b.ReportMetric(float64(c.Iterations), "iterations")
}
