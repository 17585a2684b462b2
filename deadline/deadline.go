// Package deadline divides a request's time between its work and what must follow
// the work within the same deadline: keeping an idempotent answer, writing the
// audit event.
package deadline

import (
	"context"
	"time"
)

// Reserve returns a context ending before ctx does, by a tenth of the time ctx has
// left, at most a second: the work it bounds leaves that time to what follows it.
// Without a deadline on ctx, the context returned has none either.
func Reserve(ctx context.Context) (context.Context, context.CancelFunc) {
	deadline, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, deadline.Add(-min(time.Until(deadline)/10, time.Second)))
}
