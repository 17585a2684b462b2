package loadtest

import (
	"strings"
	"testing"
	"time"
)

func TestFormatLatency(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0"},
		{420 * time.Microsecond, "0.42ms"},
		{2500 * time.Microsecond, "2.5ms"},
		{120 * time.Millisecond, "120ms"},
		{999 * time.Millisecond, "999ms"},
		{1200 * time.Millisecond, "1.20s"},
		{12340 * time.Millisecond, "12.3s"},
	} {
		if got := FormatLatency(tc.d); got != tc.want {
			t.Errorf("FormatLatency(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestFormatRate(t *testing.T) {
	for _, tc := range []struct {
		r    float64
		want string
	}{
		{0, "0.00"},
		{0.523, "0.52"},
		{7.254, "7.25"},
		{71.94, "71.9"},
		{1480.4, "1480"},
	} {
		if got := FormatRate(tc.r); got != tc.want {
			t.Errorf("FormatRate(%v) = %q, want %q", tc.r, got, tc.want)
		}
	}
}

func TestFormatAnswers(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   map[string]int
		want string
	}{
		{"none", nil, ""},
		{"statuses in order", map[string]int{"503": 3, "201": 812, "429": 1}, "201:812 429:1 503:3"},
		{"statuses, then the rest by name", map[string]int{"timeout": 2, "error": 1, "200": 5, "ok": 4}, "200:5 error:1 ok:4 timeout:2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := FormatAnswers(tc.in); got != tc.want {
				t.Errorf("FormatAnswers = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFormatBytes(t *testing.T) {
	if got := FormatBytes(100 << 20); got != "100.0 MiB" {
		t.Errorf("FormatBytes(100 MiB) = %q", got)
	}
	if got := FormatBytes(1536 << 10); got != "1.5 MiB" {
		t.Errorf("FormatBytes(1.5 MiB) = %q", got)
	}
}

// result returns a phase's result of 2 s with the ops given.
func result(ops ...OpResult) Result {
	return Result{Phase: Phase{Clients: 4, Duration: 2 * time.Second}, Elapsed: 2 * time.Second, Ops: ops}
}

func TestWriteTable(t *testing.T) {
	create := OpResult{Name: "create", Latencies: []time.Duration{ms(1), ms(2), ms(3), ms(40)}, OK: 3,
		Answers: map[string]int{"201": 3, "503": 1}}
	get := OpResult{Name: "get", Latencies: []time.Duration{ms(0.5), ms(0.5)}, Answers: map[string]int{"error": 2},
		FirstError: "connection refused"}
	r := result(create, get)
	r.Elapsed = 2500 * time.Millisecond
	var b strings.Builder
	if err := WriteTable(&b, "API", r); err != nil {
		t.Fatal(err)
	}
	want := "API: 4 clients for 2s, 2.50s with the operations in flight at the end\n" +
		"op                n      ok/s       p50       p95       p99       max  results\n" +
		"create            4      1.20     2.0ms      40ms      40ms      40ms  201:3 503:1\n" +
		"get               2      0.00    0.50ms    0.50ms    0.50ms    0.50ms  error:2\n" +
		"get: first error: connection refused\n"
	if b.String() != want {
		t.Errorf("WriteTable wrote\n%s\nwant\n%s", b.String(), want)
	}
}

func TestWriteRatios(t *testing.T) {
	api := result(
		OpResult{Name: "create", OK: 100},
		OpResult{Name: "history", OK: 9},
		OpResult{Name: "only-api", OK: 1},
	)
	raw := result(
		OpResult{Name: "create", OK: 400},
		OpResult{Name: "history", OK: 10},
	)
	raw.Elapsed = 4 * time.Second // raw: 100/s and 2.50/s
	var b strings.Builder
	if err := WriteRatios(&b, "API", api, "raw", raw); err != nil {
		t.Fatal(err)
	}
	want := "API/raw throughput\n" +
		"create       0.50  (50.0/s ÷ 100/s)\n" +
		"history      1.80  (4.50/s ÷ 2.50/s)\n" +
		"all          0.53  (54.5/s ÷ 102/s)\n"
	if b.String() != want {
		t.Errorf("WriteRatios wrote\n%s\nwant\n%s", b.String(), want)
	}

	none := result(OpResult{Name: "create"})
	b.Reset()
	if err := WriteRatios(&b, "API", api, "raw", none); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "create        n/a") {
		t.Errorf("a ratio over a raw throughput of 0:\n%s", b.String())
	}
}
