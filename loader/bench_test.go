package loader

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/reconcile"
	"github.com/clinic/interactions/records"
	"github.com/clinic/interactions/repository"
	"github.com/clinic/interactions/synthetic"
)

// benchPatients is how many synthetic patients each run of a benchmark loads: about
// 12,000 documents.
const benchPatients = 1000

// seedBatch is the seed command's default -batch.
const seedBatch = 1000

// syntheaSample is the real 10-patient Synthea sample of the shared data, absent
// from a user's clone.
const syntheaSample = "../../shared/data/synthea-10"

// benchWrites are the ways of writing the benchmarks compare: batch sizes, and how
// many insertMany calls run at once.
var benchWrites = []WriteOptions{
	{Batch: 1000, Inflight: 1}, {Batch: 1000, Inflight: 2}, {Batch: 1000, Inflight: 4},
	{Batch: 5000, Inflight: 1}, {Batch: 5000, Inflight: 2}, {Batch: 5000, Inflight: 4},
}

// BenchmarkGenerate loads benchPatients synthetic patients as seed -generate does
// (Generated, into a new database the service has prepared: its indexes, and on the
// embedded store the side index's), and, in the same iteration, inserts the very
// same documents, generated and encoded beforehand as the repository encodes them,
// with plain unordered insertMany calls of the same size, as many at once, every
// patient first, into a new database whose collections have only their _id index:
// the store's own speed. The two take turns, first one then the other, so that
// whatever else runs on the machine slows both alike. It reports the documents
// stored per second of each, and seed/raw, the median of the iterations' ratios
// (robust to a burst of other work that slows one side of one iteration).
func BenchmarkGenerate(b *testing.B) {
	patients, interactions := encodedGenerated(b, benchPatients)
	for _, opts := range benchWrites {
		b.Run(fmt.Sprintf("batch=%d/inflight=%d", opts.Batch, opts.Inflight), func(b *testing.B) {
			var seedDocs, rawDocs int
			var seedTook, rawTook time.Duration
			var ratios []float64
			var seedCPU, rawCPU time.Duration
			seed := func() time.Duration {
				b.StopTimer()
				repo, _ := testStore.DB(b)
				b.StartTimer()
				started := time.Now()
				c0 := cpuNow()
				defer func() { seedCPU += cpuNow() - c0 }()
				rep, err := Generated(context.Background(), repo,
					GenerateOptions{Patients: benchPatients, WriteOptions: opts, Seed: 1, Now: time.Now()}, nil)
				if err != nil {
					b.Fatal(err)
				}
				took := time.Since(started)
				seedTook += took
				seedDocs += rep.Documents()
				return took
			}
			raw := func() time.Duration {
				b.StopTimer()
				db := testStore.Database(b)
				b.StartTimer()
				started := time.Now()
				c0 := cpuNow()
				rawInsert(b, db.Collection(repository.PatientsCollection), patients, opts)
				rawInsert(b, db.Collection(repository.InteractionsCollection), interactions, opts)
				rawCPU += cpuNow() - c0
				took := time.Since(started)
				rawTook += took
				rawDocs += len(patients) + len(interactions)
				return took
			}
			for b.Loop() {
				var s, r time.Duration
				if len(ratios)%2 == 0 {
					s, r = seed(), raw()
				} else {
					r, s = raw(), seed()
				}
				// The same documents both ways: the ratio of rates is that of times.
				ratios = append(ratios, r.Seconds()/s.Seconds())
			}
			slices.Sort(ratios)
			b.ReportMetric(float64(seedDocs)/seedTook.Seconds(), "seed-docs/s")
			b.ReportMetric(float64(rawDocs)/rawTook.Seconds(), "raw-docs/s")
			b.ReportMetric(ratios[len(ratios)/2], "seed/raw")
			b.ReportMetric(rawCPU.Seconds()/seedCPU.Seconds(), "cpu-raw/seed")
		})
	}
}

// BenchmarkFHIRImport imports the shared Synthea sample into a new database and then
// again (which changes nothing), as seed -fhir does, and reports the records (patients
// and interactions) handled per second by each: copies=1 is the sample (1,228
// records), copies=10 ten copies of it under other ids (12,280 records).
func BenchmarkFHIRImport(b *testing.B) {
	if _, err := os.Stat(syntheaSample); err != nil {
		b.Skipf("skipped: the shared Synthea sample is absent: %v", err)
	}
	for _, copies := range []int{1, 10} {
		dir := copiedSample(b, copies)
		b.Run(fmt.Sprintf("copies=%d", copies), func(b *testing.B) {
			var first, again time.Duration
			var records int
			for b.Loop() {
				b.StopTimer()
				repo, _ := testStore.DB(b)
				b.StartTimer()
				for i, took := range []*time.Duration{&first, &again} {
					started := time.Now()
					rep := benchImportFHIR(b, repo, dir)
					*took += time.Since(started)
					n := rep.Patients.Inserted + rep.Interactions.Inserted
					if i == 1 {
						n = rep.Patients.Unchanged + rep.Interactions.Unchanged
					}
					records += n
				}
			}
			b.ReportMetric(float64(records/2)/first.Seconds(), "import-records/s")
			b.ReportMetric(float64(records/2)/again.Seconds(), "reimport-records/s")
		})
	}
}

// benchImportFHIR imports dir into repo as seed -fhir does, with its default batch.
func benchImportFHIR(b *testing.B, repo *repository.DB, dir string) FHIRReport {
	b.Helper()
	now := time.Now()
	clock := func() time.Time { return now }
	im := reconcile.New(repo, records.NewPatients(repo, repo.PatientVersions(), clock),
		records.NewInteractions(repo, repo.InteractionVersions(), clock), seedBatch)
	rep, err := FHIR(context.Background(), im, dir, now, nil)
	if err != nil {
		b.Fatal(err)
	}
	return rep
}

// uuidPattern matches the ids of Synthea's resources and references.
var uuidPattern = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// copiedSample returns a folder holding the Synthea sample copies times over, each
// copy with ids of its own: the first two hex digits of every UUID name the copy.
func copiedSample(b *testing.B, copies int) string {
	b.Helper()
	files, err := filepath.Glob(filepath.Join(syntheaSample, "*.ndjson"))
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			b.Fatal(err)
		}
		var out []byte
		for c := range copies {
			prefix := []byte(fmt.Sprintf("%02x", c))
			out = append(out, uuidPattern.ReplaceAllFunc(data, func(id []byte) []byte {
				return append(append([]byte(nil), prefix...), id[2:]...)
			})...)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(name)), out, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// encodedGenerated returns the first n synthetic patients of seed 1 and their
// interactions, each encoded as the repository stores it (recorded by a seed run).
func encodedGenerated(b *testing.B, n int) (patients, interactions []any) {
	b.Helper()
	ps, ins, err := synthetic.Generate(1, time.Now(), n)
	if err != nil {
		b.Fatal(err)
	}
	author := &models.Author{Key: "seed", RequestID: "bench"}
	encode := func(v any) any {
		raw, err := bson.Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		return bson.Raw(raw)
	}
	for _, p := range ps {
		p.RecordedBy = author
		patients = append(patients, encode(p))
	}
	for _, in := range ins {
		in.RecordedBy = author
		interactions = append(interactions, encode(in))
	}
	return patients, interactions
}

// rawInsert inserts docs into coll with unordered insertMany calls of at most
// opts.Batch documents, opts.Inflight at once.
func rawInsert(b *testing.B, coll *mongo.Collection, docs []any, opts WriteOptions) {
	b.Helper()
	slots := make(chan struct{}, opts.Inflight)
	var wg sync.WaitGroup
	for len(docs) > 0 {
		n := min(opts.Batch, len(docs))
		part := docs[:n]
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			if _, err := coll.InsertMany(context.Background(), part, options.InsertMany().SetOrdered(false)); err != nil {
				b.Error(err)
			}
		})
		docs = docs[n:]
	}
	wg.Wait()
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
