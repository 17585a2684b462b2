package sideindex

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

// Reference answers as the store itself does, without a side index: a
// repository.DB made without one.
type Reference interface {
	// CountDocuments returns how many documents collection holds, as the store
	// counts them.
	CountDocuments(ctx context.Context, collection string) (int64, error)
	// History returns one page of the interactions q selects.
	History(ctx context.Context, q models.HistoryQuery) (models.Page, error)
	// AuditEvents returns one page of the audit events q selects.
	AuditEvents(ctx context.Context, q models.AuditQuery) (models.AuditPage, error)
	// Patients returns one page of the patients q selects.
	Patients(ctx context.Context, q models.PatientQuery) ([]models.Patient, *string, error)
}

// checkPage is how many documents Check compares of each listing.
const checkPage = 20

// Check compares every side index of the database with its table, and the side
// index's answers with the store's own (ref), and returns what differs, one
// finding a line, each naming the collection and the index:
//   - each index CreateIndexes makes exists, over the expression it makes it over;
//   - each holds one entry per row of its table (counted through the index, and
//     through the table, in one read of the file), and a sample of rows, drawn at
//     random, sample of each table, is found through the index of lookups by _id;
//   - each table holds as many documents as the store counts;
//   - the first page of a patient's history (a patient drawn at random), of every
//     patient's history, of the audit trail and of the patients, as the side index
//     finds them, is the store's own first page.
//
// The store may be serving writes meanwhile: what the store answers is compared with
// the side index's answers just before and just after it, and differs only when it
// is neither, nor between them. It returns the errors of the store and of its
// SQLite file.
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
	found, err := x.checkPages(ctx, db, tables, ref)
	if err != nil {
		return nil, err
	}
	return append(findings, found...), nil
}

// checkTable checks the side indexes of collection, whose table is table.
func (x Index) checkTable(ctx context.Context, db *sql.DB, collection, table string, ref Reference, sample int) ([]string, error) {
	var findings []string
	rows, err := x.checkIndexes(ctx, db, collection, table, sample, &findings)
	if err != nil {
		return nil, err
	}
	stored, err := ref.CountDocuments(ctx, collection)
	if err != nil {
		return nil, err
	}
	after, err := countRows(ctx, db, table)
	if err != nil {
		return nil, err
	}
	if stored < min(rows, after) || stored > max(rows, after) {
		findings = append(findings, fmt.Sprintf("collection %s: its table holds %d documents, the store counts %d", collection, after, stored))
	}
	return findings, nil
}

// checkIndexes checks, in one read of the file, that every side index of
// collection exists as CreateIndexes makes it and holds an entry per row of table,
// and that sample rows drawn at random are found by their _id. It adds what differs
// to findings, and returns the table's rows.
func (x Index) checkIndexes(ctx context.Context, db *sql.DB, collection, table string, sample int, findings *[]string) (int64, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("check the side index of %s: %w", collection, err)
	}
	defer tx.Rollback() //nolint:errcheck // a read: nothing to keep
	rows, err := countRows(ctx, tx, table)
	if err != nil {
		return 0, err
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
			return 0, fmt.Errorf("read the side index of %s: %w", collection, err)
		}
		if want := fmt.Sprintf("CREATE INDEX %q ON %q (%s)", name, table, indexes[suffix]); def != want {
			*findings = append(*findings, fmt.Sprintf("side index %s.%s: made over other expressions than the side index reads by: %s", collection, suffix, def))
			continue
		}
		var entries int64
		// count(*) would be counted through the smallest index, whatever INDEXED BY
		// says; count(rowid) reads this one.
		if err := tx.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(rowid) FROM %q INDEXED BY %q`, table, name)).Scan(&entries); err != nil {
			return 0, fmt.Errorf("count the side index %s.%s: %w", collection, suffix, err)
		}
		if entries != rows {
			*findings = append(*findings, fmt.Sprintf("side index %s.%s: %d entries for the %d rows of its table", collection, suffix, entries, rows))
		}
	}
	if _, ok := indexes[idLookup]; !ok || sample <= 0 {
		return rows, nil
	}
	missing, err := lookUpSample(ctx, tx, table, table+"_"+idLookup, sample)
	if err != nil {
		return 0, fmt.Errorf("look up a sample of %s: %w", collection, err)
	}
	for _, rowid := range missing {
		*findings = append(*findings, fmt.Sprintf("side index %s.%s: row %d of the table is not found by its _id", collection, idLookup, rowid))
	}
	return rows, nil
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// countRows counts the rows of table through the table itself.
func countRows(ctx context.Context, q querier, table string) (int64, error) {
	var n int64
	if err := q.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*) FROM %q NOT INDEXED`, table)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count the rows of %s: %w", table, err)
	}
	return n, nil
}

// lookUpSample draws n rows of table at random and returns the rowids of those
// that index, the index of lookups by _id, does not find by their _id.
func lookUpSample(ctx context.Context, q querier, table, index string, n int) ([]int64, error) {
	id := ferretColumn + "->'$._id'"
	rows, err := q.QueryContext(ctx, fmt.Sprintf(`SELECT rowid, %s FROM %q NOT INDEXED ORDER BY random() LIMIT %d`, id, table, n))
	if err != nil {
		return nil, err
	}
	type drawn struct {
		rowid int64
		id    string
	}
	var sample []drawn
	for rows.Next() {
		var d drawn
		if err := rows.Scan(&d.rowid, &d.id); err != nil {
			rows.Close()
			return nil, err
		}
		sample = append(sample, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var missing []int64
	for _, d := range sample {
		var found int
		query := fmt.Sprintf(`SELECT count(*) FROM %q INDEXED BY %q WHERE %s = ? AND rowid = ?`, table, index, id)
		if err := q.QueryRowContext(ctx, query, d.id, d.rowid).Scan(&found); err != nil {
			return nil, err
		}
		if found == 0 {
			missing = append(missing, d.rowid)
		}
	}
	return missing, nil
}

// checkPages compares the first page of each listing the side index serves with
// the store's own.
func (x Index) checkPages(ctx context.Context, db *sql.DB, tables map[string]string, ref Reference) ([]string, error) {
	var patient string
	if table := tables[repository.InteractionsCollection]; table != "" {
		err := db.QueryRowContext(ctx, fmt.Sprintf(`SELECT %s FROM %q ORDER BY random() LIMIT 1`, field(models.FieldInsuranceNo), table)).Scan(&patient)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("draw a patient: %w", err)
		}
	}
	type listing struct {
		what  string
		side  func() ([]string, error)
		store func() ([]string, error)
	}
	history := func(q models.HistoryQuery) listing {
		q.IncludeEnteredInError, q.Limit = true, checkPage
		return listing{
			side: func() ([]string, error) { return x.HistoryIDs(ctx, q, checkPage) },
			store: func() ([]string, error) {
				page, err := ref.History(ctx, q)
				return idsOf(page.Items, func(in models.Interaction) string { return in.ID }), err
			},
		}
	}
	var listings []listing
	if patient != "" {
		l := history(models.HistoryQuery{InsuranceNo: patient})
		l.what = "side index interactions.history: the first page of a patient's history (drawn at random)"
		listings = append(listings, l)
	}
	every := history(models.HistoryQuery{})
	every.what = "side index interactions.date: the first page of every patient's interactions"
	listings = append(listings, every, listing{
		what: "side index audit_events.time: the first page of the audit trail",
		side: func() ([]string, error) { return x.AuditEventIDs(ctx, models.AuditQuery{Limit: checkPage}, checkPage) },
		store: func() ([]string, error) {
			page, err := ref.AuditEvents(ctx, models.AuditQuery{Limit: checkPage})
			return idsOf(page.Items, func(e models.AuditEvent) string { return e.ID }), err
		},
	}, listing{
		what: "side index patients.name: the first page of the patients",
		side: func() ([]string, error) { return x.PatientIDs(ctx, models.PatientQuery{Limit: checkPage}, checkPage) },
		store: func() ([]string, error) {
			page, _, err := ref.Patients(ctx, models.PatientQuery{Limit: checkPage})
			return idsOf(page, func(p models.Patient) string { return p.InsuranceNo }), err
		},
	})
	var findings []string
	for _, l := range listings {
		before, err := l.side()
		if err != nil {
			return nil, err
		}
		stored, err := l.store()
		if errors.Is(err, models.ErrPatientNotFound) {
			continue // an interaction of a patient not stored: not the side index's to judge
		}
		if err != nil {
			return nil, err
		}
		after, err := l.side()
		if err != nil {
			return nil, err
		}
		if !samePage(stored, before) && !samePage(stored, after) {
			findings = append(findings, fmt.Sprintf("%s differs from the store's: %d documents, %d as the store finds them",
				l.what, len(after), len(stored)))
		}
	}
	return findings, nil
}

// samePage reports whether the page the store answered, stored, is the page the
// side index found, side: the store may answer fewer documents, to stay within
// models.MaxPageBytes.
func samePage(stored, side []string) bool {
	return len(stored) <= len(side) && slices.Equal(stored, side[:len(stored)]) &&
		(len(stored) == len(side) || len(stored) > 0)
}

// idsOf returns the id of each item.
func idsOf[T any](items []T, id func(T) string) []string {
	ids := make([]string, len(items))
	for i, item := range items {
		ids[i] = id(item)
	}
	return ids
}
