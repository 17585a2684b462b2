package sideindex

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

// HistoryDocuments selects what the repository's query of a history selects, in its
// order (see repository.HistoryFind): the patient's interactions (or everyone's), with
// any or all of the labels, the ailment, in the date and health_status ranges, with
// the words, without those entered in error unless asked, after the cursor. It calls
// each with the first n, each as the store answers a find of it (see storedBSON),
// until each returns false, and returns the errors of the store's SQLite file.
func (x Index) HistoryDocuments(ctx context.Context, q models.HistoryQuery, n int, each func(bson.Raw) bool) error {
	w, order := historySelect(q)
	return x.documents(ctx, repository.InteractionsCollection, w, order, n, each)
}

// historySelect returns the condition and the order of what HistoryDocuments
// selects.
func historySelect(q models.HistoryQuery) (where, string) {
	w := historyWhere(q)
	w.after(field(models.FieldInteractionDate), q.After, q.Ascending)
	if q.Ascending {
		return w, oldestFirst
	}
	return w, historyOrder
}

// HistoryCount counts what HistoryDocuments selects, the cursor aside, from the history's
// index. It returns the errors of the store's SQLite file.
func (x Index) HistoryCount(ctx context.Context, q models.HistoryQuery) (count int64, err error) {
	w := historyWhere(q)
	err = x.rows(ctx, repository.InteractionsCollection, func(table string) string {
		return fmt.Sprintf("SELECT count(*) FROM %q WHERE %s", table, w.condition())
	}, w.args, func(rows *sql.Rows) (bool, error) {
		return false, rows.Scan(&count)
	})
	return count, err
}

// historyWhere is the condition of what q selects, its cursor aside.
func historyWhere(q models.HistoryQuery) where {
	var w where
	if q.InsuranceNo != "" {
		w.add(field(models.FieldInsuranceNo)+" = ?", q.InsuranceNo)
	}
	if q.Ailment != "" {
		w.add(field(models.FieldAilmentKey)+" = ?", q.Ailment)
	}
	date := field(models.FieldInteractionDate)
	w.span(date, q.From, q.To, "<=")
	if q.HealthMin != nil {
		w.add(field(models.FieldHealthStatus)+" >= ?", *q.HealthMin)
	}
	if q.HealthMax != nil {
		w.add(field(models.FieldHealthStatus)+" <= ?", *q.HealthMax)
	}
	for _, word := range q.Words {
		w.startsWith(models.FieldSearchTokens, word)
	}
	if !q.IncludeEnteredInError {
		w.add(status+" != ?", models.StatusEnteredInError)
	}
	if len(q.Labels) > 0 {
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(q.Labels)), ", ")
		labels := fmt.Sprintf("SELECT DISTINCT value FROM json_each(%s, '$.%s') WHERE value IN (%s)",
			ferretColumn, models.FieldLabel, marks)
		args := make([]any, len(q.Labels))
		for i, l := range q.Labels {
			args[i] = l
		}
		if q.MatchAll {
			distinct := map[string]bool{}
			for _, l := range q.Labels {
				distinct[l] = true
			}
			w.add(fmt.Sprintf("(SELECT count(*) FROM (%s)) = %d", labels, len(distinct)), args...)
		} else {
			w.add("EXISTS ("+labels+")", args...)
		}
	}
	return w
}

// PatientDocuments selects what the repository's query of patients selects, in its
// order: those with, for each word, a search key starting with it, by name, after the
// cursor. It calls each with the first n as HistoryDocuments does, and returns the
// errors of the store's SQLite file.
func (x Index) PatientDocuments(ctx context.Context, q models.PatientQuery, n int, each func(bson.Raw) bool) error {
	var w where
	for _, word := range q.Words {
		w.startsWith(models.FieldSearchKeys, word)
	}
	if q.After != nil {
		key, id := field(models.FieldSortKey), field("_id")
		w.add(fmt.Sprintf("(%s > ? OR %s = ? AND %s > ?)", key, key, id), q.After.Key, q.After.Key, q.After.ID)
	}
	return x.documents(ctx, repository.PatientsCollection, w, nameOrder, n, each)
}

// AuditEventDocuments selects what the repository's query of audit events selects,
// in its order: the events of the key and action asked for, in the time span, after
// the cursor. It calls each with the first n as HistoryDocuments does, and returns
// the errors of the store's SQLite file.
func (x Index) AuditEventDocuments(ctx context.Context, q models.AuditQuery, n int, each func(bson.Raw) bool) error {
	var w where
	for _, f := range []struct{ name, value string }{
		{models.FieldKeyName, q.KeyName}, {models.FieldAction, q.Action},
	} {
		if f.value != "" {
			w.add(field(f.name)+" = ?", f.value)
		}
	}
	at := field(models.FieldTime)
	w.span(at, q.From, q.To, "<")
	w.after(at, q.After, false)
	return x.documents(ctx, repository.AuditEventsCollection, w, auditOrder, n, each)
}

// AuditDisclosures selects what the repository's query of the index of audit events
// by patient selects, in its order: the rows of the patient asked for, in the time
// span, after the event the cursor names. It returns the first n, and the errors of
// the store's SQLite file.
func (x Index) AuditDisclosures(ctx context.Context, q models.AuditQuery, n int) ([]models.AuditDisclosure, error) {
	var w where
	w.add(field(models.FieldInsuranceNo)+" = ?", q.InsuranceNo)
	at := field(models.FieldTime)
	w.span(at, q.From, q.To, "<")
	if q.After != nil {
		w.after(at, &models.Cursor{Date: q.After.Date, ID: models.AuditDisclosureID(q.InsuranceNo, q.After.ID)}, false)
	}
	var rows []models.AuditDisclosure
	err := x.query(ctx, repository.AuditDisclosuresCollection, w, auditOrder, n,
		[]string{"_id", models.FieldInsuranceNo, models.FieldTime, "event", "hash"}, func(values []any) {
			r := models.AuditDisclosure{Time: time.UnixMilli(asInt64(values[2])).UTC()}
			r.ID, r.InsuranceNo, r.Event, r.Hash = asString(values[0]), asString(values[1]), asString(values[3]), asString(values[4])
			rows = append(rows, r)
		})
	return rows, err
}

// AuditSubjects selects what the repository's query of the audit events of a
// patient as their subject selects, in its order: the events of the patient asked
// for, in the time span, after the event the cursor names, each as the row of the
// index of audit events by patient that stands for it (models.SubjectDisclosure).
// It returns the first n, and the errors of the store's SQLite file.
func (x Index) AuditSubjects(ctx context.Context, q models.AuditQuery, n int) ([]models.AuditDisclosure, error) {
	var w where
	w.add(field(models.FieldInsuranceNo)+" = ?", q.InsuranceNo)
	at := field(models.FieldTime)
	w.span(at, q.From, q.To, "<")
	w.after(at, q.After, false)
	var rows []models.AuditDisclosure
	err := x.query(ctx, repository.AuditEventsCollection, w, auditOrder, n,
		[]string{"_id", models.FieldInsuranceNo, models.FieldTime, "hash"}, func(values []any) {
			rows = append(rows, models.SubjectDisclosure(models.AuditEvent{ID: asString(values[0]),
				InsuranceNo: asString(values[1]), Time: time.UnixMilli(asInt64(values[2])).UTC(), Hash: asString(values[3])}))
		})
	return rows, err
}

// where is the condition of a query, with its arguments.
type where struct {
	conds []string
	args  []any
}

// condition is the SQL of w: its conditions, all of them.
func (w where) condition() string {
	if len(w.conds) == 0 {
		return "1"
	}
	return strings.Join(w.conds, " AND ")
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// span keeps documents whose date (a field holding whole milliseconds) is from from
// on, and before to by upTo, "<" or "<="; a zero bound is none. Dates count in whole
// milliseconds, as the store keeps them and as MongoDB compares them.
func (w *where) span(date string, from, to time.Time, upTo string) {
	if !from.IsZero() {
		w.add(date+" >= ?", from.UnixMilli())
	}
	if !to.IsZero() {
		w.add(date+" "+upTo+" ?", to.UnixMilli())
	}
}

// after keeps what comes after the cursor c, when there is one, in an order by date
// (a field holding whole milliseconds), then _id, both descending, or both ascending.
func (w *where) after(date string, c *models.Cursor, ascending bool) {
	if c == nil {
		return
	}
	op := "<"
	if ascending {
		op = ">"
	}
	// The same as "date < c.Date OR date = c.Date AND _id < c.ID", spelled so that
	// SQLite reads the dates up to the cursor's by a range of the index, rather
	// than by two ranges it must then sort together.
	ms := c.Date.UnixMilli()
	w.add(fmt.Sprintf("%s %s= ? AND (%s %s ? OR %s %s ?)", date, op, date, op, field("_id"), op), ms, ms, c.ID)
}

// startsWith keeps documents whose array field holds a string starting with prefix.
func (w *where) startsWith(array, prefix string) {
	w.add(fmt.Sprintf("EXISTS (SELECT 1 FROM json_each(%s, '$.%s') WHERE value >= ? AND value < ?)", ferretColumn, array),
		prefix, prefix+"\U0010FFFF")
}

// documentsSQL is the query of the first n documents of table that w selects, in
// order.
func documentsSQL(table string, w where, order string, n int) string {
	return fmt.Sprintf("SELECT %s FROM %q WHERE %s ORDER BY %s LIMIT %d", ferretColumn, table, w.condition(), order, n)
}

// documents calls each with the first n documents of collection that w selects, in
// order, each as the store answers a find of it, until each returns false. It reads
// them with one query, in one read transaction of SQLite's, and each document's JSON
// once. It returns the errors of the store's SQLite file.
func (x Index) documents(ctx context.Context, collection string, w where, order string, n int, each func(bson.Raw) bool) error {
	return x.rows(ctx, collection, func(table string) string {
		return documentsSQL(table, w, order, n)
	}, w.args, documentRows(each))
}

// documentRows returns the reader of the rows of a query of the stored documents'
// column that calls each with each document, as the store answers a find of it
// (see storedBSON), until each returns false.
func documentRows(each func(bson.Raw) bool) func(*sql.Rows) (bool, error) {
	var data sql.RawBytes
	return func(rows *sql.Rows) (bool, error) {
		if err := rows.Scan(&data); err != nil {
			return false, err
		}
		doc, err := storedBSON(data)
		if err != nil {
			return false, err
		}
		return each(doc), nil
	}
}

// query calls row with the top-level fields of the first n documents of collection
// that w selects, in order: each an int64, a float64, a string or nil, as SQLite
// holds them. It returns the errors of the store's SQLite file.
func (x Index) query(ctx context.Context, collection string, w where, order string, n int, fields []string, row func([]any)) error {
	columns := make([]string, len(fields))
	for i, f := range fields {
		columns[i] = field(f)
	}
	values := make([]any, len(fields))
	dest := make([]any, len(fields))
	for i := range values {
		dest[i] = &values[i]
	}
	return x.rows(ctx, collection, func(table string) string {
		return fmt.Sprintf("SELECT %s FROM %q WHERE %s ORDER BY %s LIMIT %d", strings.Join(columns, ", "), table, w.condition(), order, n)
	}, w.args, func(rows *sql.Rows) (bool, error) {
		if err := rows.Scan(dest...); err != nil {
			return false, err
		}
		row(values)
		return true, nil
	})
}

// rows runs the query that query makes of collection's table, with args, and calls
// row with each of its rows until row returns false or an error; a collection not
// created yet has none. It returns the errors of the store's SQLite file and of row.
func (x Index) rows(ctx context.Context, collection string, query func(table string) string, args []any, row func(*sql.Rows) (bool, error)) error {
	return x.read(ctx, collection, func(db *sql.DB, table string) error {
		rows, err := db.QueryContext(ctx, query(table), args...)
		if err != nil {
			return fmt.Errorf("read %s: %w", collection, err)
		}
		defer rows.Close()
		for rows.Next() {
			more, err := row(rows)
			if err != nil {
				return fmt.Errorf("read %s: %w", collection, err)
			}
			if !more {
				break
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read %s: %w", collection, err)
		}
		return nil
	})
}

// asString returns v, a value SQLite read, as a string: "" when it is not text.
func asString(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case []byte:
		return string(s)
	}
	return ""
}

// asInt64 returns v, a value SQLite read, as an integer: 0 when it is not a number.
func asInt64(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case float64:
		return int64(n)
	}
	return 0
}
