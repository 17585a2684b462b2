package sideindex_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"golang.org/x/mod/modfile"

	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/repository"
)

// ferretDBVersion is the embedded store's version whose lookups by _id the test
// below knows: FerretDB v1.24.2 runs a find of exactly {_id: <string>} as
// "WHERE _ferretdb_sjson->'$._id' = ?" (internal/backends/sqlite/collection.go and
// metadata.IDColumn).
const ferretDBVersion = "v1.24.2"

// openEmbedded opens an embedded store over a new data directory, as the server does,
// until the test ends.
func openEmbedded(t *testing.T) (*app.Connection, app.Config) {
	t.Helper()
	t.Setenv("MONGODB_URI", "")
	t.Setenv("DATA_DIR", t.TempDir())
	t.Setenv("EMBEDDED_MONGO_ADDR", "127.0.0.1:0")
	cfg, err := app.LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	conn, _, err := app.Open(context.Background(), cfg, logger, app.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseLogged(logger) })
	return conn, cfg
}

// TestSideIndexCountsEveryDocument counts audit events through the embedded store's
// SQLite file: the count is the store's own, before and after inserts.
func TestSideIndexCountsEveryDocument(t *testing.T) {
	ctx := context.Background()
	conn, cfg := openEmbedded(t)
	side := conn.SideIndex(cfg.Database)
	if side == nil {
		t.Fatal("no side index for the embedded store this process runs")
	}
	count := side.Count
	coll := conn.DB.Collection(repository.AuditEventsCollection)
	for _, batch := range []int{0, 1, 250} {
		docs := make([]any, batch)
		for i := range docs {
			docs[i] = bson.D{{Key: "_id", Value: fmt.Sprintf("%d-%d", batch, i)}}
		}
		if batch > 0 {
			if _, err := coll.InsertMany(ctx, docs); err != nil {
				t.Fatal(err)
			}
		}
		want, err := coll.CountDocuments(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := count(ctx, repository.AuditEventsCollection); err != nil || got != want {
			t.Errorf("counter = %d, %v; the store counts %d", got, err, want)
		}
	}
	if got, err := count(ctx, "never_created"); err != nil || got != 0 {
		t.Errorf("counter of a collection never created = %d, %v; want 0", got, err)
	}
}

// TestLookupsByIDUseAnIndex opens the embedded store as the server does: in every
// collection's table, SQLite runs the store's lookup by _id as an index search, not
// as a read of every row.
func TestLookupsByIDUseAnIndex(t *testing.T) {
	// A test binary carries no versions of its dependencies: the module's go.mod
	// says which FerretDB the service is built with.
	data, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	mod, err := modfile.ParseLax("go.mod", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	version := ""
	for _, r := range mod.Require {
		if r.Mod.Path == "github.com/FerretDB/FerretDB" {
			version = r.Mod.Version
		}
	}
	if version != ferretDBVersion {
		t.Fatalf("the embedded store is FerretDB %q: check how it looks up _id, and the layout the side index reads, before moving %s here", version, ferretDBVersion)
	}
	_, cfg := openEmbedded(t)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(cfg.DataDir, cfg.Database+".sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name, table_name FROM _ferretdb_collections`)
	if err != nil {
		t.Fatal(err)
	}
	tables := map[string]string{}
	for rows.Next() {
		var name, table string
		if err := rows.Scan(&name, &table); err != nil {
			t.Fatal(err)
		}
		tables[name] = table
	}
	rows.Close()
	for _, name := range []string{repository.PatientsCollection, repository.InteractionsCollection,
		repository.AuditEventsCollection, repository.IdempotencyKeysCollection, repository.APIKeysCollection} {
		if tables[name] == "" {
			t.Errorf("no table for %s in %v", name, tables)
		}
	}
	for name, table := range tables {
		var id, parent, unused int
		var plan string
		q := fmt.Sprintf(`EXPLAIN QUERY PLAN SELECT _ferretdb_sjson FROM %q WHERE _ferretdb_sjson->'$._id' = ?`, table)
		if err := db.QueryRow(q, `"x"`).Scan(&id, &parent, &unused, &plan); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !strings.HasPrefix(plan, "SEARCH") || !strings.Contains(plan, "USING INDEX") {
			t.Errorf("%s: a lookup by _id is planned as %q, want an index search", name, plan)
		}
	}
}
