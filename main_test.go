package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

// The tests of this package run the service as its users do: the binary `go build`
// makes, in a process of its own, signalled and killed.

// binDir holds the binary, built once for all the tests of this test binary.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "interactions-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildBinary builds the service once, from this directory, and returns its path.
var buildBinary = buildOnce("interactions", ".")

// buildOnce returns a function that builds the main package pkg into binDir/name
// the first time it is called, and returns the binary's path, or the build's error.
func buildOnce(name, pkg string) func() (string, error) {
	return sync.OnceValues(func() (string, error) {
		path := filepath.Join(binDir, name)
		out, err := exec.Command("go", "build", "-o", path, pkg).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
		return path, nil
	})
}

// binary returns the service's binary, skipping the test when Go cannot build it.
func binary(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("skipped: needs the go command on PATH to build the service")
	}
	path, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	return path
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

// process is the service running in a process of its own over a data directory.
type process struct {
	t         *testing.T
	cmd       *exec.Cmd
	dataDir   string
	base      string // http://127.0.0.1:port
	storeAddr string // the embedded store's TCP address; "" on its Unix socket
	stdout    *lockedBuffer
	stderr    *lockedBuffer
	exited    chan struct{}
	waitErr   error
}

// environment is what every process of these tests is configured with, beyond
// DATA_DIR: free ports, a short SHUTDOWN_TIMEOUT, and no rate limit, which the load
// would reach.
func environment(dataDir string, extra ...string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"DATA_DIR=" + dataDir, "PORT=0", "EMBEDDED_MONGO_ADDR=127.0.0.1:0",
		"SHUTDOWN_TIMEOUT=" + shutdownTimeout.String(), "RATE_LIMIT_PER_MINUTE=0", "LOG_LEVEL=info",
	}
	return append(env, extra...)
}

// shutdownTimeout is the SHUTDOWN_TIMEOUT of the processes these tests run.
const shutdownTimeout = 5 * time.Second

var (
	servingLine = regexp.MustCompile(`"msg":"serving","addr":"\[::\]:(\d+)"`)
	storeLine   = regexp.MustCompile(`"listen":"mongodb://([^"/]+)/"`)
)

// startProcess runs the service over dataDir, with the settings extra ("NAME=value")
// beyond environment's, and waits until it serves. The process is killed when the
// test ends, if it still runs.
func startProcess(t *testing.T, dataDir string, extra ...string) *process {
	t.Helper()
	p := &process{t: t, dataDir: dataDir, stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(binary(t))
	p.cmd.Dir = t.TempDir() // no .env there
	p.cmd.Env = environment(dataDir, extra...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	deadline := time.Now().Add(time.Minute)
	for {
		logs := p.stderr.String()
		if m := servingLine.FindStringSubmatch(logs); m != nil {
			s := storeLine.FindStringSubmatch(logs)
			if s == nil {
				t.Fatalf("no line names the embedded store:\n%s", logs)
			}
			p.base = "http://127.0.0.1:" + m[1]
			if !strings.Contains(s[1], "%2F") { // a TCP address, not the Unix socket
				p.storeAddr = s[1]
			}
			return p
		}
		select {
		case <-p.exited:
			t.Fatalf("the server exited at start: %v\n%s", p.waitErr, logs)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not start:\n%s", logs)
		}
	}
}

// createKey runs `keys create` beside the process, over its data directory and
// store, and returns the key it prints.
func (p *process) createKey(name, role string) string {
	p.t.Helper()
	cmd := exec.Command(binary(p.t), "keys", "create", "-name", name, "-role", role)
	cmd.Dir = p.t.TempDir()
	cmd.Env = environment(p.dataDir, "EMBEDDED_MONGO_ADDR="+p.storeAddr)
	out, err := cmd.CombinedOutput()
	if err != nil {
		p.t.Fatalf("keys create: %v\n%s", err, out)
	}
	key := regexp.MustCompile(`ck_[A-Za-z0-9_-]{43}`).FindString(string(out))
	if key == "" {
		p.t.Fatalf("keys create printed no key:\n%s", out)
	}
	return key
}

// do sends one request with key and returns the status, the ETag and the body.
func (p *process) do(method, path, key, body string) (int, string, []byte) {
	p.t.Helper()
	status, etag, data, err := p.try(method, path, key, body)
	if err != nil {
		p.t.Fatal(err)
	}
	return status, etag, data
}

// try is do returning the error of the exchange, for goroutines.
func (p *process) try(method, path, key, body string) (int, string, []byte, error) {
	req, err := http.NewRequest(method, p.base+path, strings.NewReader(body))
	if err != nil {
		return 0, "", nil, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, "", nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return res.StatusCode, res.Header.Get("ETag"), data, nil
}

// outcome is what one create of the load got.
type outcome struct {
	id         string
	start, end time.Time
	status     int
	retryAfter string
	body       []byte
	err        error
}

// refused reports whether the connection was refused: nothing listened.
func (o outcome) refused() bool { return errors.Is(o.err, syscall.ECONNREFUSED) }

// load sends creates of interactions of patient insuranceNo from workers at once,
// each on a connection of its own, ids prefixed with prefix, until stop returns
// true after a failed request; then it returns every outcome.
type load struct {
	mu       sync.Mutex
	outcomes []outcome
	created  chan struct{} // receives after each 201
	wg       sync.WaitGroup
}

func startLoad(base, key, insuranceNo, prefix string, workers int, stop func(outcome) bool) *load {
	l := &load{created: make(chan struct{}, 1<<16)}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Minute}
	for w := range workers {
		l.wg.Go(func() {
			for n := 0; ; n++ {
				o := outcome{id: fmt.Sprintf("%s-w%d-%d", prefix, w, n)}
				body := fmt.Sprintf(`{"id":%q,"insurance_no":%q,"ailment":"load","metrics":{"temp":37.5},"label":["load"]}`, o.id, insuranceNo)
				req, err := http.NewRequestWithContext(context.Background(), "POST", base+"/api/v1/interactions", strings.NewReader(body))
				if err != nil {
					panic(err)
				}
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/json")
				o.start = time.Now()
				res, err := client.Do(req)
				if err == nil {
					o.status, o.retryAfter = res.StatusCode, res.Header.Get("Retry-After")
					o.body, err = io.ReadAll(res.Body)
					res.Body.Close()
				}
				o.end, o.err = time.Now(), err
				l.mu.Lock()
				l.outcomes = append(l.outcomes, o)
				l.mu.Unlock()
				if o.status == http.StatusCreated && o.err == nil {
					l.created <- struct{}{}
				}
				if (o.err != nil || o.status != http.StatusCreated) && stop(o) {
					return
				}
			}
		})
	}
	return l
}

// waitCreated waits until the load has made n interactions.
func (l *load) waitCreated(t *testing.T, n int) {
	t.Helper()
	timeout := time.After(time.Minute)
	for range n {
		select {
		case <-l.created:
		case <-timeout:
			t.Fatalf("the load did not make %d interactions in a minute", n)
		}
	}
}

// wait waits for the workers and returns every outcome.
func (l *load) wait() []outcome {
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.outcomes
}

// cutShort reports whether o got a complete 503 unavailable, with Retry-After.
func (o outcome) cutShort() bool {
	var failure struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	return o.err == nil && o.status == http.StatusServiceUnavailable &&
		json.Unmarshal(o.body, &failure) == nil && failure.Error.Code == "unavailable" && o.retryAfter != ""
}

// acknowledged reports whether o got a complete 201 for its interaction.
func (o outcome) acknowledged() bool {
	if o.err != nil || o.status != http.StatusCreated {
		return false
	}
	var in struct {
		ID string `json:"id"`
	}
	return json.Unmarshal(o.body, &in) == nil && in.ID == o.id
}

// fillVersions stores, in the store of dataDir, interaction id of patient
// insuranceNo at version n with its n-1 earlier versions archived: listing its
// versions, which reads every archived version on the embedded store, is then slow
// enough to be caught running.
func fillVersions(t *testing.T, dataDir, insuranceNo, id string, n int) {
	t.Helper()
	ctx := context.Background()
	cfg := app.Config{Database: "clinic", DataDir: dataDir, EmbeddedAddr: "127.0.0.1:0", ScanLimit: app.AutoScanLimit}
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	conn, repo, err := app.Open(ctx, cfg, logger, app.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseLogged(logger)
	now := time.Now()
	p, err := models.NewPatient(bson.D{{Key: "insurance_no", Value: insuranceNo}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.InsertPatients(ctx, []models.Patient{p}); err != nil {
		t.Fatal(err)
	}
	in, err := models.NewInteraction(bson.D{
		{Key: "id", Value: id}, {Key: "insurance_no", Value: insuranceNo},
		{Key: "symptoms", Value: strings.Repeat("noted at length; ", 20)},
	}, now)
	if err != nil {
		t.Fatal(err)
	}
	archived := make([]any, 0, n-1)
	for v := 1; v < n; v++ {
		in.Version = v
		version := models.NewVersion(in, v, now)
		version.Committed = true
		archived = append(archived, version)
	}
	if _, err := conn.DB.Collection(repository.InteractionVersionsCollection).InsertMany(ctx, archived); err != nil {
		t.Fatal(err)
	}
	in.Version = n
	if _, err := repo.InsertInteractions(ctx, []models.Interaction{in}); err != nil {
		t.Fatal(err)
	}
}

// read is one slow read and what it got.
type read struct {
	connected time.Time // when its connection was established
	answered  time.Time // when its answer was read whole
	status    int
	header    http.Header
	body      []byte
	err       error
}

// reads are slow reads sent at once, each on a connection of its own.
type reads struct {
	mu      sync.Mutex
	all     []read
	pending int
	wg      sync.WaitGroup
}

// startReads sends n requests for path at once.
func startReads(base, key, path string, n int) *reads {
	rs := &reads{all: make([]read, n), pending: n}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Minute}
	for i := range n {
		rs.wg.Go(func() {
			var r read
			trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) {
				rs.mu.Lock()
				rs.all[i].connected = time.Now()
				rs.mu.Unlock()
			}}
			req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", base+path, nil)
			if err != nil {
				panic(err)
			}
			req.Header.Set("Authorization", "Bearer "+key)
			res, err := client.Do(req)
			if err == nil {
				r.status, r.header = res.StatusCode, res.Header
				r.body, err = io.ReadAll(res.Body)
				res.Body.Close()
				r.answered = time.Now()
			}
			rs.mu.Lock()
			defer rs.mu.Unlock()
			r.connected, r.err = rs.all[i].connected, err
			rs.all[i] = r
			rs.pending--
		})
	}
	return rs
}

// state returns when the last read connected (zero until all have) and how many
// are still waiting for their answer.
func (rs *reads) state() (lastConnected time.Time, pending int) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for _, r := range rs.all {
		if r.connected.IsZero() {
			return time.Time{}, rs.pending
		}
		if r.connected.After(lastConnected) {
			lastConnected = r.connected
		}
	}
	return lastConnected, rs.pending
}

// wait waits for every read to end and returns them.
func (rs *reads) wait() []read {
	rs.wg.Wait()
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return rs.all
}

// complete reports whether the answer is whole: a page of the history, or the
// error shape with a 503 unavailable and its Retry-After.
func (r read) complete() bool {
	if r.err != nil {
		return false
	}
	var page struct {
		Items []json.RawMessage `json:"items"`
	}
	var failure struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	switch r.status {
	case http.StatusOK:
		return json.Unmarshal(r.body, &page) == nil && len(page.Items) > 0
	case http.StatusServiceUnavailable:
		return json.Unmarshal(r.body, &failure) == nil && failure.Error.Code == "unavailable" && r.header.Get("Retry-After") != ""
	}
	return false
}

// waitFor polls cond until it holds, failing t after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
