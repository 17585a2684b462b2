package sideindex

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/clinic/interactions/dataversion"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

// The store's records change only through its writes. Every update and every
// deletion of a row of the table of the patients or of the interactions fires, in
// the writer's own SQLite transaction, a trigger the side index gives that table: it
// adds one to the count of changes (the row of key "" of changesTable, which carries
// the counter's epoch, a random name given when the row is made) and notes, in the
// row keyed by the insurance number of the document written (before and after the
// write), the count at that chart's last change. Inserts fire no trigger, as a
// trigger would parse every document inserted once more (it doubled the seed's
// SQLite time per document): SQLite gives each new row a rowid one larger than the
// largest in its table, so the largest rowid of each table moves with every insert,
// and a chart's largest rowids with every insert into that chart.
//
// A deletion of the row with the largest rowid lets the next insert take its rowid
// again: the trigger then gives the counter a new epoch, and adds to the count what
// the largest rowid lost, so that the count of a Version (the count of changes plus
// the largest rowids) still grows with every write. SQLite's VACUUM (the store's
// compact command) may give the rows new rowids without firing a trigger; it changes
// the schema's version, which each Version's epoch carries, as does every
// collection or index made.
//
// Whichever process writes (the server, a command beside it, one that opened the
// files while no server ran), the Version moves with the write: a
// dataversion.Version read after it differs from every one read before. The
// triggers and their table are the side index's only writes; they hold no document,
// and the store's catalogue does not list them.
const changesTable = "_clinic_changes"

// patientField names, for each collection whose writes are counted, the field of
// its documents that holds their patient's insurance number.
var patientField = map[string]string{
	repository.PatientsCollection:     "_id",
	repository.InteractionsCollection: models.FieldInsuranceNo,
}

// counted are the collections whose writes are counted, in the order their tables
// name a Version's epoch and give its marks.
var counted = []string{repository.PatientsCollection, repository.InteractionsCollection}

// changesSchema makes the table of the counts, its index of charts by count, and the
// count of changes, at none, with its epoch.
var changesSchema = []string{
	fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %q (key TEXT PRIMARY KEY, n INTEGER NOT NULL, epoch TEXT) WITHOUT ROWID`, changesTable),
	fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (n)`, changesTable+"_n", changesTable),
	fmt.Sprintf(`INSERT OR IGNORE INTO %q (key, n, epoch) VALUES ('', 0, lower(hex(randomblob(8))))`, changesTable),
}

// countedEvents are the writes the triggers count; inserts are told by rowids.
var countedEvents = []string{"UPDATE", "DELETE"}

// triggerSQL returns the statement that makes the trigger of table, the table of
// collection, for event (see countedEvents), as SQLite keeps it in its schema: it
// counts the change and notes the chart of the row written (NEW), or of the row it
// replaced or removed (OLD).
func triggerSQL(collection, table, event string) string {
	grow := ""
	if event == "DELETE" {
		last := fmt.Sprintf("(SELECT coalesce(max(rowid), 0) FROM %q)", table)
		grow = fmt.Sprintf(" + max(0, OLD.rowid - %s), epoch = CASE WHEN OLD.rowid > %s THEN lower(hex(randomblob(8))) ELSE epoch END",
			last, last)
	}
	body := fmt.Sprintf(`INSERT INTO %q (key, n, epoch) VALUES ('', 1, lower(hex(randomblob(8))))
		ON CONFLICT (key) DO UPDATE SET n = n + 1%s;`, changesTable, grow)
	note := func(row string) string {
		no := fmt.Sprintf("%s.%s->>'$.%s'", row, ferretColumn, patientField[collection])
		return fmt.Sprintf(`INSERT INTO %q (key, n) SELECT %s, (SELECT n FROM %q WHERE key = '') WHERE %s IS NOT NULL
			ON CONFLICT (key) DO UPDATE SET n = excluded.n;`, changesTable, no, changesTable, no)
	}
	if event == "UPDATE" {
		body += note("NEW")
	}
	body += note("OLD")
	return fmt.Sprintf(`CREATE TRIGGER %q AFTER %s ON %q BEGIN %s END`, triggerName(table, event), event, table, body)
}

// triggerName names the trigger of table for event.
func triggerName(table, event string) string {
	return table + "_changes_" + strings.ToLower(event)
}

// countChanges makes, when they are missing or differ, the table of the counts and
// the triggers of the tables of the counted collections that exist, and drops the
// trigger on inserts that earlier versions made, in one transaction: no write goes
// uncounted meanwhile. It looks for them once per set of those tables (see
// Files.counting): the reads of versions, one for each chart and insight request,
// then read no schema. It returns the file, the tables by collection ("" for a
// collection not created yet), and the errors of the store's SQLite file.
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
	key := x.database + "/" + strings.Join([]string{tables[counted[0]], tables[counted[1]]}, "/")
	if x.files.countingFor(key) {
		return db, tables, nil
	}
	have := map[string]string{}
	rows, err := db.QueryContext(ctx, `SELECT name, coalesce(sql, '') FROM sqlite_master WHERE type = 'trigger' OR type = 'table' AND name = ?`,
		changesTable)
	if err != nil {
		return nil, nil, fmt.Errorf("read the embedded store's schema: %w", err)
	}
	for rows.Next() {
		var name, def string
		if err := rows.Scan(&name, &def); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("read the embedded store's schema: %w", err)
		}
		have[name] = def
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("read the embedded store's schema: %w", err)
	}
	var missing []string
	if _, ok := have[changesTable]; !ok {
		missing = append(missing, changesSchema...)
	}
	for _, collection := range counted {
		table := tables[collection]
		if table == "" {
			continue
		}
		if _, ok := have[triggerName(table, "INSERT")]; ok {
			missing = append(missing, fmt.Sprintf(`DROP TRIGGER %q`, triggerName(table, "INSERT")))
		}
		for _, event := range countedEvents {
			name := triggerName(table, event)
			if want := triggerSQL(collection, table, event); have[name] != want {
				missing = append(missing, fmt.Sprintf(`DROP TRIGGER IF EXISTS %q`, name), want)
			}
		}
	}
	if len(missing) > 0 {
		if err := inTransaction(ctx, db, missing); err != nil {
			return nil, nil, fmt.Errorf("count the changes of the records: %w", err)
		}
	}
	x.files.counted(key)
	return db, tables, nil
}

// inTransaction runs stmts on db in one transaction. It returns the first error.
func inTransaction(ctx context.Context, db *sql.DB, stmts []string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, nothing to undo
	for _, stmt := range stmts {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// epoch names the counter of the changes: its random name, the version of the
// file's schema (which VACUUM moves, as it may give the rows new rowids), and the
// tables it counts the writes of (a collection created, or made anew, gives another
// epoch).
func epoch(name string, schema int64, tables map[string]string) string {
	parts := []string{name, strconv.FormatInt(schema, 10)}
	for _, collection := range counted {
		parts = append(parts, tables[collection])
	}
	return strings.Join(parts, "/")
}

// lastRow is the SQL value of the largest rowid of table, 0 for none or for a
// collection not created yet ("").
func lastRow(table string) string {
	if table == "" {
		return "0"
	}
	return fmt.Sprintf("(SELECT coalesce(max(rowid), 0) FROM %q)", table)
}

// DataVersion returns the version of the records of the patients and the
// interactions: the count of their updates and deletions (see changesTable) plus
// the largest rowid of each table, which it marks. It gives the tables of those
// collections their triggers first when they lack them (a collection created after
// start-up), so that nothing written after this read goes uncounted. It returns the
// errors of the store's SQLite file.
func (x Index) DataVersion(ctx context.Context) (dataversion.Version, error) {
	v, _, _, err := x.dataVersion(ctx)
	return v, err
}

// dataVersion returns what DataVersion does, with the file and the tables of the
// counted collections (see countChanges).
func (x Index) dataVersion(ctx context.Context) (dataversion.Version, *sql.DB, map[string]string, error) {
	db, tables, err := x.countChanges(ctx)
	if err != nil {
		return dataversion.Version{}, nil, nil, err
	}
	v, err := readVersion(ctx, db, tables, fmt.Sprintf(`coalesce((SELECT n FROM %q WHERE key = ''), 0)`, changesTable),
		[2]string{lastRow(tables[counted[0]]), lastRow(tables[counted[1]])})
	if err != nil {
		return dataversion.Version{}, nil, nil, err
	}
	marks := v.Marks()
	return dataversion.Marked(v.Epoch(), v.Changes()+marks[0]+marks[1], marks), db, tables, nil
}

// readVersion reads, in one statement of db, the counter's epoch (see epoch), the
// count SQL value count gives and the marks the SQL values marks give, with args,
// and returns them as a Version. It returns the errors of the store's SQLite file.
func readVersion(ctx context.Context, db *sql.DB, tables map[string]string, count string, marks [2]string, args ...any) (dataversion.Version, error) {
	var schema, n int64
	var name sql.NullString
	var at [2]int64
	q := fmt.Sprintf(`SELECT (SELECT schema_version FROM pragma_schema_version()), (SELECT epoch FROM %q WHERE key = ''), %s, %s, %s`,
		changesTable, count, marks[0], marks[1])
	if err := db.QueryRowContext(ctx, q, args...).Scan(&schema, &name, &n, &at[0], &at[1]); err != nil {
		return dataversion.Version{}, fmt.Errorf("read the count of changes: %w", err)
	}
	return dataversion.Marked(epoch(name.String, schema, tables), n, at), nil
}

// ChartVersion returns the version of patient no's chart, their record and their
// interactions: the count of changes at the chart's last update or deletion, 0 when
// it has had none since the store counts changes, marked with the rowid of the
// patient's record and the largest rowid of their interactions (read by the
// history's index). It returns the errors of the store's SQLite file.
func (x Index) ChartVersion(ctx context.Context, no string) (dataversion.Version, error) {
	db, tables, err := x.countChanges(ctx)
	if err != nil {
		return dataversion.Version{}, err
	}
	id, err := json.Marshal(no) // the store's lookups by _id compare the JSON of the _id
	if err != nil {
		return dataversion.Version{}, err
	}
	marks := [2]string{"0", "0"}
	args := []any{no}
	if table := tables[repository.PatientsCollection]; table != "" {
		marks[0] = fmt.Sprintf("coalesce((SELECT rowid FROM %q WHERE %s = ?), 0)", table, ferretID)
		args = append(args, string(id))
	}
	if table := tables[repository.InteractionsCollection]; table != "" {
		marks[1] = fmt.Sprintf("coalesce((SELECT max(rowid) FROM %q WHERE %s = ?), 0)", table, field(models.FieldInsuranceNo))
		args = append(args, no)
	}
	return readVersion(ctx, db, tables, fmt.Sprintf(`coalesce((SELECT n FROM %q WHERE key = ?), 0)`, changesTable), marks, args...)
}

// ChangedSince returns the insurance numbers of the charts changed since v, a
// version DataVersion returned: those noted at a count above v's, and those of the
// rows inserted since, by rowids above v's marks; or false when the changes since v
// cannot be told (v is of another counter, or of the same before its epoch moved).
// It returns the errors of the store's SQLite file.
func (x Index) ChangedSince(ctx context.Context, v dataversion.Version) ([]string, bool, error) {
	now, db, tables, err := x.dataVersion(ctx)
	if err != nil {
		return nil, false, err
	}
	if now.Epoch() != v.Epoch() || !v.Exact() {
		return nil, false, nil
	}
	marks := v.Marks()
	q := fmt.Sprintf(`SELECT key FROM %q WHERE n > ? AND key != ''`, changesTable)
	args := []any{v.Changes() - marks[0] - marks[1]}
	for i, collection := range counted {
		if table := tables[collection]; table != "" {
			q += fmt.Sprintf(` UNION SELECT %s FROM %q WHERE rowid > ? AND %s IS NOT NULL`,
				field(patientField[collection]), table, field(patientField[collection]))
			args = append(args, marks[i])
		}
	}
	rows, err := db.QueryContext(ctx, q, args...)
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
