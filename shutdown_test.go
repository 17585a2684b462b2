package main

import (
	"net/http"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMUnderLoad sends SIGTERM to the server while clients create
// interactions as fast as it takes them: every request it accepted gets a complete
// answer, requests after its listener closed are refused, and it exits with status
// 0 within SHUTDOWN_TIMEOUT. A request that got no answer at all (the listener
// closed with its connection still queued) must have left no trace: after a
// restart, its interaction does not exist.
func TestSIGTERMUnderLoad(t *testing.T) {
	dataDir := t.TempDir()
	fillVersions(t, dataDir, "SLOW-1", "slow-1", 6000)
	p := startProcess(t, dataDir)
	key := p.createKey("load", "clinician")
	if status, _, body := p.do("POST", "/api/v1/patients", key, `{"insurance_no":"LOAD-1"}`); status != http.StatusCreated {
		t.Fatalf("create the patient: %d %s", status, body)
	}

	// Reads of a long version history, each reading every archived version on the
	// embedded store, wait their turn: some are still running when SHUTDOWN_TIMEOUT
	// ends.
	slow := startReads(p.base, key, "/api/v1/interactions/slow-1/history?limit=20", 16)
	var signalled atomic.Bool
	// A worker stops once the server, signalled, refuses its connection.
	l := startLoad(p.base, key, "LOAD-1", "term", 16, func(o outcome) bool { return signalled.Load() && o.refused() })
	l.waitCreated(t, 5)
	// Every read's connection was made a second before the signal: the server had
	// taken them all.
	var connected time.Time
	waitFor(t, "the reads to connect", func() bool { connected, _ = slow.state(); return !connected.IsZero() })
	time.Sleep(time.Until(connected.Add(time.Second)))
	if _, pending := slow.state(); pending < len(slow.all)/2 {
		t.Fatalf("only %d of %d reads are still running at SIGTERM: they are too fast to test a drain on this machine", pending, len(slow.all))
	}
	sent := time.Now()
	signalled.Store(true)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(2 * shutdownTimeout):
		t.Fatalf("the server did not exit within twice SHUTDOWN_TIMEOUT after SIGTERM:\n%s", p.stderr)
	}
	took := time.Since(sent)
	outcomes := l.wait()
	var readsCut int
	for i, r := range slow.wait() {
		if !r.complete() {
			t.Errorf("read %d, taken before SIGTERM, got no complete answer: %d %v %s", i, r.status, r.err, r.body)
		}
		if r.status == http.StatusServiceUnavailable {
			readsCut++
		}
	}
	if p.waitErr != nil {
		t.Errorf("the server exited with %v, want status 0\n%s", p.waitErr, p.stderr)
	}
	if took > shutdownTimeout {
		t.Errorf("the server exited %s after SIGTERM, more than SHUTDOWN_TIMEOUT (%s)", took, shutdownTimeout)
	}

	var created, drained, cut, refused int
	var unanswered []outcome
	firstRefusal := time.Time{}
	for _, o := range outcomes {
		if o.refused() && (firstRefusal.IsZero() || o.start.Before(firstRefusal)) {
			firstRefusal = o.start
		}
	}
	for _, o := range outcomes {
		if o.err == nil && !firstRefusal.IsZero() && o.start.After(firstRefusal) {
			t.Errorf("%s was taken after a connection had been refused (at %s): %d %s", o.id, firstRefusal, o.status, o.body)
		}
		switch {
		case o.acknowledged():
			created++
			if o.start.Before(sent) && o.end.After(sent) {
				drained++
			}
		case o.cutShort():
			cut++
		case o.refused():
			refused++
		case o.err != nil && o.status == 0:
			unanswered = append(unanswered, o)
		default:
			t.Errorf("%s: an incomplete or failed answer: status %d, %v, %s", o.id, o.status, o.err, o.body)
		}
	}
	t.Logf("%d creates: %d created (%d of them sent before SIGTERM and answered after), %d cut short with 503, %d refused, "+
		"%d without an answer; %d of %d slow reads cut short with 503; exit %s after SIGTERM",
		len(outcomes), created, drained, cut, refused, len(unanswered), readsCut, len(slow.all), took.Round(time.Millisecond))
	if drained == 0 {
		t.Error("no request in flight at SIGTERM was answered after it")
	}
	if refused == 0 {
		t.Error("no request was refused after SIGTERM")
	}

	// A request without an answer must not have been served.
	p = startProcess(t, dataDir)
	for _, o := range unanswered {
		if status, _, body := p.do("GET", "/api/v1/interactions/"+o.id, key, ""); status != http.StatusNotFound {
			t.Errorf("%s got no answer (%v), but was served: %d %s", o.id, o.err, status, body)
		}
	}
	for _, o := range outcomes {
		if !o.acknowledged() {
			continue
		}
		if status, _, body := p.do("GET", "/api/v1/interactions/"+o.id, key, ""); status != http.StatusOK {
			t.Errorf("%s was created but reads %d %s", o.id, status, body)
		}
	}
}
