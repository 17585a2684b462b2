package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/user"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/handlers"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/notary"
	"github.com/clinic/interactions/repository"
)

// CommandAudit records in the audit trail what a command run beside the server does
// (a key made, an import): one chain per run, sealed when the run ends, and signed
// then when AUDIT_SIGNING_KEY_FILE is set. The events name the command and the user
// who ran it, and the run's id as their request id.
type CommandAudit struct {
	writer  *audit.Writer
	notary  *notary.Notary
	logger  *slog.Logger
	command string
	runID   string
	user    string
	now     func() time.Time
}

// NewCommandAudit returns the audit of a run of command over db, hashed with the
// current key of cfg's audit keys, once it has checked that the key is the
// trail's (see CheckAuditKey), and signing its chain when it closes with cfg's
// signing key, if any, appending to its checkpoint log (stdout, when the log is
// "stdout"). Over a store restored from a backup and not started since, it first
// declares the restore in the trail (see declareRestore). It returns that check's
// errors, those of reading the signing key and of declaring the restore, and an
// error when the system's random source fails.
func NewCommandAudit(ctx context.Context, db *repository.DB, cfg Config, command string, logger *slog.Logger, stdout io.Writer) (*CommandAudit, error) {
	a, err := newCommandAudit(ctx, db, cfg, command, logger, stdout)
	if err != nil {
		return nil, err
	}
	if cfg.MongoURI == "" {
		if err := declareRestore(ctx, db, cfg, command, logger, stdout); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// newCommandAudit is NewCommandAudit without the declaration of a restore.
func newCommandAudit(ctx context.Context, db *repository.DB, cfg Config, command string, logger *slog.Logger, stdout io.Writer) (*CommandAudit, error) {
	keys := cfg.AuditKeys()
	if err := CheckAuditKey(ctx, db, keys); err != nil {
		return nil, err
	}
	signer, err := newNotary(cfg, db, stdout, logger, false)
	if err != nil {
		return nil, err
	}
	writer, err := audit.NewWriter(db, audit.WriterOptions{Key: keys.Current, Process: command, Logger: logger})
	if err != nil {
		return nil, err
	}
	run, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("new run id: %w", err)
	}
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return &CommandAudit{writer: writer, notary: signer, logger: logger, command: command, runID: run.String(), user: name, now: time.Now}, nil
}

// newNotary returns the notary that signs checkpoints of the trail in db with cfg's
// signing key, appending them to cfg's checkpoint log (stdout for "stdout"), or nil
// when no key is set. With signedSoFar it reads the log, when it is a file, for the
// checkpoints signed so far, so as not to sign them again. It returns an error when
// the key or the log cannot be read.
func newNotary(cfg Config, db *repository.DB, stdout io.Writer, logger *slog.Logger, signedSoFar bool) (*notary.Notary, error) {
	if cfg.AuditSigningKeyFile == "" {
		return nil, nil
	}
	signer, verifier, err := notary.LoadSigner(cfg.AuditSigningKeyFile)
	if err != nil {
		return nil, fmt.Errorf("AUDIT_SIGNING_KEY_FILE: %w", err)
	}
	var signed []notary.Checkpoint
	if signedSoFar && cfg.AuditCheckpointLog != notary.Stdout {
		f, err := os.Open(cfg.AuditCheckpointLog)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("AUDIT_CHECKPOINT_LOG: %w", err)
		default:
			var problems []string
			signed, problems, err = notary.ReadLog(f, verifier)
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("AUDIT_CHECKPOINT_LOG: %w", err)
			}
			if len(problems) > 0 {
				logger.Error("the audit checkpoint log holds notes that do not verify: run audit verify",
					"log", cfg.AuditCheckpointLog, "problems", len(problems), "first", problems[0])
			}
		}
	}
	return notary.New(db, cfg.AuditKeys(), signer, notary.OpenLog(cfg.AuditCheckpointLog, stdout), signed, logger), nil
}

// CheckAuditKey returns an error naming AUDIT_HMAC_KEY when keys are not those of
// the audit trail in store (see audit.CheckKey): a server or a command must not
// start writing chains that verification would report as changed. It returns the
// store's errors too.
func CheckAuditKey(ctx context.Context, store audit.Store, keys audit.Keys) error {
	err := audit.CheckKey(ctx, store, keys)
	if errors.Is(err, audit.ErrKeyMismatch) {
		return fmt.Errorf("AUDIT_HMAC_KEY: %w; set the trail's key (after a rotation, the new one, "+
			"with the earlier ones in AUDIT_HMAC_PREVIOUS_KEYS)", err)
	}
	return err
}

// AuditKeys returns the audit trail's keys the configuration gives.
func (c Config) AuditKeys() audit.Keys {
	return audit.Keys{Current: c.AuditKey, Previous: c.AuditPreviousKeys}
}

// RunID returns the id of the run, which its events give as their request id.
func (a *CommandAudit) RunID() string { return a.runID }

// Record appends an event for an act of the run: action (such as "keys.create"),
// what it was done to (route, such as "keys create dr-house"), whose data it touched,
// its counts, and how it ended (err, mapped to a status as the API would answer
// it). It returns the error of the audit trail.
func (a *CommandAudit) Record(ctx context.Context, action, route string, key models.RecordKey, counts map[string]int, err error) error {
	status := 200
	if err != nil {
		status = handlers.StatusOf(err)
	}
	e := a.event(action, route, status)
	e.InsuranceNo, e.InteractionID, e.Counts = key.InsuranceNo, key.InteractionID, counts
	_, aerr := a.writer.Append(ctx, e)
	return aerr
}

// RecordAnchored appends an event for an act of the run that states where other
// chains ended, as anchors (see models.AuditEvent), such as the declaration of a
// restore. It returns the error of the audit trail.
func (a *CommandAudit) RecordAnchored(ctx context.Context, action, route string, counts map[string]int, anchors []models.AuditAnchor) error {
	e := a.event(action, route, 200)
	e.Counts, e.Anchors = counts, anchors
	_, err := a.writer.Append(ctx, e)
	return err
}

// event returns an event of the run: action on route, ended with status.
func (a *CommandAudit) event(action, route string, status int) models.AuditEvent {
	return models.AuditEvent{
		Time: a.now(), KeyName: a.command + " command, by " + a.user, Action: action, Method: "COMMAND", Route: route,
		Status: status, ClientIP: "-", RequestID: a.runID,
	}
}

// Close seals the run's chain, and signs a checkpoint of it when a signing key is
// set; a checkpoint that cannot be signed is logged (the server signs it within a
// minute). It returns the error of the audit trail.
func (a *CommandAudit) Close(ctx context.Context) error {
	err := a.writer.Close(ctx, a.event("", a.command, 200))
	if err != nil || a.notary == nil {
		return err
	}
	if err := a.notary.SignChain(ctx, a.writer.ID()); err != nil {
		a.logger.Warn("sign a checkpoint of the command's audit chain", "chain", a.writer.ID(), "error", err.Error())
	}
	return nil
}

// runAudited runs a command beside the server: it opens the store (attaching to a
// running server's; see Open), starts the command's audit (see NewCommandAudit),
// calls run, and records what run did in the trail, whatever its outcome, as action
// on route with the counts run returns, then seals the chain. It returns run's
// error, and those of opening the store and of the trail.
func runAudited(ctx context.Context, cfg Config, logger *slog.Logger, stdout io.Writer, command, action, route string,
	run func(conn *Connection, db *repository.DB) (map[string]int, error)) error {
	conn, db, err := Open(ctx, cfg, logger, ConnectOptions{Attach: true})
	if err != nil {
		return err
	}
	defer conn.CloseLogged(logger)
	trail, err := NewCommandAudit(ctx, db, cfg, command, logger, stdout)
	if err != nil {
		return err
	}
	counts, runErr := run(conn, db)
	// The act is recorded, whatever its outcome; without its event it does not count
	// as done.
	if err := trail.Record(ctx, action, route, models.RecordKey{}, counts, runErr); err != nil {
		return fmt.Errorf("record the command in the audit trail: %w", err)
	}
	if err := trail.Close(ctx); err != nil {
		return fmt.Errorf("seal the command's audit chain: %w", err)
	}
	return runErr
}

// parseFlags parses args as the flags of command, which define gives the flag set,
// and reports nothing itself. It returns an error holding usage when they do not
// parse or arguments follow them.
func parseFlags(command, usage string, args []string, define func(*flag.FlagSet)) error {
	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	define(fs)
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return errors.New(usage)
	}
	return nil
}

// stringFlags parses args as the flags of command, each a string that must be
// given, and returns their values in the order of names. It returns an error
// holding usage when they do not parse, one is missing or empty, or arguments
// follow them.
func stringFlags(command, usage string, args []string, names ...string) ([]string, error) {
	values := make([]string, len(names))
	err := parseFlags(command, usage, args, func(fs *flag.FlagSet) {
		for i, name := range names {
			fs.StringVar(&values[i], name, "", name)
		}
	})
	if err != nil {
		return nil, err
	}
	if slices.Contains(values, "") {
		return nil, errors.New(usage)
	}
	return values, nil
}
