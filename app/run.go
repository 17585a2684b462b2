package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/clinic/interactions/repository"
)

// Run serves the API until ctx ends, then shuts down in order: stop accepting, drain
// open requests for up to the configured timeout, close the store. Logs go to logOut
// as JSON. It returns an error when configuration, the store or the listener fail.
func Run(ctx context.Context, logOut io.Writer) error {
	cfg, err := LoadConfig()
	if err != nil {
		return err
	}
	logger := NewLogger(logOut, cfg.LogLevel)

	store, err := OpenStore(ctx, cfg, logger, StoreOptions{})
	if err != nil {
		return err
	}
	defer func() {
		if err := store.Close(context.Background()); err != nil {
			logger.Warn("close store", "error", err.Error())
		}
	}()
	repo := repository.New(store.DB)
	if err := repo.EnsureIndexes(ctx); err != nil {
		return err
	}

	go purgeIdempotencyKeys(ctx, logger, repo, cfg.IdempotencyKeyTTL)

	server := NewServer(logger, repo, cfg.RequestTimeout)
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen on PORT %d: %w", cfg.Port, err)
	}
	logger.Info("serving", "addr", ln.Addr().String(), "docs", "/docs")

	served := make(chan error, 1)
	go func() { served <- server.Listener(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	if err := server.ShutdownWithTimeout(cfg.ShutdownTimeout); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		logger.Warn("shutdown", "error", err.Error())
	}
	return nil
}

// NewLogger returns a JSON logger writing to out at level (debug, info, warn or error).
func NewLogger(out io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level)) // validated by ConfigFrom; info otherwise
	return slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: l}))
}

// purgeIdempotencyKeys deletes Idempotency-Key answers older than ttl now and every
// hour until ctx ends. (The embedded store has no TTL indexes, so this runs on both.)
func purgeIdempotencyKeys(ctx context.Context, logger *slog.Logger, repo *repository.Store, ttl time.Duration) {
	ticker := time.NewTicker(time.Hour)
	defer ticker.Stop()
	for {
		n, err := repo.PurgeIdempotencyKeys(ctx, time.Now().Add(-ttl))
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Warn("purge idempotency keys", "error", err.Error())
		case n > 0:
			logger.Info("purged idempotency keys", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}
