// Package deadline divides a request's time between its work and what must follow
// the work within the same deadline (keeping an idempotent answer, writing the
// audit event), and stops the reads of many records at it.
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

// Shared returns a context for work done at once for all of ctxs (a group commit):
// it carries the values of the first, ends with none of them, and ends when the last
// of their deadlines passes, so that none of their callers waits on it longer than
// its own; when one of them has no deadline, neither has it.
func Shared(ctxs ...context.Context) (context.Context, context.CancelFunc) {
	var latest time.Time
	for _, ctx := range ctxs {
		d, ok := ctx.Deadline()
		if !ok {
			return context.WithCancel(context.WithoutCancel(ctxs[0]))
		}
		if d.After(latest) {
			latest = d
		}
	}
	return context.WithDeadline(context.WithoutCancel(ctxs[0]), latest)
}

// WhileRunning returns add as the callback of a read of many records that stops
// with ctx's error once ctx is done: a store may still hand records over after the
// request's deadline, and what is computed of them would be for nobody.
func WhileRunning[T any](ctx context.Context, add func(T)) func(T) error {
	return func(v T) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		add(v)
		return nil
	}
}
