package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/models"
)

// TestBenchCommand runs the bench command for about a second against a server on
// the embedded store, as `go run . bench` runs beside `go run .`: both phases
// report every operation, every request is answered with success, the ratios are
// printed, the temporary key is revoked, the scratch collection is gone, and the
// audit trail has the bench's acts. It checks no timing.
func TestBenchCommand(t *testing.T) {
	t.Setenv("MONGODB_URI", "")
	t.Setenv("DATA_DIR", t.TempDir())
	t.Setenv("EMBEDDED_MONGO_ADDR", "127.0.0.1:0")
	t.Setenv("PORT", "0")
	t.Setenv("RATE_LIMIT_PER_MINUTE", "0")
	t.Setenv("CLIENT_RATE_LIMIT_PER_MINUTE", "0")
	srv := startRun(t)
	defer srv.stop()
	t.Setenv("EMBEDDED_MONGO_ADDR", srv.storeAddr)

	out := &bytes.Buffer{}
	err := app.Run(context.Background(), []string{"bench", "-url", srv.base, "-c", "4", "-d", "500ms", "-patients", "3"}, out, io.Discard)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	text := out.String()
	ops := []string{"create", "history", "label", "get"}
	for phase, success := range map[string]*regexp.Regexp{
		"API": regexp.MustCompile(`^(2\d\d:\d+ ?)+$`), // no 4xx, no 5xx, no request without an answer
		"raw": regexp.MustCompile(`^ok:\d+$`),
	} {
		table := section(t, text, phase+": 4 clients for 500ms")
		for _, op := range ops {
			row := regexp.MustCompile(`(?m)^` + op + `\s+(\d+)(?:\s+\S+){5}\s+(.*)$`).FindStringSubmatch(table)
			if row == nil {
				t.Errorf("%s: no row for %s in\n%s", phase, op, table)
				continue
			}
			if row[1] == "0" || !success.MatchString(row[2]) {
				t.Errorf("%s %s: %s operations, results %q", phase, op, row[1], row[2])
			}
		}
		if !strings.Contains(text, phase+": ") || !regexp.MustCompile(`(?m)^`+phase+`: .*no answer: 0$`).MatchString(text) {
			t.Errorf("%s: no line saying every request was answered in\n%s", phase, text)
		}
	}
	ratios := section(t, text, "API/raw throughput")
	for _, op := range ops {
		if !regexp.MustCompile(`(?m)^` + op + `\s+\d+\.\d\d  \(`).MatchString(ratios) {
			t.Errorf("no ratio for %s in\n%s", op, ratios)
		}
	}
	for _, want := range []string{"server memory", "data: the 3 patients BENCH-", "is revoked"} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in\n%s", want, text)
		}
	}
	keyName := regexp.MustCompile(`key: (bench-\S+),`).FindStringSubmatch(text)
	if keyName == nil {
		t.Fatalf("the output names no key:\n%s", text)
	}

	// The key is revoked, and the scratch collection gone.
	out.Reset()
	if err := app.Run(context.Background(), []string{"keys", "list"}, out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(regexp.QuoteMeta(keyName[1]) + `\s+clinician\s+\S+\s+\S+\s+20\d\d-`).MatchString(out.String()) {
		t.Errorf("keys list does not show %s revoked:\n%s", keyName[1], out)
	}
	cfg, err := app.LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://" + srv.storeAddr + "/"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Disconnect(context.Background()) }()
	names, err := client.Database(cfg.Database).ListCollectionNames(context.Background(), map[string]any{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if strings.HasPrefix(n, "bench_scratch_") {
			t.Errorf("the scratch collection %s is still there", n)
		}
	}

	// The audit trail has the key's issue and revocation and the raw phase.
	out.Reset()
	if err := app.Run(context.Background(), []string{"keys", "create", "-name", "bench-auditor", "-role", "auditor"}, out, io.Discard); err != nil {
		t.Fatal(err)
	}
	auditor := regexp.MustCompile(`ck_[A-Za-z0-9_-]{43}`).FindString(out.String())
	status, data := request(t, "GET", srv.base+"/api/v1/audit?limit=100&key_name="+url.QueryEscape("bench command, by "+currentUser()), auditor, "")
	var page struct {
		Items []models.AuditEvent `json:"items"`
	}
	if status != 200 || json.Unmarshal(data, &page) != nil {
		t.Fatalf("audit: %d %s", status, data)
	}
	var got []string
	for _, e := range page.Items {
		got = append(got, e.Action+" "+e.Route)
	}
	for _, want := range []string{"keys.create bench key " + keyName[1], "keys.delete bench key " + keyName[1]} {
		if !slices.Contains(got, want) {
			t.Errorf("no audit event %q in %q", want, got)
		}
	}
	if !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, "bench.raw ") }) {
		t.Errorf("no bench.raw audit event in %q", got)
	}

	// Where no store answers, the bench refuses to start one of its own: its raw
	// phase would measure another store than the server's.
	t.Setenv("EMBEDDED_MONGO_ADDR", "127.0.0.1:1")
	err = app.Run(context.Background(), []string{"bench", "-url", srv.base, "-d", "1ms"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no embedded store answers on EMBEDDED_MONGO_ADDR 127.0.0.1:1") {
		t.Errorf("bench without the server's store: %v", err)
	}
}

// section returns the lines of text from the one starting with heading to the next
// blank line.
func section(t *testing.T, text, heading string) string {
	t.Helper()
	i := strings.Index(text, "\n"+heading)
	if i < 0 {
		t.Fatalf("no %q in\n%s", heading, text)
	}
	rest := text[i+1:]
	if end := strings.Index(rest, "\n\n"); end >= 0 {
		rest = rest[:end]
	}
	return rest
}

// TestBenchCommandLine checks that the bench refuses a command line it cannot run,
// and a server that does not answer, before it touches any store.
func TestBenchCommandLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-c", "0"}, "must be positive"},
		{[]string{"-d", "-1s"}, "must be positive"},
		{[]string{"-mix", "create=1,delete=1"}, `unknown operation "delete"`},
		{[]string{"-url", "localhost:8000"}, "not an http(s) URL"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"-url", "http://127.0.0.1:1"}, "no server answers at http://127.0.0.1:1"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			err := app.Run(context.Background(), append([]string{"bench"}, tc.args...), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("bench %q: %v, want an error with %q", tc.args, err, tc.want)
			}
		})
	}
}
