package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestKill9UnderWriteLoad kills the server with SIGKILL at a random moment while
// clients create interactions, restarts it over the same data directory, and checks
// that no acknowledged write was lost: every interaction answered 201 reads back
// byte for byte as that answer showed it, with ETag "1". It does so five times over,
// and at the end reads back the creates of every round.
func TestKill9UnderWriteLoad(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed))
	dataDir := t.TempDir()
	p := startProcess(t, dataDir)
	key := p.createKey("load", "clinician")
	if status, _, body := p.do("POST", "/api/v1/patients", key, `{"insurance_no":"CRASH-1"}`); status != http.StatusCreated {
		t.Fatalf("create the patient: %d %s", status, body)
	}

	acknowledged := map[string][]byte{}
	const rounds = 5
	for round := 1; round <= rounds; round++ {
		var killed atomic.Bool
		// A worker stops at its first failure once the server is killed.
		l := startLoad(p.base, key, "CRASH-1", fmt.Sprintf("kill%d", round), 8, func(outcome) bool { return killed.Load() })
		l.waitCreated(t, 10)
		time.Sleep(time.Duration(rng.Int64N(int64(700 * time.Millisecond)))) // a random moment of the load
		killed.Store(true)
		killedAt := time.Now()
		if err := p.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		<-p.exited
		var cutOff []string
		thisRound := map[string][]byte{}
		for _, o := range l.wait() {
			switch {
			case o.acknowledged():
				acknowledged[o.id], thisRound[o.id] = o.body, o.body
			case o.end.Before(killedAt):
				t.Errorf("round %d: %s failed before the kill: %d %v %s", round, o.id, o.status, o.err, o.body)
			default:
				cutOff = append(cutOff, o.id) // it may or may not have been stored
			}
		}

		// After each restart the creates of the round; after the last, all of them,
		// through every kill since.
		check := thisRound
		if round == rounds {
			check = acknowledged
		}
		p = startProcess(t, dataDir)
		ids := make(chan string)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for id := range ids {
					want := check[id]
					status, etag, got, err := p.try("GET", "/api/v1/interactions/"+id, key, "")
					if err != nil {
						t.Errorf("round %d: %v", round, err)
						continue
					}
					if status != http.StatusOK || etag != `"1"` || !bytes.Equal(got, want) {
						t.Errorf("round %d: %s was acknowledged as\n  %s\nbut reads %d, ETag %s:\n  %s", round, id, want, status, etag, got)
					}
				}
			})
		}
		for id := range check {
			ids <- id
		}
		close(ids)
		wg.Wait()
		// A create the kill cut off is stored whole, or not at all.
		for _, id := range cutOff {
			status, etag, got := p.do("GET", "/api/v1/interactions/"+id, key, "")
			if status != http.StatusNotFound && (status != http.StatusOK || etag != `"1"`) {
				t.Errorf("round %d: %s, cut off by the kill, reads %d, ETag %s: %s", round, id, status, etag, got)
			}
		}
		t.Logf("round %d: %d creates acknowledged and read back (%d in all), %d cut off by the kill",
			round, len(thisRound), len(acknowledged), len(cutOff))
		if t.Failed() {
			return
		}
	}
}
