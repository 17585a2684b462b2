package app

import (
	"context"
	"io"
	"log/slog"
	"slices"
)

// NewLogger returns a JSON logger writing to out at level (debug, info, warn or error).
func NewLogger(out io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level)) // validated by ConfigFrom; info otherwise
	return slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: l}))
}

// levelFilter passes on only records at or above min. The attributes and groups
// given to it reach its handler only with a record that passes: the embedded
// store adds attributes to its logger for every statement it runs, which a JSON
// handler would encode each time, for records it then drops.
type levelFilter struct {
	slog.Handler
	min slog.Level
	// then are the calls of WithAttrs and WithGroup not yet made on Handler, in order.
	then []func(slog.Handler) slog.Handler
}

func (h levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

// Handle passes r on to the handler, with the attributes and groups given.
func (h levelFilter) Handle(ctx context.Context, r slog.Record) error {
	next := h.Handler
	for _, f := range h.then {
		next = f(next)
	}
	return next.Handle(ctx, r)
}

func (h levelFilter) WithAttrs(attrs []slog.Attr) slog.Handler {
	return h.later(func(next slog.Handler) slog.Handler { return next.WithAttrs(attrs) })
}

func (h levelFilter) WithGroup(name string) slog.Handler {
	return h.later(func(next slog.Handler) slog.Handler { return next.WithGroup(name) })
}

// later returns h with f to be called on its handler when a record passes.
func (h levelFilter) later(f func(slog.Handler) slog.Handler) levelFilter {
	return levelFilter{Handler: h.Handler, min: h.min, then: append(slices.Clip(h.then), f)}
}
