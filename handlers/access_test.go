package handlers

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/clinic/interactions/models"
)

// as is middleware that makes the request's principal the key its X-Key header
// names, with the role of its X-Role header.
func as(c *fiber.Ctx) error {
	c.Locals(principalKey, models.Principal{Name: c.Get("X-Key"), Role: models.Role(c.Get("X-Role"))})
	return c.Next()
}

func TestAllowNamedByQuery(t *testing.T) {
	app := fiber.New(fiber.Config{ErrorHandler: ErrorHandler(slog.New(slog.DiscardHandler))})
	viewer := []models.Role{models.RoleViewer}
	app.Get("/patients", as, AllowNamed([]models.Role{models.RoleClinician}, viewer, QueryNames("q")), func(c *fiber.Ctx) error {
		return c.SendStatus(fiber.StatusNoContent)
	})
	for _, tc := range []struct {
		role  models.Role
		query string
		want  int
	}{
		{models.RoleClinician, "", 204},
		{models.RoleClinician, "?q=ann", 204},
		{models.RoleViewer, "?q=ann", 204},
		{models.RoleViewer, "", 403},
		{models.RoleViewer, "?q=", 403},
		{models.RoleViewer, "?limit=100", 403},
		{models.RoleAuditor, "?q=ann", 403},
	} {
		req := httptest.NewRequest("GET", "/patients"+tc.query, nil)
		req.Header.Set("X-Role", string(tc.role))
		res, err := app.Test(req, -1)
		if err != nil || res.StatusCode != tc.want {
			t.Errorf("%s %s: %v %v, want %d", tc.role, tc.query, res.StatusCode, err, tc.want)
		}
	}
}

// TestHeavyRequestsLimit holds heavy requests of a key open on channels: past the
// bound the key's next one is refused with 429 and Retry-After, another key's goes
// through, and a slot comes back when a request ends; an answer streamed after its
// handler returned holds its slot until its stream is closed.
func TestHeavyRequestsLimit(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	stream, streamed := io.Pipe()
	limit := NewHeavyRequests(2)
	app := fiber.New(fiber.Config{ErrorHandler: ErrorHandler(slog.New(slog.DiscardHandler))})
	app.Get("/held", as, limit.Limit, func(c *fiber.Ctx) error {
		entered <- struct{}{}
		<-release
		return c.SendStatus(fiber.StatusNoContent)
	})
	app.Get("/quick", as, limit.Limit, func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusNoContent) })
	app.Get("/stream", as, limit.Limit, func(c *fiber.Ctx) error {
		c.Context().SetBodyStream(&exportBody{PipeReader: stream, cancel: func() {}, done: keepHeavySlot(c)}, -1)
		entered <- struct{}{}
		return nil
	})
	request := func(path, key string) (int, string) {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("X-Key", key)
		res, err := app.Test(req, -1)
		if err != nil {
			t.Error(err)
			return 0, ""
		}
		_, _ = io.Copy(io.Discard, res.Body)
		return res.StatusCode, res.Header.Get(fiber.HeaderRetryAfter)
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if status, _ := request("/held", "a"); status != 204 {
				t.Errorf("a held request answered %d", status)
			}
		})
		<-entered
	}
	if status, retry := request("/quick", "a"); status != 429 || retry != "1" {
		t.Errorf("past the bound: %d, Retry-After %q; want 429, 1", status, retry)
	}
	if status, _ := request("/quick", "b"); status != 204 {
		t.Errorf("another key: %d, want 204", status)
	}
	close(release)
	wg.Wait()
	if status, _ := request("/quick", "a"); status != 204 {
		t.Errorf("after the held requests ended: %d, want 204", status)
	}

	limit.max = 1
	wg.Go(func() {
		if status, _ := request("/stream", "a"); status != 200 {
			t.Errorf("the streamed answer: %d", status)
		}
	})
	<-entered
	if status, _ := request("/quick", "a"); status != 429 {
		t.Errorf("while an answer streams: %d, want 429", status)
	}
	_, _ = io.WriteString(streamed, "the record")
	streamed.Close()
	wg.Wait()
	if status, _ := request("/quick", "a"); status != 204 {
		t.Errorf("after the stream ended: %d, want 204", status)
	}
	if n := len(limit.running); n != 0 {
		t.Errorf("%d keys still hold slots", n)
	}
}
