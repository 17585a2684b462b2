package fhir

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinic/interactions/models"
)

// liveSink discards what it receives, and measures the live heap once, when the first
// interaction arrives: every file has been read then, so the join state is complete.
type liveSink struct {
	live uint64
}

func (s *liveSink) Patient(context.Context, models.Patient, Origin) error { return nil }

func (s *liveSink) Interaction(context.Context, models.Interaction, Origin) error {
	if s.live == 0 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s.live = ms.HeapAlloc
	}
	return nil
}

// peakHeap samples the heap (live and not yet collected objects) every millisecond
// until stop is called, which returns the highest value seen.
func peakHeap() (stop func() uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// BenchmarkReadSample reads the Synthea sample as it is (1x) and with every file
// holding the sample's lines ten times over (10x), without a store. The copies repeat
// the same ids, so the join state must not grow: compare peak-heap-MB and live-MB
// between the two.
//
//	go test ./fhir -run XXX -bench ReadSample -benchtime 3x
func BenchmarkReadSample(b *testing.B) {
	if _, err := os.Stat(sampleDir); err != nil {
		b.Skipf("the Synthea sample is not here (%v)", err)
	}
	tenfold := b.TempDir()
	entries, err := os.ReadDir(sampleDir)
	if err != nil {
		b.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".ndjson") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(sampleDir, e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(tenfold, e.Name()), []byte(strings.Repeat(string(data), 10)), 0o644); err != nil {
			b.Fatal(err)
		}
	}

	for _, bc := range []struct{ name, dir string }{{"1x", sampleDir}, {"10x", tenfold}} {
		b.Run(bc.name, func(b *testing.B) {
			var rep Report
			var live uint64
			runtime.GC()
			stop := peakHeap()
			for b.Loop() {
				sink := &liveSink{}
				if rep, err = Read(context.Background(), bc.dir, Options{}, sink); err != nil {
					b.Fatal(err)
				}
				live = max(live, sink.live)
			}
			peak := stop()
			if rep.Interactions != 1215 {
				b.Fatalf("%d interactions, want 1,215", rep.Interactions)
			}
			b.SetBytes(rep.Bytes)
			b.ReportMetric(float64(rep.Bytes)/(1<<20), "input-MB")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(live)/(1<<20), "live-MB")
		})
	}
}
