package app

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"

	"github.com/clinic/interactions/repository"

	// The SQLite driver the embedded store itself uses.
	_ "modernc.org/sqlite"
)

// The embedded store (FerretDB v1.24 on SQLite) keeps each collection in a table of
// one JSON column, listed in its catalogue table. This process, when it runs the
// store, reaches past it into those files for two things the store does slowly.
//
// Lookups by _id: the store runs a find whose filter is exactly {_id: <string>} as
// "WHERE <column>->'$._id' = ?". Its unique _id index is built over another spelling
// of that expression, which SQLite does not match to it, so every such lookup reads
// the table row by row: about 5 µs a row, 5 s at a million. An index over the very
// expression the lookup uses turns it into an index search (about 0.5 ms at any
// size). It is SQLite's own: the store's catalogue does not list it and clients never
// see it, and it goes with its table when the collection is dropped.
//
// Counts: see Counter.
const (
	ferretCollections = "_ferretdb_collections" // the store's catalogue: name, table_name
	ferretColumn      = "_ferretdb_sjson"       // the column holding the documents
	lookupIndexSuffix = "_id_lookup"
)

// IndexLookups gives every collection of database the index that makes lookups by
// _id cheap, when this process runs the embedded store; for MongoDB, which indexes
// _id itself, and for a store another process runs, it does nothing. Creating the
// index reads the collection once; later calls find it there. It returns the errors
// of the store's SQLite file.
func (s *Connection) IndexLookups(ctx context.Context, database string) error {
	if s.dataDir == "" {
		return nil
	}
	db, err := s.openSQLite(database)
	if err != nil {
		return err
	}
	defer db.Close()
	tables, err := sqliteTables(ctx, db)
	if err != nil {
		return err
	}
	for _, table := range tables {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (%s->'$._id')`, table+lookupIndexSuffix, table, ferretColumn)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("index lookups by _id in %s: %w", table, err)
		}
	}
	return nil
}

// Counter returns a repository.Counter over database when this process runs the
// embedded store, and nil otherwise. The store's own counts read every document
// (count) or analyse the whole table, holding off writers meanwhile (collStats);
// SQLite counts a table's rows from its smallest index, about 0.1 s a million.
func (s *Connection) Counter(database string) repository.Counter {
	if s.dataDir == "" {
		return nil
	}
	return func(ctx context.Context, collection string) (int64, error) {
		db, err := s.openSQLite(database)
		if err != nil {
			return 0, err
		}
		defer db.Close()
		tables, err := sqliteTables(ctx, db)
		if err != nil {
			return 0, err
		}
		table, ok := tables[collection]
		if !ok {
			return 0, nil // not created yet: empty
		}
		var n int64
		if err := db.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*) FROM %q`, table)).Scan(&n); err != nil {
			return 0, fmt.Errorf("count %s: %w", collection, err)
		}
		return n, nil
	}
}

// openSQLite opens the SQLite file of database in the embedded store this process
// runs. It returns the driver's error.
func (s *Connection) openSQLite(database string) (*sql.DB, error) {
	dsn := (&url.URL{Scheme: "file", Path: filepath.Join(s.dataDir, database+".sqlite"),
		RawQuery: "_pragma=busy_timeout(10000)"}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open the embedded store's file: %w", err)
	}
	return db, nil
}

// sqliteTables returns the table of each collection in the store's catalogue.
func sqliteTables(ctx context.Context, db *sql.DB) (map[string]string, error) {
	rows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT name, table_name FROM %q`, ferretCollections))
	if err != nil {
		return nil, fmt.Errorf("read the embedded store's catalogue: %w", err)
	}
	defer rows.Close()
	tables := map[string]string{}
	for rows.Next() {
		var name, table string
		if err := rows.Scan(&name, &table); err != nil {
			return nil, fmt.Errorf("read the embedded store's catalogue: %w", err)
		}
		tables[name] = table
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the embedded store's catalogue: %w", err)
	}
	return tables, nil
}
