package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/loadtest"
	"github.com/clinic/interactions/synthetic"
)

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
	api, err := b.apiPhase(ctx, "API", o.mix, data, pid, pidErr)
	if err != nil {
		return err
	}
	created := len(data.interactions)
	if c, ok := api.Op("create"); ok {
		created += c.OK
	}
	defer func() {
		fmt.Fprintf(b.out, "data: the %d patients %s to -%03d and the %d interactions made for them through the API stay in the store"+
			" (records are never deleted; they are real records under their own insurance numbers)\n",
			o.patients, data.patients[0], o.patients, created)
	}()
	if !o.raw {
		return ctx.Err()
	}
	raw, err := b.rawPhase(ctx, "raw", o.mix, data, pid, pidErr)
	if err != nil {
		return err
	}
	if err := loadtest.WriteRatios(b.out, "API", api, "raw", raw); err != nil {
		return err
	}
	if len(api.Ops) > 1 {
		fmt.Fprintln(b.out, "(in a mix, each op's throughput follows the whole mix's: a client held by a slow page creates nothing meanwhile;"+
			" compare all, or run one op alone, -mix create=1, for its own ratio)")
	}
	fmt.Fprintln(b.out)
	if o.goals {
		added, err := b.measureGoals(ctx, data, api, raw, pid, pidErr)
		if c, ok := added.Op("create"); ok {
			created += c.OK
		}
		if err != nil {
			return err
		}
	}
	return ctx.Err()
}

// apiPhase runs an API phase of mix, once the server is idle, and prints its table
// under title, with what the service promises not to give; the phase of the whole
// mix (titled "API") also with the server's memory, read during it. It returns the
// phase's result, and the errors of loadtest.Run and of writing.
func (b *bench) apiPhase(ctx context.Context, title string, mix map[string]int, data benchData, pid int, pidErr error) (loadtest.Result, error) {
	o := b.opts
	b.settle(ctx, "the "+title+" phase", pid, pidErr)
	fmt.Fprintf(b.out, "running the %s phase for %s, then waiting for the requests in flight\n", title, o.duration)
	var sampler *loadtest.MemorySampler
	whole := title == "API"
	if whole && pidErr == nil {
		sampler = loadtest.SampleMemory("/proc", pid, benchSampleEvery)
	}
	phase := loadtest.Phase{Clients: o.clients, Duration: o.duration, Slow: b.cfg.RequestTimeout + time.Second}
	res, err := loadtest.Run(ctx, phase, b.ops(mix, b.apiOps(data)))
	var memory string
	if whole {
		memory = memoryLine(sampler, pid, pidErr)
	}
	if err != nil {
		return res, err
	}
	if err := loadtest.WriteTable(b.out, title, res); err != nil {
		return res, err
	}
	b.writeChecks(title, res)
	if whole {
		fmt.Fprintf(b.out, "%s\n", memory)
	}
	fmt.Fprintln(b.out)
	return res, nil
}

// rawPhase runs a raw phase of mix (see runRaw), once the server is idle, and prints
// its table under title. It returns the phase's result, and the errors of runRaw and
// of writing.
func (b *bench) rawPhase(ctx context.Context, title string, mix map[string]int, data benchData, pid int, pidErr error) (loadtest.Result, error) {
	b.settle(ctx, "the "+title+" phase", pid, pidErr)
	fmt.Fprintf(b.out, "running the %s phase for %s, then waiting for the operations in flight\n", title, b.opts.duration)
	res, err := b.runRaw(ctx, loadtest.Phase{Clients: b.opts.clients, Duration: b.opts.duration}, mix, data)
	if err != nil {
		return res, err
	}
	if err := loadtest.WriteTable(b.out, title, res); err != nil {
		return res, err
	}
	fmt.Fprintf(b.out, "%s: no answer: %d\n\n", title, noAnswer(res))
	return res, nil
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

// writeChecks writes what the API phase titled title got that the service promises
// not to give: requests past REQUEST_TIMEOUT and a second, 503s without Retry-After,
// requests without an answer; and a note when the rate limits answered.
func (b *bench) writeChecks(title string, r loadtest.Result) {
	fmt.Fprintf(b.out, "%s: slower than REQUEST_TIMEOUT+1s (%s): %d; 503 without Retry-After: %d; no answer: %d\n",
		title, r.Slow, r.SlowCount(), r.NoRetryAfterCount(), noAnswer(r))
	for _, o := range r.Ops {
		if o.Answers["429"] > 0 {
			fmt.Fprintln(b.out, "API: 429 answers: the server's rate limits capped this run;"+
				" start it with RATE_LIMIT_PER_MINUTE=0 CLIENT_RATE_LIMIT_PER_MINUTE=0 HEAVY_REQUESTS_PER_KEY=0 to measure it")
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

// ops returns the bench's operations, in the order of benchOps, with their weights
// in mix.
func (b *bench) ops(mix map[string]int, do map[string]func(context.Context, *rand.Rand) loadtest.Outcome) []loadtest.Op {
	ops := make([]loadtest.Op, len(benchOps))
	for i, name := range benchOps {
		ops[i] = loadtest.Op{Name: name, Weight: mix[name], Do: do[name]}
	}
	return ops
}

// setup records the bench's patients and their first interactions through the API,
// with as many clients as the phases. It returns an error when a request does not
// succeed.
func (b *bench) setup(ctx context.Context) (benchData, error) {
	data := benchData{patients: make([]string, b.opts.patients), ages: make([]int, b.opts.patients)}
	for i := range data.patients {
		data.patients[i] = fmt.Sprintf("BENCH-%s-%03d", b.run, i+1)
		data.ages[i] = 20 + rand.IntN(60)
	}
	var (
		mu    sync.Mutex
		errs  []error
		wg    sync.WaitGroup
		queue = make(chan int)
	)
	for c := range min(b.opts.clients, b.opts.patients) {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(c)))
			for i := range queue {
				ids, err := b.setupPatient(ctx, r, data.patients[i], data.ages[i])
				mu.Lock()
				data.interactions = append(data.interactions, ids...)
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		})
	}
	for i := range data.patients {
		queue <- i
	}
	close(queue)
	wg.Wait()
	if len(errs) > 0 {
		return benchData{}, fmt.Errorf("setup: %w", errors.Join(errs...))
	}
	return data, nil
}

// setupPatient records patient no, age years old, and its first interactions, and
// returns their ids.
func (b *bench) setupPatient(ctx context.Context, r *rand.Rand, no string, age int) ([]string, error) {
	patient, err := json.Marshal(bson.D{
		{Key: "insurance_no", Value: no}, {Key: "fname", Value: "Bench"}, {Key: "lname", Value: "Patient " + no[len(no)-3:]},
		{Key: "age", Value: age}, {Key: "sex", Value: []string{"F", "M"}[r.IntN(2)]},
		{Key: "blood_type", Value: "O+"}, {Key: "insurance_provider", Value: "BENCH"},
		{Key: "pre_existing_conditions", Value: []string{"Asthma"}},
	})
	if err != nil {
		return nil, err
	}
	if _, err := b.api.Expect(ctx, http.StatusCreated, "POST", "/api/v1/patients", patient); err != nil {
		return nil, err
	}
	var ids []string
	for range benchVisitsPerPatient {
		body, err := json.Marshal(visit(r, no, age, time.Now()))
		if err != nil {
			return ids, err
		}
		ans, err := b.api.Expect(ctx, http.StatusCreated, "POST", "/api/v1/interactions", body)
		if err != nil {
			return ids, err
		}
		ids = append(ids, strings.TrimPrefix(ans.Header.Get("Location"), "/api/v1/interactions/"))
	}
	return ids, nil
}

// visit returns a visit of patient no, age years old, as a client sends it, dated in
// the year before now: what synthetic.Visit draws for a patient of that age.
func visit(r *rand.Rand, no string, age int, now time.Time) bson.D {
	at := now.Add(-time.Duration(r.Int64N(int64(365 * 24 * time.Hour)))).UTC().Truncate(time.Second)
	return synthetic.Visit(r, no, age, at)
}

// anyVisit returns a visit of one of d's patients, drawn from r, as visit does.
func (d benchData) anyVisit(r *rand.Rand, now time.Time) bson.D {
	i := r.IntN(len(d.patients))
	return visit(r, d.patients[i], d.ages[i], now)
}

// apiOps returns the operations of the API phase.
func (b *bench) apiOps(data benchData) map[string]func(context.Context, *rand.Rand) loadtest.Outcome {
	history := func(ctx context.Context, r *rand.Rand, query string) loadtest.Outcome {
		no := data.patients[r.IntN(len(data.patients))]
		return loadtest.OutcomeOf(b.api.Send(ctx, "GET", "/api/v1/patients/"+no+"/interactions?limit="+strconv.Itoa(benchPageSize)+query, nil, false))
	}
	return map[string]func(context.Context, *rand.Rand) loadtest.Outcome{
		"create": func(ctx context.Context, r *rand.Rand) loadtest.Outcome {
			body, err := json.Marshal(data.anyVisit(r, time.Now()))
			if err != nil {
				return loadtest.Outcome{Err: err}
			}
			// A client that retries safely sends a key of its own with each create.
			var headers []string
			if b.opts.idempotent {
				headers = []string{"Idempotency-Key", uuid.NewString()}
			}
			return loadtest.OutcomeOf(b.api.Send(ctx, "POST", "/api/v1/interactions", body, false, headers...))
		},
		"history": func(ctx context.Context, r *rand.Rand) loadtest.Outcome {
			return history(ctx, r, "")
		},
		"label": func(ctx context.Context, r *rand.Rand) loadtest.Outcome {
			return history(ctx, r, "&label="+benchLabels[r.IntN(len(benchLabels))])
		},
		"get": func(ctx context.Context, r *rand.Rand) loadtest.Outcome {
			id := data.interactions[r.IntN(len(data.interactions))]
			return loadtest.OutcomeOf(b.api.Send(ctx, "GET", "/api/v1/interactions/"+id, nil, false))
		},
	}
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
	if !app.LoopbackHost(u.Hostname()) {
		return 0, fmt.Errorf("the server at %s is not on this machine's loopback; give -pid", u.Host)
	}
	return loadtest.URLListenerPID("/proc", u)
}

// memoryLine stops sampler, the sampling of the server's process pid during the API
// phase (nil when pidErr says why there is no pid), and returns the line that
// reports the server's memory, or says why it cannot.
func memoryLine(sampler *loadtest.MemorySampler, pid int, pidErr error) string {
	if pidErr != nil {
		return "server memory: n/a (" + pidErr.Error() + ")"
	}
	m, most, err := sampler.Stop()
	if err != nil {
		return fmt.Sprintf("server memory (pid %d): n/a (%v)", pid, err)
	}
	return fmt.Sprintf("server memory (pid %d): RSS %s after the API phase, at most %s during it (read every %s); %s at most since it started (VmHWM)",
		pid, loadtest.FormatBytes(m.RSS), loadtest.FormatBytes(most), benchSampleEvery, loadtest.FormatBytes(m.Peak))
}
