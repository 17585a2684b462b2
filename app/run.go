package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/clinic/interactions/handlers"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

// Run runs the command args names: none serves the API until ctx ends; "keys"
// manages API keys. Logs go to stderr as JSON; what a command shows goes to stdout.
// It returns an error when configuration, the store, the listener or the command fail.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := LoadConfig()
	if err != nil {
		return err
	}
	logger := NewLogger(stderr, cfg.LogLevel)
	switch {
	case len(args) == 0:
		return serve(ctx, cfg, logger, stdout)
	case args[0] == "keys":
		return runKeys(ctx, cfg, logger, args[1:], stdout)
	}
	return fmt.Errorf("unknown command %q: run without arguments to serve, or keys create|list|revoke", args[0])
}

// serve serves the API until ctx ends, then shuts down in order: stop accepting,
// drain open requests for up to the configured timeout, close the store.
func serve(ctx context.Context, cfg Config, logger *slog.Logger, stdout io.Writer) error {
	store, repo, err := openRepository(ctx, cfg, logger, StoreOptions{})
	if err != nil {
		return err
	}
	defer closeStore(store, logger)
	if err := bootstrapAdminKey(ctx, repo, cfg.Port, stdout); err != nil {
		return err
	}
	go purgeIdempotencyKeys(ctx, logger, repo, cfg.IdempotencyKeyTTL)

	server, err := NewServer(logger, repo, ServerConfig{
		RequestTimeout: cfg.RequestTimeout,
		RateLimit:      cfg.RateLimit,
		CORSOrigins:    cfg.CORSOrigins,
		AuditKey:       cfg.AuditKey,
	})
	if err != nil {
		return err
	}
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

// openRepository opens the store and makes sure its indexes exist. The caller closes
// the store. It returns the errors of OpenStore and EnsureIndexes.
func openRepository(ctx context.Context, cfg Config, logger *slog.Logger, opts StoreOptions) (*Store, *repository.Store, error) {
	store, err := OpenStore(ctx, cfg, logger, opts)
	if err != nil {
		return nil, nil, err
	}
	repo := repository.New(store.DB)
	if err := repo.EnsureIndexes(ctx); err != nil {
		closeStore(store, logger)
		return nil, nil, err
	}
	return store, repo, nil
}

func closeStore(store *Store, logger *slog.Logger) {
	if err := store.Close(context.Background()); err != nil {
		logger.Warn("close store", "error", err.Error())
	}
}

// bootstrapAdminKey creates an admin key named "admin" when the store holds no key at
// all, and shows it on stdout, once: a new installation is usable and still closed.
func bootstrapAdminKey(ctx context.Context, repo *repository.Store, port int, stdout io.Writer) error {
	has, err := repo.HasAPIKeys(ctx)
	if err != nil || has {
		return err
	}
	issued, err := handlers.IssueKey(ctx, repo, models.NewKeyRequest{Name: "admin", Role: models.RoleAdmin}, time.Now())
	if errors.Is(err, models.ErrConflict) { // another server created it at the same moment
		return nil
	}
	if err != nil {
		return fmt.Errorf("create the first admin key: %w", err)
	}
	fmt.Fprintf(stdout, "No API key existed, so an admin key named %q was created. It is shown only now:\n\n    %s\n\n"+
		"Use it to create keys for people (roles: clinician, viewer, auditor, admin):\n"+
		"    go run . keys create -name dr-house -role clinician\n"+
		"or  curl -X POST localhost:%d/api/v1/keys -H 'Authorization: Bearer <admin key>' -H 'Content-Type: application/json' -d '{\"name\":\"dr-house\",\"role\":\"clinician\"}'\n\n",
		issued.Name, issued.Key, port)
	return nil
}

// runKeys manages API keys from the command line: create, list, revoke. Against the
// embedded store it works whether or not the server is running.
func runKeys(ctx context.Context, cfg Config, logger *slog.Logger, args []string, stdout io.Writer) error {
	const usage = "usage: keys create -name NAME -role clinician|viewer|auditor|admin | keys list | keys revoke NAME"
	if len(args) == 0 {
		return errors.New(usage)
	}
	var run func(*repository.Store) error
	switch args[0] {
	case "create":
		fs := flag.NewFlagSet("keys create", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		name := fs.String("name", "", "key name")
		role := fs.String("role", "", "clinician, viewer, auditor or admin")
		if err := fs.Parse(args[1:]); err != nil || fs.NArg() > 0 {
			return errors.New(usage)
		}
		run = func(repo *repository.Store) error {
			issued, err := handlers.IssueKey(ctx, repo, models.NewKeyRequest{Name: *name, Role: models.Role(*role)}, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "Created %s key %q. It is shown only now:\n\n    %s\n", issued.Role, issued.Name, issued.Key)
			return nil
		}
	case "list":
		if len(args) != 1 {
			return errors.New(usage)
		}
		run = func(repo *repository.Store) error {
			keys, err := repo.APIKeys(ctx)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tROLE\tCREATED\tLAST USED\tREVOKED")
			for _, k := range keys {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", k.Name, k.Role, k.CreatedAt.Format(time.RFC3339), orDash(k.LastUsedAt), orDash(k.RevokedAt))
			}
			return w.Flush()
		}
	case "revoke":
		if len(args) != 2 {
			return errors.New(usage)
		}
		run = func(repo *repository.Store) error {
			k, err := repo.RevokeAPIKey(ctx, args[1], models.StoreTime(time.Now()))
			if errors.Is(err, models.ErrNotFound) {
				return fmt.Errorf("no key is named %q", args[1])
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "Revoked key %q at %s.\n", k.Name, k.RevokedAt.Format(time.RFC3339))
			return nil
		}
	default:
		return errors.New(usage)
	}

	store, repo, err := openRepository(ctx, cfg, logger, StoreOptions{Attach: true})
	if err != nil {
		return err
	}
	defer closeStore(store, logger)
	return run(repo)
}

func orDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
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
