package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/clinic/interactions/apikey"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

// runKeys manages API keys from the command line: create, list, revoke. Against the
// embedded store it works whether or not the server is running.
func runKeys(ctx context.Context, cfg Config, logger *slog.Logger, args []string, stdout io.Writer) error {
	const usage = "usage: keys create -name NAME -role clinician|viewer|auditor|admin | keys list | keys revoke NAME"
	if len(args) == 0 {
		return errors.New(usage)
	}
	// run does the command's work; action and target name it in the audit trail.
	var (
		run            func(*repository.DB) error
		action, target string
	)
	switch args[0] {
	case "create":
		var name, role string
		err := parseFlags("keys create", usage, args[1:], func(fs *flag.FlagSet) {
			fs.StringVar(&name, "name", "", "key name")
			fs.StringVar(&role, "role", "", "clinician, viewer, auditor or admin")
		})
		if err != nil {
			return err
		}
		action, target = "keys.create", "keys create "+name
		run = func(db *repository.DB) error {
			issued, err := apikey.New(db, nil, logger).Issue(ctx, models.NewKeyRequest{Name: name, Role: models.Role(role)})
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
		action, target = "keys.read", "keys list"
		run = func(db *repository.DB) error {
			keys, err := db.APIKeys(ctx)
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
		action, target = "keys.delete", "keys revoke "+args[1]
		run = func(db *repository.DB) error {
			k, err := apikey.New(db, nil, logger).Revoke(ctx, args[1])
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

	return runAudited(ctx, cfg, logger, stdout, "keys", action, target, func(_ *Connection, db *repository.DB) (map[string]int, error) {
		return nil, run(db)
	})
}

func orDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}
