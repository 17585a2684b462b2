package sideindex

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

// TestHistoryPagesFollowAnIndex plans the queries of history pages and visit
// searches, either way and after a cursor, over a table with the side index's
// indexes: SQLite reads each in the order of the history's indexes, sorting by id
// only the visits of one date (the right part of the order), never the whole
// selection, so that a page costs the same at any size.
func TestHistoryPagesFollowAnIndex(t *testing.T) {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "plan.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const table = "interactions_0"
	if _, err := db.Exec(fmt.Sprintf(`CREATE TABLE %q (%s TEXT)`, table, ferretColumn)); err != nil {
		t.Fatal(err)
	}
	for suffix, columns := range indexesOf(repository.InteractionsCollection) {
		if _, err := db.Exec(indexSQL(table+"_"+suffix, table, suffix, columns)); err != nil {
			t.Fatal(err)
		}
	}
	cursor := &models.Cursor{Date: time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), ID: "v"}
	for _, tc := range []struct {
		name  string
		q     models.HistoryQuery
		index string
	}{
		{"a history", models.HistoryQuery{InsuranceNo: "P"}, "history"},
		{"a history, next page", models.HistoryQuery{InsuranceNo: "P", After: cursor}, "history"},
		{"a history, oldest first", models.HistoryQuery{InsuranceNo: "P", Ascending: true, After: cursor}, "history"},
		{"a history by label", models.HistoryQuery{InsuranceNo: "P", Labels: []string{"a"}}, "history"},
		{"a visit search", models.HistoryQuery{Ailment: "flu"}, "date"},
		{"a visit search, next page", models.HistoryQuery{Words: []string{"cough"}, After: cursor}, "date"},
	} {
		w, order := historySelect(tc.q)
		rows, err := db.Query("EXPLAIN QUERY PLAN "+documentsSQL(table, w, order, 21), w.args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		text := strings.Join(plan, "; ")
		if !strings.Contains(text, "USING INDEX "+table+"_"+tc.index) || strings.Contains(text, "TEMP B-TREE FOR ORDER BY") {
			t.Errorf("%s: planned as %q; want it read in the order of the %s index", tc.name, text, tc.index)
		}
	}
}
