package app_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/models"
)

// TestUnauthenticated checks that every way of lacking a valid key gets the same 401,
// which does not say which way it was.
func TestUnauthenticated(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")
	revoked := e.keys[models.RoleViewer]
	e.as(models.RoleAdmin).mustDo(200, "DELETE", "/api/v1/keys/test-viewer", "")

	var first string
	for _, tc := range []struct {
		name   string
		header string
	}{
		{"missing", ""},
		{"not bearer", "Basic " + e.keys[models.RoleClinician]},
		{"bearer without key", "Bearer "},
		{"lower-case scheme", "bearer " + e.keys[models.RoleClinician]},
		{"unknown key", "Bearer ck_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
		{"truncated key", "Bearer " + e.keys[models.RoleClinician][:20]},
		{"key with junk", "Bearer " + e.keys[models.RoleClinician] + "x"},
		{"revoked key", "Bearer " + revoked},
		{"not ASCII", "Bearer ключ"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := e.withKey("").do("GET", "/api/v1/patients/A11", "", "Authorization", tc.header)
			assertError(t, res, 401, "unauthenticated")
			if !strings.Contains(string(res.body), "Bearer <key>") {
				t.Errorf("the message does not read as written: %s", res.body)
			}
			if got := res.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("WWW-Authenticate = %q", got)
			}
			if first == "" {
				first = string(res.body)
			} else if string(res.body) != first {
				t.Errorf("401 bodies differ:\n%s\n%s", res.body, first)
			}
		})
	}
	t.Run("writes are refused too, and change nothing", func(t *testing.T) {
		assertError(t, e.withKey(revoked).do("POST", "/api/v1/patients", `{"insurance_no":"B11"}`), 401, "unauthenticated")
		if n := e.count("patients"); n != 1 {
			t.Errorf("%d patients, want 1", n)
		}
	})
	t.Run("open routes stay open", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz", "/docs/doc.json"} {
			if res := e.withKey("").do("GET", path, ""); res.status != 200 {
				t.Errorf("%s without a key: %d", path, res.status)
			}
		}
	})
}

func TestKeyManagement(t *testing.T) {
	e := newEnv(t)
	admin := e.as(models.RoleAdmin)
	res := admin.do("POST", "/api/v1/keys", `{"name":"dr-house","role":"clinician"}`)
	if res.status != 201 || res.header.Get("Location") != "/api/v1/keys/dr-house" {
		t.Fatalf("create: %d, Location %q", res.status, res.header.Get("Location"))
	}
	created := res.json(t)
	key, _ := created["key"].(string)
	if !strings.HasPrefix(key, "ck_") || len(key) < 3+43 {
		t.Fatalf("key = %q: want ck_ and 256 bits", key)
	}
	if _, ok := created["hash"]; ok {
		t.Error("the hash is shown")
	}
	e.withKey(key).mustDo(201, "POST", "/api/v1/patients", `{"insurance_no":"A11"}`)

	res = admin.do("GET", "/api/v1/keys", "")
	if res.status != 200 || strings.Contains(string(res.body), key) {
		t.Fatalf("list: %d %s", res.status, res.body)
	}
	var page struct {
		Items      []map[string]any `json:"items"`
		NextCursor *string          `json:"next_cursor"`
	}
	if err := json.Unmarshal(res.body, &page); err != nil || page.NextCursor != nil {
		t.Fatalf("list: %s (%v)", res.body, err)
	}
	listed := page.Items
	found := false
	for _, k := range listed {
		if k["name"] == "dr-house" {
			found = true
			if k["role"] != "clinician" || k["created_at"] == nil || k["last_used_at"] == nil || k["revoked_at"] != nil {
				t.Errorf("listed key = %v", k)
			}
			for field := range k {
				if field == "key" || field == "hash" || field == "_id" {
					t.Errorf("listed key shows %s", field)
				}
			}
		}
	}
	if !found {
		t.Errorf("dr-house not listed: %s", res.body)
	}
	if one := admin.mustDo(200, "GET", "/api/v1/keys/dr-house", ""); one["name"] != "dr-house" || one["key"] != nil || one["hash"] != nil {
		t.Errorf("get = %v", one)
	}
	assertError(t, admin.do("GET", "/api/v1/keys/nobody", ""), 404, "not_found")

	for _, tc := range []struct{ body, field string }{
		{`{"name":"dr-house","role":"clinician"}`, ""},
		{`{"name":"x y","role":"clinician"}`, "name"},
		{`{"name":"x","role":"surgeon"}`, "role"},
		{`{"name":"x","role":"viewer","extra":1}`, "extra"},
		{`{"name":"x","role":1}`, "role"},
	} {
		res := admin.do("POST", "/api/v1/keys", tc.body)
		if tc.field == "" {
			assertError(t, res, 409, "conflict")
			continue
		}
		fields := assertError(t, res, 400, "validation_failed")
		if _, ok := fields[tc.field]; !ok {
			t.Errorf("%s: fields %v", tc.body, fields)
		}
	}

	revoked := admin.mustDo(200, "DELETE", "/api/v1/keys/dr-house", "")
	if revoked["revoked_at"] == nil {
		t.Errorf("revoked = %v", revoked)
	}
	assertError(t, e.withKey(key).do("GET", "/api/v1/patients/A11", ""), 401, "unauthenticated")
	again := admin.mustDo(200, "DELETE", "/api/v1/keys/dr-house", "")
	if again["revoked_at"] != revoked["revoked_at"] {
		t.Errorf("revoking twice moved revoked_at: %v → %v", revoked["revoked_at"], again["revoked_at"])
	}
	assertError(t, admin.do("DELETE", "/api/v1/keys/nobody", ""), 404, "not_found")
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t)
	server, err := app.NewServer(slog.New(slog.NewJSONHandler(io.Discard, nil)), e.repo,
		app.ServerConfig{RequestTimeout: 10 * time.Second, RateLimit: 3})
	if err != nil {
		t.Fatal(err)
	}
	limited := *e
	limited.app = server
	for i := 0; i < 3; i++ {
		assertError(t, limited.do("GET", "/api/v1/patients/A11", ""), 404, "not_found")
	}
	res := limited.do("GET", "/api/v1/patients/A11", "")
	assertError(t, res, 429, "rate_limited")
	if res.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// The limit is per key: another key still gets through.
	assertError(t, limited.as(models.RoleViewer).do("GET", "/api/v1/patients/A11", ""), 404, "not_found")
}

// TestClientRateLimit floods the API from one address without a key: past the
// address's limit requests are refused with 429 and Retry-After before a key is
// looked up, with a good key too, and the trail holds one event counting the
// refusals instead of one per request.
func TestClientRateLimit(t *testing.T) {
	e := newEnv(t)
	server, err := app.NewServer(slog.New(slog.NewJSONHandler(io.Discard, nil)), e.repo,
		app.ServerConfig{RequestTimeout: 10 * time.Second, ClientRateLimit: 3})
	if err != nil {
		t.Fatal(err)
	}
	limited := *e
	limited.app = server
	anonymous := limited.withKey("")
	for i := 0; i < 3; i++ {
		assertError(t, anonymous.do("GET", "/api/v1/patients/A11", ""), 401, "unauthenticated")
	}
	before := len(e.auditEvents())
	for i := 0; i < 5; i++ {
		res := anonymous.do("GET", "/api/v1/patients/A11", "")
		assertError(t, res, 429, "rate_limited")
		if res.header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	}
	assertError(t, limited.do("GET", "/api/v1/patients/A11", ""), 429, "rate_limited")
	if n := len(e.auditEvents()); n != before {
		t.Errorf("%d audit events written for refused requests before the tick, want none", n-before)
	}

	server.AuditTick(context.Background())
	var refused []models.AuditEvent
	for _, ev := range e.auditEvents() {
		if ev.Action == audit.RefusedAction {
			refused = append(refused, ev)
		}
	}
	if len(refused) != 1 || refused[0].Counts["refused"] != 6 || refused[0].Status != 429 || refused[0].ClientIP == "" {
		t.Errorf("refusal events = %+v, want one counting 6 requests of the client's address", refused)
	}
	if v := e.verify(); v["ok"] != true {
		t.Errorf("verify = %v", v)
	}
}

func TestSecurityHeadersAndCORS(t *testing.T) {
	e := newEnv(t)
	res := e.do("GET", "/api/v1/patients/A11", "")
	for header, want := range map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Cache-Control":           "no-store",
		"Referrer-Policy":         "no-referrer",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
	} {
		if got := res.header.Get(header); got != want {
			t.Errorf("%s = %q, want %q", header, got, want)
		}
	}
	preflight := func(e *env) response {
		return e.withKey("").do("OPTIONS", "/api/v1/patients/A11", "",
			"Origin", "https://clinic.example", "Access-Control-Request-Method", "GET")
	}
	if got := preflight(e).header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("CORS is on without configured origins: %q", got)
	}
	server, err := app.NewServer(slog.New(slog.NewJSONHandler(io.Discard, nil)), e.repo,
		app.ServerConfig{RequestTimeout: 10 * time.Second, CORSOrigins: []string{"https://clinic.example"}})
	if err != nil {
		t.Fatal(err)
	}
	withCORS := *e
	withCORS.app = server
	if got := preflight(&withCORS).header.Get("Access-Control-Allow-Origin"); got != "https://clinic.example" {
		t.Errorf("configured origin not allowed: %q", got)
	}
}
