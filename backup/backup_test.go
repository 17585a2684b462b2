package backup_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/backup"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
	"github.com/clinic/interactions/storetest"
)

var logger = slog.New(slog.NewJSONHandler(io.Discard, nil))

// open starts an embedded store over dir, as the server does, until the test ends.
func open(t *testing.T, dir string) (*app.Connection, *repository.DB) {
	t.Helper()
	cfg := app.Config{Database: "clinic", DataDir: dir, EmbeddedAddr: "127.0.0.1:0", ScanLimit: app.AutoScanLimit}
	conn, db, err := app.Open(context.Background(), cfg, logger, app.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseLogged(logger) })
	return conn, db
}

// counts returns how many documents each collection of conn's database holds, as
// the store counts them.
func counts(t *testing.T, conn *app.Connection) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	names, err := conn.DB.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, name := range names {
		if out[name], err = conn.DB.Collection(name).CountDocuments(ctx, bson.D{}); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// filled returns a data directory whose store holds a closed audit chain and some
// documents, with the store open.
func filled(t *testing.T) (string, *app.Connection, *repository.DB) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	conn, db := open(t, dir)
	w, err := audit.NewWriter(db, audit.WriterOptions{Key: []byte(strings.Repeat("k", 32)), Process: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := w.Append(ctx, models.AuditEvent{Time: time.Now(), Action: "interactions.read", Method: "GET", Route: "/r",
			Status: 200, ClientIP: "-", RequestID: "r"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(ctx, models.AuditEvent{Time: time.Now(), Method: "-", Route: "-", Status: 200, ClientIP: "-", RequestID: "r"}); err != nil {
		t.Fatal(err)
	}
	docs := make([]any, 300)
	for i := range docs {
		docs[i] = bson.D{{Key: "_id", Value: fmt.Sprintf("before-%d", i)}, {Key: "n", Value: i}}
	}
	if _, err := conn.DB.Collection(repository.InteractionsCollection).InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	return dir, conn, db
}

// TestBackupWhileWritingThenRestore backs up a store while a writer inserts
// documents: the backup holds every document inserted before it began, and a count
// between those inserted before it began and after it ended; its manifest counts
// what it holds and names its file by its checksum. Restored into a new data
// directory, the store holds what the manifest says, and the restore leaves its
// note.
func TestBackupWhileWritingThenRestore(t *testing.T) {
	ctx := context.Background()
	dir, conn, db := filled(t)
	coll := conn.DB.Collection(repository.InteractionsCollection)
	var inserted atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: fmt.Sprintf("during-%d", i)}}); err != nil {
				t.Error(err)
				return
			}
			inserted.Add(1)
		}
	})
	for inserted.Load() < 20 {
		time.Sleep(time.Millisecond)
	}
	before := 300 + inserted.Load()
	out := filepath.Join(t.TempDir(), "backup")
	m, err := backup.Backup(ctx, backup.Options{DataDir: dir, Database: "clinic", Out: out})
	after := 300 + inserted.Load()
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if n := m.Collections[repository.InteractionsCollection]; n < before || n > after {
		t.Errorf("the backup holds %d interactions; %d were stored when it began, %d when it ended", n, before, after)
	}
	heads, err := db.AuditChainHeads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.AuditChains) != 1 || m.AuditChains[0].Chain != heads[0].Chain || m.AuditChains[0].LastSeq != heads[0].LastSeq ||
		m.AuditChains[0].LastHash != heads[0].LastHash || !m.AuditChains[0].Sealed || m.AuditChains[0].KeyID != heads[0].KeyID {
		t.Errorf("the manifest's audit chains %+v, want the store's %+v", m.AuditChains, heads)
	}
	// A test binary knows no versions of its dependencies: the drill on the binary
	// (restore_test.go) checks the store's.
	if m.Service.Module != "github.com/clinic/interactions" || !strings.HasPrefix(m.Service.Store, "github.com/FerretDB/FerretDB ") {
		t.Errorf("the manifest names the build %+v", m.Service)
	}
	for path, mode := range map[string]os.FileMode{out: 0o700 | os.ModeDir, filepath.Join(out, "clinic.sqlite"): 0o600,
		filepath.Join(out, backup.ManifestFile): 0o600} {
		if info, err := os.Stat(path); err != nil || info.Mode() != mode {
			t.Errorf("%s: %v, %v; want mode %v", path, info.Mode(), err, mode)
		}
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 2 {
		t.Errorf("the backup holds %d files, want the copy and the manifest alone (no write-ahead log)", len(entries))
	}

	restored := filepath.Join(t.TempDir(), "data")
	got, digest, err := backup.Restore(ctx, backup.RestoreOptions{From: out, DataDir: restored, Database: "clinic"})
	if err != nil {
		t.Fatal(err)
	}
	if len(digest) != 64 || got.TakenAt != m.TakenAt {
		t.Errorf("Restore = %+v, %q", got, digest)
	}
	note, ok, err := backup.ReadRestoreNote(restored)
	if err != nil || !ok || note.ManifestSHA256 != digest || note.Manifest.TakenAt != m.TakenAt {
		t.Errorf("restore note = %+v, %v, %v", note, ok, err)
	}
	rconn, rdb := open(t, restored)
	if findings := m.Compare(counts(t, rconn), mustHeads(t, rdb)); len(findings) > 0 {
		t.Errorf("the restored store differs from the manifest: %q", findings)
	}
	for i := range 300 {
		var d bson.M
		if err := rconn.DB.Collection(repository.InteractionsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: fmt.Sprintf("before-%d", i)}}).Decode(&d); err != nil {
			t.Fatalf("before-%d: %v", i, err)
		}
	}
	if err := backup.RemoveRestoreNote(restored); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := backup.ReadRestoreNote(restored); ok {
		t.Error("the restore note is still there")
	}
}

func mustHeads(t *testing.T, db *repository.DB) []models.AuditChainHead {
	t.Helper()
	heads, err := db.AuditChainHeads(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return heads
}

// TestBackupRefuses refuses a directory that holds anything, and a data directory
// without the store.
func TestBackupRefuses(t *testing.T) {
	ctx := context.Background()
	dir, _, _ := filled(t)
	out := t.TempDir()
	if err := os.WriteFile(filepath.Join(out, "notes.txt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Backup(ctx, backup.Options{DataDir: dir, Database: "clinic", Out: out}); !errors.Is(err, backup.ErrNotEmpty) {
		t.Errorf("backup into a directory holding a file: %v, want ErrNotEmpty", err)
	}
	_, err := backup.Backup(ctx, backup.Options{DataDir: t.TempDir(), Database: "clinic", Out: filepath.Join(t.TempDir(), "b")})
	if err == nil || !strings.Contains(err.Error(), "holds no embedded store") {
		t.Errorf("backup of an empty DATA_DIR: %v", err)
	}
}

// TestRestoreRefuses checks a backup before it writes anything: a file that does
// not match its checksum, a data directory that holds anything, a backup of another
// database, and a manifest that is missing or names a file outside the backup are
// each refused, and the data directory is left as it was.
func TestRestoreRefuses(t *testing.T) {
	ctx := context.Background()
	dir, _, _ := filled(t)
	good := filepath.Join(t.TempDir(), "backup")
	if _, err := backup.Backup(ctx, backup.Options{DataDir: dir, Database: "clinic", Out: good}); err != nil {
		t.Fatal(err)
	}
	// copyOf returns a copy of the good backup, changed by change.
	copyOf := func(change func(dir string)) string {
		t.Helper()
		out := filepath.Join(t.TempDir(), "backup")
		if err := os.CopyFS(out, os.DirFS(good)); err != nil {
			t.Fatal(err)
		}
		change(out)
		return out
	}
	editManifest := func(edit func(m map[string]any)) func(string) {
		return func(dir string) {
			path := filepath.Join(dir, backup.ManifestFile)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			edit(m)
			if data, err = json.Marshal(m); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	full := t.TempDir()
	if err := os.WriteFile(filepath.Join(full, "clinic.sqlite"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		from    string
		dataDir string
		want    string
	}{
		{"a byte changed", copyOf(func(dir string) {
			path := filepath.Join(dir, "clinic.sqlite")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			data[len(data)/2] ^= 0xff
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
		}), "", "does not match its checksum: clinic.sqlite"},
		{"a file cut short", copyOf(func(dir string) {
			if err := os.Truncate(filepath.Join(dir, "clinic.sqlite"), 4096); err != nil {
				t.Fatal(err)
			}
		}), "", "does not match its checksum"},
		{"no manifest", copyOf(func(dir string) { os.Remove(filepath.Join(dir, backup.ManifestFile)) }), "", "holds no manifest.json"},
		{"a file outside the backup", copyOf(editManifest(func(m map[string]any) {
			m["files"] = []any{map[string]any{"name": "../clinic.sqlite", "size": 1, "sha256": "00"}}
		})), "", `names the file "../clinic.sqlite"`},
		{"another database", copyOf(editManifest(func(m map[string]any) {
			m["database"] = "other"
			m["files"] = []any{map[string]any{"name": "other.sqlite", "size": 1, "sha256": "00"}}
		})), "", "set MONGODB_DATABASE=other"},
		{"a data directory in use", good, full, "not empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dataDir := tc.dataDir
			if dataDir == "" {
				dataDir = filepath.Join(t.TempDir(), "data")
			}
			before, _ := os.ReadDir(dataDir)
			_, _, err := backup.Restore(ctx, backup.RestoreOptions{From: tc.from, DataDir: dataDir, Database: "clinic"})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Restore: %v, want an error saying %q", err, tc.want)
			}
			after, _ := os.ReadDir(dataDir)
			if len(after) != len(before) {
				t.Errorf("DATA_DIR held %d files, and %d after the refusal", len(before), len(after))
			}
		})
	}
}

// TestCheckFilesFindsADamagedFile runs SQLite's integrity check over a data
// directory: clean, nothing; with an index that lacks a row of its table, a
// finding naming the file.
func TestCheckFilesFindsADamagedFile(t *testing.T) {
	ctx := context.Background()
	dir, conn, _ := filled(t)
	if findings, err := backup.CheckFiles(ctx, dir); err != nil || len(findings) > 0 {
		t.Fatalf("CheckFiles = %q, %v; want nothing", findings, err)
	}
	conn.CloseLogged(logger)
	storetest.DamageIndex(t, filepath.Join(dir, "clinic.sqlite"), repository.InteractionsCollection, "_id_")
	findings, err := backup.CheckFiles(ctx, dir)
	if err != nil || len(findings) == 0 || !strings.Contains(findings[0], "integrity_check clinic.sqlite: ") {
		t.Errorf("CheckFiles = %q, %v; want the missing index entry", findings, err)
	}
}
