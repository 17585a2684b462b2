package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/clinic/interactions/apikey"
	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/diskspace"
	"github.com/clinic/interactions/handlers"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/notary"
	"github.com/clinic/interactions/repository"
)

// Run runs the command args names: none serves the API until ctx ends; "keys"
// manages API keys; "backup", "restore" and "check" back up, restore and check the
// store; "audit" makes the key that signs the audit trail's checkpoints and
// verifies the trail against them. Logs go to stderr as JSON; what a command shows
// goes to stdout. It returns an error when configuration, the store, the listener
// or the command fail, and when a check finds anything.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := LoadConfig()
	if err != nil {
		return err
	}
	logger := NewLogger(stderr, cfg.LogLevel)
	if len(args) == 0 {
		return serve(ctx, cfg, logger, stdout)
	}
	commands := map[string]func(context.Context, Config, *slog.Logger, []string, io.Writer) error{
		"keys": runKeys, "backup": runBackup, "restore": runRestore, "check": runCheck, "audit": runAudit,
	}
	if run, ok := commands[args[0]]; ok {
		return run(ctx, cfg, logger, args[1:], stdout)
	}
	return fmt.Errorf("unknown command %q: run without arguments to serve, or keys create|list|revoke, "+
		"backup -out DIR, restore -from DIR, check, audit keygen -out DIR, audit verify -checkpoints FILE -public-key FILE", args[0])
}

// Shares of SHUTDOWN_TIMEOUT: open requests may run until requestsShare of it, and
// are then cut short (they answer 503); the connections are closed by drainShare of
// it; the audit chain is sealed by sealShare of it, and the checkpoints of the
// chains that moved are signed by signShare of it; the store is closed by
// storeShare of it, and the process exits then at the latest, leaving the rest as a
// margin before whoever sent the signal loses patience (an orchestrator's SIGKILL).
const (
	requestsShare = 0.5
	drainShare    = 0.6
	sealShare     = 0.65
	signShare     = 0.68
	storeShare    = 0.7
)

// serve serves the API until ctx ends, then shuts down in order, within
// cfg.ShutdownTimeout: stop accepting, let open requests finish (cutting short those
// still running at half the time), seal the audit chain, sign checkpoints of the
// chains that moved (with a signing key), then close the store (by 70% of it). With
// a signing key it signs them every minute meanwhile too; over a store restored from
// a backup, it declares the restore in the audit trail before anything else.
func serve(ctx context.Context, cfg Config, logger *slog.Logger, stdout io.Writer) error {
	// The port first: a server that cannot serve must not start a store or make keys.
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(cfg.Port)))
	if err != nil {
		return fmt.Errorf("listen on PORT %d (is another server using it? set PORT): %w", cfg.Port, err)
	}
	defer ln.Close()
	// MongoDB may not answer yet: the server serves all the same (503 until it
	// does) and prepares the store in the background. The embedded store runs in
	// this process: it answers, or the server cannot start.
	conn, err := Connect(ctx, cfg, logger, ConnectOptions{Lazy: true})
	if err != nil {
		return err
	}
	storeOpen := true
	defer func() {
		if storeOpen {
			conn.CloseLogged(logger)
		}
	}()
	if conn.Embedded {
		showMongosh(stdout, cfg, conn.URI+cfg.Database)
	}
	if len(cfg.AuditKey) == 0 {
		logger.Warn("AUDIT_HMAC_KEY is not set: the audit trail's hashes are plain SHA-256, which anyone with write " +
			"access to the database can recompute after changing an event; set it (32+ characters, kept outside the database)")
	}
	if cfg.AuditSigningKeyFile == "" {
		logger.Warn("AUDIT_SIGNING_KEY_FILE is not set: no signed checkpoint of the audit trail is kept outside the database, " +
			"so a trail cut back, or rolled back with the whole store, goes unnoticed; make a key with " +
			"go run . audit keygen -out DIR and set it, with AUDIT_CHECKPOINT_LOG")
	}
	db := conn.repositoryOf(cfg)
	signer, err := newNotary(cfg, db, stdout, logger, true)
	if err != nil {
		return err
	}
	prepare := func(ctx context.Context) error {
		if err := conn.prepare(ctx, db, cfg.Database); err != nil {
			return err
		}
		// Before anything is written to the trail.
		if err := CheckAuditKey(ctx, db, cfg.AuditKeys()); err != nil {
			return err
		}
		if conn.Embedded {
			if err := declareRestore(ctx, db, cfg, "server", logger, stdout); err != nil {
				return err
			}
		}
		return showFirstAdminKey(ctx, db, cfg, logger, stdout)
	}
	var prepared atomic.Bool
	refused := make(chan error, 1)
	if conn.Embedded {
		if err := prepare(ctx); err != nil {
			return err
		}
		prepared.Store(true)
		warnIfLarge(ctx, logger, conn.SideIndex(cfg.Database))
	} else {
		go keepPreparing(ctx, logger, prepare, &prepared, refused)
	}
	go purgeIdempotencyKeys(ctx, logger, db, cfg.IdempotencyKeyTTL)
	var disk handlers.Disk
	if conn.Embedded && cfg.MinFreeDisk > 0 {
		watch := diskspace.Watch{Dir: cfg.DataDir, Min: cfg.MinFreeDisk, Free: diskspace.Free}
		disk = watch
		ticker := time.NewTicker(time.Minute)
		defer ticker.Stop()
		go watch.Warn(ctx, logger, ticker.C)
	}

	requests, cutRequests := context.WithCancel(context.Background())
	defer cutRequests()
	server, err := NewServer(logger, db, ServerConfig{
		RequestTimeout:    cfg.RequestTimeout,
		RateLimit:         cfg.RateLimit,
		ClientRateLimit:   cfg.ClientRateLimit,
		HeavyRequests:     cfg.HeavyRequestsPerKey,
		AuthFailureLimit:  cfg.AuthFailureLimit,
		CORSOrigins:       cfg.CORSOrigins,
		AuditKey:          cfg.AuditKey,
		AuditPreviousKeys: cfg.AuditPreviousKeys,
		LLM:               cfg.LLM,
		Prepared:          prepared.Load,
		Disk:              disk,
		BaseContext:       requests,
	})
	if err != nil {
		return err
	}
	background, stopBackground := context.WithCancel(ctx)
	defer stopBackground()
	go server.Background(background)
	if signer != nil {
		ticker := time.NewTicker(signEvery)
		defer ticker.Stop()
		go signCheckpoints(background, logger, signer, prepared.Load, ticker.C)
	}
	logger.Info("serving", "addr", ln.Addr().String(), "docs", "/docs")

	served := make(chan error, 1)
	go func() { served <- server.Listener(ln) }()
	var startErr error
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	case startErr = <-refused:
		logger.Error("the store refuses this server", "error", startErr.Error())
	}
	logger.Info("shutting down")
	start := time.Now()
	share := func(f float64) time.Time { return start.Add(time.Duration(f * float64(cfg.ShutdownTimeout))) }
	cut := time.AfterFunc(time.Until(share(requestsShare)), func() {
		logger.Warn("shutdown: cutting short the requests still running")
		cutRequests()
	})
	// Stops accepting at once, then waits for the open connections to end.
	err = server.ShutdownWithTimeout(time.Until(share(drainShare)))
	cut.Stop()
	cutRequests()
	if err != nil {
		logger.Warn("shutdown: connections still open", "error", err.Error())
	}
	stopBackground()
	sealing, cancelSeal := context.WithDeadline(context.Background(), share(sealShare))
	defer cancelSeal()
	if err := server.Close(sealing); err != nil {
		logger.Warn("shutdown: seal the audit chain", "error", err.Error())
	}
	if signer != nil && prepared.Load() {
		signing, cancelSign := context.WithDeadline(context.Background(), share(signShare))
		if _, err := signer.SignMoved(signing); err != nil {
			logger.Warn("shutdown: sign audit checkpoints", "error", err.Error())
		}
		cancelSign()
	}
	closeCtx, cancel := context.WithDeadline(context.Background(), share(storeShare))
	defer cancel()
	storeOpen = false
	if err := conn.Close(closeCtx); err != nil {
		logger.Warn("shutdown: close store", "error", err.Error())
	}
	logger.Info("shut down", "took_ms", time.Since(start).Milliseconds())
	return startErr
}

// The sizes up to which the embedded store is comfortable for interactive use (the
// operations guide's "Limits of the embedded store" gives the measurements): a patient's
// history reads as fast up to this many interactions; listing a record's versions
// reads every archived version of its kind, so it slows as they grow in number.
const (
	comfortableInteractions = 50_000
	comfortableVersions     = 7_000
)

// collectionCounter counts a collection's documents (repository.SideIndex).
type collectionCounter interface {
	Count(ctx context.Context, collection string) (int64, error)
}

// warnIfLarge logs a warning when the embedded store holds more than it is
// comfortable with, counted by side. A count that fails is logged and passed over.
func warnIfLarge(ctx context.Context, logger *slog.Logger, side collectionCounter) {
	count := func(collection string) int64 {
		n, err := side.Count(ctx, collection)
		if err != nil {
			logger.Warn("count "+collection, "error", err.Error())
		}
		return n
	}
	interactions := count(repository.InteractionsCollection)
	versions := count(repository.InteractionVersionsCollection) + count(repository.PatientVersionsCollection)
	if interactions > comfortableInteractions || versions > comfortableVersions {
		logger.Warn("the embedded store holds more than it serves comfortably; use MongoDB (MONGODB_URI) at this size",
			"interactions", interactions, "comfortable_interactions", comfortableInteractions,
			"archived_versions", versions, "comfortable_archived_versions", comfortableVersions)
	}
}

// keepPreparing calls prepare until it succeeds or ctx ends, and then sets
// prepared. After each failure it logs the error and waits, half a second at first,
// twice as long each time, at most 5 s. Each call has a minute. An audit key that is
// not the trail's (audit.ErrKeyMismatch) is not tried again: its error is sent on
// refused, for the server to stop.
func keepPreparing(ctx context.Context, logger *slog.Logger, prepare func(context.Context) error, prepared *atomic.Bool, refused chan<- error) {
	wait := 500 * time.Millisecond
	for {
		attempt, cancel := context.WithTimeout(ctx, time.Minute)
		err := prepare(attempt)
		cancel()
		switch {
		case err == nil:
			prepared.Store(true)
			logger.Info("store prepared: the API serves")
			return
		case ctx.Err() != nil:
			return
		case errors.Is(err, audit.ErrKeyMismatch):
			refused <- err
			return
		}
		logger.Warn("the store is not ready: the API answers 503 until it is", "error", err.Error(), "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// showMongosh shows on stdout the mongosh command that reads the embedded store the
// server runs, at uri, and who may run it.
func showMongosh(stdout io.Writer, cfg Config, uri string) {
	who := "only this machine's account that runs the server may use it, through the socket in DATA_DIR"
	if cfg.EmbeddedAddr != "" {
		who = "it listens on EMBEDDED_MONGO_ADDR, where any process that reaches it reads and writes every record, without a password"
	}
	fmt.Fprintf(stdout, "The embedded store's records can be read with mongosh (%s):\n    mongosh \"%s\"\n\n", who, uri)
}

// signEvery is how often the server signs checkpoints of the audit chains that
// moved.
const signEvery = time.Minute

// signCheckpoints signs a checkpoint of every audit chain that moved (see
// notary.Notary.SignMoved) at each tick, once the store is prepared, until ctx
// ends. Failures are logged: they fail no request.
func signCheckpoints(ctx context.Context, logger *slog.Logger, signer *notary.Notary, prepared func() bool, tick <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			if !prepared() {
				continue
			}
			signing, cancel := context.WithTimeout(ctx, signEvery/2)
			if n, err := signer.SignMoved(signing); err != nil {
				logger.Warn("sign audit checkpoints", "error", err.Error())
			} else if n > 0 {
				logger.Debug("signed audit checkpoints", "chains", n)
			}
			cancel()
		}
	}
}

// showFirstAdminKey creates the first admin key when the store holds no key (see
// apikey.Keys.FirstAdmin), shows it on stdout, once, and records it in the audit
// trail (hashed with the current key of cfg's audit keys).
func showFirstAdminKey(ctx context.Context, db *repository.DB, cfg Config, logger *slog.Logger, stdout io.Writer) error {
	port := cfg.Port
	issued, made, err := apikey.New(db, nil, logger).FirstAdmin(ctx)
	if err != nil || !made {
		return err
	}
	fmt.Fprintf(stdout, "No API key existed, so an admin key named %q was created. It is shown only now:\n\n    %s\n\n"+
		"Use it to create keys for people (roles: clinician, viewer, auditor, admin):\n"+
		"    go run . keys create -name dr-house -role clinician\n"+
		"or  curl -X POST localhost:%d/api/v1/keys -H 'Authorization: Bearer <admin key>' -H 'Content-Type: application/json' -d '{\"name\":\"dr-house\",\"role\":\"clinician\"}'\n\n",
		issued.Name, issued.Key, port)
	// The key is shown whatever happens to its audit event: a second start finds a
	// key and would not make another.
	trail, err := newCommandAudit(ctx, db, cfg, "server", logger, stdout)
	if err == nil {
		err = trail.Record(ctx, "keys.create", "first admin key "+issued.Name, models.RecordKey{}, nil, nil)
	}
	if err == nil {
		err = trail.Close(ctx)
	}
	if err != nil {
		logger.Warn("record the first admin key in the audit trail", "error", err.Error())
	}
	return nil
}

// purgeIdempotencyKeys deletes Idempotency-Key answers older than ttl now and every
// hour until ctx ends. (The embedded store has no TTL indexes, so this runs on both.)
func purgeIdempotencyKeys(ctx context.Context, logger *slog.Logger, db *repository.DB, ttl time.Duration) {
	ticker := time.NewTicker(time.Hour)
	defer ticker.Stop()
	for {
		n, err := db.PurgeIdempotencyKeys(ctx, time.Now().Add(-ttl))
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
