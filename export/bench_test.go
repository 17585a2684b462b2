package export

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/metrics"
	"testing"
)

// countingWriter counts the bytes written through it.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) {
	w.n += int64(len(p))
	return len(p), nil
}

// BenchmarkExportMemory exports a chart of 1,000 and one of 10,000 interactions
// (made on the fly, so that the store holds nothing in memory) in each format, and
// reports the heap while the export runs, sampled after every 100 interactions
// written: peak-live-MB is the most the heap held live at the end of a collection,
// peak-heap-MB the most it held with what was not collected yet. Both stay about
// the same for ten times the interactions, as the export holds one interaction at a
// time, while the output (output-MB) grows tenfold. B/op grows with the chart too:
// allocations, collected as the export goes.
//
//	go test ./export -run XXX -bench ExportMemory -benchtime 5x
func BenchmarkExportMemory(b *testing.B) {
	for _, f := range []Format{NDJSON, FHIR, FHIRNDJSON} {
		for _, n := range []int{1000, 10000} {
			b.Run(fmt.Sprintf("%s/%d", f, n), func(b *testing.B) {
				sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
				var peak, live uint64
				chart := &fakeChart{no: "P1", n: n, every: func(i int) {
					if i%100 == 0 {
						metrics.Read(sample)
						peak, live = max(peak, sample[0].Value.Uint64()), max(live, sample[1].Value.Uint64())
					}
				}}
				e := newExporter(chart)
				p, err := e.Patient(context.Background(), "P1")
				if err != nil {
					b.Fatal(err)
				}
				var out countingWriter
				runtime.GC()
				b.ReportAllocs()
				for b.Loop() {
					out = countingWriter{}
					if err := e.Write(context.Background(), io.Writer(&out), p, Request{Format: f}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
				b.ReportMetric(float64(live)/(1<<20), "peak-live-MB")
				b.ReportMetric(float64(out.n)/(1<<20), "output-MB")
				b.ReportMetric(float64(out.n)/float64(n), "output-B/interaction")
			})
		}
	}
}
