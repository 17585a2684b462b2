package app

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"

	// The SQLite driver the embedded store itself uses.
	_ "modernc.org/sqlite"
)

// The embedded store (FerretDB v1.24 on SQLite) keeps each collection in a table of
// one JSON column, listed in its catalogue table, a document's values as plain JSON
// (dates as milliseconds since 1970). It runs a find whose filter is exactly
// {_id: <string>} as "WHERE <column>->'$._id' = ?", and every other filter by reading
// the whole table into Go, at 110–200 µs a document. This process, when it runs the
// store, reaches past it into those files for what the store does slowly:
//
//   - Lookups by _id: the store's unique _id index is built over another spelling of
//     the expression its lookup uses, which SQLite does not match to it, so every
//     lookup read the table row by row (about 5 µs a row, 5 s at a million). An index
//     over the very expression makes it an index search, about 0.3 ms at any size.
//   - Listings: indexes over (insurance number, visit date, id) and over the audit
//     events' time find the ids of a page of a history or of the audit trail in
//     SQLite; the repository then reads each by _id (see SideIndex).
//   - Counts: see sideIndex.Count.
//   - The analytics' reads of every visit and patient: the stored JSON of each
//     document, decoded in Go (see sideIndex.Visits), instead of the store's
//     decoding of every document whole.
//
// The indexes are SQLite's own: the store's catalogue does not list them, clients
// never see them, and they go with their table when a collection is dropped. Only
// reads go past the store; every write goes through it.
const (
	ferretCollections = "_ferretdb_collections" // the store's catalogue: name, table_name
	ferretColumn      = "_ferretdb_sjson"       // the column holding the documents
)

// sqliteFiles are the open SQLite files of the embedded store this process runs, one
// per database, in dir.
type sqliteFiles struct {
	dir  string
	mu   sync.Mutex
	open map[string]*sql.DB
}

// db returns the open file of database. It returns the driver's error.
func (f *sqliteFiles) db(database string) (*sql.DB, error) {
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

// close closes the open files.
func (f *sqliteFiles) close() error {
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
func (f *sqliteFiles) table(ctx context.Context, database, collection string) (*sql.DB, string, error) {
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
	historyOrder = field("interaction_date") + " DESC, " + field("_id") + " DESC"
	oldestFirst  = field("interaction_date") + " ASC, " + field("_id") + " ASC"
	auditOrder   = field("time") + " DESC, " + field("_id") + " DESC"
	nameOrder    = field("sort_key") + ", " + field("_id")
)

// sideIndexes are the indexes of each collection beyond the lookup by _id, by the
// expressions the side index's queries use.
var sideIndexes = map[string]map[string]string{
	repository.InteractionsCollection: {
		"history": field("insurance_no") + ", " + historyOrder,
		"date":    historyOrder,
	},
	repository.PatientsCollection: {"name": nameOrder},
	repository.AuditEventsCollection: {
		"time":         auditOrder,
		"insurance_no": field("insurance_no") + ", " + auditOrder,
		"key_name":     field("key_name") + ", " + auditOrder,
	},
}

// IndexLookups gives every collection of database the index that makes lookups by
// _id cheap, and the interactions and audit events the indexes of the side index,
// when this process runs the embedded store; for MongoDB, which has indexes of its
// own, and for a store another process runs, it does nothing. Creating an index
// reads the collection once; later calls find it there. It returns the errors of the
// store's SQLite file.
func (s *Connection) IndexLookups(ctx context.Context, database string) error {
	if s.files == nil {
		return nil
	}
	db, err := s.files.db(database)
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
		indexes := map[string]string{"id_lookup": ferretColumn + "->'$._id'"}
		maps.Copy(indexes, sideIndexes[name])
		for suffix, columns := range indexes {
			q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (%s)`, table+"_"+suffix, table, columns)
			if _, err := db.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("index %s: %w", name, err)
			}
		}
	}
	return nil
}

// SideIndex returns the repository.SideIndex of database when this process runs the
// embedded store, and nil otherwise.
func (s *Connection) SideIndex(database string) repository.SideIndex {
	if s.files == nil {
		return nil
	}
	return sideIndex{files: s.files, database: database}
}

// sideIndex finds and counts documents of a database in the embedded store's SQLite
// file, by the indexes IndexLookups makes.
type sideIndex struct {
	files    *sqliteFiles
	database string
}

// Count counts the rows of collection's table, which SQLite does from its smallest
// index, about 0.1 s a million; the store's own counts read every document (count)
// or analyse the whole table, holding off writers meanwhile (collStats).
func (x sideIndex) Count(ctx context.Context, collection string) (int64, error) {
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

// HistoryIDs selects what the repository's query of a history selects, in its order:
// the patient's interactions (or everyone's), with any or all of the labels, the
// ailment, in the date and health_status ranges, with the words, without those
// entered in error unless asked, after the cursor.
func (x sideIndex) HistoryIDs(ctx context.Context, q models.HistoryQuery, n int) ([]string, error) {
	var w where
	if q.InsuranceNo != "" {
		w.add(field("insurance_no")+" = ?", q.InsuranceNo)
	}
	if q.Ailment != "" {
		w.add(field("ailment_key")+" = ?", q.Ailment)
	}
	date := field("interaction_date")
	if !q.From.IsZero() {
		w.add(date+" >= ?", q.From.UnixMilli())
	}
	if !q.To.IsZero() {
		w.add(date+" <= ?", q.To.UnixMilli())
	}
	if q.HealthMin != nil {
		w.add(field("health_status")+" >= ?", *q.HealthMin)
	}
	if q.HealthMax != nil {
		w.add(field("health_status")+" <= ?", *q.HealthMax)
	}
	for _, word := range q.Words {
		w.startsWith("search_tokens", word)
	}
	if !q.IncludeEnteredInError {
		w.add(fmt.Sprintf("coalesce(%s, '') != ?", field("status")), models.StatusEnteredInError)
	}
	if len(q.Labels) > 0 {
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(q.Labels)), ", ")
		labels := fmt.Sprintf("SELECT DISTINCT value FROM json_each(%s, '$.label') WHERE value IN (%s)", ferretColumn, marks)
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
	w.after(date, q.After, q.Ascending)
	order := historyOrder
	if q.Ascending {
		order = oldestFirst
	}
	return x.ids(ctx, repository.InteractionsCollection, w, order, n)
}

// PatientIDs selects what the repository's query of patients selects, in its order:
// those with, for each word, a search key starting with it, by name, after the
// cursor.
func (x sideIndex) PatientIDs(ctx context.Context, q models.PatientQuery, n int) ([]string, error) {
	var w where
	for _, word := range q.Words {
		w.startsWith("search_keys", word)
	}
	if q.After != nil {
		key, id := field("sort_key"), field("_id")
		w.add(fmt.Sprintf("(%s > ? OR %s = ? AND %s > ?)", key, key, id), q.After.Key, q.After.Key, q.After.ID)
	}
	return x.ids(ctx, repository.PatientsCollection, w, nameOrder, n)
}

// AuditEventIDs selects what the repository's query of audit events selects, in its
// order: the events of the patient, key and action asked for, in the time span,
// after the cursor.
func (x sideIndex) AuditEventIDs(ctx context.Context, q models.AuditQuery, n int) ([]string, error) {
	var w where
	for _, f := range []struct{ name, value string }{
		{"insurance_no", q.InsuranceNo}, {"key_name", q.KeyName}, {"action", q.Action},
	} {
		if f.value != "" {
			w.add(field(f.name)+" = ?", f.value)
		}
	}
	// Times count in whole milliseconds, as the store keeps them and as MongoDB
	// compares them.
	if !q.From.IsZero() {
		w.add(field("time")+" >= ?", q.From.UnixMilli())
	}
	if !q.To.IsZero() {
		w.add(field("time")+" < ?", q.To.UnixMilli())
	}
	w.after(field("time"), q.After, false)
	return x.ids(ctx, repository.AuditEventsCollection, w, auditOrder, n)
}

// where is the condition of a query, with its arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
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
	ms := c.Date.UnixMilli()
	w.add(fmt.Sprintf("(%s %s ? OR %s = ? AND %s %s ?)", date, op, date, field("_id"), op), ms, ms, c.ID)
}

// startsWith keeps documents whose array field holds a string starting with prefix.
func (w *where) startsWith(array, prefix string) {
	w.add(fmt.Sprintf("EXISTS (SELECT 1 FROM json_each(%s, '$.%s') WHERE value >= ? AND value < ?)", ferretColumn, array),
		prefix, prefix+"\U0010FFFF")
}

// ids returns the _id of the first n documents of collection that w selects, in
// order.
func (x sideIndex) ids(ctx context.Context, collection string, w where, order string, n int) ([]string, error) {
	db, table, err := x.files.table(ctx, x.database, collection)
	if err != nil || table == "" {
		return nil, err
	}
	cond := "1"
	if len(w.conds) > 0 {
		cond = strings.Join(w.conds, " AND ")
	}
	query := fmt.Sprintf("SELECT %s FROM %q WHERE %s ORDER BY %s LIMIT %d", field("_id"), table, cond, order, n)
	rows, err := db.QueryContext(ctx, query, w.args...)
	if err != nil {
		return nil, fmt.Errorf("find in %s: %w", collection, err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("read %s: %w", collection, err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", collection, err)
	}
	return ids, nil
}

// Visits reads, straight from the table, the fields the analytics need of every
// interaction q selects (see repository.SideIndex), judged as the store's query
// judges them, on the stored keys: several times faster than the
// store's own scan, which decodes every document whole into BSON. It reads each
// stored document's JSON once and decodes in Go only the fields it needs (SQLite
// would parse the JSON again for every field it extracted or filtered on), then
// keeps those q selects. A document's objects (metrics, qa) keep their order; dates
// are the store's milliseconds since 1970.
func (x sideIndex) Visits(ctx context.Context, q models.ScanQuery, fn func(models.Interaction) error) error {
	return x.scan(ctx, repository.InteractionsCollection, func(data []byte) error {
		var doc struct {
			ID           string          `json:"_id"`
			InsuranceNo  string          `json:"insurance_no"`
			Ailment      string          `json:"ailment"`
			Symptoms     string          `json:"symptoms"`
			Date         int64           `json:"interaction_date"`
			Metrics      json.RawMessage `json:"metrics"`
			Remarks      string          `json:"remarks"`
			HealthStatus *float64        `json:"health_status"`
			QA           json.RawMessage `json:"qa"`
			Label        []string        `json:"label"`
			Status       string          `json:"status"`
			AilmentKey   string          `json:"ailment_key"`
			SearchTokens []string        `json:"search_tokens"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			return err
		}
		in := models.Interaction{ID: doc.ID, InsuranceNo: doc.InsuranceNo, Ailment: doc.Ailment, Symptoms: doc.Symptoms,
			InteractionDate: time.UnixMilli(doc.Date).UTC(), Remarks: doc.Remarks, Label: doc.Label, Status: doc.Status}
		if doc.HealthStatus != nil {
			h := int(*doc.HealthStatus)
			in.HealthStatus = &h
		}
		if in.Label == nil {
			in.Label = []string{}
		}
		// The conditions first, on the stored fields as the store's query reads them:
		// most visits of a suggestion's read are left out before their objects are
		// decoded.
		tokens := func() []string { return doc.SearchTokens }
		if !q.Selects(in.Status, in.InteractionDate, len(doc.QA) > 0, doc.AilmentKey, in.Label, tokens) {
			return nil
		}
		var err error
		if in.QA, err = storedObject(doc.QA); err != nil {
			return fmt.Errorf("qa of %s: %w", in.ID, err)
		}
		if q.WithQA && len(in.QA) == 0 { // stored as {}
			return nil
		}
		if in.Metrics, err = storedObject(doc.Metrics); err != nil {
			return fmt.Errorf("metrics of %s: %w", in.ID, err)
		}
		return fn(in)
	})
}

// Patients reads every patient's insurance number, age and sex straight from the
// table (see Visits).
func (x sideIndex) Patients(ctx context.Context, fn func(models.Patient) error) error {
	return x.scan(ctx, repository.PatientsCollection, func(data []byte) error {
		var doc struct {
			ID  string   `json:"_id"`
			Age *float64 `json:"age"`
			Sex string   `json:"sex"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			return err
		}
		p := models.Patient{InsuranceNo: doc.ID, Sex: doc.Sex}
		if doc.Age != nil {
			age := int(*doc.Age)
			p.Age = &age
		}
		return fn(p)
	})
}

// storedObject reads an object of a stored document, as the table holds it in
// JSON, into a document with its fields in order; nil for none.
func storedObject(data json.RawMessage) (bson.D, error) {
	if len(data) == 0 || string(data) == "null" {
		return nil, nil
	}
	return models.ParseDocument(data)
}

// scan calls each with every stored document of collection, as the table holds it
// (JSON), in no particular order, and stops at its first error.
func (x sideIndex) scan(ctx context.Context, collection string, each func([]byte) error) error {
	db, table, err := x.files.table(ctx, x.database, collection)
	if err != nil || table == "" {
		return err
	}
	rows, err := db.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM %q", ferretColumn, table))
	if err != nil {
		return fmt.Errorf("read %s: %w", collection, err)
	}
	defer rows.Close()
	var data []byte
	for rows.Next() {
		if err := rows.Scan(&data); err != nil {
			return fmt.Errorf("read %s: %w", collection, err)
		}
		if err := each(data); err != nil {
			return fmt.Errorf("read %s: %w", collection, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s: %w", collection, err)
	}
	return nil
}
