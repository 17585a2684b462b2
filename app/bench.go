package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clinic/interactions/apikey"
	"github.com/clinic/interactions/loadtest"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

// The bench command drives a running server over HTTP with concurrent clients
// through a mix of requests (the API phase), then does the same store work directly
// with the driver against the same store (the raw phase, the ceiling), and prints
// what each got and their ratio. Its operations, in the order of its tables:
//
//   - create: POST /api/v1/interactions | insertOne into a scratch collection with
//     the indexes of interactions (made for the run, dropped after it)
//   - history: GET /api/v1/patients/{no}/interactions?limit=20 | the find the API
//     sends: {insurance_no, status ≠ entered-in-error}, newest first, limit 21
//   - label: the same with &label=<a label> | the same find with {label: {$in: [x]}}
//   - get: GET /api/v1/interactions/{id} | findOne({_id})
var benchOps = []string{"create", "history", "label", "get"}

// benchLabels are the labels of the bench's interactions; the label op filters by one.
var benchLabels = []string{"fever", "respiratory", "skin", "gut", "cardio"}

// benchVisits are the visits the bench records, one drawn at random each time.
var benchVisits = []struct {
	ailment, symptoms, med string
	labels                 []string
}{
	{"Influenza", "fever above 38°C, dry cough, aching limbs", "Oseltamivir 75mg", []string{"fever", "respiratory"}},
	{"Contact dermatitis", "itchy red rash on both forearms", "Hydrocortisone 1% cream", []string{"skin"}},
	{"Gastroenteritis", "nausea and diarrhoea for two days, mild fever", "Oral rehydration salts", []string{"gut", "fever"}},
	{"Hypertension", "occasional morning headaches", "Ramipril 5mg", []string{"cardio"}},
}

const (
	// benchVisitsPerPatient is how many interactions the set-up records per patient.
	benchVisitsPerPatient = 3
	// benchPageSize is the page the history and label ops ask for.
	benchPageSize = 20
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
	cfg    Config
	logger *slog.Logger
	out    io.Writer
	api    *benchClient
	// run names the run: in its patients' insurance numbers, its key, its scratch
	// collection.
	run string
	// conn, db and trail are set when the bench works on the store: to issue its
	// key, for the raw phase.
	conn  *Connection
	db    *repository.DB
	trail *CommandAudit
	// keyName names the key the bench issues, and the author of its raw creates.
	keyName string
}

// benchData is what the set-up recorded through the API.
type benchData struct {
	patients     []string
	interactions []string
}

// runBench runs the bench command (see benchOps). It returns an error for a bad
// command line, a server that does not answer ready, a store it cannot attach to,
// a set-up request that fails, and the errors of the audit trail; requests that
// fail during the phases are counted, not returned. The temporary key is revoked
// and the scratch collection dropped whatever happens.
func runBench(ctx context.Context, cfg Config, logger *slog.Logger, args []string, stdout io.Writer) (err error) {
	opts, err := parseBenchFlags(args, cfg.Port)
	if err != nil {
		return err
	}
	b := &bench{
		opts: opts, cfg: cfg, logger: logger, out: stdout,
		api: newBenchClient(opts.url, opts.clients, max(3*cfg.RequestTimeout, 30*time.Second)),
		run: time.Now().UTC().Format("20060102T150405"),
	}
	b.keyName = "bench-" + b.run
	if err := b.api.ready(ctx); err != nil {
		return err
	}
	if opts.key == "" || opts.raw {
		conn, db, err := Open(ctx, cfg, logger, ConnectOptions{Attach: true, AttachOnly: true})
		if err != nil {
			return err
		}
		defer conn.CloseLogged(logger)
		trail, err := NewCommandAudit(db, cfg.AuditKey, "bench", logger)
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
	b.api.key = opts.key
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
	b.api.key = issued.Key
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

// measure sets up the bench's patients, runs the phases and prints their results.
func (b *bench) measure(ctx context.Context) error {
	o := b.opts
	fmt.Fprintf(b.out, "bench: %s, %d clients, %s a phase, mix %s, REQUEST_TIMEOUT %s\n",
		o.url, o.clients, o.duration, o.mixText, b.cfg.RequestTimeout)
	began := time.Now()
	data, err := b.setup(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(b.out, "setup: %d patients %s to -%03d with %d interactions each, through the API, in %s\n\n",
		o.patients, data.patients[0], o.patients, benchVisitsPerPatient, loadtest.FormatLatency(time.Since(began)))

	pid, pidErr := b.serverPID()
	b.settle(ctx, "the API phase", pid, pidErr)
	fmt.Fprintf(b.out, "running the API phase for %s, then waiting for the requests in flight\n", o.duration)
	sampler := startMemorySampler(pid, pidErr)
	phase := loadtest.Phase{Clients: o.clients, Duration: o.duration, Slow: b.cfg.RequestTimeout + time.Second}
	api, err := loadtest.Run(ctx, phase, b.ops(b.apiOps(data)))
	memory := sampler.stop()
	if err != nil {
		return err
	}
	if err := loadtest.WriteTable(b.out, "API", api); err != nil {
		return err
	}
	b.writeChecks(api)
	fmt.Fprintf(b.out, "%s\n\n", memory)

	created := len(data.interactions)
	if c, ok := api.Op("create"); ok {
		created += c.OK
	}
	defer fmt.Fprintf(b.out, "data: the %d patients %s to -%03d and the %d interactions made for them through the API stay in the store"+
		" (records are never deleted; they are real records under their own insurance numbers)\n",
		o.patients, data.patients[0], o.patients, created)
	if !o.raw {
		return ctx.Err()
	}
	b.settle(ctx, "the raw phase", pid, pidErr)
	fmt.Fprintf(b.out, "running the raw phase for %s, then waiting for the operations in flight\n", o.duration)
	raw, err := b.rawPhase(ctx, loadtest.Phase{Clients: o.clients, Duration: o.duration}, data)
	if err != nil {
		return err
	}
	if err := loadtest.WriteTable(b.out, "raw", raw); err != nil {
		return err
	}
	fmt.Fprintf(b.out, "raw: no answer: %d\n\n", noAnswer(raw))
	if err := loadtest.WriteRatios(b.out, "API", api, "raw", raw); err != nil {
		return err
	}
	if len(api.Ops) > 1 {
		fmt.Fprintln(b.out, "(in a mix, each op's throughput follows the whole mix's: a client held by a slow page creates nothing meanwhile;"+
			" compare all, or run one op alone, -mix create=1, for its own ratio)")
	}
	fmt.Fprintln(b.out)
	return ctx.Err()
}

// How the bench waits for the server to go idle before a phase.
const (
	// settleWindow is how long the server's CPU use is watched at a time.
	settleWindow = time.Second
	// settleIdle is the CPU time within a window under which the server is idle.
	settleIdle = settleWindow / 10
	// settleMax is how long the bench waits at most.
	settleMax = 3 * time.Minute
)

// settle waits until the server's process pid uses less than a tenth of a CPU, for
// settleMax at most, and says how long it waited when it had to wait, or why it
// cannot tell. The embedded store goes on with queries whose requests have already
// answered (503 at REQUEST_TIMEOUT, or a client that gave up): unwaited, they would
// slow the next phase down.
func (b *bench) settle(ctx context.Context, next string, pid int, pidErr error) {
	if pidErr != nil {
		fmt.Fprintf(b.out, "settle: n/a (%v): %s starts at once\n", pidErr, next)
		return
	}
	start := time.Now()
	last, err := loadtest.ReadCPU("/proc", pid)
	for err == nil && time.Since(start) < settleMax {
		select {
		case <-ctx.Done():
			return
		case <-time.After(settleWindow):
		}
		var used time.Duration
		if used, err = loadtest.ReadCPU("/proc", pid); err == nil && used-last < settleIdle {
			if waited := time.Since(start); waited > 2*settleWindow {
				fmt.Fprintf(b.out, "settle: the server was busy for %s before %s (queries of requests already answered, or its background work)\n",
					loadtest.FormatLatency(waited-settleWindow), next)
			}
			return
		}
		last = used
	}
	if err != nil {
		fmt.Fprintf(b.out, "settle: n/a (%v): %s starts at once\n", err, next)
		return
	}
	fmt.Fprintf(b.out, "settle: the server was still busy after %s; %s starts all the same\n", settleMax, next)
}

// writeChecks writes what the API phase got that the service promises not to give:
// requests past REQUEST_TIMEOUT and a second, 503s without Retry-After, requests
// without an answer; and a note when the rate limits answered.
func (b *bench) writeChecks(r loadtest.Result) {
	fmt.Fprintf(b.out, "API: slower than REQUEST_TIMEOUT+1s (%s): %d; 503 without Retry-After: %d; no answer: %d\n",
		r.Slow, r.SlowCount(), r.NoRetryAfterCount(), noAnswer(r))
	for _, o := range r.Ops {
		if o.Answers["429"] > 0 {
			fmt.Fprintln(b.out, "API: 429 answers: the server's rate limits capped this run;"+
				" start it with RATE_LIMIT_PER_MINUTE=0 CLIENT_RATE_LIMIT_PER_MINUTE=0 to measure it")
			return
		}
	}
}

// noAnswer counts a phase's operations that got no answer.
func noAnswer(r loadtest.Result) int {
	n := 0
	for _, o := range r.Ops {
		n += o.Answers["timeout"] + o.Answers["error"]
	}
	return n
}

// ops returns the bench's operations, in the order of benchOps, with their weights.
func (b *bench) ops(do map[string]func(context.Context, *rand.Rand) loadtest.Outcome) []loadtest.Op {
	ops := make([]loadtest.Op, len(benchOps))
	for i, name := range benchOps {
		ops[i] = loadtest.Op{Name: name, Weight: b.opts.mix[name], Do: do[name]}
	}
	return ops
}

// setup records the bench's patients and their first interactions through the API,
// with as many clients as the phases. It returns an error when a request does not
// succeed.
func (b *bench) setup(ctx context.Context) (benchData, error) {
	data := benchData{patients: make([]string, b.opts.patients)}
	for i := range data.patients {
		data.patients[i] = fmt.Sprintf("BENCH-%s-%03d", b.run, i+1)
	}
	var (
		mu    sync.Mutex
		errs  []error
		wg    sync.WaitGroup
		queue = make(chan string)
	)
	for c := range min(b.opts.clients, b.opts.patients) {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(c)))
			for no := range queue {
				ids, err := b.setupPatient(ctx, r, no)
				mu.Lock()
				data.interactions = append(data.interactions, ids...)
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		})
	}
	for _, no := range data.patients {
		queue <- no
	}
	close(queue)
	wg.Wait()
	if len(errs) > 0 {
		return benchData{}, fmt.Errorf("setup: %w", errors.Join(errs...))
	}
	return data, nil
}

// setupPatient records patient no and its first interactions, and returns their ids.
func (b *bench) setupPatient(ctx context.Context, r *rand.Rand, no string) ([]string, error) {
	patient, err := json.Marshal(bson.D{
		{Key: "insurance_no", Value: no}, {Key: "fname", Value: "Bench"}, {Key: "lname", Value: "Patient " + no[len(no)-3:]},
		{Key: "age", Value: 20 + r.IntN(60)}, {Key: "sex", Value: []string{"F", "M"}[r.IntN(2)]},
		{Key: "blood_type", Value: "O+"}, {Key: "insurance_provider", Value: "BENCH"},
		{Key: "pre_existing_conditions", Value: []string{"Asthma"}},
	})
	if err != nil {
		return nil, err
	}
	if _, err := b.api.expect(ctx, http.StatusCreated, "POST", "/api/v1/patients", patient); err != nil {
		return nil, err
	}
	var ids []string
	for range benchVisitsPerPatient {
		body, err := json.Marshal(benchVisit(r, no, time.Now()))
		if err != nil {
			return ids, err
		}
		ans, err := b.api.expect(ctx, http.StatusCreated, "POST", "/api/v1/interactions", body)
		if err != nil {
			return ids, err
		}
		ids = append(ids, strings.TrimPrefix(ans.header.Get("Location"), "/api/v1/interactions/"))
	}
	return ids, nil
}

// benchVisit returns a visit of patient no, as a client sends it, dated in the year
// before now.
func benchVisit(r *rand.Rand, no string, now time.Time) bson.D {
	v := benchVisits[r.IntN(len(benchVisits))]
	at := now.Add(-time.Duration(r.Int64N(int64(365 * 24 * time.Hour)))).UTC().Truncate(time.Second)
	return bson.D{
		{Key: "insurance_no", Value: no},
		{Key: "ailment", Value: v.ailment},
		{Key: "symptoms", Value: v.symptoms},
		{Key: "interaction_date", Value: at.Format(time.RFC3339)},
		{Key: "metrics", Value: bson.D{
			{Key: "temp", Value: 36.5 + float64(r.IntN(25))/10}, {Key: "BP", Value: fmt.Sprintf("%d/%d", 110+r.IntN(40), 70+r.IntN(20))},
			{Key: "HR", Value: int64(60 + r.IntN(40))}, {Key: "ECG", Value: "Normal"},
		}},
		{Key: "remarks", Value: "recorded by the bench command"},
		{Key: "health_status", Value: int64(1 + r.IntN(10))},
		{Key: "qa", Value: bson.D{{Key: "since when?", Value: fmt.Sprintf("%d days", 1+r.IntN(14))}, {Key: "travelled recently?", Value: "no"}}},
		{Key: "next_steps", Value: bson.D{
			{Key: "next_visit", Value: at.AddDate(0, 0, 14).Format(time.DateOnly)},
			{Key: "prescribed_meds", Value: []string{v.med}}, {Key: "prescribed_tests", Value: []string{"CRP"}},
		}},
		{Key: "label", Value: v.labels},
	}
}

// apiOps returns the operations of the API phase.
func (b *bench) apiOps(data benchData) map[string]func(context.Context, *rand.Rand) loadtest.Outcome {
	history := func(ctx context.Context, r *rand.Rand, query string) loadtest.Outcome {
		no := data.patients[r.IntN(len(data.patients))]
		return b.api.outcome(b.api.send(ctx, "GET", "/api/v1/patients/"+no+"/interactions?limit="+strconv.Itoa(benchPageSize)+query, nil, false))
	}
	return map[string]func(context.Context, *rand.Rand) loadtest.Outcome{
		"create": func(ctx context.Context, r *rand.Rand) loadtest.Outcome {
			body, err := json.Marshal(benchVisit(r, data.patients[r.IntN(len(data.patients))], time.Now()))
			if err != nil {
				return loadtest.Outcome{Err: err}
			}
			// A client that retries safely sends a key of its own with each create.
			var headers []string
			if b.opts.idempotent {
				headers = []string{"Idempotency-Key", uuid.NewString()}
			}
			return b.api.outcome(b.api.send(ctx, "POST", "/api/v1/interactions", body, false, headers...))
		},
		"history": func(ctx context.Context, r *rand.Rand) loadtest.Outcome {
			return history(ctx, r, "")
		},
		"label": func(ctx context.Context, r *rand.Rand) loadtest.Outcome {
			return history(ctx, r, "&label="+benchLabels[r.IntN(len(benchLabels))])
		},
		"get": func(ctx context.Context, r *rand.Rand) loadtest.Outcome {
			id := data.interactions[r.IntN(len(data.interactions))]
			return b.api.outcome(b.api.send(ctx, "GET", "/api/v1/interactions/"+id, nil, false))
		},
	}
}

// rawPhase runs the raw phase: the API phase's store work, with the driver. Creates
// go to a scratch collection with the indexes of interactions, dropped at the end,
// so that the records get no document the API did not make. It records the phase
// in the audit trail, with its counts. It returns the errors of making the scratch
// collection and of the audit trail, and an error when the store does not hold the
// interactions the set-up made (it is not the server's).
func (b *bench) rawPhase(ctx context.Context, phase loadtest.Phase, data benchData) (res loadtest.Result, err error) {
	interactions := b.conn.DB.Collection(repository.InteractionsCollection)
	if err := interactions.FindOne(ctx, bson.D{{Key: "_id", Value: data.interactions[0]}}).Err(); err != nil {
		return res, fmt.Errorf("the store the bench attached to (%s) does not hold the interaction the server just made: "+
			"run the bench with the server's configuration (MONGODB_URI, MONGODB_DATABASE, DATA_DIR, EMBEDDED_MONGO_ADDR): %w", b.conn.URI, err)
	}
	scratch := b.conn.DB.Collection("bench_scratch_" + b.run)
	defer func() {
		drop, cancel := context.WithTimeout(context.WithoutCancel(ctx), benchCleanupTimeout)
		defer cancel()
		if derr := scratch.Drop(drop); derr != nil {
			err = errors.Join(err, fmt.Errorf("drop the scratch collection %s: %w", scratch.Name(), derr))
		}
	}()
	if err := copyIndexes(ctx, interactions, scratch); err != nil {
		return res, err
	}
	res, err = loadtest.Run(ctx, phase, b.ops(b.rawOps(interactions, scratch, data)))
	counts := map[string]int{}
	for _, o := range res.Ops {
		counts[o.Name] = o.Count()
	}
	return res, errors.Join(err, b.record(ctx, "bench.raw", "bench raw phase, creates into "+scratch.Name(), counts, err))
}

// rawOps returns the operations of the raw phase: what the API's store work is, in
// the driver's terms (see benchOps).
func (b *bench) rawOps(interactions, scratch *mongo.Collection, data benchData) map[string]func(context.Context, *rand.Rand) loadtest.Outcome {
	timed := func(ctx context.Context, op func(context.Context) error) loadtest.Outcome {
		ctx, cancel := context.WithTimeout(ctx, benchRawTimeout)
		defer cancel()
		return loadtest.Outcome{Err: op(ctx)}
	}
	history := func(ctx context.Context, r *rand.Rand, label string) loadtest.Outcome {
		filter := bson.D{{Key: "insurance_no", Value: data.patients[r.IntN(len(data.patients))]}}
		if label != "" {
			filter = append(filter, bson.E{Key: "label", Value: bson.D{{Key: "$in", Value: []string{label}}}})
		}
		filter = append(filter, bson.E{Key: "status", Value: bson.D{{Key: "$ne", Value: models.StatusEnteredInError}}})
		opts := options.Find().SetSort(bson.D{{Key: "interaction_date", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(benchPageSize + 1)
		return timed(ctx, func(ctx context.Context) error {
			cur, err := interactions.Find(ctx, filter, opts)
			if err != nil {
				return err
			}
			var page []bson.Raw
			return cur.All(ctx, &page)
		})
	}
	return map[string]func(context.Context, *rand.Rand) loadtest.Outcome{
		"create": func(ctx context.Context, r *rand.Rand) loadtest.Outcome {
			now := time.Now()
			in, err := models.NewInteraction(benchVisit(r, data.patients[r.IntN(len(data.patients))], now), now)
			if err != nil {
				return loadtest.Outcome{Err: err}
			}
			id, err := uuid.NewV7()
			if err != nil {
				return loadtest.Outcome{Err: err}
			}
			in.ID, in.RecordedBy = id.String(), &models.Author{Key: b.keyName}
			return timed(ctx, func(ctx context.Context) error {
				_, err := scratch.InsertOne(ctx, in)
				return err
			})
		},
		"history": func(ctx context.Context, r *rand.Rand) loadtest.Outcome {
			return history(ctx, r, "")
		},
		"label": func(ctx context.Context, r *rand.Rand) loadtest.Outcome {
			return history(ctx, r, benchLabels[r.IntN(len(benchLabels))])
		},
		"get": func(ctx context.Context, r *rand.Rand) loadtest.Outcome {
			id := data.interactions[r.IntN(len(data.interactions))]
			return timed(ctx, func(ctx context.Context) error {
				_, err := interactions.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
				return err
			})
		},
	}
}

// copyIndexes gives to the indexes of from, but _id's, by name, keys and
// uniqueness. It returns the store's errors.
func copyIndexes(ctx context.Context, from, to *mongo.Collection) error {
	specs, err := from.Indexes().ListSpecifications(ctx)
	if err != nil {
		return fmt.Errorf("list the indexes of %s: %w", from.Name(), err)
	}
	for _, s := range specs {
		if s.Name == "_id_" {
			continue
		}
		opts := options.Index().SetName(s.Name)
		if s.Unique != nil && *s.Unique {
			opts.SetUnique(true)
		}
		if _, err := to.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: s.KeysDocument, Options: opts}); err != nil {
			return fmt.Errorf("index %s on %s: %w", s.Name, to.Name(), err)
		}
	}
	return nil
}

// serverPID returns the id of the server's process: -pid, or the process listening
// on the URL's port when the URL names this machine. It returns an error saying why
// it cannot be found.
func (b *bench) serverPID() (int, error) {
	if b.opts.pid > 0 {
		return b.opts.pid, nil
	}
	u, err := url.Parse(b.opts.url)
	if err != nil {
		return 0, err
	}
	if !loopbackHost(u.Hostname()) {
		return 0, fmt.Errorf("the server at %s is not on this machine's loopback; give -pid", u.Host)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return 0, err
	}
	return loadtest.ListenerPID("/proc", n)
}

// memorySampler reads a process's memory during a phase, for its largest RSS.
type memorySampler struct {
	pid    int
	err    error
	most   int64
	done   chan struct{}
	finish sync.WaitGroup
}

// startMemorySampler reads the memory of process pid every benchSampleEvery until
// stop; err says why there is no pid, if so.
func startMemorySampler(pid int, err error) *memorySampler {
	s := &memorySampler{pid: pid, err: err, done: make(chan struct{})}
	if err != nil {
		return s
	}
	s.finish.Go(func() {
		ticker := time.NewTicker(benchSampleEvery)
		defer ticker.Stop()
		for {
			if m, err := loadtest.ReadMemory("/proc", pid); err == nil {
				s.most = max(s.most, m.RSS)
			}
			select {
			case <-s.done:
				return
			case <-ticker.C:
			}
		}
	})
	return s
}

// stop ends the sampling and returns the line that reports the server's memory, or
// says why it cannot.
func (s *memorySampler) stop() string {
	close(s.done)
	s.finish.Wait()
	if s.err != nil {
		return "server memory: n/a (" + s.err.Error() + ")"
	}
	m, err := loadtest.ReadMemory("/proc", s.pid)
	if err != nil {
		return fmt.Sprintf("server memory (pid %d): n/a (%v)", s.pid, err)
	}
	return fmt.Sprintf("server memory (pid %d): RSS %s after the API phase, at most %s during it (read every %s); %s at most since it started (VmHWM)",
		s.pid, loadtest.FormatBytes(m.RSS), loadtest.FormatBytes(max(s.most, m.RSS)), benchSampleEvery, loadtest.FormatBytes(m.Peak))
}

// benchClient sends the bench's requests to the server, with a connection kept for
// each client.
type benchClient struct {
	base    string
	key     string
	timeout time.Duration
	http    *http.Client
}

// newBenchClient returns a client of the server at base for clients concurrent
// clients; each request may take timeout at most.
func newBenchClient(base string, clients int, timeout time.Duration) *benchClient {
	transport := &http.Transport{
		// Straight to the server: a proxy would be measured with it.
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2 * clients,
		MaxIdleConnsPerHost: 2 * clients,
		IdleConnTimeout:     90 * time.Second,
	}
	return &benchClient{base: base, timeout: timeout, http: &http.Client{Transport: transport}}
}

// benchAnswer is what a request got.
type benchAnswer struct {
	status int
	header http.Header
	body   []byte
}

// send sends one request with the key and headers (name, value, ...), and returns
// its answer, with the body when keep is set. It returns the transport's errors.
func (c *benchClient) send(ctx context.Context, method, path string, body []byte, keep bool, headers ...string) (benchAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return benchAnswer{}, err
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.http.Do(req)
	if err != nil {
		return benchAnswer{}, err
	}
	defer res.Body.Close()
	ans := benchAnswer{status: res.StatusCode, header: res.Header}
	if keep {
		ans.body, err = io.ReadAll(res.Body)
	} else {
		_, err = io.Copy(io.Discard, res.Body)
	}
	return ans, err
}

// outcome tells the load test what a request got.
func (c *benchClient) outcome(ans benchAnswer, err error) loadtest.Outcome {
	if err != nil {
		return loadtest.Outcome{Err: err}
	}
	return loadtest.Outcome{
		Status:       ans.status,
		NoRetryAfter: ans.status == http.StatusServiceUnavailable && ans.header.Get("Retry-After") == "",
	}
}

// expect sends a request that must answer want. It returns an error naming the
// request and its answer otherwise.
func (c *benchClient) expect(ctx context.Context, want int, method, path string, body []byte) (benchAnswer, error) {
	ans, err := c.send(ctx, method, path, body, true)
	if err != nil {
		return ans, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if ans.status != want {
		return ans, fmt.Errorf("%s %s answered %d, want %d: %s", method, path, ans.status, want, bytes.TrimSpace(ans.body))
	}
	return ans, nil
}

// ready returns nil when the server answers /readyz with 200, and otherwise an
// error saying how to start it.
func (c *benchClient) ready(ctx context.Context) error {
	ans, err := c.send(ctx, "GET", "/readyz", nil, true)
	if err != nil {
		return fmt.Errorf("no server answers at %s (start one with go run ., or give -url): %w", c.base, err)
	}
	if ans.status != http.StatusOK {
		return fmt.Errorf("the server at %s is not ready: /readyz answered %d: %s", c.base, ans.status, bytes.TrimSpace(ans.body))
	}
	return nil
}
