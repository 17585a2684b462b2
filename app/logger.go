package app

import (
	"context"
	"io"
	"log/slog"
)

// NewLogger returns a JSON logger writing to out at level (debug, info, warn or error).
func NewLogger(out io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level)) // validated by ConfigFrom; info otherwise
	return slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: l}))
}

// levelFilter passes on only records at or above min.
type levelFilter struct {
	slog.Handler
	min slog.Level
}

func (h levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelFilter) WithAttrs(attrs []slog.Attr) slog.Handler {
	return levelFilter{Handler: h.Handler.WithAttrs(attrs), min: h.min}
}

func (h levelFilter) WithGroup(name string) slog.Handler {
	return levelFilter{Handler: h.Handler.WithGroup(name), min: h.min}
}
