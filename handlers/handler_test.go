package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/idempotency"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/records"
)

// The fakes below stand in for the service's parts; each records what it was asked.

type fakeStore struct{ Store }

func (fakeStore) Topology(context.Context) (models.Topology, error) {
	return models.Topology{Kind: "standalone"}, nil
}

type fakeKeys struct{}

func (fakeKeys) Issue(context.Context, models.NewKeyRequest) (models.IssuedKey, error) {
	return models.IssuedKey{}, errors.New("not used")
}

func (fakeKeys) Revoke(context.Context, string) (models.APIKey, error) {
	return models.APIKey{}, errors.New("not used")
}

func (fakeKeys) Authenticate(_ context.Context, token string) (models.Principal, error) {
	if token != "good" {
		return models.Principal{}, models.ErrUnauthenticated
	}
	return models.Principal{Name: "dr-fake", Role: models.RoleClinician}, nil
}

// fakeInteractions answers with result and err, and notes the subject as the
// repository does.
type fakeInteractions struct {
	Interactions
	result models.Interaction
	err    error
	// panics, when set, is what Get panics with.
	panics any

	created  []models.Interaction
	reserved []string
	match    records.Match
	patch    models.Document
	reason   string
}

func (f *fakeInteractions) Create(ctx context.Context, in models.Interaction, reservedID string) (models.Interaction, error) {
	audit.Touch(ctx, in.InsuranceNo, in.ID)
	f.created, f.reserved = append(f.created, in), append(f.reserved, reservedID)
	if f.err != nil {
		return models.Interaction{}, f.err
	}
	if in.ID == "" {
		in.ID = reservedID
	}
	return in, nil
}

func (f *fakeInteractions) Get(ctx context.Context, id string) (models.Interaction, error) {
	audit.Touch(ctx, f.result.InsuranceNo, id)
	if f.panics != nil {
		panic(f.panics)
	}
	return f.result, f.err
}

func (f *fakeInteractions) Amend(ctx context.Context, id string, match records.Match, patch models.Document, reason string) (models.Interaction, error) {
	audit.Touch(ctx, f.result.InsuranceNo, id)
	f.match, f.patch, f.reason = match, patch, reason
	return f.result, f.err
}

func (f *fakeInteractions) MarkEnteredInError(ctx context.Context, id string, match records.Match, reason string) (models.Interaction, error) {
	audit.Touch(ctx, f.result.InsuranceNo, id)
	f.match, f.reason = match, reason
	return f.result, f.err
}

// fakeIdempotency replays kept when it is set; otherwise it runs the request with
// reservedID and keeps its answer.
type fakeIdempotency struct {
	kept       *models.IdempotentAnswer
	reservedID string
	req        idempotency.Request
}

func (f *fakeIdempotency) Do(ctx context.Context, req idempotency.Request,
	run func(context.Context, string) models.IdempotentAnswer) (models.IdempotentAnswer, bool, error) {
	f.req = req
	if f.kept != nil {
		return *f.kept, true, nil
	}
	answer := run(ctx, f.reservedID)
	f.kept = &answer
	return answer, false, nil
}

// fakeAuditLog keeps the events, or fails with err.
type fakeAuditLog struct {
	mu     sync.Mutex
	events []models.AuditEvent
	err    error
}

func (f *fakeAuditLog) Append(ctx context.Context, e models.AuditEvent) (models.AuditEvent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return models.AuditEvent{}, f.err
	}
	if err := ctx.Err(); err != nil {
		return models.AuditEvent{}, err
	}
	f.events = append(f.events, e)
	return e, nil
}

var testNow = time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)

// newTestApp serves the interaction routes of h as the server does: authenticated,
// audited, errors rendered by ErrorHandler.
func newTestApp(h *Handler, log AuditLog) *fiber.App {
	app := fiber.New(fiber.Config{ErrorHandler: ErrorHandler(slog.New(slog.NewJSONHandler(io.Discard, nil)))})
	route := func(method, path string, handler fiber.Handler) {
		app.Add(method, path, h.Authenticate, Audit(log, func() time.Time { return testNow }), handler)
	}
	route(fiber.MethodPost, "/api/v1/interactions", h.CreateInteraction)
	route(fiber.MethodGet, "/api/v1/interactions/:id", h.GetInteraction)
	route(fiber.MethodPatch, "/api/v1/interactions/:id", h.PatchInteraction)
	route(fiber.MethodDelete, "/api/v1/interactions/:id", h.DeleteInteraction)
	return app
}

type answer struct {
	status int
	header map[string]string
	body   string
}

func send(t *testing.T, app *fiber.App, method, path, body string, headers ...string) answer {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer good")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := app.Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	h := map[string]string{}
	for name := range res.Header {
		h[name] = res.Header.Get(name)
	}
	return answer{status: res.StatusCode, header: h, body: string(data)}
}

func errorCode(t *testing.T, a answer) string {
	t.Helper()
	var e ErrorResponse
	if err := json.Unmarshal([]byte(a.body), &e); err != nil {
		t.Fatalf("not the error shape: %s", a.body)
	}
	return e.Error.Code
}

func TestCreateInteraction(t *testing.T) {
	interactions := &fakeInteractions{}
	h := New(Services{Store: fakeStore{}, Interactions: interactions, Keys: fakeKeys{}, Now: func() time.Time { return testNow }})
	app := newTestApp(h, &fakeAuditLog{})

	res := send(t, app, "POST", "/api/v1/interactions", `{"insurance_no":"A11","ailment":"Flu"}`)
	if res.status != 201 || res.header["Etag"] != `"1"` || !strings.HasPrefix(res.header["Location"], "/api/v1/interactions/") {
		t.Fatalf("create: %+v", res)
	}
	if len(interactions.created) != 1 || interactions.created[0].ID != "" || !interactions.created[0].CreatedAt.Equal(testNow) {
		t.Fatalf("Create got %+v", interactions.created)
	}
	if id := interactions.reserved[0]; len(id) != 36 || res.header["Location"] != "/api/v1/interactions/"+id {
		t.Errorf("reserved id %q, Location %q: without Idempotency-Key, a new id for each create", id, res.header["Location"])
	}

	for _, tc := range []struct{ name, body, code string }{
		{"invalid", `{"insurance_no":"A11","health_status":11}`, "validation_failed"},
		{"malformed", `{"insurance_no":`, "malformed_body"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := send(t, app, "POST", "/api/v1/interactions", tc.body)
			if res.status != 400 || errorCode(t, res) != tc.code {
				t.Errorf("%+v", res)
			}
			if len(interactions.created) != 1 {
				t.Errorf("Create was called for a bad request")
			}
		})
	}
	interactions.err = models.ErrPatientNotFound
	if res := send(t, app, "POST", "/api/v1/interactions", `{"insurance_no":"Z9"}`); res.status != 404 || errorCode(t, res) != "patient_not_found" {
		t.Errorf("unknown patient: %+v", res)
	}
}

// TestIdempotentCreate checks the HTTP side of Idempotency-Key: the key and request
// reach the protocol, the create runs with the reserved id, an error answer is kept
// exactly as it is sent, and a replay sends the kept answer back.
func TestIdempotentCreate(t *testing.T) {
	interactions := &fakeInteractions{err: models.ErrPatientNotFound}
	keeper := &fakeIdempotency{reservedID: "reserved-9"}
	h := New(Services{Store: fakeStore{}, Interactions: interactions, Keys: fakeKeys{}, Idempotency: keeper})
	app := newTestApp(h, &fakeAuditLog{})

	const body = `{"insurance_no":"Z9"}`
	first := send(t, app, "POST", "/api/v1/interactions", body, "Idempotency-Key", "k-1")
	if first.status != 404 || keeper.kept == nil || keeper.kept.Status != 404 || keeper.kept.Body != first.body {
		t.Fatalf("first answer %+v, kept %+v", first, keeper.kept)
	}
	if keeper.req.ID != "/api/v1/interactions dr-fake k-1" || keeper.req.Fingerprint == "" {
		t.Errorf("request = %+v", keeper.req)
	}
	if interactions.reserved[0] != "reserved-9" {
		t.Errorf("create ran with %q, want the reserved id", interactions.reserved[0])
	}

	keeper.kept = &models.IdempotentAnswer{Status: 201, Body: `{"id":"x"}`,
		Headers: map[string]string{"Location": "/api/v1/interactions/x", "Content-Type": "application/json", "ETag": `"1"`}}
	again := send(t, app, "POST", "/api/v1/interactions", body, "Idempotency-Key", "k-1")
	if again.status != 201 || again.body != `{"id":"x"}` || again.header["Idempotent-Replayed"] != "true" ||
		again.header["Location"] != "/api/v1/interactions/x" || again.header["Etag"] != `"1"` {
		t.Errorf("replay = %+v", again)
	}
	if len(interactions.created) != 1 {
		t.Errorf("a replay ran the create")
	}
	if res := send(t, app, "POST", "/api/v1/interactions", body, "Idempotency-Key", "k 1"); res.status != 400 {
		t.Errorf("an invalid key: %+v", res)
	}
}

func TestAmendInteraction(t *testing.T) {
	interactions := &fakeInteractions{result: models.Interaction{ID: "1", InsuranceNo: "A11", Version: 4}}
	h := New(Services{Store: fakeStore{}, Interactions: interactions, Keys: fakeKeys{}})
	app := newTestApp(h, &fakeAuditLog{})

	if res := send(t, app, "PATCH", "/api/v1/interactions/1", `{"remarks":"x"}`); res.status != 428 || interactions.patch != nil {
		t.Fatalf("without If-Match: %+v", res)
	}
	res := send(t, app, "PATCH", "/api/v1/interactions/1?reason=typo", `{"remarks":null}`, "If-Match", `"3"`)
	if res.status != 200 || res.header["Etag"] != `"4"` {
		t.Fatalf("amend: %+v", res)
	}
	if !interactions.match(3) || interactions.match(2) || interactions.reason != "typo" ||
		len(interactions.patch) != 1 || interactions.patch[0].Key != "remarks" || interactions.patch[0].Value != nil {
		t.Errorf("Amend got match(3)=%v match(2)=%v reason %q patch %v", interactions.match(3), interactions.match(2), interactions.reason, interactions.patch)
	}
	if res := send(t, app, "PATCH", "/api/v1/interactions/1?who=me", `{}`, "If-Match", `"3"`); res.status != 400 {
		t.Errorf("an unknown parameter: %+v", res)
	}
	interactions.err = models.ErrPreconditionFailed
	if res := send(t, app, "PATCH", "/api/v1/interactions/1", `{}`, "If-Match", `"3"`); res.status != 412 || errorCode(t, res) != "precondition_failed" {
		t.Errorf("a stale version: %+v", res)
	}
}

func TestMarkEnteredInError(t *testing.T) {
	interactions := &fakeInteractions{result: models.Interaction{ID: "1", InsuranceNo: "A11", Version: 2}}
	h := New(Services{Store: fakeStore{}, Interactions: interactions, Keys: fakeKeys{}})
	app := newTestApp(h, &fakeAuditLog{})

	res := send(t, app, "DELETE", "/api/v1/interactions/1", `{"reason":"wrong patient"}`, "If-Match", `"1"`)
	if res.status != 200 || res.header["Etag"] != `"2"` || interactions.reason != "wrong patient" || !interactions.match(1) {
		t.Fatalf("mark: %+v, reason %q", res, interactions.reason)
	}
	interactions.reason = ""
	if res := send(t, app, "DELETE", "/api/v1/interactions/1?reason=a", `{"reason":"b"}`, "If-Match", `"1"`); res.status != 400 || interactions.reason != "" {
		t.Errorf("a reason twice: %+v", res)
	}
	interactions.err = &models.GoneError{Status: models.StatusEnteredInError, Reason: "wrong patient"}
	res = send(t, app, "DELETE", "/api/v1/interactions/1?reason=again", "", "If-Match", `"2"`)
	var e ErrorResponse
	if res.status != 410 || json.Unmarshal([]byte(res.body), &e) != nil || e.Error.Fields["reason"] != "wrong patient" {
		t.Errorf("already marked: %+v", res)
	}
}

// TestAuditMiddleware checks that every request is recorded with the subject the
// parts it called noted, and that a request whose event cannot be stored fails
// with 503 and returns nothing it produced.
func TestAuditMiddleware(t *testing.T) {
	interactions := &fakeInteractions{result: models.Interaction{ID: "7", InsuranceNo: "A11", Version: 1, Remarks: "secret"}}
	h := New(Services{Store: fakeStore{}, Interactions: interactions, Keys: fakeKeys{}})
	log := &fakeAuditLog{}
	app := newTestApp(h, log)

	send(t, app, "GET", "/api/v1/interactions/7", "")
	interactions.err = models.ErrNotFound
	interactions.result = models.Interaction{}
	send(t, app, "GET", "/api/v1/interactions/8", "")
	req := httptest.NewRequest("GET", "/api/v1/interactions/9", nil)
	if res, err := app.Test(req, -1); err != nil || res.StatusCode != 401 {
		t.Fatalf("without a key: %v %v", res, err)
	}
	type row struct {
		action, insuranceNo, interactionID, key string
		status                                  int
	}
	var got []row
	for _, e := range log.events {
		got = append(got, row{e.Action, e.InsuranceNo, e.InteractionID, e.KeyName, e.Status})
		if !e.Time.Equal(testNow) || e.Route != "/api/v1/interactions/:id" {
			t.Errorf("event %+v", e)
		}
	}
	want := []row{
		{"interactions.read", "A11", "7", "dr-fake", 200},
		{"interactions.read", "", "8", "dr-fake", 404},
		// The request without a key is counted with the other failed authentications
		// of its address (see AuthFailures), not recorded on its own.
	}
	if len(got) != len(want) {
		t.Fatalf("events %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d = %+v, want %+v", i, got[i], want[i])
		}
	}

	log.err = errors.New("audit store down")
	interactions.err = nil
	interactions.result = models.Interaction{ID: "7", InsuranceNo: "A11", Version: 1, Remarks: "secret"}
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/api/v1/interactions/7", ""},
		{"POST", "/api/v1/interactions", `{"id":"7","insurance_no":"A11","remarks":"secret"}`},
	} {
		res := send(t, app, r.method, r.path, r.body)
		if res.status != 503 || errorCode(t, res) != "unavailable" || strings.Contains(res.body, "secret") ||
			res.header["Location"] != "" || res.header["Etag"] != "" {
			t.Errorf("%s %s with the audit store down: %+v", r.method, r.path, res)
		}
	}
}

// TestPanicIsAudited has a handler panic with patient data: the request is answered
// 500 in the error shape, without the panic's value, and audited as a 500 naming
// the record it touched.
func TestPanicIsAudited(t *testing.T) {
	interactions := &fakeInteractions{result: models.Interaction{ID: "7", InsuranceNo: "A11"},
		panics: errors.New("remarks: Vernon has a rash")}
	log := &fakeAuditLog{}
	app := newTestApp(New(Services{Store: fakeStore{}, Interactions: interactions, Keys: fakeKeys{}}), log)
	res := send(t, app, "GET", "/api/v1/interactions/7", "")
	if res.status != 500 || errorCode(t, res) != "internal" || strings.Contains(res.body, "Vernon") {
		t.Errorf("a panicking handler answered %+v", res)
	}
	if len(log.events) != 1 {
		t.Fatalf("%d events, want 1", len(log.events))
	}
	if e := log.events[0]; e.Status != 500 || e.Action != "interactions.read" || e.InsuranceNo != "A11" || e.InteractionID != "7" {
		t.Errorf("event = %+v, want a 500 on A11's interaction 7", e)
	}
}

// cuttingInteractions cuts every request short, as the server does at shutdown, while
// it reads: the read fails as the store does then.
type cuttingInteractions struct {
	fakeInteractions
	cut context.CancelFunc
}

func (f *cuttingInteractions) Get(ctx context.Context, id string) (models.Interaction, error) {
	audit.Touch(ctx, "A11", id)
	f.cut()
	<-ctx.Done()
	return models.Interaction{}, fmt.Errorf("find interaction: %w: %w", models.ErrUnavailable, ctx.Err())
}

// TestCutRequestIsAudited cuts a request short during its work: it answers 503 and
// is audited all the same.
func TestCutRequestIsAudited(t *testing.T) {
	base, cut := context.WithCancel(context.Background())
	defer cut()
	log := &fakeAuditLog{}
	h := New(Services{Store: fakeStore{}, Interactions: &cuttingInteractions{cut: cut}, Keys: fakeKeys{}})
	app := fiber.New(fiber.Config{ErrorHandler: ErrorHandler(slog.New(slog.NewJSONHandler(io.Discard, nil)))})
	app.Get("/api/v1/interactions/:id", Deadline(base, 10*time.Second), h.Authenticate,
		Audit(log, func() time.Time { return testNow }), h.GetInteraction)
	res := send(t, app, "GET", "/api/v1/interactions/7", "")
	if res.status != 503 || errorCode(t, res) != "unavailable" {
		t.Errorf("a request cut short answered %+v", res)
	}
	if len(log.events) != 1 || log.events[0].Status != 503 || log.events[0].InteractionID != "7" {
		t.Errorf("events = %+v, want one 503 on interaction 7", log.events)
	}
}

// blockingAuditLog waits for the end of the context of each Append, and keeps why it
// ended.
type blockingAuditLog struct{ ended chan error }

func (b *blockingAuditLog) Append(ctx context.Context, _ models.AuditEvent) (models.AuditEvent, error) {
	<-ctx.Done()
	b.ended <- context.Cause(ctx)
	return models.AuditEvent{}, ctx.Err()
}

// TestCutRequestWaitsLittleForItsEvent cuts a request short while the store cannot
// take its audit event: the wait for it ends soon after the cut, not at the
// request's deadline, and the request answers 503.
func TestCutRequestWaitsLittleForItsEvent(t *testing.T) {
	base, cut := context.WithCancel(context.Background())
	defer cut()
	log := &blockingAuditLog{ended: make(chan error, 1)}
	h := New(Services{Store: fakeStore{}, Interactions: &cuttingInteractions{cut: cut}, Keys: fakeKeys{}})
	app := fiber.New(fiber.Config{ErrorHandler: ErrorHandler(slog.New(slog.NewJSONHandler(io.Discard, nil)))})
	app.Get("/api/v1/interactions/:id", Deadline(base, time.Hour), Audit(log, func() time.Time { return testNow }),
		h.Authenticate, h.GetInteraction)
	res := send(t, app, "GET", "/api/v1/interactions/7", "")
	if res.status != 503 || errorCode(t, res) != "unavailable" {
		t.Errorf("a request cut short answered %+v", res)
	}
	if err := <-log.ended; !errors.Is(err, context.Canceled) {
		t.Errorf("the wait for the audit event ended with %v, want the grace after the cut", err)
	}
}
