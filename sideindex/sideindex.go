// Package sideindex reads the SQLite files of the embedded store (FerretDB v1.24.2,
// handler sqlite) directly, for what that store does slowly through its query
// language: it builds expression indexes beside the store's own, finds the ids of a
// page of a history, of the patients or of the audit trail (a patient's by the rows
// of the index of audit events by patient), counts a collection's documents, and
// reads the visits and patients the analytics scan, and counts the changes of the
// records (the version of package dataversion) by triggers of its own. It writes no
// document: every write goes through the store. It is the one package that reads
// SQLite.
//
// It relies on the store's storage layout, which FerretDB does not promise to keep:
//
//   - Each database is the file <data directory>/<database>.sqlite. Its catalogue
//     table, _ferretdb_collections, names each collection's table (columns name and
//     table_name); a collection not created yet has none.
//   - A collection's table holds each document in one JSON column, _ferretdb_sjson;
//     a top-level field is _ferretdb_sjson->>'$.<name>', the items of an array field
//     json_each(_ferretdb_sjson, '$.<name>').
//   - The store runs a find whose filter is exactly {_id: <string or ObjectId>} as
//     "WHERE _ferretdb_sjson->'$._id' = ?", and evaluates every other filter in Go
//     over the whole table. Its own unique index on _id is over another spelling of
//     that expression, which SQLite does not match to it: without the index over the
//     very expression that CreateIndexes adds, SQLite reads every row for a lookup.
//   - Dates are stored as whole milliseconds since 1970, UTC: the side index compares
//     them so, as MongoDB does.
//
// TestLookupsByIDUseAnIndex guards that layout: it fails when the embedded store is
// another version of FerretDB, and when a lookup by _id in any collection's table is
// not an index search. The repository's tests check every read against the store's
// own answer (TestHistoryByIndexIsTheQuery, TestAuditEventsByIndexAreTheQuery, a
// patient's audit events included, TestPatientsByIndexAreTheQuery, TestScansBothWays).
//
// The indexes are SQLite's own: the store's catalogue does not list them, clients
// never see them, and they go with their table when a collection is dropped.
package sideindex

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"sync"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"

	// The SQLite driver the embedded store itself uses.
	_ "modernc.org/sqlite"
)

const (
	ferretCollections = "_ferretdb_collections" // the store's catalogue: name, table_name
	ferretColumn      = "_ferretdb_sjson"       // the column holding the documents
)

// Files are the SQLite files of an embedded store's data directory, one per
// database, each opened when first read. They are safe for concurrent use.
type Files struct {
	dir  string
	mu   sync.Mutex
	open map[string]*sql.DB
}

// New returns the files of the embedded store whose data directory is dir. It opens
// none of them yet.
func New(dir string) *Files {
	return &Files{dir: dir}
}

// db returns the open file of database. It returns the driver's error.
func (f *Files) db(database string) (*sql.DB, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if db, ok := f.open[database]; ok {
		return db, nil
	}
	dsn := (&url.URL{Scheme: "file", Path: filepath.Join(f.dir, database+".sqlite"),
		RawQuery: "_pragma=busy_timeout(10000)"}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open the embedded store's file: %w", err)
	}
	if f.open == nil {
		f.open = map[string]*sql.DB{}
	}
	f.open[database] = db
	return db, nil
}

// Close closes the open files. It returns the driver's errors.
func (f *Files) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var errs []error
	for _, db := range f.open {
		errs = append(errs, db.Close())
	}
	f.open = nil
	return errors.Join(errs...)
}

// table returns the table of collection in database's file, "" when the collection
// does not exist yet.
func (f *Files) table(ctx context.Context, database, collection string) (*sql.DB, string, error) {
	db, err := f.db(database)
	if err != nil {
		return nil, "", err
	}
	var table string
	q := fmt.Sprintf(`SELECT table_name FROM %q WHERE name = ?`, ferretCollections)
	err = db.QueryRowContext(ctx, q, collection).Scan(&table)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, "", fmt.Errorf("read the embedded store's catalogue: %w", err)
	}
	return db, table, nil
}

// field is the SQL value of a top-level field of a stored document.
func field(name string) string { return fmt.Sprintf("%s->>'$.%s'", ferretColumn, name) }

// The orders of the listings the side index serves: newest first, ties by id (a
// history may be read the other way too), and patients by name.
var (
	historyOrder = field(models.FieldInteractionDate) + " DESC, " + field("_id") + " DESC"
	oldestFirst  = field(models.FieldInteractionDate) + " ASC, " + field("_id") + " ASC"
	auditOrder   = field(models.FieldTime) + " DESC, " + field("_id") + " DESC"
	nameOrder    = field(models.FieldSortKey) + ", " + field("_id")
)

// indexes are the indexes of each collection beyond the lookup by _id, by the
// expressions the side index's queries use.
var indexes = map[string]map[string]string{
	repository.InteractionsCollection: {
		"history": field(models.FieldInsuranceNo) + ", " + historyOrder,
		"date":    historyOrder,
	},
	repository.PatientsCollection: {"name": nameOrder},
	repository.AuditEventsCollection: {
		"time":     auditOrder,
		"key_name": field(models.FieldKeyName) + ", " + auditOrder,
	},
	repository.AuditDisclosuresCollection: {
		"insurance_no": field(models.FieldInsuranceNo) + ", " + auditOrder,
	},
}

// retired are the indexes of each collection that earlier versions made and no query
// uses any more, by suffix: CreateIndexes drops them.
var retired = map[string][]string{
	// A patient's audit events are found by the index of audit events by patient.
	repository.AuditEventsCollection: {"insurance_no"},
}

// CreateIndexes gives every collection of database the index that makes the store's
// lookups by _id index searches, and the interactions, patients, audit events and
// the index of audit events by patient the indexes of the side index's queries, and
// drops the retired ones; and gives the patients and the interactions the triggers
// that count their changes (see changesTable). Creating an index reads the
// collection once; later calls find it there. It returns the errors of the store's
// SQLite file.
func (f *Files) CreateIndexes(ctx context.Context, database string) error {
	db, err := f.db(database)
	if err != nil {
		return err
	}
	rows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT name, table_name FROM %q`, ferretCollections))
	if err != nil {
		return fmt.Errorf("read the embedded store's catalogue: %w", err)
	}
	tables := map[string]string{}
	for rows.Next() {
		var name, table string
		if err := rows.Scan(&name, &table); err != nil {
			rows.Close()
			return fmt.Errorf("read the embedded store's catalogue: %w", err)
		}
		tables[name] = table
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the embedded store's catalogue: %w", err)
	}
	for name, table := range tables {
		all := map[string]string{"id_lookup": ferretColumn + "->'$._id'"}
		maps.Copy(all, indexes[name])
		for suffix, columns := range all {
			q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (%s)`, table+"_"+suffix, table, columns)
			if _, err := db.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("index %s: %w", name, err)
			}
		}
		for _, suffix := range retired[name] {
			if _, err := db.ExecContext(ctx, fmt.Sprintf(`DROP INDEX IF EXISTS %q`, table+"_"+suffix)); err != nil {
				return fmt.Errorf("drop index of %s: %w", name, err)
			}
		}
	}
	_, _, err = f.Index(database).countChanges(ctx)
	return err
}

// Index returns the side index of database, a repository.SideIndex.
func (f *Files) Index(database string) Index {
	return Index{files: f, database: database}
}

// Index finds, counts and reads the documents of one database in the embedded
// store's SQLite file, by the indexes CreateIndexes makes.
type Index struct {
	files    *Files
	database string
}

var _ repository.SideIndex = Index{}

// Count counts the rows of collection's table, which SQLite does from its smallest
// index; the store's own counts read every document (count) or analyse the whole
// table, holding off writers meanwhile (collStats). A collection not created yet
// holds none. It returns the errors of the store's SQLite file.
func (x Index) Count(ctx context.Context, collection string) (int64, error) {
	db, table, err := x.files.table(ctx, x.database, collection)
	if err != nil || table == "" {
		return 0, err
	}
	var n int64
	if err := db.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*) FROM %q`, table)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", collection, err)
	}
	return n, nil
}
