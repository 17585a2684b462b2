package handlers

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Deadline returns middleware that gives each request a context ending after
// timeout, or when base ends, which the handlers pass to the store through
// c.UserContext(). Nothing a request does runs past it; behind Audit, the handler's
// work ends a tenth of it earlier (at most a second: see deadline.Reserve), so that
// the audit event and the bookkeeping that follow have time left within it. Ending
// base cuts every running request short: its store work stops and it answers 503
// (the server does so when its shutdown time runs out).
func Deadline(base context.Context, timeout time.Duration) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(base, timeout)
		defer cancel()
		c.SetUserContext(ctx)
		return c.Next()
	}
}
