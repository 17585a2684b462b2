package handlers

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/models"
)

// TestAuthFailures fails authentication from one address past the limit: the
// address is refused with 429 and the seconds left of its minute, a good key too,
// without its key being looked up; a minute after its first failure the address is
// let through again.
func TestAuthFailures(t *testing.T) {
	clock := testNow
	keys := &countingKeys{}
	failures := NewAuthFailures(2, &audit.Refusals{}, func() time.Time { return clock })
	h := New(Services{Store: fakeStore{}, Keys: keys, AuthFailures: failures})
	app := fiber.New(fiber.Config{ErrorHandler: ErrorHandler(slog.New(slog.NewJSONHandler(io.Discard, nil)))})
	app.Get("/x", failures.Limit, h.Authenticate, func(c *fiber.Ctx) error { return c.SendStatus(204) })
	get := func(key string) (int, string) {
		t.Helper()
		req := httptest.NewRequest("GET", "/x", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := app.Test(req, -1)
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, res.Header.Get("Retry-After")
	}
	for range 2 {
		if status, _ := get("bad"); status != 401 {
			t.Fatalf("a bad key: %d", status)
		}
	}
	clock = clock.Add(15 * time.Second)
	looked := keys.n
	for _, key := range []string{"bad", "good"} {
		status, retry := get(key)
		if status != 429 || retry != strconv.Itoa(45) {
			t.Errorf("past the limit, key %q: %d, Retry-After %q; want 429 after 45 s", key, status, retry)
		}
	}
	if keys.n != looked {
		t.Errorf("%d keys looked up past the limit", keys.n-looked)
	}
	clock = clock.Add(45 * time.Second)
	if status, _ := get("good"); status != 204 {
		t.Errorf("a minute after the first failure: %d", status)
	}
}

// countingKeys is fakeKeys counting the lookups.
type countingKeys struct {
	fakeKeys
	n int
}

func (k *countingKeys) Authenticate(ctx context.Context, token string) (models.Principal, error) {
	k.n++
	return k.fakeKeys.Authenticate(ctx, token)
}
