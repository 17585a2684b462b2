package app_test

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"
)

// historyIDs lists the ids of one page and its next cursor ("" on the last page).
func historyIDs(t *testing.T, e *env, path string) ([]string, string) {
	t.Helper()
	page := e.mustDo(200, "GET", path, "")
	items, ok := page["items"].([]any)
	if !ok {
		t.Fatalf("no items array: %v", page)
	}
	ids := make([]string, 0, len(items))
	for _, it := range items {
		ids = append(ids, it.(map[string]any)["id"].(string))
	}
	next, _ := page["next_cursor"].(string)
	if _, present := page["next_cursor"]; !present {
		t.Fatalf("next_cursor missing: %v", page)
	}
	return ids, next
}

func TestHistoryLabels(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")
	e.createPatient("B11")
	for _, in := range []struct{ id, patient, date, label string }{
		{"1", "A11", "2024-09-01", `["fever"]`},
		{"2", "A11", "2024-09-02", `["Fever, SKIN"]`},
		{"3", "A11", "2024-09-03", `["skin"]`},
		{"4", "A11", "2024-09-04", `["gut","skin","fever"]`},
		{"5", "A11", "2024-09-05", `[]`},
		{"6", "B11", "2024-09-06", `["fever,skin"]`},
	} {
		e.mustDo(201, "POST", "/api/v1/interactions",
			fmt.Sprintf(`{"id":%q,"insurance_no":%q,"interaction_date":%q,"label":%s}`, in.id, in.patient, in.date, in.label))
	}
	cases := []struct {
		query string
		want  string
	}{
		{"", "5 4 3 2 1"},
		{"label=fever", "4 2 1"},
		{"label=FEVER", "4 2 1"},
		{"label=skin&label=fever", "4 3 2 1"},
		{"label=skin,fever", "4 3 2 1"},
		{"label=skin,fever&label_mode=any", "4 3 2 1"},
		{"label=skin,fever&label_mode=all", "4 2"},
		{"label=skin&label=Fever&label=gut&label_mode=all", "4"},
		{"label=cold", ""},
		{"label=%20Skin%20", "4 3 2"},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			ids, next := historyIDs(t, e, "/api/v1/patients/A11/interactions?"+tc.query)
			if got := strings.Join(ids, " "); got != tc.want {
				t.Errorf("ids = %q, want %q", got, tc.want)
			}
			if next != "" {
				t.Errorf("next_cursor = %q on the only page", next)
			}
		})
	}
}

func TestHistoryBadQuery(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")
	for _, tc := range []struct{ query, field string }{
		{"limit=0", "limit"},
		{"limit=101", "limit"},
		{"limit=-5", "limit"},
		{"limit=abc", "limit"},
		{"limit=", "limit"},
		{"limit=2.5", "limit"},
		{"limit=10&limit=20", "limit"},
		{"label_mode=some", "label_mode"},
		{"label_mode=ALL", "label_mode"},
		{"cursor=abc", "cursor"},
		{"cursor=" + url.QueryEscape("eyJkIjoxfQ"), "cursor"},
		{"label=", "label"},
		{"label=,,", "label"},
		{"labels=fever", "labels"},
		{"sort=asc", "sort"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			fields := assertError(t, e.do("GET", "/api/v1/patients/A11/interactions?"+tc.query, ""), 400, "validation_failed")
			if _, ok := fields[tc.field]; !ok {
				t.Errorf("fields = %v, want an entry for %q", fields, tc.field)
			}
		})
	}
	t.Run("unknown patient", func(t *testing.T) {
		assertError(t, e.do("GET", "/api/v1/patients/Z99/interactions", ""), 404, "patient_not_found")
	})
	t.Run("limit bounds are accepted", func(t *testing.T) {
		historyIDs(t, e, "/api/v1/patients/A11/interactions?limit=1")
		historyIDs(t, e, "/api/v1/patients/A11/interactions?limit=100")
	})
}

func TestHistoryPagination(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")
	// Several interactions share a date, so the id breaks ties.
	var want []string
	for i := 0; i < 23; i++ {
		id := fmt.Sprintf("v%02d", i)
		date := time.Date(2024, 1, 1+i/3, 9, 0, 0, 0, time.UTC).Format(time.RFC3339)
		e.mustDo(201, "POST", "/api/v1/interactions", fmt.Sprintf(`{"id":%q,"insurance_no":"A11","interaction_date":%q,"label":["fever"]}`, id, date))
		want = append(want, id)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(want))) // newest date first, then id descending

	var got []string
	path := "/api/v1/patients/A11/interactions?limit=5&label=fever"
	pages := 0
	for {
		ids, next := historyIDs(t, e, path)
		got = append(got, ids...)
		pages++
		if next == "" {
			break
		}
		path = "/api/v1/patients/A11/interactions?limit=5&label=fever&cursor=" + url.QueryEscape(next)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("pages gave\n%v\nwant\n%v", got, want)
	}
	if pages != 5 {
		t.Errorf("%d pages, want 5", pages)
	}
	t.Run("the default page size is 20", func(t *testing.T) {
		ids, next := historyIDs(t, e, "/api/v1/patients/A11/interactions")
		if len(ids) != 20 || next == "" {
			t.Errorf("%d items, next %q", len(ids), next)
		}
	})
	t.Run("a cursor serves only its own query", func(t *testing.T) {
		e.createPatient("B11")
		_, next := historyIDs(t, e, "/api/v1/patients/A11/interactions?limit=5&label=fever")
		cursor := "&cursor=" + url.QueryEscape(next)
		for _, query := range []string{
			"/api/v1/patients/A11/interactions?limit=5" + cursor,
			"/api/v1/patients/A11/interactions?label=skin" + cursor,
			"/api/v1/patients/A11/interactions?label=fever&label_mode=all&label=x" + cursor,
			"/api/v1/patients/A11/interactions?label=fever&include=entered-in-error" + cursor,
			"/api/v1/patients/B11/interactions?label=fever" + cursor,
		} {
			fields := assertError(t, e.do("GET", query, ""), 400, "validation_failed")
			if _, ok := fields["cursor"]; !ok {
				t.Errorf("%s: fields %v, want cursor", query, fields)
			}
		}
		// The page size may change from page to page, and labels are a set.
		historyIDs(t, e, "/api/v1/patients/A11/interactions?limit=2&label=FEVER"+cursor)
	})
}

// TestHistoryPaginationWhileInserting pages through a history while other
// interactions, older and newer than the page boundary, are added between the
// pages: every interaction that existed before paging began appears exactly once, in
// order, and so does every one added older than the page boundary.
func TestHistoryPaginationWhileInserting(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")
	base := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	var existing []string
	for i := 0; i < 40; i++ {
		id := fmt.Sprintf("e%02d", i)
		e.mustDo(201, "POST", "/api/v1/interactions",
			fmt.Sprintf(`{"id":%q,"insurance_no":"A11","interaction_date":%q}`, id, base.Add(time.Duration(i)*time.Hour).Format(time.RFC3339)))
		existing = append([]string{id}, existing...) // newest first
	}

	seen := map[string]bool{}
	var order, older []string
	added := 0
	path := "/api/v1/patients/A11/interactions?limit=7"
	for page := 0; ; page++ {
		ids, next := historyIDs(t, e, path)
		for _, id := range ids {
			if seen[id] {
				t.Errorf("%s appears twice", id)
			}
			seen[id] = true
			if strings.HasPrefix(id, "e") {
				order = append(order, id)
			}
		}
		if next == "" {
			break
		}
		// Before the next page: one interaction in the far past (it must show later),
		// one in the far future and one between existing ones.
		for i, offset := range []time.Duration{-1000 * time.Hour, 1000 * time.Hour, time.Duration(page*7%40)*time.Hour + 30*time.Minute} {
			id := fmt.Sprintf("n%02d-%d", page, i)
			e.mustDo(201, "POST", "/api/v1/interactions",
				fmt.Sprintf(`{"id":%q,"insurance_no":"A11","interaction_date":%q}`, id, base.Add(offset).Format(time.RFC3339)))
			if i == 0 {
				older = append(older, id)
			}
			added++
		}
		path = "/api/v1/patients/A11/interactions?limit=7&cursor=" + url.QueryEscape(next)
	}
	if strings.Join(order, " ") != strings.Join(existing, " ") {
		t.Errorf("existing interactions seen as\n%v\nwant\n%v", order, existing)
	}
	for _, id := range older {
		if !seen[id] {
			t.Errorf("%s, added older than every page, was not listed", id)
		}
	}
	if added == 0 {
		t.Fatal("nothing was added between pages")
	}
	if n := e.count("interactions"); n != int64(40+added) {
		t.Errorf("%d interactions stored, want %d", n, 40+added)
	}
}
