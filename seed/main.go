// Command seed loads patients and interactions into the service's store.
//
// With no flag it loads the bundled initial dataset (the original project's two
// patients and thirteen interactions, dated). With -csv DIR it loads DIR/Patient.csv
// and DIR/Interaction.csv in the original project's export format. With -generate N it
// loads the first N synthetic patients of a seed (-seed, 1 by default) with their
// histories; a seed always gives the same patients, insurance numbers and interaction
// ids; with -planted, patients with planted cohorts, question patterns and twins,
// to measure the service's insights by (see package synthetic). With -fhir PATH it
// imports a FHIR R4 bulk export (a folder of NDJSON files, as Synthea writes it) or one
// NDJSON file of FHIR resources (as the API's export writes it): patients, and each
// encounter as an interaction (see package fhir). CSV rows and FHIR resources go
// through the API's own validation; invalid ones are reported and skipped.
// Records already present (by insurance number or id) are left unchanged, so loading
// the same data twice adds nothing; a FHIR re-import amends the records whose source
// changed.
//
// The exit status is 0 when everything was loaded, 1 on an error, 2 for a bad command
// line, and 3 when everything was loaded except the CSV rows or FHIR resources the
// summary lists as skipped.
//
// The store is the server's: MONGODB_URI and MONGODB_DATABASE, or without MONGODB_URI
// the embedded store, that of a server running over the same DATA_DIR, reached through
// the socket in DATA_DIR or on EMBEDDED_MONGO_ADDR when it is set (the command checks
// the marker the server left there) or, when none is, one this command starts over
// DATA_DIR.
//
// The loads are package loader's; the command reads its flags, opens the store
// through package app as the server does, records the run in the audit trail, shows
// a progress bar and prints the summary.
//
//	go run ./seed
//	go run ./seed -csv ../shared/data/seed-project
//	go run ./seed -generate 2000
//	go run ./seed -generate 2000 -seed 2
//	go run ./seed -generate 2000 -planted
//	go run ./seed -fhir ../shared/data/synthea-10
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/loader"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/reconcile"
	"github.com/clinic/interactions/records"
	"github.com/clinic/interactions/repository"
)

// bundledFiles holds the initial dataset: data/Patient.csv and data/Interaction.csv.
//
//go:embed data/Patient.csv data/Interaction.csv
var bundledFiles embed.FS

// Bounds and defaults of the numeric flags.
const (
	defaultBatch    = 1000
	maxBatch        = 100_000
	defaultInflight = 2
	maxInflight     = 64
	maxGenerate     = 10_000_000
	defaultSeed     = 1
)

// Exit statuses of the command.
const (
	exitLoaded  = 0 // everything was loaded
	exitError   = 1 // an error stopped the command
	exitUsage   = 2 // the command line cannot be run
	exitSkipped = 3 // everything was loaded except the rows or resources listed
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, time.Now)
	stop()
	os.Exit(exitStatus(err, os.Stderr))
}

// exitStatus returns the exit status for err, the result of run, and writes to stderr
// what the status alone does not say: the error, or how many rows were skipped. A
// usage error has been explained already.
func exitStatus(err error, stderr io.Writer) int {
	var usage *usageError
	var skipped *skippedError
	switch {
	case err == nil:
		return exitLoaded
	case errors.As(err, &usage):
		return exitUsage
	case errors.As(err, &skipped):
		fmt.Fprintln(stderr, "seed:", err)
		return exitSkipped
	default:
		fmt.Fprintln(stderr, "seed:", err)
		return exitError
	}
}

// commandLine is the parsed command line.
type commandLine struct {
	csvDir   string
	fhirDir  string
	generate int
	planted  bool
	batch    int
	inflight int
	seed     uint64
}

// writeOptions returns how the command line asks a load to write.
func (c commandLine) writeOptions() loader.WriteOptions {
	return loader.WriteOptions{Batch: c.batch, Inflight: c.inflight}
}

// usageError reports a command line that cannot be run; its message and the usage
// have already been written.
type usageError struct {
	msg string
}

// Error returns what is wrong with the command line.
func (e *usageError) Error() string { return e.msg }

// skippedError reports a load that stored everything except the rows or resources its
// summary lists as skipped.
type skippedError struct {
	// count is how many were skipped; what names one of them: "row" or "resource".
	count int
	what  string
}

// Error says how many rows or resources were skipped.
func (e *skippedError) Error() string {
	what := e.what
	if e.count != 1 {
		what += "s"
	}
	return fmt.Sprintf("%d %s skipped, as listed in the summary; everything else was loaded", e.count, what)
}

// errHelp means -h or -help was asked for and the usage has been written.
var errHelp = errors.New("help requested")

// run loads the data the command line in args asks for into the configured store,
// writing the summary to stdout and logs, messages about the command line and the
// progress bar to stderr. Log lines never cut into the bar's line, and the bar's line
// is ended before the summary is written. now is read once, as the time the records
// are created.
//
// It returns a *usageError for a bad command line; a *skippedError, after the
// summary, when CSV rows or FHIR resources were skipped and everything else loaded;
// and otherwise the errors of configuration, the store and loading.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, now func() time.Time) error {
	con := newConsole(stderr)
	opts, err := parseFlags(args, con)
	if errors.Is(err, errHelp) {
		return nil
	}
	if err != nil {
		return err
	}

	cfg, err := app.LoadConfig()
	if err != nil {
		return err
	}
	logger := app.NewLogger(con, cfg.LogLevel)
	conn, repo, err := app.Open(ctx, cfg, logger, app.ConnectOptions{Attach: true})
	if err != nil {
		return err
	}
	defer conn.CloseLogged(logger)

	trail, err := app.NewCommandAudit(ctx, repo, cfg, "seed", logger, stdout)
	if err != nil {
		return err
	}
	err = load(ctx, opts, repo, trail, now(), stdout, con)
	// The run's chain is sealed even when the run was interrupted.
	sealCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
	defer cancel()
	if serr := trail.Close(sealCtx); serr != nil && err == nil {
		err = fmt.Errorf("seal the run's audit chain: %w", serr)
	}
	return err
}

// auditTimeout bounds the recording of a run's end once the run was interrupted.
const auditTimeout = 10 * time.Second

// load runs the import opts asks for into repo, recording it in trail: one event for
// the run with its counts, whether it completed or not, and one for every record a
// FHIR re-import amends. start is when the records are created.
func load(ctx context.Context, opts commandLine, repo *repository.DB, trail *app.CommandAudit,
	start time.Time, stdout io.Writer, con *console) error {
	// Every record the run stores or amends names it as its author.
	ctx = models.WithAuthor(ctx, models.Author{Key: "seed", RequestID: trail.RunID()})
	record := func(action, route string, counts map[string]int, err error) error {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditTimeout)
		defer cancel()
		if aerr := trail.Record(actx, action, route, models.RecordKey{}, counts, err); aerr != nil && err == nil {
			return fmt.Errorf("record the import in the audit trail: %w", aerr)
		}
		return err
	}
	if opts.fhirDir != "" {
		route := "seed -fhir " + opts.fhirDir
		clock := func() time.Time { return start }
		im := reconcile.New(repo, records.NewPatients(repo, repo.PatientVersions(), clock),
			records.NewInteractions(repo, repo.InteractionVersions(), clock), opts.batch)
		im.OnAmend(func(ctx context.Context, kind string, key models.RecordKey) error {
			return trail.Record(ctx, kind+"s.amend", route, key, nil, nil)
		})
		bar := con.newProgress("reading", progressbar.OptionShowBytes(true))
		rep, err := loader.FHIR(ctx, im, opts.fhirDir, start, bar)
		bar.stop()
		if err := record("seed.fhir", route, rep.Counts(), err); err != nil {
			return err
		}
		printFHIR(stdout, rep, opts.fhirDir)
		if n := rep.Read.SkippedCount(); n > 0 {
			return &skippedError{count: n, what: "resource"}
		}
		return nil
	}
	if opts.generate > 0 {
		kind := "synthetic"
		route := fmt.Sprintf("seed -generate %d -seed %d", opts.generate, opts.seed)
		if opts.planted {
			kind, route = "planted", route+" -planted"
		}
		fmt.Fprintf(stdout, "generating %d %s patients (seed %d)\n", opts.generate, kind, opts.seed)
		bar := con.newProgress("inserting", progressbar.OptionSetItsString("docs"), progressbar.OptionShowIts())
		rep, err := loader.Generated(ctx, repo, loader.GenerateOptions{
			Patients: opts.generate, WriteOptions: opts.writeOptions(), Seed: opts.seed, Planted: opts.planted, Now: start,
		}, bar)
		bar.stop()
		if err := record("seed.generate", route, rep.Counts(), err); err != nil {
			return err
		}
		printGenerated(stdout, rep)
		return nil
	}

	fsys, source, err := csvSource(opts.csvDir)
	if err != nil {
		return err
	}
	route := "seed"
	if opts.csvDir != "" {
		route += " -csv " + opts.csvDir
	}
	rep, err := loader.CSV(ctx, repo, fsys, opts.csvDir, start, opts.writeOptions())
	if err := record("seed.csv", route, rep.Counts(), err); err != nil {
		return err
	}
	printCSV(stdout, rep, source)
	if n := len(rep.Problems); n > 0 {
		return &skippedError{count: n, what: "row"}
	}
	return nil
}

// csvSource returns the files to import and a name for them: the directory dir, or the
// bundled dataset when dir is empty. It returns an error when dir is not a directory.
func csvSource(dir string) (fs.FS, string, error) {
	if dir == "" {
		fsys, err := fs.Sub(bundledFiles, "data")
		if err != nil {
			return nil, "", fmt.Errorf("bundled dataset: %w", err)
		}
		return fsys, "bundled dataset", nil
	}
	info, err := os.Stat(dir)
	if err != nil {
		return nil, "", fmt.Errorf("-csv: %w", err)
	}
	if !info.IsDir() {
		return nil, "", fmt.Errorf("-csv: %s is not a directory", dir)
	}
	return os.DirFS(dir), dir, nil
}

// parseFlags reads the command line. On a mistake it writes what is wrong and the
// usage to stderr and returns a *usageError; for -h it writes the usage and returns
// errHelp.
func parseFlags(args []string, stderr io.Writer) (commandLine, error) {
	var opts commandLine
	fset := flag.NewFlagSet("seed", flag.ContinueOnError)
	fset.SetOutput(stderr)
	fset.StringVar(&opts.csvDir, "csv", "", "load `DIR`/Patient.csv and DIR/Interaction.csv instead of the bundled dataset")
	fset.StringVar(&opts.fhirDir, "fhir", "", "import the FHIR R4 data at `PATH` (a folder of NDJSON files, or one NDJSON file) instead of the bundled dataset")
	fset.IntVar(&opts.generate, "generate", 0, "load the first `N` synthetic patients of the seed, with 2 to 20 interactions each, instead of the bundled dataset")
	fset.BoolVar(&opts.planted, "planted", false, "with -generate: draw patients with planted cohorts, question patterns and twins, to measure the insights by")
	fset.IntVar(&opts.batch, "batch", defaultBatch, "insert at most `SIZE` documents per insertMany")
	fset.IntVar(&opts.inflight, "inflight", defaultInflight, "make at most `N` insertMany calls at once (-generate and -csv)")
	fset.Uint64Var(&opts.seed, "seed", defaultSeed, "draw the synthetic patients of -generate from `SEED`; a seed always gives the same patients")
	fset.Usage = func() {
		fmt.Fprint(fset.Output(), "Usage: seed [-csv DIR | -fhir DIR | -generate N [-seed SEED] [-planted]] [-batch SIZE] [-inflight N]\n\n"+
			"Loads the bundled initial dataset, CSV files, FHIR bulk data or synthetic patients\n"+
			"into the store configured by the environment (see .env.example). Records already\n"+
			"present are left unchanged (a FHIR re-import amends those whose source changed).\n"+
			"-generate N loads the first N patients of the seed: run it again with a larger N,\n"+
			"or with another -seed, to add more.\n\nFlags:\n")
		fset.PrintDefaults()
		fmt.Fprint(fset.Output(), "\nExit status:\n"+
			"  0  everything was loaded\n"+
			"  1  an error stopped the command\n"+
			"  2  the command line cannot be run\n"+
			"  3  everything was loaded except the CSV rows or FHIR resources listed as skipped\n")
	}
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return commandLine{}, errHelp
		}
		return commandLine{}, &usageError{msg: err.Error()}
	}

	set := map[string]bool{}
	fset.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var sources []string
	for _, name := range []string{"csv", "fhir", "generate"} {
		if set[name] {
			sources = append(sources, "-"+name)
		}
	}
	var problem string
	switch {
	case fset.NArg() > 0:
		problem = fmt.Sprintf("unexpected argument %q; flags come before any argument, and none is needed", fset.Arg(0))
	case len(sources) > 1:
		problem = strings.Join(sources, " and ") + " exclude each other; choose one"
	case set["csv"] && opts.csvDir == "":
		problem = "-csv needs a directory"
	case set["fhir"] && opts.fhirDir == "":
		problem = "-fhir needs a folder or a file"
	case set["generate"] && (opts.generate < 1 || opts.generate > maxGenerate):
		problem = fmt.Sprintf("-generate must be from 1 to %d, not %d", maxGenerate, opts.generate)
	case set["seed"] && !set["generate"]:
		problem = "-seed only applies to -generate"
	case set["planted"] && !set["generate"]:
		problem = "-planted only applies to -generate"
	case opts.batch < 1 || opts.batch > maxBatch:
		problem = fmt.Sprintf("-batch must be from 1 to %d, not %d", maxBatch, opts.batch)
	case opts.inflight < 1 || opts.inflight > maxInflight:
		problem = fmt.Sprintf("-inflight must be from 1 to %d, not %d", maxInflight, opts.inflight)
	}
	if problem != "" {
		fmt.Fprintln(stderr, problem)
		fset.Usage()
		return commandLine{}, &usageError{msg: problem}
	}
	return opts, nil
}
