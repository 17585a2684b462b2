package sideindex

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/clinic/interactions/dataversion"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

// The store's records change only through its writes, and every write to the table
// of the patients or of the interactions fires, in the writer's own SQLite
// transaction, a trigger the side index gives that table: it adds one to the count
// of changes (the row of key "" of changesTable, which carries the counter's epoch,
// a random name given when the row is made) and notes, in the row keyed by the
// insurance number of the document written (before and after the write), the count
// at that chart's last change. Whichever process writes (the server, a command
// beside it, one that opened the files while no server ran), the count moves with
// the write: a dataversion.Version read after it differs from every one read
// before. The triggers and their table are the side index's only writes; they hold
// no document, and the store's catalogue does not list them.
const changesTable = "_clinic_changes"

// patientField names, for each collection whose writes are counted, the field of
// its documents that holds their patient's insurance number.
var patientField = map[string]string{
	repository.PatientsCollection:     "_id",
	repository.InteractionsCollection: models.FieldInsuranceNo,
}

// counted are the collections whose writes are counted, in the order their tables
// name a Version's epoch.
var counted = []string{repository.PatientsCollection, repository.InteractionsCollection}

// changesSchema makes the table of the counts, its index of charts by count, and the
// count of changes, at none, with its epoch.
var changesSchema = []string{
	fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %q (key TEXT PRIMARY KEY, n INTEGER NOT NULL, epoch TEXT) WITHOUT ROWID`, changesTable),
	fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (n)`, changesTable+"_n", changesTable),
	fmt.Sprintf(`INSERT OR IGNORE INTO %q (key, n, epoch) VALUES ('', 0, lower(hex(randomblob(8))))`, changesTable),
}

// triggerSQL returns the statements that make the triggers of table, the table of
// collection: one per kind of write (INSERT, UPDATE, DELETE), each counting the
// change and noting the chart of the row written (NEW), or of the row it replaced
// or removed (OLD).
func triggerSQL(collection, table string) []string {
	count := fmt.Sprintf(`INSERT INTO %q (key, n, epoch) VALUES ('', 1, lower(hex(randomblob(8))))
		ON CONFLICT (key) DO UPDATE SET n = n + 1;`, changesTable)
	note := func(row string) string {
		no := fmt.Sprintf("%s.%s->>'$.%s'", row, ferretColumn, patientField[collection])
		return fmt.Sprintf(`INSERT INTO %q (key, n) SELECT %s, (SELECT n FROM %q WHERE key = '') WHERE %s IS NOT NULL
			ON CONFLICT (key) DO UPDATE SET n = excluded.n;`, changesTable, no, changesTable, no)
	}
	var out []string
	for _, write := range []struct{ event, body string }{
		{"INSERT", count + note("NEW")},
		{"UPDATE", count + note("NEW") + note("OLD")},
		{"DELETE", count + note("OLD")},
	} {
		out = append(out, fmt.Sprintf(`CREATE TRIGGER IF NOT EXISTS %q AFTER %s ON %q BEGIN %s END`,
			triggerName(table, write.event), write.event, table, write.body))
	}
	return out
}

// triggerName names the trigger of table for event.
func triggerName(table, event string) string {
	return table + "_changes_" + strings.ToLower(event)
}

// countChanges makes, when they are missing, the table of the counts and the
// triggers of the tables of the counted collections that exist. It looks for them
// once per set of those tables (see Files.counting): the reads of versions, one for
// each chart and insight request, then read no schema. It returns the file, the
// tables by collection ("" for a collection not created yet), and the errors of the
// store's SQLite file.
func (x Index) countChanges(ctx context.Context) (*sql.DB, map[string]string, error) {
	db, err := x.files.db(x.database)
	if err != nil {
		return nil, nil, err
	}
	tables := map[string]string{}
	for _, collection := range counted {
		if _, tables[collection], err = x.files.table(ctx, x.database, collection); err != nil {
			return nil, nil, err
		}
	}
	key := x.database + "/" + epoch("", tables)
	if x.files.countingFor(key) {
		return db, tables, nil
	}
	have := map[string]bool{}
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'trigger' OR type = 'table' AND name = ?`,
		changesTable)
	if err != nil {
		return nil, nil, fmt.Errorf("read the embedded store's schema: %w", err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("read the embedded store's schema: %w", err)
		}
		have[name] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("read the embedded store's schema: %w", err)
	}
	var missing []string
	if !have[changesTable] {
		missing = append(missing, changesSchema...)
	}
	for _, collection := range counted {
		if table := tables[collection]; table != "" && !have[triggerName(table, "DELETE")] {
			missing = append(missing, triggerSQL(collection, table)...)
		}
	}
	for _, stmt := range missing {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return nil, nil, fmt.Errorf("count the changes of the records: %w", err)
		}
	}
	x.files.counted(key)
	return db, tables, nil
}

// epoch names the counter of the changes: its random name, and the tables it counts
// the writes of (a table made since, a collection created, gives another epoch).
func epoch(name string, tables map[string]string) string {
	parts := []string{name}
	for _, collection := range counted {
		parts = append(parts, tables[collection])
	}
	return strings.Join(parts, "/")
}

// DataVersion returns the version of the records of the patients and the
// interactions: the count of their changes (see changesTable). It gives the tables
// of those collections their triggers first when they lack them (a collection
// created after start-up), so that nothing written after this read goes uncounted.
// It returns the errors of the store's SQLite file.
func (x Index) DataVersion(ctx context.Context) (dataversion.Version, error) {
	db, tables, err := x.countChanges(ctx)
	if err != nil {
		return dataversion.Version{}, err
	}
	var name sql.NullString
	var n int64
	err = db.QueryRowContext(ctx, fmt.Sprintf(`SELECT epoch, n FROM %q WHERE key = ''`, changesTable)).Scan(&name, &n)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return dataversion.Version{}, fmt.Errorf("read the count of changes: %w", err)
	}
	return dataversion.Counted(epoch(name.String, tables), n, true), nil
}

// ChartVersion returns the version of patient no's chart, their record and their
// interactions: the count of changes at the chart's last change, 0 when it has not
// changed since the store counts changes. It returns the errors of the store's
// SQLite file.
func (x Index) ChartVersion(ctx context.Context, no string) (dataversion.Version, error) {
	db, tables, err := x.countChanges(ctx)
	if err != nil {
		return dataversion.Version{}, err
	}
	var name sql.NullString
	var n int64
	q := fmt.Sprintf(`SELECT (SELECT epoch FROM %q WHERE key = ''), coalesce((SELECT n FROM %q WHERE key = ?), 0)`,
		changesTable, changesTable)
	if err := db.QueryRowContext(ctx, q, no).Scan(&name, &n); err != nil {
		return dataversion.Version{}, fmt.Errorf("read the count of changes: %w", err)
	}
	return dataversion.Counted(epoch(name.String, tables), n, true), nil
}

// ChangedSince returns the insurance numbers of the charts changed since v, a
// version DataVersion returned, or false when the changes since v cannot be told
// (v is of another counter). It returns the errors of the store's SQLite file.
func (x Index) ChangedSince(ctx context.Context, v dataversion.Version) ([]string, bool, error) {
	now, err := x.DataVersion(ctx)
	if err != nil {
		return nil, false, err
	}
	if now.Epoch() != v.Epoch() || !v.Exact() {
		return nil, false, nil
	}
	db, err := x.files.db(x.database)
	if err != nil {
		return nil, false, err
	}
	rows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT key FROM %q WHERE n > ? AND key != ''`, changesTable), v.Changes())
	if err != nil {
		return nil, false, fmt.Errorf("read the changed charts: %w", err)
	}
	defer rows.Close()
	var nos []string
	for rows.Next() {
		var no string
		if err := rows.Scan(&no); err != nil {
			return nil, false, fmt.Errorf("read the changed charts: %w", err)
		}
		nos = append(nos, no)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("read the changed charts: %w", err)
	}
	return nos, true, nil
}
