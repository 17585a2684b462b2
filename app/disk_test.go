package app_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/diskspace"
)

// TestReadyzReportsLowDiskSpace checks /readyz against the free space a test sets:
// 200 saying how much is free while it is MIN_FREE_DISK or more; 503 unavailable,
// with Retry-After and the free space and its minimum, once it is less, while the
// API goes on serving; 503 when it cannot be read; and 200 again once it is enough.
func TestReadyzReportsLowDiskSpace(t *testing.T) {
	const gib = 1 << 30
	var free atomic.Uint64
	free.Store(5 * gib)
	watch := diskspace.Watch{Dir: t.TempDir(), Min: gib, Free: func(string) (uint64, error) { return free.Load(), nil }}
	e := newEnvWithConfig(t, app.ServerConfig{RequestTimeout: 10 * time.Second, Disk: watch})

	ready := e.withKey("").do("GET", "/readyz", "")
	if ready.status != 200 {
		t.Fatalf("readyz with room: %d %s", ready.status, ready.body)
	}
	disk, _ := ready.json(t)["disk"].(map[string]any)
	if disk["free_bytes"] != float64(5*gib) || disk["min_free_bytes"] != float64(gib) {
		t.Errorf("readyz with room says %s", ready.body)
	}

	free.Store(gib - 1)
	low := e.withKey("").do("GET", "/readyz", "")
	fields := assertError(t, low, 503, "unavailable")
	if fields["free_bytes"] != "1073741823" || fields["min_free_bytes"] != "1073741824" || low.header.Get("Retry-After") == "" {
		t.Errorf("readyz with little room: %s (Retry-After %q)", low.body, low.header.Get("Retry-After"))
	}
	e.createPatient("D1")
	if res := e.do("GET", "/api/v1/patients/D1", ""); res.status != 200 {
		t.Errorf("the API with little room: %d %s", res.status, res.body)
	}
	if res := e.withKey("").do("GET", "/healthz", ""); res.status != 200 {
		t.Errorf("healthz with little room: %d %s", res.status, res.body)
	}

	unreadable := newEnvWithConfig(t, app.ServerConfig{RequestTimeout: 10 * time.Second,
		Disk: diskspace.Watch{Dir: t.TempDir() + "/gone", Min: gib, Free: diskspace.Free}})
	assertError(t, unreadable.withKey("").do("GET", "/readyz", ""), 503, "unavailable")

	free.Store(gib)
	if res := e.withKey("").do("GET", "/readyz", ""); res.status != 200 {
		t.Errorf("readyz with room again: %d %s", res.status, res.body)
	}
}
