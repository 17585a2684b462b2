package main

import (
	"net/http"
	"testing"
	"time"
)

// TestLoadShedding sends more reads of a long version history at once than the store
// is allowed to run (SCAN_LIMIT=1): each is answered in its time, with a page or with a
// 503 unavailable and Retry-After, some of each; and meanwhile /healthz and a lookup
// of a patient by insurance number, which wait for no slot, are answered.
func TestLoadShedding(t *testing.T) {
	const timeout = 3 * time.Second
	dataDir := t.TempDir()
	fillVersions(t, dataDir, "SLOW-1", "slow-1", 6000)
	p := startProcess(t, dataDir, "SCAN_LIMIT=1", "REQUEST_TIMEOUT="+timeout.String())
	key := p.createKey("load", "clinician")
	if status, _, body := p.do("POST", "/api/v1/patients", key, `{"insurance_no":"POINT-1"}`); status != http.StatusCreated {
		t.Fatalf("create the patient: %d %s", status, body)
	}

	slow := startReads(p.base, key, "/api/v1/interactions/slow-1/history?limit=20", 16)
	waitFor(t, "the reads to connect", func() bool { connected, _ := slow.state(); return !connected.IsZero() })
	for range 5 {
		if status, _, body := p.do("GET", "/healthz", "", ""); status != http.StatusOK {
			t.Errorf("/healthz during the reads: %d %s", status, body)
		}
		if status, _, body := p.do("GET", "/api/v1/patients/POINT-1", key, ""); status != http.StatusOK {
			t.Errorf("a lookup by _id during the reads: %d %s", status, body)
		}
	}
	if _, pending := slow.state(); pending == 0 {
		t.Log("every read was answered before the lookups ended: they did not overlap")
	}

	var served, shed int
	for i, r := range slow.wait() {
		switch {
		case !r.complete():
			t.Errorf("read %d: an incomplete answer: %d %v %s", i, r.status, r.err, r.body)
		case r.answered.Sub(r.connected) > timeout+time.Second:
			t.Errorf("read %d answered %s after it connected, past REQUEST_TIMEOUT (%s) and a second",
				i, r.answered.Sub(r.connected).Round(time.Millisecond), timeout)
		case r.status == http.StatusOK:
			served++
		default:
			shed++
		}
	}
	t.Logf("%d reads served, %d turned away", served, shed)
	if served == 0 || shed == 0 {
		t.Errorf("%d reads served and %d turned away; want some of each", served, shed)
	}
}
