package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/clinic/interactions/apikey"
	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
	"github.com/clinic/interactions/storetest"
)

// testStore is the one store of this test binary (see storetest).
var testStore *storetest.Store

func TestMain(m *testing.M) {
	os.Exit(storetest.Main(m, &testStore))
}

// startServer serves the API over a new database of the test store on a loopback
// port, without rate limits, and configures the environment as the bench would find
// it beside that server: the server's database and the store it uses. It returns
// the server's base URL, its repository and its database.
func startServer(t *testing.T) (string, *repository.DB, *mongo.Database) {
	t.Helper()
	repo, db := testStore.DB(t)
	t.Setenv("MONGODB_DATABASE", db.Name())
	t.Setenv("RATE_LIMIT_PER_MINUTE", "0")
	t.Setenv("CLIENT_RATE_LIMIT_PER_MINUTE", "0")
	if testStore.Embedded() {
		// The bench attaches to the store once it has checked the marker in the
		// store's data directory.
		t.Setenv("MONGODB_URI", "")
		t.Setenv("EMBEDDED_MONGO_ADDR", testStore.Addr())
		t.Setenv("DATA_DIR", testStore.DataDir())
	}
	cfg, err := app.LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	server, err := app.NewServer(slog.New(slog.DiscardHandler), repo, app.ServerConfig{RequestTimeout: cfg.RequestTimeout})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- server.Listener(ln) }()
	t.Cleanup(func() {
		if err := server.ShutdownWithTimeout(10 * time.Second); err != nil {
			t.Errorf("shut the server down: %v", err)
		}
		<-served
		if err := server.Close(context.Background()); err != nil {
			t.Errorf("seal the server's audit chain: %v", err)
		}
	})
	return "http://" + ln.Addr().String(), repo, db
}

// TestBenchCommand runs the bench for a few seconds against a server on the test
// store, as go run ./bench runs beside go run .: both phases report every
// operation, every request is answered with success, the ratios are printed, then
// each op of the goals alone and each ceiling alone, and the goals' ratios; the
// temporary key is revoked, the scratch collection is gone, and the audit trail has
// the bench's acts. It checks no timing.
func TestBenchCommand(t *testing.T) {
	base, repo, db := startServer(t)
	ctx := context.Background()

	out := &bytes.Buffer{}
	err := run(ctx, []string{"-url", base, "-c", "4", "-d", "500ms", "-patients", "3"}, out, io.Discard)
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
	for _, alone := range []struct{ phase, op string }{
		{"API, create alone", "create"}, {"raw, create alone", "create"},
		{"API, get alone", "get"}, {"raw, get alone", "get"}, {"API, history alone", "history"},
	} {
		success := `^(2\d\d:\d+ ?)+$`
		if strings.HasPrefix(alone.phase, "raw") {
			success = `^ok:\d+$`
		}
		table := section(t, text, alone.phase+": 4 clients for 500ms")
		if rows := regexp.MustCompile(`(?m)^\w+ `).FindAllString(table, -1); len(rows) != 2 || rows[1] != alone.op+" " {
			t.Errorf("%s: rows %q, want %s alone", alone.phase, rows, alone.op)
		}
		row := regexp.MustCompile(`(?m)^` + alone.op + `\s+(\d+)(?:\s+\S+){5}\s+(.*)$`).FindStringSubmatch(table)
		if row == nil || row[1] == "0" || !regexp.MustCompile(success).MatchString(row[2]) {
			t.Errorf("%s: %q in\n%s", alone.phase, row, table)
		}
	}
	goals := section(t, text, "goals: ")
	for _, want := range []string{`create ÷ raw insertOne\s+\d+\.\d\d  \(\S+/s ÷ \S+/s\)`,
		`read one ÷ raw findOne by _id\s+\d+\.\d\d  \(\S+/s ÷ \S+/s\)`,
		`history pages/s × 20 ÷ raw findOne by _id\s+\d+\.\d\d  \(\S+ pages/s × 20 = \S+/s ÷ \S+/s\)`} {
		if !regexp.MustCompile(`(?m)^` + want + `$`).MatchString(goals) {
			t.Errorf("no line %s in\n%s", want, goals)
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

	// The patients are the bench's, with visits the API accepted.
	ps, ins := storetest.Patients(t, db), storetest.Interactions(t, db)
	if len(ps) != 3 {
		t.Errorf("%d patients stored, want the bench's 3", len(ps))
	}
	for no := range ps {
		if !regexp.MustCompile(`^BENCH-\d{8}T\d{6}-00[1-3]$`).MatchString(no) {
			t.Errorf("patient %s is not one of the bench's", no)
		}
	}
	if len(ins) < 3*benchVisitsPerPatient {
		t.Errorf("%d interactions stored, want at least the set-up's %d", len(ins), 3*benchVisitsPerPatient)
	}

	// The key is revoked, and the scratch collection gone.
	keys, err := repo.APIKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(keys, func(k models.APIKey) bool { return k.Name == keyName[1] }); i < 0 || keys[i].RevokedAt == nil {
		t.Errorf("the key %s is not stored as revoked: %+v", keyName[1], keys)
	}
	names, err := db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if strings.HasPrefix(n, "bench_scratch_") {
			t.Errorf("the scratch collection %s is still there", n)
		}
	}

	// The audit trail has the key's issue and revocation and the raw phase.
	auditor, err := apikey.New(repo, nil, slog.New(slog.DiscardHandler)).Issue(ctx, models.NewKeyRequest{Name: "bench-auditor", Role: models.RoleAuditor})
	if err != nil {
		t.Fatal(err)
	}
	username := "unknown"
	if u, err := user.Current(); err == nil {
		username = u.Username
	}
	req, err := http.NewRequest("GET", base+"/api/v1/audit?limit=100&key_name="+url.QueryEscape("bench command, by "+username), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+auditor.Key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var page struct {
		Items []models.AuditEvent `json:"items"`
	}
	if res.StatusCode != 200 || json.Unmarshal(data, &page) != nil {
		t.Fatalf("audit: %d %s", res.StatusCode, data)
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
	t.Setenv("MONGODB_URI", "")
	t.Setenv("DATA_DIR", t.TempDir())
	t.Setenv("EMBEDDED_MONGO_ADDR", "127.0.0.1:1")
	err = run(ctx, []string{"-url", base, "-d", "1ms"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no embedded store answers on EMBEDDED_MONGO_ADDR 127.0.0.1:1") {
		t.Errorf("bench without the server's store: %v", err)
	}
	// Nor on the socket in DATA_DIR, by default, where no server made one.
	t.Setenv("EMBEDDED_MONGO_ADDR", "")
	err = run(ctx, []string{"-url", base, "-d", "1ms"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "no embedded store answers on the socket in DATA_DIR") {
		t.Errorf("bench without the server's store, on its socket: %v", err)
	}
	if entries, _ := os.ReadDir(os.Getenv("DATA_DIR")); len(entries) != 0 {
		t.Errorf("the bench left %v in DATA_DIR", entries)
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

// TestBenchGoalsOfOneOp runs the bench with one op, a history page: its phases are
// the op's alone, and its ceiling, a findOne by _id, is measured alone in a raw phase
// of its own after the raw phase of the mix; the goals hold that op's ratio alone.
func TestBenchGoalsOfOneOp(t *testing.T) {
	base, _, _ := startServer(t)
	out := &bytes.Buffer{}
	err := run(context.Background(), []string{"-url", base, "-c", "2", "-d", "300ms", "-patients", "2", "-mix", "history=1"}, out, io.Discard)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, out)
	}
	text := out.String()
	for _, phase := range []string{"API: 2 clients", "raw: 2 clients", "raw, get alone: 2 clients"} {
		section(t, text, phase)
	}
	for _, absent := range []string{"API, history alone", "API, get alone", "create ÷", "read one ÷"} {
		if strings.Contains(text, absent) {
			t.Errorf("%q in\n%s", absent, text)
		}
	}
	goals := section(t, text, "goals: ")
	if !regexp.MustCompile(`(?m)^history pages/s × 20 ÷ raw findOne by _id\s+\d+\.\d\d  \(`).MatchString(goals) {
		t.Errorf("no ratio of the history in\n%s", goals)
	}
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
			err := run(context.Background(), tc.args, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("bench %q: %v, want an error with %q", tc.args, err, tc.want)
			}
		})
	}
}
