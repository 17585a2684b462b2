package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"regexp"

	"github.com/clinic/interactions/notary"
	"github.com/clinic/interactions/repository"
)

// runAudit runs the audit trail's commands: keygen makes the key that signs its
// checkpoints (see notary.GenerateKeys); verify checks the trail against the signed
// checkpoints (see notary.Verify).
func runAudit(ctx context.Context, cfg Config, logger *slog.Logger, args []string, stdout io.Writer) error {
	const usage = "usage: audit keygen -out DIR [-name NAME] | audit verify -checkpoints FILE -public-key FILE"
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "keygen":
		var out, name string
		err := parseFlags("audit keygen", usage, args[1:], func(fs *flag.FlagSet) {
			fs.StringVar(&out, "out", "", "the directory of the key files")
			fs.StringVar(&name, "name", defaultKeyName(), "the key's name, which starts every checkpoint's origin")
		})
		if err != nil || out == "" {
			return errors.New(usage)
		}
		private, public, err := notary.GenerateKeys(out, name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Wrote the signing key %q to %s (only you may read it) and its public key to %s.\n"+
			"Give the server AUDIT_SIGNING_KEY_FILE=%s and AUDIT_CHECKPOINT_LOG=<a file outside DATA_DIR, or stdout>;\n"+
			"give auditors the public key, to run: go run . audit verify -checkpoints <the log> -public-key %s\n",
			name, private, public, private, public)
		return nil
	case "verify":
		flags, err := stringFlags("audit verify", usage, args[1:], "checkpoints", "public-key")
		if err != nil {
			return err
		}
		return verifyCheckpoints(ctx, cfg, logger, flags[0], flags[1], stdout)
	}
	return errors.New(usage)
}

// verifyCheckpoints verifies the trail against the checkpoints of the log file,
// signed by the key of the public key file, prints the report, records the
// verification in the trail, and returns an error when the report has findings.
func verifyCheckpoints(ctx context.Context, cfg Config, logger *slog.Logger, logFile, publicKey string, stdout io.Writer) error {
	verifier, err := notary.LoadVerifier(publicKey)
	if err != nil {
		return err
	}
	f, err := os.Open(logFile)
	if err != nil {
		return fmt.Errorf("read the checkpoint log: %w", err)
	}
	defer f.Close()
	var report notary.Report
	err = runAudited(ctx, cfg, logger, stdout, "audit verify", "audit.verify", "audit verify", func(_ *Connection, db *repository.DB) (map[string]int, error) {
		var verr error
		if report, verr = notary.VerifyLog(ctx, db, cfg.AuditKeys(), f, verifier); verr != nil {
			return nil, verr
		}
		var lost int64
		for _, r := range report.Restores {
			lost += r.Events()
		}
		return map[string]int{"checkpoints": report.Checkpoints, "findings": len(report.Findings), "events_lost_by_restores": int(lost)}, nil
	})
	if err != nil {
		return err
	}
	if err := report.Write(stdout); err != nil {
		return err
	}
	if !report.OK() {
		return fmt.Errorf("audit verify: %d findings (above)", len(report.Findings))
	}
	return nil
}

// keyNameChars are what a key's name may hold.
var keyNameChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// defaultKeyName is the name of a new signing key: this machine's host name, and
// the service's.
func defaultKeyName() string {
	host, err := os.Hostname()
	if host = keyNameChars.ReplaceAllString(host, "-"); err != nil || host == "" {
		host = "localhost"
	}
	return host + "-clinic"
}
