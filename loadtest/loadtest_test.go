package loadtest

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func ms(n float64) time.Duration { return time.Duration(n * float64(time.Millisecond)) }

// wantedError reports whether a table case expects an error (want is not empty),
// and if so fails the test unless err is one whose text holds want.
func wantedError(t *testing.T, call string, err error, want string) bool {
	t.Helper()
	if want == "" {
		return false
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("%s: error %v, want one with %q", call, err, want)
	}
	return true
}

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = ms(float64(i + 1))
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", []time.Duration{ms(7)}, 99, ms(7)},
		{"median of two is the lower", []time.Duration{ms(1), ms(2)}, 50, ms(1)},
		{"p51 of two is the higher", []time.Duration{ms(1), ms(2)}, 51, ms(2)},
		{"p50 of 100", hundred, 50, ms(50)},
		{"p95 of 100", hundred, 95, ms(95)},
		{"p99 of 100", hundred, 99, ms(99)},
		{"p100 is the max", hundred, 100, ms(100)},
		{"a tiny p is the min", hundred, 0.001, ms(1)},
		{"p99 of 10 is the max", hundred[:10], 99, ms(10)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percentile(tc.sorted, tc.p); got != tc.want {
				t.Errorf("Percentile(p%v) = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
}

func TestParseMix(t *testing.T) {
	known := []string{"create", "history", "label", "get"}
	for _, tc := range []struct {
		in   string
		want map[string]int
		err  string
	}{
		{in: "create=1,history=1,label=1,get=1", want: map[string]int{"create": 1, "history": 1, "label": 1, "get": 1}},
		{in: "create=3, get=0", want: map[string]int{"create": 3, "get": 0}},
		{in: "history=1", want: map[string]int{"history": 1}},
		{in: "create=0", err: "every weight is 0"},
		{in: "delete=1", err: `unknown operation "delete"`},
		{in: "create=1,create=2", err: "given twice"},
		{in: "create", err: "not name=weight"},
		{in: "create=-1", err: "not a whole number"},
		{in: "create=x", err: "not a whole number"},
		{in: "", err: "not name=weight"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseMix(tc.in, known)
			if wantedError(t, "ParseMix", err, tc.err) {
				return
			}
			if err != nil || len(got) != len(tc.want) {
				t.Fatalf("ParseMix(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("ParseMix(%q)[%s] = %d, want %d", tc.in, k, got[k], v)
				}
			}
		})
	}
}

func TestOutcomeLabel(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Outcome
		want string
		ok   bool
	}{
		{"created", Outcome{Status: 201}, "201", true},
		{"shed", Outcome{Status: 503}, "503", false},
		{"not found", Outcome{Status: 404}, "404", false},
		{"done, no status", Outcome{}, "ok", true},
		{"deadline", Outcome{Err: context.DeadlineExceeded}, "timeout", false},
		{"wrapped deadline", Outcome{Err: errors.Join(errors.New("find"), context.DeadlineExceeded)}, "timeout", false},
		{"refused", Outcome{Err: errors.New("connection refused")}, "error", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.o.label(); got != tc.want {
				t.Errorf("label = %q, want %q", got, tc.want)
			}
			if got := tc.o.OK(); got != tc.ok {
				t.Errorf("OK = %v, want %v", got, tc.ok)
			}
		})
	}
}

// TestRun runs a mix of fake operations and checks what is counted, not how fast.
func TestRun(t *testing.T) {
	var calls atomic.Int64
	ops := []Op{
		{Name: "create", Weight: 1, Do: func(context.Context, *rand.Rand) Outcome {
			calls.Add(1)
			return Outcome{Status: 201}
		}},
		{Name: "never", Weight: 0, Do: func(context.Context, *rand.Rand) Outcome {
			t.Error("an op of weight 0 ran")
			return Outcome{}
		}},
		{Name: "shed", Weight: 1, Do: func(context.Context, *rand.Rand) Outcome {
			calls.Add(1)
			time.Sleep(time.Millisecond)
			return Outcome{Status: 503, NoRetryAfter: true}
		}},
		{Name: "broken", Weight: 1, Do: func(context.Context, *rand.Rand) Outcome {
			calls.Add(1)
			return Outcome{Err: errors.New("connection reset")}
		}},
	}
	res, err := Run(context.Background(), Phase{Clients: 3, Duration: 50 * time.Millisecond, Slow: time.Hour}, ops)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Ops) != 3 || res.Ops[0].Name != "create" || res.Ops[1].Name != "shed" || res.Ops[2].Name != "broken" {
		t.Fatalf("ops = %+v, want create, shed, broken", res.Ops)
	}
	total := 0
	for _, o := range res.Ops {
		total += o.Count()
		if o.Count() == 0 {
			t.Errorf("%s never ran", o.Name)
		}
		if o.Slow != 0 {
			t.Errorf("%s: %d slower than an hour", o.Name, o.Slow)
		}
	}
	if int64(total) != calls.Load() {
		t.Errorf("counted %d operations, ran %d", total, calls.Load())
	}
	create, shed, broken := res.Ops[0], res.Ops[1], res.Ops[2]
	if create.OK != create.Count() || create.Answers["201"] != create.Count() || create.Errors() != 0 {
		t.Errorf("create: %+v", create)
	}
	if shed.OK != 0 || shed.NoRetryAfter != shed.Count() || shed.Errors() != shed.Count() || res.NoRetryAfterCount() != shed.Count() {
		t.Errorf("shed: %+v", shed)
	}
	if broken.Answers["error"] != broken.Count() || broken.FirstError != "connection reset" {
		t.Errorf("broken: %+v", broken)
	}
	if res.Elapsed < res.Duration {
		t.Errorf("elapsed %v, shorter than the phase", res.Elapsed)
	}

	if _, err := Run(context.Background(), Phase{Clients: 1, Duration: time.Millisecond}, ops[1:2]); err == nil {
		t.Error("Run with only an op of weight 0 succeeded")
	}
}

// TestRunStartsEveryOp checks that with as many clients as ops of positive weight,
// each client starts with an op of its own: in a phase shorter than any op, each op
// runs once, whatever the random picks would have been.
func TestRunStartsEveryOp(t *testing.T) {
	const phase = 200 * time.Millisecond
	var ops []Op
	for _, name := range []string{"create", "zero", "history", "label", "get"} {
		weight := 1
		if name == "zero" {
			weight = 0
		} else if name == "create" {
			weight = 100 // a random pick would nearly always be create
		}
		ops = append(ops, Op{Name: name, Weight: weight, Do: func(context.Context, *rand.Rand) Outcome {
			time.Sleep(2 * phase)
			return Outcome{Status: 200}
		}})
	}
	for range 5 {
		res, err := Run(context.Background(), Phase{Clients: 4, Duration: phase}, ops)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range res.Ops {
			if o.Count() != 1 {
				t.Errorf("%s ran %d times, want once", o.Name, o.Count())
			}
		}
	}
}

// TestRunStopsWithTheContext checks that a run ends when its context does, well
// before its duration.
func TestRunStopsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var n atomic.Int64
	op := Op{Name: "op", Weight: 1, Do: func(context.Context, *rand.Rand) Outcome {
		if n.Add(1) == 10 {
			cancel()
		}
		return Outcome{}
	}}
	res, err := Run(ctx, Phase{Clients: 2, Duration: time.Hour}, []Op{op})
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops[0].Count() < 10 {
		t.Errorf("ran %d operations, want 10 at least", res.Ops[0].Count())
	}
}

func TestSlowCount(t *testing.T) {
	tl := tally{}
	for _, d := range []time.Duration{ms(1), ms(5), ms(10), ms(11), ms(30)} {
		tl.add(Outcome{Status: 200}, d)
	}
	if got := tl.result("op", ms(10)).Slow; got != 2 {
		t.Errorf("slower than 10ms: %d, want 2 (exactly 10ms is not slower)", got)
	}
	if got := tl.result("op", 0).Slow; got != 0 {
		t.Errorf("with no limit: %d slow, want 0", got)
	}
}
