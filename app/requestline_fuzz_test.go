package app_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/models"
)

// FuzzRequestLine sends raw requests, built from a fuzzed method, path, header lines
// and body, through the server's whole middleware stack and route table (on fakes
// of the stores, so that it runs thousands of times a second): parsed as the server
// parses them, nothing cleans them first. No answer is a 5xx, every 4xx has the
// error shape, and every audit event written is valid UTF-8 and within its bounds.
func FuzzRequestLine(f *testing.F) {
	auth := func(role string) string { return "Authorization: Bearer " + fakeKeyTokens[role] + "\r\n" }
	for _, seed := range []struct{ method, path, headers, body string }{
		{"GET", "/api/v1/patients/A11", auth("clinician"), ""},
		{"GET", "/api/v1/patients/\xff\xfe", "", ""},
		{"GET", "/api/v1/patients/%ff%fe", auth("viewer"), ""},
		{"GET", "/api/v1/interactions?q=%C3%28&label=a", auth("clinician"), ""},
		{"GET", "/api/v1/patients/A11/interactions?cursor=%00", auth("clinician"), ""},
		{"GET", "/api/v1/patients/%C3%A9t%C3%A9/summary", auth("clinician"), ""},
		{"GET", "/api/v1/patients/A11/report", auth("viewer"), ""},
		{"GET", "/api/v1/patients/A11/export?format=fhir", auth("clinician"), ""},
		{"GET", "/api/v1/patients/A11/similar?k=3", auth("clinician"), ""},
		{"GET", "/api/v1/interactions/1/suggested-questions", auth("clinician"), ""},
		{"POST", "/api/v1/interactions", auth("clinician") + "Content-Type: application/json\r\nIdempotency-Key: k1\r\n", `{"insurance_no":"A11"}`},
		{"PATCH", "/api/v1/interactions/1", auth("clinician") + "If-Match: \"1\"\r\nContent-Type: application/merge-patch+json\r\n", `{"remarks":null}`},
		{"DELETE", "/api/v1/interactions/1?reason=x", auth("clinician") + "If-Match: \"1\"\r\n", ""},
		{"GET", "/api/v1/audit?insurance_no=A11", auth("auditor"), ""},
		{"GET", "/api/v1/audit/verify", auth("auditor"), ""},
		{"DELETE", "/api/v1/keys/%ff", auth("admin"), ""},
		{"GET", "/api/v1/keys/x", auth("revoked"), ""},
		{"GET", "/api/v1/analytics/cohorts?k=2", auth("viewer") + "X-Request-Id: a\xffb\r\n", ""},
		{"FOO", "/api/v1/patients", auth("clinician"), ""},
		{"GET", "/healthz", "", ""},
		{"GET", "/docs/doc.json", "", ""},
		{"OPTIONS", "/api/v1/patients", "Origin: https://x\r\nAccess-Control-Request-Method: GET\r\n", ""},
	} {
		f.Add(seed.method, []byte(seed.path), []byte(seed.headers), []byte(seed.body))
	}
	now := tickingClock()
	parts, trail := fakeParts(now)
	server, err := app.NewServerOver(slog.New(slog.DiscardHandler), parts, app.ServerConfig{
		RequestTimeout: 10 * time.Second, AuthFailureLimit: 1_000_000, ClientRateLimit: 1_000_000,
		CORSOrigins: []string{"https://x"}, AuditKey: auditKey, Now: now,
	})
	if err != nil {
		f.Fatal(err)
	}
	handler := server.Handler()
	remote := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	served := 0
	f.Fuzz(func(t *testing.T, method string, path, headers, body []byte) {
		var raw bytes.Buffer
		raw.WriteString(method + " ")
		raw.Write(path)
		raw.WriteString(" HTTP/1.1\r\nHost: localhost\r\n")
		raw.Write(headers)
		raw.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
		raw.Write(body)
		sent := bytes.Clone(raw.Bytes())
		var req fasthttp.Request
		if err := req.Read(bufio.NewReader(&raw)); err != nil {
			return // the server answers what it cannot parse before the stack sees it
		}
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, remote, nil)
		handler(&ctx)
		status, answer := ctx.Response.StatusCode(), ctx.Response.Body()
		if status >= 500 {
			t.Fatalf("%q: %d %s", sent, status, answer)
		}
		if status >= 400 {
			var shape struct {
				Error *struct{ Code, Message string } `json:"error"`
			}
			if json.Unmarshal(answer, &shape) != nil || shape.Error == nil || shape.Error.Code == "" || shape.Error.Message == "" {
				t.Fatalf("%q: %d without the error shape: %q", sent, status, answer)
			}
		}
		if served++; served%256 == 0 {
			// The refusals counted are written once a minute: write them now.
			tick, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			server.AuditTick(tick)
			cancel()
		}
		for _, e := range trail.take() {
			checkEvent(t, e)
		}
	})
}

// checkEvent fails t unless every text of e is valid UTF-8 and at most
// audit.MaxText bytes, and its identifiers are identifiers.
func checkEvent(t *testing.T, e models.AuditEvent) {
	t.Helper()
	texts := []string{e.KeyName, string(e.Role), e.Action, e.Method, e.Route, e.ClientIP, e.RequestID, e.ClientRequestID}
	for k := range e.Counts {
		texts = append(texts, k)
	}
	for _, s := range texts {
		if !utf8.ValidString(s) || len(s) > audit.MaxText {
			t.Fatalf("event %s records %q (%d bytes)", e.ID, s, len(s))
		}
	}
	for _, id := range []string{e.InsuranceNo, e.InteractionID} {
		if id != "" && !models.ValidIdentifier(id) {
			t.Fatalf("event %s records the identifier %q", e.ID, id)
		}
	}
}
