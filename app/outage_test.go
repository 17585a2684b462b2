package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/apikey"
	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

// outageTimeout is the REQUEST_TIMEOUT of the servers these tests take the store
// away from: no answer may take longer than it and a second.
const outageTimeout = time.Second

// freeAddr returns a loopback address no one listens on.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// separateStore is an embedded store that a test starts and stops itself, on one
// address over one data directory, and that servers reach as MongoDB, through
// MONGODB_URI.
type separateStore struct {
	t    testing.TB
	cfg  app.Config
	conn *app.Connection
}

func newSeparateStore(t testing.TB) *separateStore {
	t.Helper()
	s := &separateStore{t: t, cfg: app.Config{Database: "clinic", DataDir: t.TempDir(), EmbeddedAddr: freeAddr(t)}}
	t.Cleanup(func() {
		if s.conn != nil {
			s.stop()
		}
	})
	return s
}

// uri is the store's connection string.
func (s *separateStore) uri() string { return "mongodb://" + s.cfg.EmbeddedAddr + "/" }

func (s *separateStore) start() {
	s.t.Helper()
	conn, err := app.Connect(context.Background(), s.cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), app.ConnectOptions{})
	if err != nil {
		s.t.Fatalf("start the store: %v", err)
	}
	s.conn = conn
}

func (s *separateStore) stop() {
	s.t.Helper()
	if err := s.conn.Close(context.Background()); err != nil {
		s.t.Logf("stop the store: %v", err)
	}
	s.conn = nil
}

// issueKey stores a key of role in the store, as `keys create` does.
func (s *separateStore) issueKey(role models.Role) string {
	s.t.Helper()
	issued, err := apikey.New(repository.New(s.conn.DB), nil, slog.New(slog.NewJSONHandler(io.Discard, nil))).
		Issue(context.Background(), models.NewKeyRequest{Name: "outage-" + string(role), Role: role})
	if err != nil {
		s.t.Fatalf("issue a %s key: %v", role, err)
	}
	return issued.Key
}

// runOver starts the service as `go run .` does, with MONGODB_URI set to uri and
// the request timeout of these tests.
func runOver(t *testing.T, uri string) running {
	t.Helper()
	t.Setenv("MONGODB_URI", uri)
	t.Setenv("MONGODB_DATABASE", "clinic")
	t.Setenv("PORT", "0")
	t.Setenv("REQUEST_TIMEOUT", outageTimeout.String())
	srv := startRun(t)
	t.Cleanup(srv.stop)
	return srv
}

// answer is what a request got, and how long it took.
type answer struct {
	status int
	header http.Header
	body   []byte
	took   time.Duration
}

// timedRequest sends one request, checks the exchange against the OpenAPI document
// and returns the answer.
func timedRequest(t *testing.T, method, url, key, body string, headers ...string) answer {
	t.Helper()
	a, err := tryRequest(t, method, url, key, body, headers...)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// tryRequest is timedRequest returning the errors of the exchange, for goroutines.
func tryRequest(t *testing.T, method, url, key, body string, headers ...string) (answer, error) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	sent := req.Clone(context.Background())
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	took := time.Since(start)
	if err != nil {
		return answer{}, fmt.Errorf("%s %s: read the body: %w", method, url, err)
	}
	checkContract(t, sent, []byte(body), res.StatusCode, res.Header, data, true)
	return answer{status: res.StatusCode, header: res.Header, body: data, took: took}, nil
}

// assertUnavailable fails t unless a is a 503 unavailable in the error shape, with
// a Retry-After, answered within the request timeout and a second.
func assertUnavailable(t *testing.T, what string, a answer) {
	t.Helper()
	var body struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if a.status != http.StatusServiceUnavailable || json.Unmarshal(a.body, &body) != nil || body.Error.Code != "unavailable" {
		t.Errorf("%s: %d %s, want 503 unavailable", what, a.status, a.body)
	}
	if s, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("%s: Retry-After = %q, want a number of seconds", what, a.header.Get("Retry-After"))
	}
	if bound := outageTimeout + time.Second; a.took > bound {
		t.Errorf("%s took %s, more than REQUEST_TIMEOUT and a second (%s)", what, a.took, bound)
	}
}

// waitFor polls cond until it holds, failing t after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dataRoutes are requests on the API's data, with the key of the role each needs.
var dataRoutes = []struct {
	role               models.Role
	method, path, body string
	headers            []string
}{
	{models.RoleClinician, "GET", "/api/v1/patients/OUT-1", "", nil},
	{models.RoleClinician, "POST", "/api/v1/patients", `{"insurance_no":"OUT-2"}`, nil},
	{models.RoleClinician, "PATCH", "/api/v1/patients/OUT-1", `{"fname":"Ada"}`, []string{"If-Match", `"1"`}},
	{models.RoleClinician, "GET", "/api/v1/patients/OUT-1/interactions", "", nil},
	{models.RoleClinician, "POST", "/api/v1/interactions", `{"insurance_no":"OUT-1"}`, nil},
	{models.RoleClinician, "POST", "/api/v1/interactions", `{"insurance_no":"OUT-1"}`, []string{"Idempotency-Key", "outage-1"}},
	{models.RoleClinician, "GET", "/api/v1/interactions/visit-1", "", nil},
	{models.RoleClinician, "DELETE", "/api/v1/interactions/visit-1?reason=duplicate", "", []string{"If-Match", `"1"`}},
	{models.RoleClinician, "GET", "/api/v1/interactions/visit-1/history", "", nil},
	{models.RoleAdmin, "GET", "/api/v1/keys", "", nil},
	{models.RoleAuditor, "GET", "/api/v1/audit", "", nil},
}

// assertAllUnavailable sends every data route and /readyz at once and checks that
// each answers 503 unavailable in time, while /healthz answers 200.
func assertAllUnavailable(t *testing.T, base string, keys map[models.Role]string) {
	t.Helper()
	type sent struct {
		what string
		a    answer
		err  error
	}
	results := make([]sent, len(dataRoutes)+1)
	var wg sync.WaitGroup
	for i, r := range dataRoutes {
		wg.Go(func() {
			a, err := tryRequest(t, r.method, base+r.path, keys[r.role], r.body, r.headers...)
			results[i] = sent{r.method + " " + r.path, a, err}
		})
	}
	wg.Go(func() {
		a, err := tryRequest(t, "GET", base+"/readyz", "", "")
		results[len(dataRoutes)] = sent{"GET /readyz", a, err}
	})
	wg.Wait()
	for _, r := range results {
		if r.err != nil {
			t.Errorf("%s: %v", r.what, r.err)
			continue
		}
		assertUnavailable(t, r.what, r.a)
	}
	if a := timedRequest(t, "GET", base+"/healthz", "", ""); a.status != http.StatusOK {
		t.Errorf("GET /healthz: %d %s", a.status, a.body)
	}
}

// TestStoreOutageMidRun takes MongoDB away from a running server and brings it
// back: meanwhile every data route and /readyz answer 503 with Retry-After in time,
// and /healthz 200; afterwards everything answers again, by itself.
func TestStoreOutageMidRun(t *testing.T) {
	store := newSeparateStore(t)
	store.start()
	srv := runOver(t, store.uri())
	waitFor(t, "the server to be ready", func() bool {
		return timedRequest(t, "GET", srv.base+"/readyz", "", "").status == http.StatusOK
	})
	keys := map[models.Role]string{}
	for _, role := range models.Roles() {
		keys[role] = store.issueKey(role)
	}
	if a := timedRequest(t, "POST", srv.base+"/api/v1/patients", keys[models.RoleClinician], `{"insurance_no":"OUT-1"}`); a.status != http.StatusCreated {
		t.Fatalf("create a patient: %d %s", a.status, a.body)
	}

	store.stop()
	// The first requests meet the connections the store closed, the later ones a
	// store the driver knows to be down.
	for range 3 {
		assertAllUnavailable(t, srv.base, keys)
	}

	store.start()
	waitFor(t, "the routes to answer again", func() bool {
		return timedRequest(t, "GET", srv.base+"/api/v1/patients/OUT-1", keys[models.RoleClinician], "").status == http.StatusOK
	})
	if a := timedRequest(t, "GET", srv.base+"/readyz", "", ""); a.status != http.StatusOK {
		t.Errorf("readyz after the store came back: %d %s", a.status, a.body)
	}
	if a := timedRequest(t, "POST", srv.base+"/api/v1/interactions", keys[models.RoleClinician], `{"id":"visit-1","insurance_no":"OUT-1"}`); a.status != http.StatusCreated {
		t.Errorf("create an interaction after the store came back: %d %s", a.status, a.body)
	}
	if strings.Contains(srv.logs.String(), `"status":500`) {
		t.Errorf("a request answered 500:\n%s", srv.logs)
	}
}

// TestStoreDownAtStart starts the server while MongoDB does not answer: it serves
// anyway, 503 on every data route and /readyz; once the store answers, it creates
// the indexes and the first admin key by itself and serves.
func TestStoreDownAtStart(t *testing.T) {
	store := newSeparateStore(t)
	srv := runOver(t, store.uri())
	someKey := "ck_" + strings.Repeat("A", 43)
	keys := map[models.Role]string{}
	for _, role := range models.Roles() {
		keys[role] = someKey
	}
	for range 2 {
		assertAllUnavailable(t, srv.base, keys)
	}
	if strings.Contains(srv.stdout.String(), "ck_") {
		t.Fatalf("an admin key was shown before the store answered:\n%s", srv.stdout)
	}

	store.start()
	waitFor(t, "the server to be ready", func() bool {
		return timedRequest(t, "GET", srv.base+"/readyz", "", "").status == http.StatusOK
	})
	var admin []string
	waitFor(t, "the first admin key", func() bool {
		admin = regexp.MustCompile(`\n    (ck_[A-Za-z0-9_-]{43})\n`).FindStringSubmatch(srv.stdout.String())
		return admin != nil
	})
	if a := timedRequest(t, "GET", srv.base+"/api/v1/keys", admin[1], ""); a.status != http.StatusOK {
		t.Errorf("the admin lists keys: %d %s", a.status, a.body)
	}
	cur, err := store.conn.DB.Collection(repository.InteractionsCollection).Indexes().List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var indexes []bson.M
	if err := cur.All(context.Background(), &indexes); err != nil {
		t.Fatal(err)
	}
	if len(indexes) < 2 {
		t.Errorf("the interactions' indexes were not created: %v", indexes)
	}
	if strings.Contains(srv.logs.String(), `"status":500`) {
		t.Errorf("a request answered 500:\n%s", srv.logs)
	}
}
