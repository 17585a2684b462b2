package sideindex

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

// Reference answers as the store itself does: a repository.DB.
type Reference interface {
	// Document returns the document of collection whose _id is id, as the store
	// holds it, or models.ErrNotFound.
	Document(ctx context.Context, collection, id string) (bson.Raw, error)
}

// read is a top-level field the side index reads, and whether it holds a date.
type read struct {
	name string
	date bool
}

// reads are the fields the side index reads of each collection's documents, to
// find, filter and order them, beyond _id.
var reads = map[string][]read{
	repository.InteractionsCollection: {{models.FieldInsuranceNo, false}, {models.FieldInteractionDate, true}, {models.FieldStatus, false}},
	repository.PatientsCollection:     {{models.FieldSortKey, false}},
	repository.AuditEventsCollection:  {{models.FieldTime, true}, {models.FieldInsuranceNo, false}, {models.FieldKeyName, false}},
}

// Check compares every side index of the database with its table, and what the
// side index reads of a sample of documents with the store's own answer (ref), and
// returns what differs, one finding a line, each naming the collection and the
// index:
//   - each index CreateIndexes makes exists, over the expressions it makes it over;
//   - each holds one entry per row of its table, counted through the index and
//     through the table in one read of the file;
//   - sample rows of each table, drawn at random, are found through each of its
//     indexes, by the values the index holds for them;
//   - for each of them, the store, asked for the document by its _id, answers it,
//     and what the side index reads of it (the fields it finds, filters and orders
//     by) is what the store answers.
//
// It reads the tables through SQLite, and of the store only the sample, by _id: it
// costs about the same at any size. The store may serve writes meanwhile: the
// counts and the sample are taken in one read of the file, and a sampled document
// the store no longer holds, or holds changed, is drawn again once before it is a
// finding. It returns the errors of the store and of its SQLite file.
func (x Index) Check(ctx context.Context, ref Reference, sample int) ([]string, error) {
	db, tables, err := x.files.tables(ctx, x.database)
	if err != nil {
		return nil, err
	}
	var findings []string
	for _, name := range slices.Sorted(maps.Keys(tables)) {
		found, err := x.checkTable(ctx, db, name, tables[name], ref, sample)
		if err != nil {
			return nil, err
		}
		findings = append(findings, found...)
	}
	return findings, nil
}

// row is a sampled row: its rowid, its _id, and what the side index reads of it.
type row struct {
	rowid  int64
	id     string
	values []sql.NullString
}

// checkTable checks the side indexes of collection, whose table is table, and a
// sample of its rows against the store.
func (x Index) checkTable(ctx context.Context, db *sql.DB, collection, table string, ref Reference, sample int) ([]string, error) {
	var findings []string
	rows, err := checkIndexes(ctx, db, collection, table, sample, &findings)
	if err != nil {
		return nil, err
	}
	if len(reads[collection]) == 0 {
		return findings, nil
	}
	for _, r := range rows {
		differs, err := compare(ctx, ref, collection, r)
		if err != nil {
			return nil, err
		}
		if differs == "" {
			continue
		}
		// Changed since it was read? Read it again.
		again, err := rowOf(ctx, db, collection, table, r.rowid)
		if err != nil {
			return nil, err
		}
		if again != nil {
			if differs, err = compare(ctx, ref, collection, *again); err != nil {
				return nil, err
			}
		}
		if again != nil && differs != "" {
			findings = append(findings, fmt.Sprintf("collection %s: row %d of the table (_id %s): %s", collection, r.rowid, r.id, differs))
		}
	}
	return findings, nil
}

// checkIndexes checks, in one read of the file, that every side index of
// collection exists as CreateIndexes makes it and holds an entry per row of table,
// and that sample rows drawn at random are found through each. It adds what differs
// to findings, and returns the rows drawn.
func checkIndexes(ctx context.Context, db *sql.DB, collection, table string, sample int, findings *[]string) ([]row, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("check the side index of %s: %w", collection, err)
	}
	defer tx.Rollback() //nolint:errcheck // a read: nothing to keep
	var count int64
	if err := tx.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*) FROM %q NOT INDEXED`, table)).Scan(&count); err != nil {
		return nil, fmt.Errorf("count the rows of %s: %w", collection, err)
	}
	drawn, err := draw(ctx, tx, collection, table, sample)
	if err != nil {
		return nil, err
	}
	indexes := indexesOf(collection)
	for _, suffix := range slices.Sorted(maps.Keys(indexes)) {
		name := table + "_" + suffix
		var def string
		err := tx.QueryRowContext(ctx, `SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ? AND tbl_name = ?`, name, table).Scan(&def)
		if errors.Is(err, sql.ErrNoRows) {
			*findings = append(*findings, fmt.Sprintf("side index %s.%s: missing (the server makes it again at its next start)", collection, suffix))
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read the side index of %s: %w", collection, err)
		}
		if want := indexSQL(name, table, suffix, indexes[suffix]); def != want {
			*findings = append(*findings, fmt.Sprintf("side index %s.%s: made over other expressions than the side index reads by: %s", collection, suffix, def))
			continue
		}
		var entries int64
		// count(*) would be counted through the smallest index, whatever INDEXED BY
		// says; count(rowid) reads this one.
		if err := tx.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(rowid) FROM %q INDEXED BY %q`, table, name)).Scan(&entries); err != nil {
			return nil, fmt.Errorf("count the side index %s.%s: %w", collection, suffix, err)
		}
		if entries != count {
			*findings = append(*findings, fmt.Sprintf("side index %s.%s: %d entries for the %d rows of its table", collection, suffix, entries, count))
		}
		missing, err := notFound(ctx, tx, table, name, indexes[suffix], drawn)
		if err != nil {
			return nil, fmt.Errorf("look up a sample of %s: %w", collection, err)
		}
		for _, rowid := range missing {
			*findings = append(*findings, fmt.Sprintf("side index %s.%s: row %d of the table is not found through it", collection, suffix, rowid))
		}
	}
	return drawn, nil
}

// draw returns n rows of table drawn at random, with what the side index reads of
// them.
func draw(ctx context.Context, q querier, collection, table string, n int) ([]row, error) {
	if n <= 0 {
		return nil, nil
	}
	return selectRows(ctx, q, collection, table, fmt.Sprintf("ORDER BY random() LIMIT %d", n))
}

// rowOf returns the row rowid of table, nil when it is gone.
func rowOf(ctx context.Context, q querier, collection, table string, rowid int64) (*row, error) {
	rows, err := selectRows(ctx, q, collection, table, "WHERE rowid = ?", rowid)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return &rows[0], nil
}

// selectRows returns the rows of table that rest (the end of a query) selects, with
// what the side index reads of them, reading the table itself.
func selectRows(ctx context.Context, q querier, collection, table, rest string, args ...any) ([]row, error) {
	columns := []string{"rowid", field("_id")}
	for _, r := range reads[collection] {
		columns = append(columns, field(r.name))
	}
	rows, err := q.QueryContext(ctx, fmt.Sprintf(`SELECT %s FROM %q NOT INDEXED %s`, strings.Join(columns, ", "), table, rest), args...)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", collection, err)
	}
	defer rows.Close()
	var out []row
	for rows.Next() {
		var r row
		var id sql.NullString
		r.values = make([]sql.NullString, len(reads[collection]))
		dest := []any{&r.rowid, &id}
		for i := range r.values {
			dest = append(dest, &r.values[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("read %s: %w", collection, err)
		}
		r.id = id.String
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", collection, err)
	}
	return out, nil
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// notFound returns the rowids of the rows drawn that the index name of table, over
// columns, does not find by the values it holds for them: each of its expressions
// as the row gives it.
func notFound(ctx context.Context, q querier, table, name, columns string, drawn []row) ([]int64, error) {
	var exprs []string
	for _, c := range strings.Split(columns, ", ") {
		exprs = append(exprs, strings.TrimSuffix(strings.TrimSuffix(c, " DESC"), " ASC"))
	}
	var conds []string
	for _, e := range exprs {
		conds = append(conds, fmt.Sprintf("%s IS (SELECT %s FROM %q NOT INDEXED WHERE rowid = ?1)", e, e, table))
	}
	query := fmt.Sprintf(`SELECT count(rowid) FROM %q INDEXED BY %q WHERE %s AND rowid = ?1`, table, name, strings.Join(conds, " AND "))
	var missing []int64
	for _, r := range drawn {
		var found int
		if err := q.QueryRowContext(ctx, query, r.rowid).Scan(&found); err != nil {
			return nil, err
		}
		if found == 0 {
			missing = append(missing, r.rowid)
		}
	}
	return missing, nil
}

// compare asks the store for the document of r by its _id and returns how what the
// side index reads of r differs from it, "" when it does not.
func compare(ctx context.Context, ref Reference, collection string, r row) (string, error) {
	doc, err := ref.Document(ctx, collection, r.id)
	if errors.Is(err, models.ErrNotFound) {
		return "the store does not find it by its _id", nil
	}
	if err != nil {
		return "", err
	}
	for i, f := range reads[collection] {
		stored, side := storedValue(doc, f), r.values[i]
		if stored.Valid != side.Valid || stored.String != side.String {
			return fmt.Sprintf("the side index reads %s as %s; the store answers %s", f.name, shown(side), shown(stored)), nil
		}
	}
	return "", nil
}

// storedValue returns field f of doc as the side index reads it from the table: a
// string as it is, a date as milliseconds since 1970, and null when it is missing.
func storedValue(doc bson.Raw, f read) sql.NullString {
	v, err := doc.LookupErr(f.name)
	if err != nil || v.Type == bson.TypeNull {
		return sql.NullString{}
	}
	if dt, ok := v.DateTimeOK(); ok && f.date {
		return sql.NullString{String: fmt.Sprint(dt), Valid: true}
	}
	if s, ok := v.StringValueOK(); ok {
		return sql.NullString{String: s, Valid: true}
	}
	return sql.NullString{String: v.String(), Valid: true}
}

// shown writes a value for a finding.
func shown(v sql.NullString) string {
	if !v.Valid {
		return "missing"
	}
	return fmt.Sprintf("%q", v.String)
}
