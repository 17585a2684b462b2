// Package loadtest drives concurrent clients through a weighted mix of operations for
// a while and summarises what they got: throughput, latency percentiles, the answers
// by status. It knows nothing of HTTP or of the store: an operation is a function
// that reports its outcome.
package loadtest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Outcome is what one operation got.
type Outcome struct {
	// Status is the HTTP status of the answer; 0 for an operation that is not HTTP.
	Status int
	// Err is set when the operation got no answer: a transport or store error.
	Err error
	// NoRetryAfter is set on a 503 that came without a Retry-After header.
	NoRetryAfter bool
}

// OK reports whether the operation succeeded: no error, and a 2xx status if any.
func (o Outcome) OK() bool {
	return o.Err == nil && (o.Status == 0 || o.Status >= 200 && o.Status < 300)
}

// label names the outcome in the tally of a phase's results: the status, "ok" for a
// success without one, "timeout" or "error" for no answer.
func (o Outcome) label() string {
	var netErr net.Error
	switch {
	case o.Err != nil && (errors.Is(o.Err, context.DeadlineExceeded) || errors.As(o.Err, &netErr) && netErr.Timeout()):
		return "timeout"
	case o.Err != nil:
		return "error"
	case o.Status != 0:
		return strconv.Itoa(o.Status)
	}
	return "ok"
}

// Op is one operation of a mix.
type Op struct {
	Name string
	// Weight is the operation's share of the mix, relative to the others'.
	Weight int
	// Do does the operation once. r is the calling client's own random source.
	Do func(ctx context.Context, r *rand.Rand) Outcome
}

// Phase is how a run drives its clients.
type Phase struct {
	Clients  int
	Duration time.Duration
	// Slow is the latency past which an operation counts as too slow; 0: none does.
	Slow time.Duration
}

// Run drives p.Clients concurrent clients, each doing operations of ops one after
// the other, picked at random by weight, until p.Duration has passed since the
// start; the operations in flight then finish. Client c does first the c-th op of
// positive weight (counting around), so that with at least as many clients as such
// ops, a phase runs every one of them, a phase shorter than any op too. It stops
// early when ctx ends. It returns the results in the order of ops, and an error when no op has a
// positive weight or there is no client.
func Run(ctx context.Context, p Phase, ops []Op) (Result, error) {
	total := 0
	var weighted []int
	for i, op := range ops {
		total += max(op.Weight, 0)
		if op.Weight > 0 {
			weighted = append(weighted, i)
		}
	}
	if total == 0 || p.Clients < 1 {
		return Result{}, errors.New("loadtest: no operation to run, or no client to run it")
	}
	tallies := make([][]tally, p.Clients)
	start := time.Now()
	end := start.Add(p.Duration)
	var wg sync.WaitGroup
	for c := range p.Clients {
		tallies[c] = make([]tally, len(ops))
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(start.UnixNano()), uint64(c)))
			i := weighted[c%len(weighted)]
			for ctx.Err() == nil && time.Now().Before(end) {
				began := time.Now()
				out := ops[i].Do(ctx, r)
				tallies[c][i].add(out, time.Since(began))
				i = pick(r, ops, total)
			}
		})
	}
	wg.Wait()
	res := Result{Phase: p, Elapsed: time.Since(start)}
	for i, op := range ops {
		if op.Weight <= 0 {
			continue
		}
		merged := tally{}
		for c := range tallies {
			merged.merge(tallies[c][i])
		}
		res.Ops = append(res.Ops, merged.result(op.Name, p.Slow))
	}
	return res, nil
}

// pick returns the index of an op drawn by weight; total is the sum of the positive
// weights.
func pick(r *rand.Rand, ops []Op, total int) int {
	n := r.IntN(total)
	last := 0
	for i, op := range ops {
		if op.Weight <= 0 {
			continue
		}
		if n < op.Weight {
			return i
		}
		n -= op.Weight
		last = i
	}
	return last
}

// tally collects one client's outcomes of one op.
type tally struct {
	latencies    []time.Duration
	ok           int
	answers      map[string]int
	noRetryAfter int
	firstError   string
}

func (t *tally) add(o Outcome, took time.Duration) {
	t.latencies = append(t.latencies, took)
	if o.OK() {
		t.ok++
	}
	if t.answers == nil {
		t.answers = map[string]int{}
	}
	t.answers[o.label()]++
	if o.NoRetryAfter {
		t.noRetryAfter++
	}
	if o.Err != nil && t.firstError == "" {
		t.firstError = o.Err.Error()
	}
}

func (t *tally) merge(o tally) {
	t.latencies = append(t.latencies, o.latencies...)
	t.ok += o.ok
	for k, n := range o.answers {
		if t.answers == nil {
			t.answers = map[string]int{}
		}
		t.answers[k] += n
	}
	t.noRetryAfter += o.noRetryAfter
	if t.firstError == "" {
		t.firstError = o.firstError
	}
}

func (t tally) result(name string, slow time.Duration) OpResult {
	slices.Sort(t.latencies)
	r := OpResult{Name: name, Latencies: t.latencies, OK: t.ok, Answers: t.answers, NoRetryAfter: t.noRetryAfter, FirstError: t.firstError}
	if slow > 0 {
		r.Slow = len(t.latencies) - sortedCountBelowOrAt(t.latencies, slow)
	}
	return r
}

// sortedCountBelowOrAt returns how many of the sorted durations are at most d.
func sortedCountBelowOrAt(sorted []time.Duration, d time.Duration) int {
	i, _ := slices.BinarySearchFunc(sorted, d, func(e, d time.Duration) int {
		if e <= d {
			return -1
		}
		return 1
	})
	return i
}

// Result is what a phase got.
type Result struct {
	Phase
	// Elapsed runs from the start to the end of the last operation.
	Elapsed time.Duration
	// Ops are the results of the ops of positive weight, in the order given.
	Ops []OpResult
}

// Op returns the result of the op named name, and whether there is one.
func (r Result) Op(name string) (OpResult, bool) {
	for _, o := range r.Ops {
		if o.Name == name {
			return o, true
		}
	}
	return OpResult{}, false
}

// Throughput returns how many of the op's operations succeeded per second of the
// phase.
func (r Result) Throughput(o OpResult) float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(o.OK) / r.Elapsed.Seconds()
}

// OpResult is what one op of a phase got.
type OpResult struct {
	Name string
	// Latencies holds every operation's latency, in increasing order.
	Latencies []time.Duration
	// OK counts the successes (see Outcome.OK).
	OK int
	// Answers counts the outcomes by status, or "ok", "timeout", "error".
	Answers map[string]int
	// NoRetryAfter counts the 503s without Retry-After.
	NoRetryAfter int
	// Slow counts the operations slower than the phase's Slow.
	Slow int
	// FirstError is the text of the first error, if any.
	FirstError string
}

// Count returns how many operations ran.
func (o OpResult) Count() int { return len(o.Latencies) }

// Percentile returns the p-th percentile (0 < p ≤ 100) of the latencies, by nearest
// rank: the smallest latency at least p% of them do not exceed. It returns 0 when
// there is none.
func (o OpResult) Percentile(p float64) time.Duration {
	return Percentile(o.Latencies, p)
}

// Max returns the largest latency, or 0 when there is none.
func (o OpResult) Max() time.Duration {
	if len(o.Latencies) == 0 {
		return 0
	}
	return o.Latencies[len(o.Latencies)-1]
}

// Errors counts the 5xx answers and the operations without an answer.
func (o OpResult) Errors() int {
	n := 0
	for k, c := range o.Answers {
		if s, err := strconv.Atoi(k); err == nil && s >= 500 || k == "timeout" || k == "error" {
			n += c
		}
	}
	return n
}

// Percentile returns the p-th percentile (0 < p ≤ 100) of sorted by nearest rank:
// the smallest element at least p% of the elements do not exceed. It returns 0 for
// an empty slice.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// ParseMix reads weights such as "create=2,history=1" for the ops named in known. An
// op left out weighs 0. It returns an error for an unknown name, a name given twice,
// a weight that is not a whole number from 0, or a mix where every weight is 0.
func ParseMix(s string, known []string) (map[string]int, error) {
	mix := map[string]int{}
	total := 0
	for _, part := range strings.Split(s, ",") {
		name, weight, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("mix: %q is not name=weight", part)
		}
		if !slices.Contains(known, name) {
			return nil, fmt.Errorf("mix: unknown operation %q (known: %s)", name, strings.Join(known, ", "))
		}
		if _, dup := mix[name]; dup {
			return nil, fmt.Errorf("mix: %q is given twice", name)
		}
		w, err := strconv.Atoi(weight)
		if err != nil || w < 0 {
			return nil, fmt.Errorf("mix: the weight of %s, %q, is not a whole number from 0", name, weight)
		}
		mix[name] = w
		total += w
	}
	if total == 0 {
		return nil, errors.New("mix: every weight is 0")
	}
	return mix, nil
}
