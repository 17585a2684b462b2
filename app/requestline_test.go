package app_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/models"
)

// rawRequest sends head (a request line and headers, without the blank line that
// ends them) as it is over a new TCP connection to base, and returns the answer.
func rawRequest(t *testing.T, base, head string) response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, head+"\r\nHost: localhost\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%q: %v", head, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: body}
}

// malformedLines are request lines whose path or query, as sent or percent-decoded,
// is not UTF-8.
var malformedLines = []string{
	"GET /api/v1/patients/\xff\xfe HTTP/1.1",
	"GET /api/v1/patients/%ff%fe HTTP/1.1",
	"GET /api/v1/patients/A11/interactions?label=\xc3 HTTP/1.1",
	"GET /api/v1/interactions?q=%ff%fe HTTP/1.1",
	"GET /api/v1/interactions?%c3=1 HTTP/1.1",
	"POST /api/v1/patients/\xed\xa0\x80 HTTP/1.1",
	"GET /docs/\xff HTTP/1.1",
}

// TestMalformedRequestLine sends request lines that are not UTF-8, raw over a
// socket so that no client cleans them first, with a key and without: each is
// answered 400 malformed_request in the error shape before the key is looked up;
// none writes an event of its own (each minute, one event per address counts
// them), and the trail verifies.
func TestMalformedRequestLine(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")
	base := e.listen()
	before := len(e.auditEvents())
	for _, line := range malformedLines {
		for _, auth := range []string{"", "\r\nAuthorization: Bearer " + e.key} {
			res := rawRequest(t, base, line+auth)
			assertError(t, res, 400, "malformed_request")
			if res.header.Get("X-Request-Id") == "" {
				t.Errorf("%q: no X-Request-Id", line)
			}
		}
	}
	if n := len(e.auditEvents()) - before; n != 0 {
		t.Errorf("%d events written for malformed request lines, want none before the tick", n)
	}
	e.app.AuditTick(context.Background())
	var counted []models.AuditEvent
	for _, ev := range e.auditEvents() {
		if ev.Action == audit.MalformedAction {
			counted = append(counted, ev)
		}
	}
	if len(counted) != 1 || counted[0].Counts["malformed_request"] != 2*len(malformedLines) || counted[0].Status != 400 {
		t.Errorf("events counting malformed requests = %+v, want one counting %d", counted, 2*len(malformedLines))
	}
	if v := e.verify(); v["ok"] != true {
		t.Errorf("verify = %v", v)
	}
}

// TestAuditEventsAreBounded sends, raw, request lines that are valid UTF-8 but
// carry what no identifier holds, with a key: the events record a marker and a
// digest of the path's segment as sent for the patient and the interaction, never
// the segment's text, and the trail verifies.
func TestAuditEventsAreBounded(t *testing.T) {
	e := newEnv(t)
	base := e.listen()
	long := strings.Repeat("x", 3000)
	for _, tc := range []struct{ path, field, raw string }{
		{"/api/v1/patients/%C3%A9t%C3%A9", "insurance_no", "%C3%A9t%C3%A9"},
		{"/api/v1/patients/" + long, "insurance_no", long},
		{"/api/v1/interactions/a%00b", "interaction_id", "a%00b"},
		{"/api/v1/interactions/%F0%9F%98%80/history", "interaction_id", "%F0%9F%98%80"},
	} {
		res := rawRequest(t, base, "GET "+tc.path+" HTTP/1.1\r\nAuthorization: Bearer "+e.key)
		if res.status >= 500 || res.status < 400 {
			t.Errorf("%s: %d", tc.path, res.status)
		}
		events := e.auditEvents()
		last := events[len(events)-1]
		sum := sha256.Sum256([]byte(tc.raw))
		want := "invalid:" + hex.EncodeToString(sum[:])[:16]
		got := map[string]string{"insurance_no": last.InsuranceNo, "interaction_id": last.InteractionID}[tc.field]
		if got != want {
			t.Errorf("%s: %s recorded as %q, want %q", tc.path, tc.field, got, want)
		}
		data, err := json.Marshal(last)
		if err != nil {
			t.Fatal(err)
		}
		if !utf8.Valid(data) || len(data) > 4096 {
			t.Errorf("%s: the event is %d bytes: %.300s", tc.path, len(data), data)
		}
	}
	if v := e.verify(); v["ok"] != true {
		t.Errorf("verify = %v", v)
	}
}

// TestRawRequestLineOnARealServer is the attack as it was found: a request line that
// is not UTF-8, raw over a socket to a server started as `go run .` starts it, with
// no key. It is refused, and the trail verifies, before and after a restart.
func TestRawRequestLineOnARealServer(t *testing.T) {
	freshRunEnv(t)
	srv := startRun(t)
	status, body := request(t, "POST", srv.base+"/api/v1/keys", adminKeyOf(t, srv), `{"name":"audrey","role":"auditor"}`)
	var issued struct{ Key string }
	if status != 201 || json.Unmarshal(body, &issued) != nil {
		srv.stop()
		t.Fatalf("create the auditor's key: %d %s", status, body)
	}
	for _, line := range malformedLines {
		assertError(t, rawRequest(t, srv.base, line), 400, "malformed_request")
	}
	assertError(t, rawRequest(t, srv.base, "GET /api/v1/patients/"+strings.Repeat("%C3%A9", 500)+" HTTP/1.1"), 401, "unauthenticated")
	verified := func(when string) {
		t.Helper()
		status, body := request(t, "GET", srv.base+"/api/v1/audit/verify", issued.Key, "")
		if status != 200 || !strings.Contains(string(body), `"ok":true`) {
			t.Errorf("verify %s: %d %s", when, status, body)
		}
	}
	verified("at once")
	srv.stop()
	srv = startRun(t)
	defer srv.stop()
	verified("after a restart")
}
