package loadtest

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// WriteTable writes r as a table under title: one row per op with its count, its
// successes per second, its latency percentiles and maximum, and its outcomes by
// status; then the first error of each op that had one. It returns w's error.
func WriteTable(w io.Writer, title string, r Result) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d clients for %s", title, r.Clients, r.Duration)
	if drain := r.Elapsed - r.Duration; drain > 0 {
		fmt.Fprintf(&b, ", %s with the operations in flight at the end", FormatLatency(r.Elapsed))
	}
	fmt.Fprintf(&b, "\n%-10s %8s %9s %9s %9s %9s %9s  %s\n", "op", "n", "ok/s", "p50", "p95", "p99", "max", "results")
	for _, o := range r.Ops {
		fmt.Fprintf(&b, "%-10s %8d %9s %9s %9s %9s %9s  %s\n", o.Name, o.Count(), FormatRate(r.Throughput(o)),
			FormatLatency(o.Percentile(50)), FormatLatency(o.Percentile(95)), FormatLatency(o.Percentile(99)),
			FormatLatency(o.Max()), FormatAnswers(o.Answers))
	}
	for _, o := range r.Ops {
		if o.FirstError != "" {
			fmt.Fprintf(&b, "%s: first error: %s\n", o.Name, o.FirstError)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteRatios writes, for each op both a and b ran, the ratio of a's throughput to
// b's, with both throughputs, under the title "<aName>/<bName> throughput"; then,
// when there are several ops, the ratio of all their successes, as "all". It
// returns w's error.
func WriteRatios(w io.Writer, aName string, a Result, bName string, b Result) error {
	var s strings.Builder
	fmt.Fprintf(&s, "%s/%s throughput\n", aName, bName)
	row := func(name string, at, bt float64) {
		ratio := "n/a"
		if bt > 0 {
			ratio = strconv.FormatFloat(at/bt, 'f', 2, 64)
		}
		fmt.Fprintf(&s, "%-10s %6s  (%s/s ÷ %s/s)\n", name, ratio, FormatRate(at), FormatRate(bt))
	}
	var aAll, bAll OpResult
	for _, ao := range a.Ops {
		bo, ok := b.Op(ao.Name)
		if !ok {
			continue
		}
		row(ao.Name, a.Throughput(ao), b.Throughput(bo))
		aAll.OK += ao.OK
		bAll.OK += bo.OK
	}
	if len(a.Ops) > 1 {
		row("all", a.Throughput(aAll), b.Throughput(bAll))
	}
	_, err := io.WriteString(w, s.String())
	return err
}

// SlowCount returns how many operations of the phase were slower than its Slow.
func (r Result) SlowCount() int {
	n := 0
	for _, o := range r.Ops {
		n += o.Slow
	}
	return n
}

// NoRetryAfterCount returns how many 503s of the phase came without Retry-After.
func (r Result) NoRetryAfterCount() int {
	n := 0
	for _, o := range r.Ops {
		n += o.NoRetryAfter
	}
	return n
}

// FormatLatency writes d in ms under a second and in s from there, with two
// decimals under 1 ms or 10 s, one under 10 ms or from 10 s, none in between:
// "0.42ms", "2.5ms", "120ms", "1.20s", "12.3s".
func FormatLatency(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case d == 0:
		return "0"
	case ms < 1:
		return strconv.FormatFloat(ms, 'f', 2, 64) + "ms"
	case ms < 10:
		return strconv.FormatFloat(ms, 'f', 1, 64) + "ms"
	case d < time.Second:
		return strconv.FormatFloat(ms, 'f', 0, 64) + "ms"
	case d < 10*time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) + "s"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
}

// FormatRate writes a rate per second with two decimals under 10, one under 100,
// none from there: "0.52", "7.25", "71.9", "1480".
func FormatRate(perSecond float64) string {
	switch {
	case perSecond < 10:
		return strconv.FormatFloat(perSecond, 'f', 2, 64)
	case perSecond < 100:
		return strconv.FormatFloat(perSecond, 'f', 1, 64)
	}
	return strconv.FormatFloat(perSecond, 'f', 0, 64)
}

// FormatAnswers writes outcome counts as "201:812 503:3 timeout:1": statuses in
// increasing order, then the other outcomes by name.
func FormatAnswers(answers map[string]int) string {
	keys := make([]string, 0, len(answers))
	for k := range answers {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		na, aErr := strconv.Atoi(a)
		nb, bErr := strconv.Atoi(b)
		switch {
		case aErr == nil && bErr == nil:
			return cmp.Compare(na, nb)
		case aErr == nil:
			return -1
		case bErr == nil:
			return 1
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ":" + strconv.Itoa(answers[k])
	}
	return strings.Join(parts, " ")
}

// FormatBytes writes n bytes in MiB with one decimal: "95.3 MiB".
func FormatBytes(n int64) string {
	return strconv.FormatFloat(float64(n)/(1<<20), 'f', 1, 64) + " MiB"
}
