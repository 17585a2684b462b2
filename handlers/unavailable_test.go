package handlers

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/clinic/interactions/models"
)

// assertUnavailable fails t unless a is a 503 unavailable with a Retry-After.
func assertUnavailable(t *testing.T, what string, a answer) {
	t.Helper()
	if a.status != fiber.StatusServiceUnavailable || errorCode(t, a) != "unavailable" {
		t.Errorf("%s: %d %s, want 503 unavailable", what, a.status, a.body)
	}
	if a.header["Retry-After"] != strconv.Itoa(RetryAfterUnavailable) {
		t.Errorf("%s: Retry-After = %q, want %d", what, a.header["Retry-After"], RetryAfterUnavailable)
	}
}

// TestUnavailableAnswers checks that whatever fails for want of the store answers
// 503 with a Retry-After: the store's own error, a request that ran out of time or
// was cut short, and an audit event that could not be written, whatever its cause.
func TestUnavailableAnswers(t *testing.T) {
	interactions := &fakeInteractions{}
	h := New(Services{Store: fakeStore{}, Interactions: interactions, Keys: fakeKeys{}})
	log := &fakeAuditLog{}
	app := newTestApp(h, log)

	interactions.err = fmt.Errorf("find interaction: %w: server selection error", models.ErrUnavailable)
	assertUnavailable(t, "the store does not answer", send(t, app, "GET", "/api/v1/interactions/7", ""))

	interactions.err = fmt.Errorf("wait for the store: %w", context.DeadlineExceeded)
	assertUnavailable(t, "the request ran out of time", send(t, app, "GET", "/api/v1/interactions/7", ""))

	interactions.err = fmt.Errorf("wait for the store: %w", context.Canceled)
	assertUnavailable(t, "the request was cut short by the shutdown", send(t, app, "GET", "/api/v1/interactions/7", ""))

	// An event the store holds already (written, but its answer lost) is a conflict
	// to the store; to the client the request failed for want of its audit event,
	// not because the record exists.
	interactions.err = nil
	interactions.result = models.Interaction{ID: "7", InsuranceNo: "A11", Version: 1}
	log.err = fmt.Errorf("start audit chain: insert: %w", models.ErrConflict)
	assertUnavailable(t, "the audit event cannot be written", send(t, app, "GET", "/api/v1/interactions/7", ""))
}

// TestWhenPrepared checks that until the store is prepared the API answers 503
// without reaching the handler or the audit trail, and /readyz answers 503 too.
func TestWhenPrepared(t *testing.T) {
	var prepared atomic.Bool
	interactions := &fakeInteractions{result: models.Interaction{ID: "7", InsuranceNo: "A11", Version: 1}}
	h := New(Services{Store: fakeStore{}, Interactions: interactions, Keys: fakeKeys{}, Prepared: prepared.Load})
	log := &fakeAuditLog{}
	app := fiber.New(fiber.Config{ErrorHandler: ErrorHandler(slog.New(slog.NewJSONHandler(io.Discard, nil)))})
	app.Get("/readyz", h.Readyz)
	app.Get("/api/v1/interactions/:id", h.WhenPrepared, Audit(log, func() time.Time { return testNow }), h.Authenticate, h.GetInteraction)

	assertUnavailable(t, "readyz before", send(t, app, "GET", "/readyz", ""))
	assertUnavailable(t, "a read before", send(t, app, "GET", "/api/v1/interactions/7", ""))
	if len(log.events) != 0 {
		t.Errorf("requests before the store was prepared were audited: %+v", log.events)
	}

	prepared.Store(true)
	if a := send(t, app, "GET", "/readyz", ""); a.status != fiber.StatusOK {
		t.Errorf("readyz after: %d %s", a.status, a.body)
	}
	if a := send(t, app, "GET", "/api/v1/interactions/7", ""); a.status != fiber.StatusOK {
		t.Errorf("a read after: %d %s", a.status, a.body)
	}
	if len(log.events) != 1 {
		t.Errorf("audit events after: %+v", log.events)
	}
}
