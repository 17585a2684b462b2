package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/backup"
)

// drillKey is the audit key of the restore drill's processes.
var drillKey = "AUDIT_HMAC_KEY=" + strings.Repeat("d", 40)

// runBinary runs the service's binary with args over dataDir, with the settings
// extra beyond environment's, and returns what it printed, stdout then stderr.
func runBinary(t *testing.T, dataDir string, extra []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = t.TempDir()
	cmd.Env = environment(dataDir, extra...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String() + stderr.String(), err
}

// write is one write a client made, and what the server answered.
type write struct {
	id      string
	version int
	end     time.Time
	status  int
	body    []byte
}

// TestRestoreDrill is the restore drill, on the binary `go build` makes: clients
// create and amend interactions while a backup of the running server's store is
// taken. Restored into a new data directory, the store holds every write answered
// before the backup began, byte for byte as answered, at its version; each
// collection holds as many documents as the backup's manifest says; the server
// started over it declares the restore in the audit trail, which verifies; and the
// check passes while it serves. A backup with a changed file, or taken by a build
// on another version of the embedded store, or restored without the key of its
// audit chains, is refused, and nothing is restored.
func TestRestoreDrill(t *testing.T) {
	dataDir := t.TempDir()
	p := startProcess(t, dataDir, drillKey)
	beside := []string{drillKey, "EMBEDDED_MONGO_ADDR=" + p.storeAddr}
	key := func(name, role string) string {
		out, err := runBinary(t, dataDir, beside, "keys", "create", "-name", name, "-role", role)
		k := regexp.MustCompile(`ck_[A-Za-z0-9_-]{43}`).FindString(out)
		if err != nil || k == "" {
			t.Fatalf("keys create: %v\n%s", err, out)
		}
		return k
	}
	clinician, auditor := key("drill", "clinician"), key("drill-audit", "auditor")
	if status, _, body := p.do("POST", "/api/v1/patients", clinician, `{"insurance_no":"DRILL-1"}`); status != http.StatusCreated {
		t.Fatalf("create the patient: %d %s", status, body)
	}

	// Clients create interactions, and amend each once, until told to stop.
	var (
		mu     sync.Mutex
		writes []write
		stop   atomic.Bool
		wg     sync.WaitGroup
		made   atomic.Int64
	)
	client := &http.Client{Timeout: time.Minute}
	send := func(method, path, body string, headers ...string) (int, []byte, error) {
		req, err := http.NewRequestWithContext(context.Background(), method, p.base+path, strings.NewReader(body))
		if err != nil {
			return 0, nil, err
		}
		req.Header.Set("Authorization", "Bearer "+clinician)
		req.Header.Set("Content-Type", "application/json")
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		res, err := client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer res.Body.Close()
		data, err := io.ReadAll(res.Body)
		return res.StatusCode, data, err
	}
	for w := range 4 {
		wg.Go(func() {
			for n := 0; !stop.Load(); n++ {
				id := fmt.Sprintf("drill-w%d-%d", w, n)
				status, body, err := send("POST", "/api/v1/interactions",
					fmt.Sprintf(`{"id":%q,"insurance_no":"DRILL-1","ailment":"cough","metrics":{"temp":37.%d},"label":["drill"]}`, id, n%10))
				created := write{id: id, version: 1, end: time.Now(), status: status, body: body}
				if err != nil || status != http.StatusCreated {
					t.Errorf("create %s: %d %v %s", id, status, err, body)
					return
				}
				made.Add(1)
				status, body, err = send("PATCH", "/api/v1/interactions/"+id, fmt.Sprintf(`{"remarks":"amended %d"}`, n),
					"Content-Type", "application/merge-patch+json", "If-Match", `"1"`)
				amended := write{id: id, version: 2, end: time.Now(), status: status, body: body}
				if err != nil || status != http.StatusOK {
					t.Errorf("amend %s: %d %v %s", id, status, err, body)
					return
				}
				mu.Lock()
				writes = append(writes, created, amended)
				mu.Unlock()
			}
		})
	}
	waitFor(t, "the clients to write", func() bool { return made.Load() >= 40 })

	dir := filepath.Join(t.TempDir(), "backup")
	began := time.Now()
	out, err := runBinary(t, dataDir, beside, "backup", "-out", dir)
	if err != nil || !strings.Contains(out, "Backed up database clinic") {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	madeDuring := made.Load()
	waitFor(t, "the clients to write after the backup", func() bool { return made.Load() >= madeDuring+10 })
	stop.Store(true)
	wg.Wait()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-p.exited

	var before []write
	for _, w := range writes {
		if w.end.Before(began) {
			before = append(before, w)
		}
	}
	if len(before) < 40 {
		t.Fatalf("only %d writes were answered before the backup began", len(before))
	}
	m, _, err := backup.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Service.Store != "github.com/FerretDB/FerretDB v1.24.2" || m.Service.Module != "github.com/clinic/interactions" {
		t.Errorf("the manifest names the build %+v", m.Service)
	}

	// A changed file, and a backup of another store's version, are refused.
	for name, change := range map[string]func(string){
		"a byte of the store's file changed": func(dir string) {
			path := filepath.Join(dir, "clinic.sqlite")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			data[len(data)/3] ^= 0x01
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
		},
		"taken on another version of the store": func(dir string) {
			path := filepath.Join(dir, backup.ManifestFile)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			data = []byte(strings.Replace(string(data), "FerretDB v1.24.2", "FerretDB v2.0.0", 1))
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
		},
	} {
		changed := filepath.Join(t.TempDir(), "backup")
		if err := os.CopyFS(changed, os.DirFS(dir)); err != nil {
			t.Fatal(err)
		}
		change(changed)
		target := filepath.Join(t.TempDir(), "data")
		out, err := runBinary(t, target, []string{drillKey}, "restore", "-from", changed)
		if err == nil || !strings.Contains(out, "error: ") {
			t.Errorf("restore of a backup %s: %v\n%s", name, err, out)
		}
		if _, err := os.Stat(target); !os.IsNotExist(err) {
			t.Errorf("restore of a backup %s left DATA_DIR behind: %v", name, err)
		}
	}

	// Without the key of the backup's audit chains, the trail would not verify once
	// restored: the restore is refused, naming the setting, and restores nothing.
	otherKey := "AUDIT_HMAC_KEY=" + strings.Repeat("e", 40)
	for name, settings := range map[string][]string{"no audit key": nil, "another audit key": {otherKey}} {
		target := filepath.Join(t.TempDir(), "data")
		out, err := runBinary(t, target, settings, "restore", "-from", dir)
		if err == nil || !strings.Contains(out, "AUDIT_HMAC_KEY: the backup's audit chain") || !strings.Contains(out, "nothing was restored") {
			t.Errorf("restore with %s: %v\n%s", name, err, out)
		}
		if _, err := os.Stat(target); !os.IsNotExist(err) {
			t.Errorf("restore with %s left DATA_DIR behind: %v", name, err)
		}
	}
	// After a rotation, the backup's key is given among the earlier ones.
	rotated := filepath.Join(t.TempDir(), "rotated")
	out, err = runBinary(t, rotated, []string{otherKey, "AUDIT_HMAC_PREVIOUS_KEYS=" + strings.TrimPrefix(drillKey, "AUDIT_HMAC_KEY=")},
		"restore", "-from", dir)
	if err != nil || !strings.Contains(out, "It holds what the manifest says") {
		t.Errorf("restore with the backup's key among the earlier keys: %v\n%s", err, out)
	}

	restored := filepath.Join(t.TempDir(), "restored")
	out, err = runBinary(t, restored, []string{drillKey}, "restore", "-from", dir)
	if err != nil || !strings.Contains(out, "It holds what the manifest says") {
		t.Fatalf("restore: %v\n%s", err, out)
	}
	if out, err := runBinary(t, restored, []string{drillKey}, "restore", "-from", dir); err == nil || !strings.Contains(out, "not empty") {
		t.Errorf("a second restore into the restored DATA_DIR: %v\n%s", err, out)
	}
	countRestored(t, restored, m)

	q := startProcess(t, restored, drillKey)
	for _, w := range before {
		status, _, body := q.do("GET", fmt.Sprintf("/api/v1/interactions/%s/history/%d", w.id, w.version), clinician, "")
		if status != http.StatusOK || string(body) != string(w.body) {
			t.Errorf("%s version %d, answered before the backup began, reads back %d:\n%s\nwant\n%s", w.id, w.version, status, body, w.body)
		}
	}
	status, _, body := q.do("GET", "/api/v1/audit?action=store.restored", auditor, "")
	var page struct {
		Items []struct {
			Route   string           `json:"route"`
			Counts  map[string]int64 `json:"counts"`
			KeyName string           `json:"key_name"`
		} `json:"items"`
	}
	if status != http.StatusOK || json.Unmarshal(body, &page) != nil || len(page.Items) != 1 ||
		!strings.Contains(page.Items[0].Route, m.TakenAt.Format(time.RFC3339)) ||
		page.Items[0].Counts["interactions"] != m.Collections["interactions"] || !strings.HasPrefix(page.Items[0].KeyName, "server command") {
		t.Errorf("the restore's declaration: %d %s", status, body)
	}
	status, _, body = q.do("GET", "/api/v1/audit/verify", auditor, "")
	if status != http.StatusOK || !strings.Contains(string(body), `"ok":true`) || !strings.Contains(string(body), `"complete":true`) {
		t.Errorf("verify on the restored store: %d %s", status, body)
	}
	out, err = runBinary(t, restored, []string{drillKey, "EMBEDDED_MONGO_ADDR=" + q.storeAddr}, "check")
	if err != nil {
		t.Errorf("check on the restored store, serving: %v\n%s", err, out)
	}
}

// countRestored starts the store over the restored data directory, in this
// process, and checks that each collection holds as many documents as the
// backup's manifest says.
func countRestored(t *testing.T, dataDir string, m backup.Manifest) {
	t.Helper()
	ctx := context.Background()
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	cfg := app.Config{Database: "clinic", DataDir: dataDir, EmbeddedAddr: "127.0.0.1:0"}
	conn, err := app.Connect(ctx, cfg, logger, app.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseLogged(logger)
	names, err := conn.DB.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != len(m.Collections) {
		t.Errorf("the restored store holds the collections %q; the manifest %v", names, m.Collections)
	}
	for _, name := range names {
		n, err := conn.DB.Collection(name).CountDocuments(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		if n != m.Collections[name] {
			t.Errorf("the restored %s holds %d documents; the manifest says %d", name, n, m.Collections[name])
		}
	}
}
