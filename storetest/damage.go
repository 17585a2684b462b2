package storetest

import (
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"testing"

	// The SQLite driver the embedded store itself uses.
	_ "modernc.org/sqlite"
)

// DamageIndex makes an index of the embedded store's file at path lack the entry of
// one row of its table, as a damaged file would, and leaves the table whole: the
// index of collection's table named <table>_<suffix> ("_id_" for the store's own
// index of _id, "history" for a side index). No store may have the file open.
func DamageIndex(t testing.TB, path, collection, suffix string) {
	t.Helper()
	db, table, name, def := index(t, path, collection, suffix)
	defer db.Close()
	var first int64
	if err := db.QueryRow(fmt.Sprintf("SELECT min(rowid) FROM %q", table)).Scan(&first); err != nil {
		t.Fatal(err)
	}
	partial := strings.Replace(def, fmt.Sprintf("%q", name), fmt.Sprintf("%q", name+"_partial"), 1) +
		fmt.Sprintf(" WHERE rowid != %d", first)
	// The index is made again without the row, then given back its name and its
	// definition, which no longer describes what it holds.
	for _, q := range []string{
		partial,
		fmt.Sprintf("DROP INDEX %q", name),
		"PRAGMA writable_schema=ON",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := db.Exec(`UPDATE sqlite_schema SET name = ?, sql = ? WHERE name = ?`, name, def, name+"_partial"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA writable_schema=OFF"); err != nil {
		t.Fatal(err)
	}
}

// DropIndex drops the index of collection's table named <table>_<suffix> from the
// embedded store's file at path (see DamageIndex).
func DropIndex(t testing.TB, path, collection, suffix string) {
	t.Helper()
	db, _, name, _ := index(t, path, collection, suffix)
	defer db.Close()
	if _, err := db.Exec(fmt.Sprintf("DROP INDEX %q", name)); err != nil {
		t.Fatal(err)
	}
}

// index opens the file at path and returns it, with the table of collection and
// the name and definition of its index named <table>_<suffix>.
func index(t testing.TB, path, collection, suffix string) (db *sql.DB, table, name, def string) {
	t.Helper()
	db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", Path: path}).String())
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1) // one connection: the schema it edits is the one it reads
	if err := db.QueryRow(`SELECT table_name FROM _ferretdb_collections WHERE name = ?`, collection).Scan(&table); err != nil {
		db.Close()
		t.Fatalf("the table of %s: %v", collection, err)
	}
	name = table + "_" + suffix
	if err := db.QueryRow(`SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?`, name).Scan(&def); err != nil {
		db.Close()
		t.Fatalf("the index %s: %v", name, err)
	}
	return db, table, name, def
}
