package sideindex_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"golang.org/x/mod/modfile"

	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/repository"
	"github.com/clinic/interactions/sideindex"
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

// TestOnlyUniqueAndSideIndexes opens the embedded store as the server does: every
// SQLite index of its tables is the store's own unique index on _id (made again over
// the expression of the store's lookups), one that enforces uniqueness, or one of
// the side index's; none keeps up an index that the store's queries never use. A
// store that has them, as earlier versions made them (and as a database served from
// MongoDB has them), loses them at the next start; one whose unique index on _id is
// as the store makes it, beside a separate index of the lookups by _id, as earlier
// versions left it, has the one unique index instead. The store still refuses a
// second document with an _id it holds.
func TestOnlyUniqueAndSideIndexes(t *testing.T) {
	ctx := context.Background()
	conn, cfg := openEmbedded(t)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(cfg.DataDir, cfg.Database+".sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	want := map[string][]string{
		repository.InteractionsCollection:     {"_id_", "date", "history"},
		repository.PatientsCollection:         {"_id_", "name"},
		repository.APIKeysCollection:          {"_id_", "name_unique"},
		repository.AuditEventsCollection:      {"_id_", "chain_seq_unique", "insurance_no", "key_name", "time"},
		repository.AuditDisclosuresCollection: {"_id_", "insurance_no"},
		repository.IdempotencyKeysCollection:  {"_id_"},
		repository.PatientVersionsCollection:  {"_id_"},
	}
	check := func(when string) {
		t.Helper()
		got := sqliteIndexes(t, db)
		for coll, names := range want {
			if !slices.Equal(got[coll], names) {
				t.Errorf("%s: the SQLite indexes of %s are %v; want %v", when, coll, got[coll], names)
			}
		}
	}
	check("at the first start")

	// Served as from MongoDB, or prepared by an earlier version: every index.
	if err := repository.New(conn.DB).Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	if got := sqliteIndexes(t, db)[repository.InteractionsCollection]; !slices.Contains(got, "search_tokens") {
		t.Fatalf("prepared as for MongoDB, the interactions' SQLite indexes are %v; want the search_tokens index among them", got)
	}
	// As earlier versions left the store: its unique index on _id as the store
	// makes it, and a separate index of the lookups by _id.
	patients := tableOf(t, db, repository.PatientsCollection)
	for _, q := range []string{
		fmt.Sprintf(`DROP INDEX %q`, patients+"__id_"),
		fmt.Sprintf(`CREATE UNIQUE INDEX %q ON %q (_ferretdb_sjson->"_id")`, patients+"__id_", patients),
		fmt.Sprintf(`CREATE INDEX %q ON %q (_ferretdb_sjson->'$._id')`, patients+"_id_lookup", patients),
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if got := sqliteIndexes(t, db)[repository.PatientsCollection]; !slices.Contains(got, "id_lookup") {
		t.Fatalf("as earlier versions left it, the patients' SQLite indexes are %v", got)
	}

	// The next start, as the server's.
	repo := repository.New(conn.DB, conn.RepositoryOptions(cfg.Database, 0)...)
	if err := repo.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	if err := conn.IndexLookups(ctx, cfg.Database); err != nil {
		t.Fatal(err)
	}
	check("at the next start")
	var def string
	if err := db.QueryRow(`SELECT sql FROM sqlite_schema WHERE name = ?`, patients+"__id_").Scan(&def); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`CREATE UNIQUE INDEX %q ON %q (_ferretdb_sjson->'$._id')`, patients+"__id_", patients); def != want {
		t.Errorf("the patients' unique index on _id is %s; want %s", def, want)
	}
	for _, name := range []string{repository.PatientsCollection, repository.InteractionsCollection} {
		coll := conn.DB.Collection(name)
		doc := bson.D{{Key: "_id", Value: "twice"}, {Key: "insurance_no", Value: "twice"}}
		if _, err := coll.InsertOne(ctx, doc); err != nil {
			t.Fatal(err)
		}
		if _, err := coll.InsertOne(ctx, doc); !mongo.IsDuplicateKeyError(err) {
			t.Errorf("%s: a second document with an _id the store holds: %v, want a duplicate key error", name, err)
		}
	}
	specs, err := conn.DB.Collection(repository.InteractionsCollection).Indexes().ListSpecifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 1 || specs[0].Name != "_id_" {
		t.Errorf("the store lists the interactions' indexes as %v; want _id_ alone", specs)
	}
}

// tableOf returns the table of collection in the store's file db.
func tableOf(t *testing.T, db *sql.DB, collection string) string {
	t.Helper()
	var table string
	if err := db.QueryRow(`SELECT table_name FROM _ferretdb_collections WHERE name = ?`, collection).Scan(&table); err != nil {
		t.Fatal(err)
	}
	return table
}

// sqliteIndexes returns, by collection, the names of the SQLite indexes of its table
// in the store's file db, without the table's name in front, sorted.
func sqliteIndexes(t *testing.T, db *sql.DB) map[string][]string {
	t.Helper()
	rows, err := db.Query(`SELECT c.name, c.table_name, i.name FROM _ferretdb_collections c
		JOIN sqlite_master i ON i.type = 'index' AND i.tbl_name = c.table_name ORDER BY i.name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	indexes := map[string][]string{}
	for rows.Next() {
		var coll, table, name string
		if err := rows.Scan(&coll, &table, &name); err != nil {
			t.Fatal(err)
		}
		indexes[coll] = append(indexes[coll], strings.TrimPrefix(name, table+"_"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return indexes
}

// TestVersionKeptAcrossStarts starts the embedded store's side index again over the
// same files, as the next start of the server does: finding its indexes and
// triggers there, it changes nothing, and the version of the records it reads is the
// one read before, so that what clients keep under it (entity tags) stays good.
func TestVersionKeptAcrossStarts(t *testing.T) {
	ctx := context.Background()
	conn, cfg := openEmbedded(t)
	if _, err := conn.DB.Collection(repository.InteractionsCollection).InsertOne(ctx,
		bson.D{{Key: "_id", Value: "v1"}, {Key: "insurance_no", Value: "Q1"}}); err != nil {
		t.Fatal(err)
	}
	before, err := conn.SideIndex(cfg.Database).DataVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	again := sideindex.New(cfg.DataDir)
	defer again.Close()
	if err := again.CreateIndexes(ctx, cfg.Database); err != nil {
		t.Fatal(err)
	}
	after, err := again.Index(cfg.Database).DataVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("after another start, the version is %v; before, %v", after, before)
	}
}

// TestEarlierTriggersMadeAgain gives the interactions' table the triggers an earlier
// version made, one counting inserts among them: the next start drops that one and
// makes the others again as this version counts, once, in one transaction.
func TestEarlierTriggersMadeAgain(t *testing.T) {
	ctx := context.Background()
	conn, cfg := openEmbedded(t)
	if _, err := conn.SideIndex(cfg.Database).DataVersion(ctx); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(cfg.DataDir, cfg.Database+".sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	table := tableOf(t, db, repository.InteractionsCollection)
	count := `INSERT INTO "_clinic_changes" (key, n, epoch) VALUES ('', 1, lower(hex(randomblob(8))))
		ON CONFLICT (key) DO UPDATE SET n = n + 1;`
	for _, q := range []string{
		fmt.Sprintf(`DROP TRIGGER %q`, table+"_changes_delete"),
		fmt.Sprintf(`CREATE TRIGGER %q AFTER DELETE ON %q BEGIN %s END`, table+"_changes_delete", table, count),
		fmt.Sprintf(`CREATE TRIGGER %q AFTER INSERT ON %q BEGIN %s END`, table+"_changes_insert", table, count),
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	triggers := func() map[string]string {
		t.Helper()
		rows, err := db.Query(`SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?`, table)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]string{}
		for rows.Next() {
			var name, def string
			if err := rows.Scan(&name, &def); err != nil {
				t.Fatal(err)
			}
			out[strings.TrimPrefix(name, table+"_")] = def
		}
		return out
	}
	next := sideindex.New(cfg.DataDir)
	defer next.Close()
	if err := next.CreateIndexes(ctx, cfg.Database); err != nil {
		t.Fatal(err)
	}
	made := triggers()
	if got := slices.Sorted(maps.Keys(made)); !slices.Equal(got, []string{"changes_delete", "changes_update"}) {
		t.Fatalf("after the next start, the interactions' triggers are %v; want changes_delete and changes_update", got)
	}
	if strings.Contains(made["changes_delete"], "BEGIN "+count) {
		t.Errorf("the trigger on deletions was left as an earlier version made it: %s", made["changes_delete"])
	}
	var schema int
	if err := db.QueryRow(`PRAGMA schema_version`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	again := sideindex.New(cfg.DataDir)
	defer again.Close()
	if err := again.CreateIndexes(ctx, cfg.Database); err != nil {
		t.Fatal(err)
	}
	var after int
	if err := db.QueryRow(`PRAGMA schema_version`).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after != schema || !maps.Equal(triggers(), made) {
		t.Errorf("a start after that changed the schema (version %d, then %d)", schema, after)
	}
}
