package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/user"
	"time"

	"github.com/google/uuid"

	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/handlers"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

// CommandAudit records in the audit trail what a command run beside the server does
// (a key made, an import): one chain per run, sealed when the run ends. The events
// name the command and the user who ran it, and the run's id as their request id.
type CommandAudit struct {
	writer  *audit.Writer
	command string
	runID   string
	user    string
	now     func() time.Time
}

// NewCommandAudit returns the audit of a run of command over db, hashed with the
// current key of keys, once it has checked that the key is the trail's (see
// CheckAuditKey). It returns that check's errors, and an error when the system's
// random source fails.
func NewCommandAudit(ctx context.Context, db *repository.DB, keys audit.Keys, command string, logger *slog.Logger) (*CommandAudit, error) {
	if err := CheckAuditKey(ctx, db, keys); err != nil {
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
	return &CommandAudit{writer: writer, command: command, runID: run.String(), user: name, now: time.Now}, nil
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
	_, aerr := a.writer.Append(ctx, models.AuditEvent{
		Time: a.now(), KeyName: a.command + " command, by " + a.user, Action: action, Method: "COMMAND", Route: route,
		InsuranceNo: key.InsuranceNo, InteractionID: key.InteractionID, Status: status, ClientIP: "-",
		RequestID: a.runID, Counts: counts,
	})
	return aerr
}

// Close seals the run's chain. It returns the error of the audit trail.
func (a *CommandAudit) Close(ctx context.Context) error {
	return a.writer.Close(ctx, models.AuditEvent{
		Time: a.now(), KeyName: a.command + " command, by " + a.user, Method: "COMMAND", Route: a.command,
		Status: 200, ClientIP: "-", RequestID: a.runID,
	})
}
