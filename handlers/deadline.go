package handlers

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Deadline returns middleware that gives each request a context ending after
// timeout, or when base ends, which the handlers pass to the store through
// c.UserContext(). Nothing a request does runs past it; behind Audit, the handler's
// work ends a tenth of it earlier (at most a second: see reserve), so that the audit
// event and the bookkeeping that follow have time left within it. Ending base cuts every running
// request short: its store work stops and it answers 503 (the server does so when
// its shutdown time runs out).
func Deadline(base context.Context, timeout time.Duration) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(base, timeout)
		defer cancel()
		c.SetUserContext(ctx)
		return c.Next()
	}
}

// reserve returns a context ending before ctx does, by a tenth of the time ctx has
// left, at most a second: the work it bounds leaves that time to what follows it.
func reserve(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, deadline.Add(-min(time.Until(deadline)/10, time.Second)))
}
