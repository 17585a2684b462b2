package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	code := storetest.Main(m, &testStore)
	// No log line of any test may carry the patient data the tests sent.
	logs := allLogs.String()
	for _, secret := range []string{"A11", "B11", "Z99", "Vernon", "Lopez", "Zebulon", "Quixote", "SECRET", "hallucinations"} {
		if strings.Contains(logs, secret) {
			fmt.Fprintf(os.Stderr, "FAIL: the servers' logs contain %q\n", secret)
			code = 1
		}
	}
	return code
}

// allLogs collects what every server under test logs, to be searched for patient data.
var allLogs lockedBuffer

// env is one test's server over a database of its own, with an API key of each role.
// Requests go with the clinician's key unless the test says otherwise.
type env struct {
	t    testing.TB
	app  *app.Server
	repo *repository.DB
	db   *mongo.Database
	logs *lockedBuffer
	keys map[models.Role]string
	key  string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvWithTimeout(t, 10*time.Second)
}

// newEnvWithTimeout is newEnv with the given request timeout.
func newEnvWithTimeout(t testing.TB, timeout time.Duration) *env {
	t.Helper()
	return newEnvWithConfig(t, app.ServerConfig{RequestTimeout: timeout})
}

// newEnvWithConfig is newEnv with the given server configuration.
func newEnvWithConfig(t testing.TB, cfg app.ServerConfig) *env {
	t.Helper()
	repo, db := testStore.DB(t)
	if cfg.Now == nil {
		cfg.Now = tickingClock()
	}
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(io.MultiWriter(logs, &allLogs), nil))
	server, err := app.NewServer(logger, repo, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, app: server, repo: repo, db: db, logs: logs, keys: map[models.Role]string{}}
	keys := apikey.New(repo, nil, logger)
	for _, role := range models.Roles() {
		issued, err := keys.Issue(context.Background(), models.NewKeyRequest{Name: "test-" + string(role), Role: role})
		if err != nil {
			t.Fatalf("issue %s key: %v", role, err)
		}
		e.keys[role] = issued.Key
	}
	e.key = e.keys[models.RoleClinician]
	return e
}

// as returns the env sending requests with the key of role.
func (e *env) as(role models.Role) *env {
	other := *e
	other.key = e.keys[role]
	return &other
}

// withKey returns the env sending requests with key ("" for none).
func (e *env) withKey(key string) *env {
	other := *e
	other.key = key
	return &other
}

// listen serves the app on a loopback port until the test ends and returns its base URL.
func (e *env) listen() string {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	go func() { _ = e.app.Listener(ln) }()
	e.t.Cleanup(func() { _ = e.app.Shutdown() })
	return "http://" + ln.Addr().String()
}

// response is what a request returned.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body into a generic value.
func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.body)
	}
	return v
}

// do sends a request through the real Fiber stack and checks the exchange against
// the OpenAPI document (see checkContract). A JSON body gets the JSON content type.
func (e *env) do(method, path, body string, headers ...string) response {
	e.t.Helper()
	return e.send(true, method, path, body, headers...)
}

// doBeyondContract is do for a request the document does not promise to accept but
// the service does (a label as a comma-separated string): the answer is still
// checked against the document, the request is not.
func (e *env) doBeyondContract(method, path, body string, headers ...string) response {
	e.t.Helper()
	return e.send(false, method, path, body, headers...)
}

func (e *env) send(checkRequest bool, method, path, body string, headers ...string) response {
	e.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if e.key != "" {
		req.Header.Set("Authorization", "Bearer "+e.key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	sent := req.Clone(context.Background())
	res, err := e.app.Test(req, 30_000)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("read body: %v", err)
	}
	checkContract(e.t, sent, []byte(body), res.StatusCode, res.Header, data, checkRequest)
	return response{status: res.StatusCode, header: res.Header, body: data}
}

// mustDo sends a request and fails the test unless it answers want.
func (e *env) mustDo(want int, method, path, body string) map[string]any {
	e.t.Helper()
	res := e.do(method, path, body)
	if res.status != want {
		e.t.Fatalf("%s %s: status %d, want %d\n%s", method, path, res.status, want, res.body)
	}
	return res.json(e.t)
}

func (e *env) createPatient(insuranceNo string) {
	e.t.Helper()
	e.mustDo(201, "POST", "/api/v1/patients", fmt.Sprintf(`{"insurance_no":%q,"fname":"Test","lname":"Patient"}`, insuranceNo))
}

// count returns how many documents a collection holds.
func (e *env) count(collection string) int64 {
	e.t.Helper()
	n, err := e.db.Collection(collection).CountDocuments(context.Background(), map[string]any{})
	if err != nil {
		e.t.Fatalf("count %s: %v", collection, err)
	}
	return n
}

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// jsonText returns v encoded as JSON, for comparisons.
func jsonText(t testing.TB, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(data)
}

// tickingClock returns a clock that starts now and moves on by a millisecond, the
// store's precision, each time it is read: every timestamp a server under test makes
// differs from the one before, however fast the machine.
func tickingClock() func() time.Time {
	start := time.Now()
	var ticks atomic.Int64
	return func() time.Time {
		return start.Add(time.Duration(ticks.Add(1)) * time.Millisecond)
	}
}
