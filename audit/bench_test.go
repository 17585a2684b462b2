package audit_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

// benchChain is the most events a chain of the benchmark's trail holds: a server
// that ran a few days between restarts.
const benchChain = 100_000

// benchTimeout is the default REQUEST_TIMEOUT, which /audit/verify answers within.
const benchTimeout = 10 * time.Second

// BenchmarkVerify measures verifying a trail of AUDIT_BENCH_EVENTS events (10,000
// when unset) on the test store, as /audit/verify does it within the default
// REQUEST_TIMEOUT:
//   - caught-up: the background has verified every chain up to its last 100 events,
//     as it does every minute; the request verifies those, counts the stored events
//     and re-checks old events for a second;
//   - cold: nothing was verified before; the request verifies what it can in its
//     time and says whether it reached the end (complete/op), to go on next time.
//
// events-verified/op is how far the request got.
//
//	AUDIT_BENCH_EVENTS=1000000 go test ./audit -run '^$' -bench Verify -benchtime 5x -timeout 60m
func BenchmarkVerify(b *testing.B) {
	n := 10_000
	if s := os.Getenv("AUDIT_BENCH_EVENTS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 {
			b.Fatalf("AUDIT_BENCH_EVENTS=%q: want a positive number", s)
		}
	}
	repo, db := testStore.DB(b)
	started := time.Now()
	chains := fillTrail(b, repo, n)
	b.Logf("stored %d events in %d chains in %s", n, len(chains), time.Since(started).Round(time.Second))

	run := func(b *testing.B, checkpoints func() []models.AuditCheckpoint) {
		var v models.AuditVerification
		for b.Loop() {
			b.StopTimer()
			resetCheckpoints(b, repo, db, checkpoints())
			b.StartTimer()
			ctx, cancel := context.WithTimeout(context.Background(), benchTimeout)
			var err error
			v, err = audit.NewTrail(repo, audit.Keys{Current: key}, nil).Verify(ctx)
			cancel()
			if err != nil {
				b.Fatal(err)
			}
			if !v.OK {
				b.Fatalf("verify = %+v", v)
			}
		}
		complete := 0.0
		if v.Complete {
			complete = 1
		}
		b.ReportMetric(complete, "complete/op")
		b.ReportMetric(float64(v.Events), "events-verified/op")
	}
	b.Run("caught-up", func(b *testing.B) {
		run(b, func() []models.AuditCheckpoint {
			var cps []models.AuditCheckpoint
			for _, c := range chains {
				cps = append(cps, c.checkpoint(max(c.n-100, 1)))
			}
			return cps
		})
	})
	b.Run("cold", func(b *testing.B) {
		run(b, func() []models.AuditCheckpoint { return nil })
	})
}

// benchChainInfo is a chain the benchmark stored: its name, length, and the hash of
// each of its events.
type benchChainInfo struct {
	name   string
	n      int64
	hashes []string
}

// checkpoint returns the keyed checkpoint of the chain verified up to seq.
func (c benchChainInfo) checkpoint(seq int64) models.AuditCheckpoint {
	cp := models.AuditCheckpoint{Chain: c.name, Seq: seq, Hash: c.hashes[seq-1], VerifiedAt: models.StoreTime(time.Now())}
	cp.MAC = audit.CheckpointMAC(key, cp)
	return cp
}

// fillTrail stores n events, hash-chained with key, in chains of benchChain at most,
// each with its keyed head, two chains at a time.
func fillTrail(b *testing.B, repo *repository.DB, n int) []benchChainInfo {
	b.Helper()
	ctx := context.Background()
	var chains []benchChainInfo
	for i := 0; n > 0; i++ {
		size := min(n, benchChain)
		n -= size
		chains = append(chains, benchChainInfo{name: fmt.Sprintf("bench-%04d", i), n: int64(size)})
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	errs := make([]error, len(chains))
	for i := range chains {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = fillChain(ctx, repo, &chains[i])
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	return chains
}

// fillChain stores chain c's events, as a server's requests would have them, and
// its head.
func fillChain(ctx context.Context, repo *repository.DB, c *benchChainInfo) error {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c.hashes = make([]string, 0, c.n)
	prev := ""
	batch := make([]models.AuditEvent, 0, 1000)
	for seq := int64(1); seq <= c.n; seq++ {
		e := models.AuditEvent{
			Chain: c.name, Seq: seq, ID: audit.EventID(c.name, seq),
			Time:    models.StoreTime(start.Add(time.Duration(seq) * time.Second)),
			KeyName: "dr-house", Role: models.RoleClinician, Action: "interactions.read", Method: "GET",
			Route: "/api/v1/interactions/:id", InsuranceNo: fmt.Sprintf("P%06d", seq%5000),
			InteractionID: fmt.Sprintf("0192f0c4-%012d", seq), Status: 200, ClientIP: "10.0.0.7",
			RequestID: fmt.Sprintf("0192f0c4-7a1e-7000-8000-%012d", seq), PrevHash: prev,
		}
		e.Hash = audit.Hash(key, e)
		prev = e.Hash
		c.hashes = append(c.hashes, e.Hash)
		batch = append(batch, e)
		if len(batch) == cap(batch) || seq == c.n {
			if err := repo.InsertAuditEvents(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	head := models.AuditChainHead{Chain: c.name, LastSeq: c.n, LastHash: prev, StartedAt: start, Process: "server"}
	head.MAC = audit.HeadMAC(key, head)
	return repo.StartAuditChain(ctx, head)
}

// resetCheckpoints makes cps the only checkpoints stored in db.
func resetCheckpoints(b *testing.B, repo *repository.DB, db *mongo.Database, cps []models.AuditCheckpoint) {
	b.Helper()
	ctx := context.Background()
	if _, err := db.Collection(repository.AuditCheckpointsCollection).DeleteMany(ctx, bson.D{}); err != nil {
		b.Fatal(err)
	}
	for _, cp := range cps {
		if err := repo.SaveAuditCheckpoint(ctx, cp); err != nil {
			b.Fatal(err)
		}
	}
}
