// Package sideindex reads the SQLite files of the embedded store (FerretDB v1.24.2,
// handler sqlite) directly, for what that store does slowly through its query
// language: it builds expression indexes beside the store's own, reads a page of a
// history, of the patients or of the audit trail (a patient's by the rows of the
// index of audit events by patient) and a document by its _id, each document as the
// store would answer it, counts a collection's documents, reads the visits and
// patients the analytics scan, and counts the changes of the records (the version of
// package dataversion) by triggers of its own. It writes no document: every write
// goes through the store. It is the one package that reads what the SQLite files
// hold; package backup opens them too, as files only (SQLite's online backup and
// integrity check). Check compares the side index with its tables and with the
// store's own answers, for the check command.
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
//     over the whole table. It makes its own unique index on _id, named
//     <table>__id_, over another spelling of that expression, which SQLite does not
//     match to it: unless CreateIndexes makes that index again over the very
//     expression, SQLite reads every row for a lookup. The store tells a duplicate
//     _id by the unique constraint failing, not by the index's name or definition.
//   - Dates are stored as whole milliseconds since 1970, UTC: the side index compares
//     them so, as MongoDB does.
//   - Each stored document carries the BSON type of each of its values (see
//     storedBSON), from which the side index makes the very BSON the store answers.
//
// TestLookupsByIDUseAnIndex guards that layout: it fails when the embedded store is
// another version of FerretDB, and when a lookup by _id in any collection's table is
// not an index search. TestDocumentsAreTheStoresAnswer and
// TestRecordsAreTheStoresAnswer check the documents it reads against the store's own
// answers, byte for byte: values of every type, records of every shape, and records
// between the writes of an amendment. The repository's tests check every read against
// the store's own answer (TestHistoryByIndexIsTheQuery,
// TestAuditEventsByIndexAreTheQuery, a patient's audit events included,
// TestPatientsByIndexAreTheQuery, TestReadsByIndexAreTheStoresAnswer,
// TestScansBothWays).
//
// The indexes are SQLite's own: the store's catalogue does not list them, clients
// never see them, and they go with their table when a collection is dropped.
package sideindex

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"

	// The SQLite driver the embedded store itself uses.
	_ "modernc.org/sqlite"
)

const (
	ferretCollections = "_ferretdb_collections" // the store's catalogue: name, table_name
	ferretColumn      = "_ferretdb_sjson"       // the column holding the documents
	// ferretID is the expression the store finds a document by _id with: the JSON
	// of its _id.
	ferretID = ferretColumn + "->'$._id'"
)

// Files are the SQLite files of an embedded store's data directory, one per
// database, each opened when first read. They are safe for concurrent use.
type Files struct {
	dir  string
	mu   sync.Mutex
	open map[string]*sql.DB
	// found remembers the table of each collection found, by database and
	// collection.
	found map[[2]string]string
	// counting remembers the sets of tables, by database, found with the triggers
	// that count their changes (see countChanges); a collection created or made
	// anew has another table, so another set.
	counting map[string]bool
}

// countingFor reports whether the tables of key count their changes.
func (f *Files) countingFor(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counting[key]
}

// counted notes that the tables of key count their changes.
func (f *Files) counted(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.counting == nil {
		f.counting = map[string]bool{}
	}
	f.counting[key] = true
}

// idleReaders is how many connections to a file the side index keeps open between
// reads: each keeps the pages it read, so that a read does not open the file anew.
const idleReaders = 8

// New returns the files of the embedded store whose data directory is dir. It opens
// none of them yet.
func New(dir string) *Files {
	return &Files{dir: dir, found: map[[2]string]string{}}
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
	db.SetMaxIdleConns(idleReaders)
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
	f.open, f.found, f.counting = nil, map[[2]string]string{}, nil
	return errors.Join(errs...)
}

// table returns the table of collection in database's file, "" when the collection
// does not exist yet. It remembers the tables it finds (see forget).
func (f *Files) table(ctx context.Context, database, collection string) (*sql.DB, string, error) {
	db, err := f.db(database)
	if err != nil {
		return nil, "", err
	}
	key := [2]string{database, collection}
	f.mu.Lock()
	table, ok := f.found[key]
	f.mu.Unlock()
	if ok {
		return db, table, nil
	}
	q := fmt.Sprintf(`SELECT table_name FROM %q WHERE name = ?`, ferretCollections)
	err = db.QueryRowContext(ctx, q, collection).Scan(&table)
	if errors.Is(err, sql.ErrNoRows) {
		return db, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("read the embedded store's catalogue: %w", err)
	}
	f.mu.Lock()
	f.found[key] = table
	f.mu.Unlock()
	return db, table, nil
}

// forget forgets the table of collection in database, after a read of it failed:
// the collection may have been dropped since.
func (f *Files) forget(database, collection string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.found, [2]string{database, collection})
}

// read calls fn with the file and the table of collection, unless the collection
// does not exist yet. When fn fails, the table is looked up anew the next time. It
// returns the errors of the file and of fn.
func (x Index) read(ctx context.Context, collection string, fn func(db *sql.DB, table string) error) error {
	db, table, err := x.files.table(ctx, x.database, collection)
	if err != nil || table == "" {
		return err
	}
	if err := fn(db, table); err != nil {
		x.files.forget(x.database, collection)
		return err
	}
	return nil
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
	// status is an interaction's status, "" for none. The history's indexes end
	// with it, so that SQLite leaves out the entries in error, and counts a
	// history, by the index alone, without parsing the stored document. (An
	// index's expressions are parted by ", ": see Check.)
	status = fmt.Sprintf("coalesce(%s,'')", field(models.FieldStatus))
	// newestFirst is the order of the history's indexes: by date, newest first.
	// They leave the ties by id out: SQLite orders the few visits of one date by
	// id as it reads them (a sort of the right part of the order), where every
	// insert would pay for the id in each index, a lookup in the document's JSON
	// and a 36-character key (a fifth of the seed's SQLite time per document).
	newestFirst = field(models.FieldInteractionDate) + " DESC"
)

// indexes are the indexes of each collection beyond the store's unique index on
// _id, by the expressions the side index's queries use.
var indexes = map[string]map[string]string{
	repository.InteractionsCollection: {
		"history": field(models.FieldInsuranceNo) + ", " + newestFirst + ", " + status,
		"date":    newestFirst + ", " + status,
	},
	repository.PatientsCollection: {"name": nameOrder},
	repository.AuditEventsCollection: {
		"time":         auditOrder,
		"key_name":     field(models.FieldKeyName) + ", " + auditOrder,
		"insurance_no": field(models.FieldInsuranceNo) + ", " + auditOrder,
	},
	repository.AuditDisclosuresCollection: {
		"insurance_no": field(models.FieldInsuranceNo) + ", " + auditOrder,
	},
}

// CreateIndexes gives every collection of database the store's unique index on _id
// over the very expression of the store's lookups by _id (see storeID), and the
// interactions, patients, audit events and the index of audit events by patient the
// indexes of the side index's queries; and gives the patients and the interactions
// the triggers that count their changes (see changesTable). An index made over other
// expressions (by the store, or by an earlier version) is made again, and the
// separate index of the lookups by _id that earlier versions made is dropped.
// Creating an index reads the collection once; later calls find it there. It
// returns the errors of the store's SQLite file.
func (f *Files) CreateIndexes(ctx context.Context, database string) error {
	db, tables, err := f.tables(ctx, database)
	if err != nil {
		return err
	}
	for name, table := range tables {
		for suffix, columns := range indexesOf(name) {
			if err := makeIndex(ctx, db, table, suffix, columns); err != nil {
				return fmt.Errorf("index %s: %w", name, err)
			}
		}
		if _, err := db.ExecContext(ctx, fmt.Sprintf(`DROP INDEX IF EXISTS %q`, table+"_"+formerIDLookup)); err != nil {
			return fmt.Errorf("drop the former index of the lookups by _id of %s: %w", name, err)
		}
	}
	_, _, err = f.Index(database).countChanges(ctx)
	return err
}

// makeIndex makes the index of table named by suffix over columns, unless SQLite
// holds it so already. An index of that name over other expressions is dropped and
// made again in one transaction, so that the store's unique index on _id never
// lapses: no write comes between. It returns the errors of the store's SQLite file.
func makeIndex(ctx context.Context, db *sql.DB, table, suffix, columns string) error {
	index := table + "_" + suffix
	want := indexSQL(index, table, suffix, columns)
	var def string
	err := db.QueryRowContext(ctx, `SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?`, index).Scan(&def)
	switch {
	case err == nil && def == want:
		return nil
	case err != nil && !errors.Is(err, sql.ErrNoRows):
		return err
	}
	return inTransaction(ctx, db, []string{fmt.Sprintf(`DROP INDEX IF EXISTS %q`, index), want})
}

// indexSQL is the statement that makes the index named index of table over
// columns, the side index's by suffix (see indexesOf), as SQLite keeps it in its
// schema.
func indexSQL(index, table, suffix, columns string) string {
	kind := "INDEX"
	if suffix == storeID {
		kind = "UNIQUE INDEX"
	}
	return fmt.Sprintf("CREATE %s %q ON %q (%s)", kind, index, table, columns)
}

// storeID is the suffix of the name of the store's own unique index on _id, which
// the store makes with each collection's table. The store makes it over another
// spelling of the _id than its lookups by _id use (see ferretID), which SQLite does
// not match to them: CreateIndexes makes it again over the lookups' expression, the
// same values, so that one index both keeps the _ids unique (the store reports a
// duplicate _id by the constraint, whatever its index) and serves the lookups.
const storeID = "_id_"

// formerIDLookup is the suffix of the name of the separate index of the lookups by
// _id that earlier versions made beside the store's own.
const formerIDLookup = "id_lookup"

// indexesOf returns the indexes of collection the side index keeps, by the suffix
// of their name (the index of table t is named t_<suffix>): the store's unique index
// on _id, and those of the side index's queries.
func indexesOf(collection string) map[string]string {
	all := map[string]string{storeID: ferretID}
	maps.Copy(all, indexes[collection])
	return all
}

// tables returns the open file of database and the table of each of its
// collections, by name, as the store's catalogue names them. It returns the errors
// of the store's SQLite file.
func (f *Files) tables(ctx context.Context, database string) (*sql.DB, map[string]string, error) {
	db, err := f.db(database)
	if err != nil {
		return nil, nil, err
	}
	rows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT name, table_name FROM %q`, ferretCollections))
	if err != nil {
		return nil, nil, fmt.Errorf("read the embedded store's catalogue: %w", err)
	}
	defer rows.Close()
	tables := map[string]string{}
	for rows.Next() {
		var name, table string
		if err := rows.Scan(&name, &table); err != nil {
			return nil, nil, fmt.Errorf("read the embedded store's catalogue: %w", err)
		}
		tables[name] = table
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("read the embedded store's catalogue: %w", err)
	}
	return db, tables, nil
}

// Collections returns the names of database's collections, sorted. It returns the
// errors of the store's SQLite file.
func (f *Files) Collections(ctx context.Context, database string) ([]string, error) {
	_, tables, err := f.tables(ctx, database)
	if err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(tables)), nil
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

// Document returns the document of collection whose _id is the string id, as the
// store answers a find of {_id: id} (see storedBSON), or nil when there is none. It
// finds it as the store does, by the JSON of its _id, by the index CreateIndexes
// makes. It returns the errors of the store's SQLite file.
func (x Index) Document(ctx context.Context, collection, id string) (doc bson.Raw, err error) {
	key, err := json.Marshal(id) // as the store spells it: FerretDB's sjson.MarshalSingleValue
	if err != nil {
		return nil, err
	}
	err = x.read(ctx, collection, func(db *sql.DB, table string) error {
		var data []byte
		q := fmt.Sprintf("SELECT %s FROM %q WHERE %s = ?", ferretColumn, table, ferretID)
		err := db.QueryRowContext(ctx, q, string(key)).Scan(&data)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("find in %s: %w", collection, err)
		}
		if doc, err = storedBSON(data); err != nil {
			return fmt.Errorf("read %s: %w", collection, err)
		}
		return nil
	})
	return doc, err
}

// idsPerRead bounds how many ids Documents looks up with one query.
const idsPerRead = 500

// Documents calls each with the documents of collection whose _id is one of the
// strings ids, as Document reads them, in no particular order, until each returns
// false; ids without a document are left out. It finds them with one query per
// idsPerRead ids. It returns the errors of the store's SQLite file.
func (x Index) Documents(ctx context.Context, collection string, ids []string, each func(bson.Raw) bool) error {
	for len(ids) > 0 {
		batch := ids[:min(len(ids), idsPerRead)]
		ids = ids[len(batch):]
		keys := make([]string, len(batch))
		for i, id := range batch {
			key, err := json.Marshal(id)
			if err != nil {
				return err
			}
			keys[i] = string(key)
		}
		w := among(ferretID, keys, "?")
		more := true
		err := x.rows(ctx, collection, func(table string) string {
			return fmt.Sprintf("SELECT %s FROM %q WHERE %s", ferretColumn, table, w.condition())
		}, w.args, documentRows(func(doc bson.Raw) bool {
			more = each(doc)
			return more
		}))
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// Count counts the rows of collection's table, which SQLite does from its smallest
// index; the store's own counts read every document (count) or analyse the whole
// table, holding off writers meanwhile (collStats). A collection not created yet
// holds none. It returns the errors of the store's SQLite file.
func (x Index) Count(ctx context.Context, collection string) (n int64, err error) {
	err = x.read(ctx, collection, func(db *sql.DB, table string) error {
		if err := db.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*) FROM %q`, table)).Scan(&n); err != nil {
			return fmt.Errorf("count %s: %w", collection, err)
		}
		return nil
	})
	return n, err
}
