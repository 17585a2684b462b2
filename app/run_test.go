package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/models"
)

// running is a server started as `go run .` starts it.
type running struct {
	base string // http://127.0.0.1:port
	// storeURI is the connection string of the embedded store's listener, and
	// storeAddr its TCP address; both "" with MONGODB_URI, storeAddr "" on the
	// store's Unix socket.
	storeURI, storeAddr string
	stdout              *lockedBuffer
	logs                *lockedBuffer
	stop                func()
}

// startRun runs the service in the background until the returned stop is called.
func startRun(t *testing.T) running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, logs := &lockedBuffer{}, &lockedBuffer{}
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, nil, stdout, logs) }()
	serving := regexp.MustCompile(`"msg":"serving","addr":"\[::\]:(\d+)"`)
	store := regexp.MustCompile(`"listen":"(mongodb://([^"/]+)/)"`)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := serving.FindStringSubmatch(logs.String()); m != nil {
			var storeURI, storeAddr string
			if s := store.FindStringSubmatch(logs.String()); s != nil {
				storeURI = s[1]
				if !strings.Contains(s[2], "%2F") { // a TCP address, not the Unix socket
					storeAddr = s[2]
				}
			} else if os.Getenv("MONGODB_URI") == "" {
				t.Fatalf("no line names the embedded store in use:\n%s", logs)
			}
			stop := func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("Run returned %v", err)
				}
			}
			return running{base: "http://127.0.0.1:" + m[1], storeURI: storeURI, storeAddr: storeAddr, stdout: stdout, logs: logs, stop: stop}
		}
		select {
		case err := <-done:
			t.Fatalf("Run ended early: %v\n%s", err, logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not start:\n%s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freshRunEnv sets the environment for a server started as `go run .` starts it, on
// the embedded store in a new data directory, on free ports.
func freshRunEnv(t *testing.T) {
	t.Helper()
	t.Setenv("MONGODB_URI", "")
	t.Setenv("DATA_DIR", t.TempDir())
	t.Setenv("EMBEDDED_MONGO_ADDR", "") // the default: a Unix socket in DATA_DIR
	t.Setenv("PORT", "0")
}

// adminKeyOf returns the admin key srv printed at its first start; it stops srv and
// fails t when it printed none.
func adminKeyOf(t *testing.T, srv running) string {
	t.Helper()
	admin := regexp.MustCompile(`\n    (ck_[A-Za-z0-9_-]{43})\n`).FindStringSubmatch(srv.stdout.String())
	if admin == nil {
		srv.stop()
		t.Fatalf("no admin key printed:\n%s", srv.stdout)
	}
	return admin[1]
}

// request sends one request with an API key and returns the status and body.
func request(t *testing.T, method, url, key, body string) (int, []byte) {
	t.Helper()
	return requestWith(t, method, url, key, body)
}

// requestWith is request with more headers, given as name, value, name, value.
func requestWith(t *testing.T, method, url, key, body string, headers ...string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	sent := req.Clone(context.Background())
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	checkContract(t, sent, []byte(body), res.StatusCode, res.Header, data, true)
	return res.StatusCode, data
}

// TestRunServesAndKeepsData starts the service as a new user does, on the embedded
// store with the defaults (its Unix socket in DATA_DIR): it prints one admin key,
// the key command (run beside the server) creates a clinician key, the clinician
// records a patient; after a restart on the same data directory the patient and the
// keys are still there and no second admin key is made.
func TestRunServesAndKeepsData(t *testing.T) {
	freshRunEnv(t)
	srv := startRun(t)
	admin := adminKeyOf(t, srv)
	if status, body := request(t, "GET", srv.base+"/api/v1/patients/R1", "", ""); status != 401 {
		t.Errorf("without a key: %d %s", status, body)
	}
	if status, body := request(t, "GET", srv.base+"/api/v1/keys", admin, ""); status != 200 || !strings.Contains(string(body), `"admin"`) {
		t.Errorf("admin lists keys: %d %s", status, body)
	}

	// The key command attaches to the running server's store, through its socket.
	out := &bytes.Buffer{}
	if err := app.Run(context.Background(), []string{"keys", "create", "-name", "dr-ada", "-role", "clinician"}, out, io.Discard); err != nil {
		t.Fatalf("keys create: %v", err)
	}
	clinician := regexp.MustCompile(`ck_[A-Za-z0-9_-]{43}`).FindString(out.String())
	if clinician == "" {
		t.Fatalf("keys create printed no key:\n%s", out)
	}
	if status, body := request(t, "POST", srv.base+"/api/v1/patients", clinician, `{"insurance_no":"R1","fname":"Ada"}`); status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	if status, _ := request(t, "POST", srv.base+"/api/v1/patients", admin, `{"insurance_no":"R2"}`); status != 403 {
		t.Errorf("admin creating a patient: %d, want 403", status)
	}
	srv.stop()

	srv = startRun(t)
	defer srv.stop()
	if strings.Contains(srv.stdout.String(), "ck_") {
		t.Errorf("a second admin key was printed:\n%s", srv.stdout)
	}
	// The key command revokes dr-ada's key beside the running server, which has not
	// verified it since it started (a server that has takes apikey.CacheFor to see
	// a revocation made elsewhere: see package apikey's tests): refused at once.
	out.Reset()
	if err := app.Run(context.Background(), []string{"keys", "revoke", "dr-ada"}, out, io.Discard); err != nil {
		t.Fatalf("keys revoke: %v", err)
	}
	if status, _ := request(t, "GET", srv.base+"/api/v1/patients/R1", clinician, ""); status != 401 {
		t.Errorf("revoked key: %d, want 401", status)
	}
	out.Reset()
	if err := app.Run(context.Background(), []string{"keys", "create", "-name", "dr-bob", "-role", "clinician"}, out, io.Discard); err != nil {
		t.Fatalf("keys create: %v", err)
	}
	status, data := request(t, "GET", srv.base+"/api/v1/patients/R1", regexp.MustCompile(`ck_[A-Za-z0-9_-]{43}`).FindString(out.String()), "")
	var p map[string]any
	if status != 200 || json.Unmarshal(data, &p) != nil || p["fname"] != "Ada" {
		t.Fatalf("after a restart: %d %s", status, data)
	}
	out.Reset()
	if err := app.Run(context.Background(), []string{"keys", "list"}, out, io.Discard); err != nil {
		t.Fatalf("keys list: %v", err)
	}
	if !regexp.MustCompile(`dr-ada\s+clinician\s+\S+\s+\S+\s+20\d\d-`).MatchString(out.String()) {
		t.Errorf("keys list does not show dr-ada used and revoked:\n%s", out)
	}
	for _, bad := range [][]string{{"keys"}, {"keys", "create", "-name", "x", "-role", "surgeon"}, {"keys", "revoke"}, {"nonsense"}} {
		if err := app.Run(context.Background(), bad, io.Discard, io.Discard); err == nil {
			t.Errorf("Run(%q) succeeded", bad)
		}
	}

	// Every run of the key command is in the audit trail, failed ones too, and so is
	// the first admin key.
	out.Reset()
	if err := app.Run(context.Background(), []string{"keys", "create", "-name", "audrey", "-role", "auditor"}, out, io.Discard); err != nil {
		t.Fatalf("keys create: %v", err)
	}
	auditor := regexp.MustCompile(`ck_[A-Za-z0-9_-]{43}`).FindString(out.String())
	var got []string
	for _, who := range []string{"keys command, by ", "server command, by "} {
		status, data = request(t, "GET", srv.base+"/api/v1/audit?limit=100&key_name="+url.QueryEscape(who+currentUser()), auditor, "")
		var page struct {
			Items []models.AuditEvent `json:"items"`
		}
		if status != 200 || json.Unmarshal(data, &page) != nil {
			t.Fatalf("audit: %d %s", status, data)
		}
		for _, e := range page.Items {
			got = append(got, fmt.Sprintf("%s %s %d", e.Action, e.Route, e.Status))
		}
	}
	for _, want := range []string{
		"keys.create keys create dr-ada 200", "keys.delete keys revoke dr-ada 200", "keys.read keys list 200",
		"keys.create keys create audrey 200", "keys.create keys create x 400", "keys.create first admin key admin 200",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("no audit event %q in %q", want, got)
		}
	}
	if status, data := request(t, "GET", srv.base+"/api/v1/audit/verify", auditor, ""); status != 200 || !strings.Contains(string(data), `"ok":true`) {
		t.Errorf("verify: %d %s", status, data)
	}
}

// currentUser returns the name of the user running the tests, as commands name them.
func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

// TestRunWithThePortTaken starts the service on a port already in use: it fails
// saying so, before it starts a store or makes a key, so the next start on a free
// port is the first and shows the admin key.
func TestRunWithThePortTaken(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dataDir := t.TempDir()
	t.Setenv("MONGODB_URI", "")
	t.Setenv("DATA_DIR", dataDir)
	t.Setenv("EMBEDDED_MONGO_ADDR", "127.0.0.1:0")
	t.Setenv("PORT", strconv.Itoa(busy.Addr().(*net.TCPAddr).Port))
	stdout := &bytes.Buffer{}
	err = app.Run(context.Background(), nil, stdout, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "PORT") {
		t.Fatalf("Run = %v, want an error naming PORT", err)
	}
	if stdout.Len() > 0 {
		t.Errorf("it printed %q", stdout)
	}
	if entries, _ := os.ReadDir(dataDir); len(entries) > 0 {
		t.Errorf("it wrote to DATA_DIR: %v", entries)
	}

	t.Setenv("PORT", "0")
	srv := startRun(t)
	defer srv.stop()
	if !strings.Contains(srv.stdout.String(), "admin key") {
		t.Errorf("the first start on a free port showed no admin key:\n%s", srv.stdout)
	}
}

// TestServerWarnsOfLowDiskSpace starts the service on the embedded store with a
// MIN_FREE_DISK above what any disk has: it warns in its log at start (and every
// minute after), /readyz answers 503 saying how much is free and how much it wants,
// and the API still serves meanwhile. With MIN_FREE_DISK=0 the check is off.
func TestServerWarnsOfLowDiskSpace(t *testing.T) {
	t.Setenv("MONGODB_URI", "")
	t.Setenv("DATA_DIR", t.TempDir())
	t.Setenv("EMBEDDED_MONGO_ADDR", "127.0.0.1:0")
	t.Setenv("PORT", "0")
	t.Setenv("MIN_FREE_DISK", "1000000TiB")
	srv := startRun(t)
	// The first check runs beside the server's start.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(srv.logs.String(), `"msg":"DATA_DIR's disk has less free space than MIN_FREE_DISK`); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no warning of low free space at start:\n%s", srv.logs)
		}
	}
	res, err := http.Get(srv.base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var body struct {
		Error struct {
			Code   string            `json:"code"`
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	if res.StatusCode != 503 || json.Unmarshal(data, &body) != nil || body.Error.Code != "unavailable" ||
		body.Error.Fields["min_free_bytes"] != strconv.FormatUint(1000000<<40, 10) || body.Error.Fields["free_bytes"] == "" ||
		res.Header.Get("Retry-After") == "" {
		t.Errorf("readyz with low free space: %d %s", res.StatusCode, data)
	}
	admin := regexp.MustCompile(`\n    (ck_[A-Za-z0-9_-]{43})\n`).FindStringSubmatch(srv.stdout.String())
	if admin == nil {
		t.Fatalf("no admin key printed:\n%s", srv.stdout)
	}
	if status, body := request(t, "GET", srv.base+"/api/v1/keys", admin[1], ""); status != 200 {
		t.Errorf("the API while free space is low: %d %s", status, body)
	}
	srv.stop()

	t.Setenv("MIN_FREE_DISK", "0")
	srv = startRun(t)
	defer srv.stop()
	if strings.Contains(srv.logs.String(), "MIN_FREE_DISK") {
		t.Errorf("a warning with the check off:\n%s", srv.logs)
	}
	if status, body := request(t, "GET", srv.base+"/readyz", "", ""); status != 200 {
		t.Errorf("readyz with the check off: %d %s", status, body)
	}
}
