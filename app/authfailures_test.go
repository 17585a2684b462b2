package app_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/models"
)

// eventsOf returns the stored events of action.
func (e *env) eventsOf(action string) []models.AuditEvent {
	e.t.Helper()
	var found []models.AuditEvent
	for _, ev := range e.auditEvents() {
		if ev.Action == action {
			found = append(found, ev)
		}
	}
	return found
}

// TestFailedAuthenticationsAreCounted sends requests without a valid key, one with
// kilobytes of path: none writes an event of its own; each minute, one event per
// client address counts them by reason, with the route template, never the path,
// and attempts with a revoked key are counted in an event that names the key.
func TestFailedAuthenticationsAreCounted(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")
	revoked := e.keys[models.RoleViewer]
	e.as(models.RoleAdmin).mustDo(200, "DELETE", "/api/v1/keys/test-viewer", "")
	before := len(e.auditEvents())
	long := "/api/v1/patients/" + strings.Repeat("x", 3000)
	for _, tc := range []struct{ key, path string }{
		{"", "/api/v1/patients/A11"},
		{"ck_unknown", "/api/v1/patients/A11"},
		{"", long},
		{revoked, "/api/v1/patients/A11"},
		{revoked, "/api/v1/interactions"},
	} {
		assertError(t, e.withKey(tc.key).do("GET", tc.path, ""), 401, "unauthenticated")
	}
	if n := len(e.auditEvents()) - before; n != 0 {
		t.Errorf("%d events written for failed authentications, want none before the tick", n)
	}
	e.app.AuditTick(context.Background())
	events := e.eventsOf("requests.unauthenticated")
	byKey := map[string]models.AuditEvent{}
	for _, ev := range events {
		byKey[ev.KeyName] = ev
		if ev.Status != 401 || ev.Route != "/api/v1" || ev.ClientIP == "" || ev.InsuranceNo != "" {
			t.Errorf("event = %+v, want a 401 of the API's route, with the address and no patient", ev)
		}
	}
	if len(events) != 2 || byKey[""].Counts["unauthenticated"] != 3 || byKey["test-viewer"].Counts["revoked_key"] != 2 {
		t.Errorf("events counting failed authentications = %+v, want 3 without a valid key and 2 with test-viewer's revoked key", events)
	}
	if v := e.verify(); v["ok"] != true {
		t.Errorf("verify = %v", v)
	}
}

// TestAuthFailureLimit fails authentication from one address past its own limit:
// past it, every request from the address is refused with 429 and Retry-After before
// its key is looked up, a good key's too, until the minute ends; the refusals are
// counted like the others.
func TestAuthFailureLimit(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")
	var later atomic.Int64
	tick := tickingClock()
	now := func() time.Time { return tick().Add(time.Duration(later.Load())) }
	server, err := app.NewServer(slog.New(slog.NewJSONHandler(io.Discard, nil)), e.repo, app.ServerConfig{RequestTimeout: 10 * time.Second, AuthFailureLimit: 3, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	limited := *e
	limited.app = server
	for range 3 {
		assertError(t, limited.withKey("ck_wrong").do("GET", "/api/v1/patients/A11", ""), 401, "unauthenticated")
	}
	for _, key := range []string{"ck_wrong", "", e.key} {
		res := limited.withKey(key).do("GET", "/api/v1/patients/A11", "")
		assertError(t, res, 429, "rate_limited")
		if s, err := strconv.Atoi(res.header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
			t.Errorf("Retry-After = %q, want the seconds left of the minute", res.header.Get("Retry-After"))
		}
	}
	later.Store(int64(time.Minute))
	limited.mustDo(200, "GET", "/api/v1/patients/A11", "")

	server.AuditTick(context.Background())
	refused := e.eventsOf("requests.refused")
	if len(refused) != 1 || refused[0].Counts["auth_failure_limit"] != 3 || refused[0].Status != 429 {
		t.Errorf("refusal events = %+v, want one counting 3 requests past the failure limit", refused)
	}
	if failed := e.eventsOf("requests.unauthenticated"); len(failed) != 1 || failed[0].Counts["unauthenticated"] != 3 {
		t.Errorf("failure events = %+v, want one counting 3", failed)
	}
	if v := e.verify(); v["ok"] != true {
		t.Errorf("verify = %v", v)
	}
}
