// Command bench drives a running server over HTTP with concurrent clients through
// a mix of requests (the API phase), then does the same store work directly with
// the driver against the same store (the raw phase, the ceiling), and prints what
// each got and their ratio (see benchOps); then the ratios of the service's speed
// goals, each op alone against its ceiling alone (see goals). It records its own
// patients through the API first, BENCH-<time>-001 and on, with visits drawn by
// package synthetic.
//
// The store is the server's, configured as the server's is (MONGODB_URI and
// MONGODB_DATABASE, or the embedded store of a server running over the same DATA_DIR,
// through its socket or EMBEDDED_MONGO_ADDR); the bench attaches to it to issue a
// temporary key (unless -key gives one) and for the raw phase (unless -raw=false),
// and never starts one of its own.
//
//	go run .                        # the server, in a terminal of its own
//	go run ./bench -c 32 -d 10s
//	go run ./bench -mix create=1 -raw=false
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/clinic/interactions/apikey"
	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/loadtest"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// run reads the configuration as the server does, logs to stderr as JSON, and runs
// the bench the command line args asks for, writing its report to stdout. It returns
// the errors of configuration and those of runBench.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := app.LoadConfig()
	if err != nil {
		return err
	}
	return runBench(ctx, cfg, app.NewLogger(stderr, cfg.LogLevel), args, stdout)
}

// benchOps are the bench's operations, in the order of its tables: the API phase's
// request | the raw phase's store work.
//
//   - create: POST /api/v1/interactions | insertOne into a scratch collection with
//     the indexes of interactions (made for the run, dropped after it)
//   - history: GET /api/v1/patients/{no}/interactions?limit=20 | the find the API
//     sends: {insurance_no, status ≠ entered-in-error}, newest first, limit 21
//   - label: the same with &label=<a label> | the same find with {label: {$in: [x]}}
//   - get: GET /api/v1/interactions/{id} | findOne({_id})
var benchOps = []string{"create", "history", "label", "get"}

// benchLabels are labels of the catalogue the bench's visits are drawn from (see
// package synthetic); the label op filters by one.
var benchLabels = []string{"fever", "respiratory", "skin", "gut", "cardio"}

const (
	// benchPageSize is the page the history and label ops ask for.
	benchPageSize = 20
	// benchVisitsPerPatient is how many interactions the set-up records per patient:
	// more than a page, so that every history page is full and has a next.
	benchVisitsPerPatient = benchPageSize + 1
	// benchSampleEvery is how often the server's memory is read during the API phase.
	benchSampleEvery = 200 * time.Millisecond
	// benchRawTimeout bounds an operation of the raw phase. It is long: the raw
	// phase measures what the store achieves at its own pace (the API's requests
	// end at REQUEST_TIMEOUT), and a store left with abandoned queries would
	// slow down whatever comes next.
	benchRawTimeout = 5 * time.Minute
)

// benchOptions is the bench's command line.
type benchOptions struct {
	url      string
	clients  int
	duration time.Duration
	patients int
	mix      map[string]int
	mixText  string
	key      string
	raw      bool
	goals    bool
	pid      int
	// idempotent sends an Idempotency-Key with each create.
	idempotent bool
}

// parseBenchFlags reads the bench's command line; port is the server's default port.
// It returns an error carrying the usage when the line cannot be run.
func parseBenchFlags(args []string, port int) (benchOptions, error) {
	var o benchOptions
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.url, "url", "http://127.0.0.1:"+strconv.Itoa(port), "the running server's base URL")
	fs.IntVar(&o.clients, "c", 32, "concurrent clients")
	fs.DurationVar(&o.duration, "d", 10*time.Second, "duration of each phase")
	fs.IntVar(&o.patients, "patients", 20, "patients the bench records for itself, through the API")
	fs.StringVar(&o.mixText, "mix", "create=1,history=1,label=1,get=1", "weights of the operations: "+strings.Join(benchOps, ", "))
	fs.StringVar(&o.key, "key", "", "a clinician API key; empty: the bench issues a temporary one and revokes it at the end")
	fs.BoolVar(&o.raw, "raw", true, "also run the raw phase, on the store directly")
	fs.BoolVar(&o.goals, "goals", true, "with the raw phase, also measure each op of the speed goals alone (create, get, history) against its ceiling alone")
	fs.BoolVar(&o.idempotent, "idempotency", true, "send an Idempotency-Key with each create, as a client that retries safely does")
	fs.IntVar(&o.pid, "pid", 0, "the server's process id, for its memory; 0: the process listening on the URL's port")
	usage := func(err error) error {
		var b strings.Builder
		fmt.Fprintf(&b, "%v\nusage: bench [flags]\n", err)
		fs.SetOutput(&b)
		fs.PrintDefaults()
		return errors.New(strings.TrimSuffix(b.String(), "\n"))
	}
	if err := fs.Parse(args); err != nil {
		return o, usage(err)
	}
	if fs.NArg() > 0 {
		return o, usage(fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	if o.clients < 1 || o.duration <= 0 || o.patients < 1 {
		return o, usage(errors.New("-c, -d and -patients must be positive"))
	}
	mix, err := loadtest.ParseMix(o.mixText, benchOps)
	if err != nil {
		return o, usage(err)
	}
	o.mix = mix
	if u, err := url.Parse(o.url); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return o, usage(fmt.Errorf("-url %q is not an http(s) URL", o.url))
	}
	o.url = strings.TrimSuffix(o.url, "/")
	return o, nil
}

// bench is one run of the bench command.
type bench struct {
	opts   benchOptions
	cfg    app.Config
	logger *slog.Logger
	out    io.Writer
	api    *loadtest.Client
	// run names the run: in its patients' insurance numbers, its key, its scratch
	// collection.
	run string
	// conn, db and trail are set when the bench works on the store: to issue its
	// key, for the raw phase.
	conn  *app.Connection
	db    *repository.DB
	trail *app.CommandAudit
	// keyName names the key the bench issues, and the author of its raw creates.
	keyName string
}

// benchData is what the set-up recorded through the API: the patients' insurance
// numbers and ages, and the ids of their interactions.
type benchData struct {
	patients     []string
	ages         []int
	interactions []string
}

// runBench runs the bench command (see benchOps). It returns an error for a bad
// command line, a server that does not answer ready, a store it cannot attach to,
// a set-up request that fails, and the errors of the audit trail; requests that
// fail during the phases are counted, not returned. The temporary key is revoked
// and the scratch collection dropped whatever happens.
func runBench(ctx context.Context, cfg app.Config, logger *slog.Logger, args []string, stdout io.Writer) (err error) {
	opts, err := parseBenchFlags(args, cfg.Port)
	if err != nil {
		return err
	}
	b := &bench{
		opts: opts, cfg: cfg, logger: logger, out: stdout,
		api: loadtest.NewClient(opts.url, opts.clients, max(3*cfg.RequestTimeout, 30*time.Second)),
		run: time.Now().UTC().Format("20060102T150405"),
	}
	b.keyName = "bench-" + b.run
	if err := ready(ctx, b.api); err != nil {
		return err
	}
	if opts.key == "" || opts.raw {
		conn, db, err := app.Open(ctx, cfg, logger, app.ConnectOptions{Attach: true, AttachOnly: true})
		if err != nil {
			return err
		}
		defer conn.CloseLogged(logger)
		trail, err := app.NewCommandAudit(ctx, db, cfg, "bench", logger, stdout)
		if err != nil {
			return err
		}
		defer func() {
			seal, cancel := context.WithTimeout(context.WithoutCancel(ctx), benchCleanupTimeout)
			defer cancel()
			if serr := trail.Close(seal); serr != nil {
				err = errors.Join(err, fmt.Errorf("seal the bench's audit chain: %w", serr))
			}
		}()
		b.conn, b.db, b.trail = conn, db, trail
	}
	b.api.Key = opts.key
	if opts.key == "" {
		revoke, err := b.issueKey(ctx)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, revoke()) }()
	}
	return b.measure(ctx)
}

// benchCleanupTimeout bounds each step of the bench's cleanup: revoking its key,
// dropping its scratch collection, recording and sealing its audit events.
const benchCleanupTimeout = 10 * time.Second

// issueKey issues a temporary clinician key for the run and records it in the audit
// trail. It returns the function that revokes it and records that. It returns the
// errors of issuing and recording.
func (b *bench) issueKey(ctx context.Context) (revoke func() error, err error) {
	name := b.keyName
	issued, err := apikey.New(b.db, nil, b.logger).Issue(ctx, models.NewKeyRequest{Name: name, Role: models.RoleClinician})
	rerr := b.record(ctx, "keys.create", "bench key "+name, nil, err)
	if err != nil {
		return nil, errors.Join(err, rerr)
	}
	revoke = func() error {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), benchCleanupTimeout)
		defer cancel()
		_, err := b.db.RevokeAPIKey(ctx, name, models.StoreTime(time.Now()))
		rerr := b.record(ctx, "keys.delete", "bench key "+name, nil, err)
		if err != nil {
			return errors.Join(fmt.Errorf("revoke the bench's key %s (revoke it with: go run . keys revoke %s): %w", name, name, err), rerr)
		}
		if rerr != nil {
			return rerr
		}
		fmt.Fprintf(b.out, "key: %s, a clinician key issued for the run, is revoked; the audit trail has both\n", name)
		return nil
	}
	if rerr != nil { // without its event, the key must not be used
		return nil, errors.Join(rerr, revoke())
	}
	b.api.Key = issued.Key
	return revoke, nil
}

// record appends an event of the run to the audit trail, even once ctx has ended.
// It returns the trail's error.
func (b *bench) record(ctx context.Context, action, route string, counts map[string]int, err error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), benchCleanupTimeout)
	defer cancel()
	if aerr := b.trail.Record(ctx, action, route, models.RecordKey{}, counts, err); aerr != nil {
		return fmt.Errorf("record %s in the audit trail: %w", action, aerr)
	}
	return nil
}

// ready returns nil when the server c sends to answers /readyz with 200, and
// otherwise an error saying how to start it.
func ready(ctx context.Context, c *loadtest.Client) error {
	ans, err := c.Send(ctx, "GET", "/readyz", nil, true)
	if err != nil {
		return fmt.Errorf("no server answers at %s (start one with go run ., or give -url): %w", c.Base, err)
	}
	if ans.Status != http.StatusOK {
		return fmt.Errorf("the server at %s is not ready: /readyz answered %d: %s", c.Base, ans.Status, bytes.TrimSpace(ans.Body))
	}
	return nil
}
