package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/backup"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/notary"
	"github.com/clinic/interactions/records"
	"github.com/clinic/interactions/repository"
	"github.com/clinic/interactions/sideindex"
)

// mongoDBRecovery is what the store commands say on MongoDB, whose own tools back
// it up and restore it.
const mongoDBRecovery = "on MongoDB (MONGODB_URI), back up and restore with MongoDB's tools: " +
	"see docs/guides/operations.md, \"Backup and restore on MongoDB\" (mongodump --oplog, mongorestore --oplogReplay, then go run . check)"

// runBackup backs up the embedded store while it serves (see backup.Backup), from
// beside the running server or with none running, and records the backup in the
// audit trail. On MongoDB it refuses.
func runBackup(ctx context.Context, cfg Config, logger *slog.Logger, args []string, stdout io.Writer) error {
	flags, err := stringFlags("backup", "usage: backup -out DIR (a new or empty directory)", args, "out")
	if err != nil {
		return err
	}
	if cfg.MongoURI != "" {
		return errors.New("backup copies the embedded store; " + mongoDBRecovery)
	}
	out := flags[0]
	return runAudited(ctx, cfg, logger, stdout, "backup", "store.backup", "backup", func(*Connection, *repository.DB) (map[string]int, error) {
		m, err := backup.Backup(ctx, backup.Options{DataDir: cfg.DataDir, Database: cfg.Database, Out: out})
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(stdout, "Backed up database %s as of %s into %s: %s; %d audit chains.\n",
			m.Database, m.TakenAt.Format(time.RFC3339), out, describeCounts(m.Collections), len(m.AuditChains))
		return countsOf(m.Collections), nil
	})
}

// runRestore restores a backup into an empty DATA_DIR (see backup.Restore), then
// starts the store over it and checks it against the backup's manifest: the
// documents of each collection, the heads of the audit chains, and the trail's
// verification. The next start over the store declares the restore in the trail.
func runRestore(ctx context.Context, cfg Config, logger *slog.Logger, args []string, stdout io.Writer) error {
	flags, err := stringFlags("restore", "usage: restore -from DIR (a backup's directory), into an empty DATA_DIR", args, "from")
	if err != nil {
		return err
	}
	if cfg.MongoURI != "" {
		return errors.New("restore restores the embedded store; " + mongoDBRecovery)
	}
	from := flags[0]
	m, _, err := backup.ReadManifest(from)
	if err != nil {
		return err
	}
	if err := checkBackupKeys(m, cfg.AuditKeys()); err != nil {
		return err
	}
	m, digest, err := backup.Restore(ctx, backup.RestoreOptions{From: from, DataDir: cfg.DataDir, Database: cfg.Database})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Restored the backup of database %s taken at %s (manifest SHA-256 %s) into DATA_DIR %s.\n",
		m.Database, m.TakenAt.Format(time.RFC3339), digest, cfg.DataDir)
	findings, v, err := verifyRestored(ctx, cfg, logger, m)
	if err != nil {
		return fmt.Errorf("check the restored store: %w", err)
	}
	if len(findings) > 0 {
		for _, f := range findings {
			fmt.Fprintln(stdout, "  "+f)
		}
		return fmt.Errorf("the restored store does not hold what the backup's manifest says (%d findings, above): "+
			"DATA_DIR holds it as restored; empty DATA_DIR before restoring another backup", len(findings))
	}
	fmt.Fprintf(stdout, "It holds what the manifest says: %s; the audit trail verifies (%d chains, %d events).\n"+
		"The next start over it records the restore in the audit trail.\n", describeCounts(m.Collections), v.Chains, v.Events)
	return nil
}

// checkBackupKeys returns an error naming AUDIT_HMAC_KEY when keys do not hold the
// key of every audit chain of the backup m, which would not verify once restored.
func checkBackupKeys(m backup.Manifest, keys audit.Keys) error {
	for _, h := range m.AuditChains {
		if _, ok := keys.ByID(h.KeyID); h.KeyID != "" && !ok {
			return fmt.Errorf("AUDIT_HMAC_KEY: the backup's audit chain %s is keyed with the key whose id is %s, which is not given "+
				"(give it as AUDIT_HMAC_KEY, or in AUDIT_HMAC_PREVIOUS_KEYS after a rotation); nothing was restored", h.Chain, h.KeyID)
		}
	}
	return nil
}

// verifyRestored starts the embedded store over the restored DATA_DIR and returns
// how it differs from the manifest m (the documents of each collection, the heads
// of the audit chains), with the verification of its audit trail. It writes no
// document.
func verifyRestored(ctx context.Context, cfg Config, logger *slog.Logger, m backup.Manifest) ([]string, models.AuditVerification, error) {
	conn, err := Connect(ctx, cfg, logger, ConnectOptions{})
	if err != nil {
		return nil, models.AuditVerification{}, err
	}
	defer conn.CloseLogged(logger)
	db := conn.repositoryOf(cfg)
	names, err := conn.DB.ListCollectionNames(ctx, map[string]any{})
	if err != nil {
		return nil, models.AuditVerification{}, fmt.Errorf("list collections: %w", err)
	}
	// Counted by the side index, as the backup counted them: the store's own count
	// reads every document (a minute at 100,000 interactions).
	side := conn.SideIndex(cfg.Database)
	counts := map[string]int64{}
	for _, name := range names {
		if counts[name], err = side.Count(ctx, name); err != nil {
			return nil, models.AuditVerification{}, err
		}
	}
	heads, err := db.AuditChainHeads(ctx)
	if err != nil {
		return nil, models.AuditVerification{}, err
	}
	findings := m.Compare(counts, heads)
	// As the server verifies at its start: from the keyed checkpoints the backup
	// holds to each chain's end, and a second of re-checking older events (the check
	// command re-checks them all).
	v, err := audit.NewTrail(unsavedCheckpoints{db}, cfg.AuditKeys(), nil).Verify(ctx)
	if err != nil {
		return nil, models.AuditVerification{}, err
	}
	return append(findings, breaksOf(v)...), v, nil
}

// unsavedCheckpoints is the audit trail of a store, verified without keeping how
// far in it: the check of a restore writes nothing into the store it restored,
// which then holds what the backup held, document for document.
type unsavedCheckpoints struct{ *repository.DB }

// SaveAuditCheckpoint keeps nothing.
func (unsavedCheckpoints) SaveAuditCheckpoint(context.Context, models.AuditCheckpoint) error {
	return nil
}

// breaksOf returns the breaks of v, one finding a line.
func breaksOf(v models.AuditVerification) []string {
	var findings []string
	for _, b := range v.Breaks {
		findings = append(findings, fmt.Sprintf("audit chain %s event %d: %s", b.Chain, b.Seq, b.Reason))
	}
	if more := v.BreaksTotal - len(v.Breaks); more > 0 {
		findings = append(findings, fmt.Sprintf("audit trail: %d breaks more", more))
	}
	if !v.Complete {
		findings = append(findings, fmt.Sprintf("audit trail: %d events not verified in the time given", v.Pending))
	}
	return findings
}

// declareRestore records in the audit trail of db, as a run of process, that the
// store was restored from a backup, when DATA_DIR holds the note a restore leaves
// (see backup.RestoreNote), then removes the note: the event (notary.RestoredAction)
// names the backup by its time and its manifest's SHA-256, counts the documents of
// each collection it held, and anchors the ends of the audit chains it held, so
// that what the restore lost of the trail is declared, not hidden. It returns the
// errors of the note and of the trail.
func declareRestore(ctx context.Context, db *repository.DB, cfg Config, process string, logger *slog.Logger, stdout io.Writer) error {
	note, ok, err := backup.ReadRestoreNote(cfg.DataDir)
	if err != nil || !ok {
		return err
	}
	trail, err := newCommandAudit(ctx, db, cfg, process, logger, stdout)
	if err != nil {
		return err
	}
	m := note.Manifest
	route := fmt.Sprintf("restore of the backup of %s taken %s (manifest sha256 %s)", m.Database, m.TakenAt.Format(time.RFC3339), note.ManifestSHA256)
	if err := trail.RecordAnchored(ctx, notary.RestoredAction, route, countsOf(m.Collections), m.Anchors()); err != nil {
		return fmt.Errorf("declare the restore in the audit trail: %w", err)
	}
	if err := trail.Close(ctx); err != nil {
		return fmt.Errorf("declare the restore in the audit trail: %w", err)
	}
	if err := backup.RemoveRestoreNote(cfg.DataDir); err != nil {
		return err
	}
	logger.Warn("this store was restored from a backup: the restore is declared in the audit trail",
		"backup_taken_at", m.TakenAt.Format(time.RFC3339), "manifest_sha256", note.ManifestSHA256, "restored_at", note.RestoredAt.Format(time.RFC3339))
	return nil
}

// runCheck checks the store (see check), prints what it found, and records the
// check in the audit trail. It returns an error when it found anything.
func runCheck(ctx context.Context, cfg Config, logger *slog.Logger, args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return errors.New("usage: check")
	}
	var parts []checkPart
	if cfg.MongoURI == "" {
		findings, err := backup.CheckFiles(ctx, cfg.DataDir)
		if err != nil {
			return err
		}
		parts = append(parts, checkPart{"SQLite integrity_check", findings})
	}
	err := runAudited(ctx, cfg, logger, stdout, "check", "store.check", "check", func(conn *Connection, db *repository.DB) (map[string]int, error) {
		more, err := check(ctx, cfg, conn, db)
		if err != nil {
			return nil, err
		}
		parts = append(parts, more...)
		return map[string]int{"findings": findingsIn(parts)}, nil
	})
	if err != nil {
		_ = reportCheck(stdout, parts) // what was found before the store failed
		return err
	}
	return reportCheck(stdout, parts)
}

// checkSample is how many rows of each table the check of the side index draws.
const checkSample = 100

// checkPart is what one part of the check found.
type checkPart struct {
	name     string
	findings []string
}

// check checks, on the embedded store, every side index against its table and the
// store's answers (see sideindex.Index.Check); then the archive of the
// interactions' versions (see records.CheckArchive) and the audit trail (see
// audit.Trail.VerifyAll). It returns the store's errors.
func check(ctx context.Context, cfg Config, conn *Connection, db *repository.DB) ([]checkPart, error) {
	var parts []checkPart
	if cfg.MongoURI == "" {
		files := sideindex.New(cfg.DataDir)
		defer files.Close()
		findings, err := files.Index(cfg.Database).Check(ctx, db, checkSample)
		if err != nil {
			return nil, fmt.Errorf("check the side index: %w", err)
		}
		parts = append(parts, checkPart{"side index", findings})
	}
	findings, err := records.CheckArchive(ctx, db.InteractionVersions())
	if err != nil {
		return nil, fmt.Errorf("check the archive: %w", err)
	}
	parts = append(parts, checkPart{"archive of the interactions' versions", findings})
	v, err := audit.NewTrail(db, cfg.AuditKeys(), nil).VerifyAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("verify the audit trail: %w", err)
	}
	return append(parts, checkPart{fmt.Sprintf("audit trail (%d chains, %d events)", v.Chains, v.Events), breaksOf(v)}), nil
}

// reportCheck prints what each part of the check found, and returns an error when
// any found anything.
func reportCheck(stdout io.Writer, parts []checkPart) error {
	for _, p := range parts {
		if len(p.findings) == 0 {
			fmt.Fprintf(stdout, "%s: ok\n", p.name)
			continue
		}
		fmt.Fprintf(stdout, "%s: %d findings\n", p.name, len(p.findings))
		for _, f := range p.findings {
			fmt.Fprintln(stdout, "  "+f)
		}
	}
	if total := findingsIn(parts); total > 0 {
		return fmt.Errorf("check: %d findings (above)", total)
	}
	return nil
}

// findingsIn returns how many findings the parts of a check hold.
func findingsIn(parts []checkPart) int {
	total := 0
	for _, p := range parts {
		total += len(p.findings)
	}
	return total
}

// countsOf returns counts as an audit event records them.
func countsOf(counts map[string]int64) map[string]int {
	out := make(map[string]int, len(counts))
	for k, n := range counts {
		out[k] = int(n)
	}
	return out
}

// describeCounts writes the counts of the collections people look for first, and
// the total of the others.
func describeCounts(counts map[string]int64) string {
	first := []string{repository.PatientsCollection, repository.InteractionsCollection,
		repository.InteractionVersionsCollection, repository.AuditEventsCollection}
	var others int64
	for name, n := range counts {
		if !slices.Contains(first, name) {
			others += n
		}
	}
	parts := make([]string, 0, len(first))
	for _, name := range first {
		parts = append(parts, fmt.Sprintf("%d %s", counts[name], strings.ReplaceAll(name, "_", " ")))
	}
	return strings.Join(parts, ", ") + fmt.Sprintf(" and %d other documents", others)
}
