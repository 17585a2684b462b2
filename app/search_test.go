package app_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clinic/interactions/models"
)

// TestFindPatients searches the directory as a clinician's picker does: by the start
// of a name's word, of the insurance number or of a FHIR id kept by an import,
// whatever the case and accents, every word required; sorted by last name, first
// name and insurance number; paged; with each patient's last visit.
func TestFindPatients(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{
		`{"insurance_no":"P1","fname":"José","lname":"Straße","age":40,"sex":"M"}`,
		`{"insurance_no":"P2","fname":"Anna","lname":"strasser"}`,
		`{"insurance_no":"P3","fname":"Zoë","lname":"O'Brien-Lee"}`,
		`{"insurance_no":"Q-77","fname":"Jose","lname":"Álvarez"}`,
		`{"insurance_no":"P5"}`,
	} {
		e.mustDo(201, "POST", "/api/v1/patients", p)
	}
	e.mustDo(201, "POST", "/api/v1/interactions", `{"insurance_no":"P1","interaction_date":"2024-08-05T09:30:00Z"}`)
	e.mustDo(201, "POST", "/api/v1/interactions", `{"insurance_no":"P1","interaction_date":"2024-09-01T10:00:00Z"}`)
	eie := e.mustDo(201, "POST", "/api/v1/interactions", `{"insurance_no":"P1","interaction_date":"2025-01-01T10:00:00Z"}`)
	markEnteredInError(t, e, eie["id"].(string)) // not a visit

	find := func(query string) []string {
		t.Helper()
		var nos []string
		path := "/api/v1/patients?limit=2" + query
		for {
			page := e.mustDo(200, "GET", path, "")
			for _, it := range page["items"].([]any) {
				nos = append(nos, it.(map[string]any)["insurance_no"].(string))
			}
			next, _ := page["next_cursor"].(string)
			if next == "" {
				return nos
			}
			path = "/api/v1/patients?limit=2" + query + "&cursor=" + url.QueryEscape(next)
		}
	}
	for query, want := range map[string][]string{
		"":                    {"P5", "Q-77", "P3", "P1", "P2"}, // no name first, then Álvarez, O'Brien-Lee, Straße, strasser
		"&q=stras":            {"P1", "P2"},
		"&q=STRASSE":          {"P1", "P2"},
		"&q=straße":           {"P1", "P2"},
		"&q=jose":             {"Q-77", "P1"},
		"&q=jos%C3%A9+alv":    {"Q-77"},
		"&q=zoe":              {"P3"},
		"&q=lee":              {"P3"},
		"&q=o%27brien":        {"P3"}, // o, brien
		"&q=p":                {"P5", "P3", "P1", "P2"},
		"&q=q-7":              {"Q-77"}, // q, 7: starts of the words of the number
		"&q=Q-77":             {"Q-77"},
		"&q=anna+straße":      {"P2"},
		"&q=nobody":           nil,
		"&q=stras&q2=ignored": nil, // see the 400s below
	} {
		if strings.Contains(query, "q2") {
			continue
		}
		if got := find(query); !slices.Equal(got, want) {
			t.Errorf("patients for %q = %v, want %v", query, got, want)
		}
	}

	page := e.mustDo(200, "GET", "/api/v1/patients?q=jose+stras", "")
	items := page["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("items = %v", items)
	}
	want := map[string]any{"insurance_no": "P1", "fname": "José", "lname": "Straße", "age": float64(40), "sex": "M",
		"last_visit": "2024-09-01T10:00:00Z"}
	if got := items[0].(map[string]any); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("item = %v, want %v", got, want)
	}
	if got := e.mustDo(200, "GET", "/api/v1/patients?q=p5", "")["items"].([]any)[0].(map[string]any); got["last_visit"] != nil {
		t.Errorf("a patient without visits: %v", got)
	}

	next := e.mustDo(200, "GET", "/api/v1/patients?limit=1&q=stras", "")["next_cursor"].(string)
	for _, tc := range []struct{ query, field string }{
		{"q=%21%21", "q"},
		{"q=" + strings.Repeat("a+", 11), "q"},
		{"q=" + strings.Repeat("a", 201), "q"},
		{"limit=0", "limit"},
		{"cursor=nope", "cursor"},
		{"q=jose&cursor=" + url.QueryEscape(next), "cursor"},
		{"name=jose", "name"},
		{"q=a&q=b", "q"},
	} {
		res := e.do("GET", "/api/v1/patients?"+tc.query, "")
		if fields := assertError(t, res, 400, "validation_failed"); fields[tc.field] == nil {
			t.Errorf("%s: fields %v do not name %s", tc.query, fields, tc.field)
		}
	}
	assertError(t, e.as(models.RoleAdmin).do("GET", "/api/v1/patients", ""), 403, "forbidden")
}

// visit is an interaction of the search tests, as sent and as the oracle sees it.
type visit struct {
	no, ailment, symptoms, date string
	labels                      []string
	health                      int // 0: none
}

// searchData is what TestSearchInteractions records: three patients, visits with
// every kind of field, ties in date, and one entered in error.
var searchData = []visit{
	{"S1", "Influenza", "fever and dry cough", "2024-08-01T09:00:00Z", []string{"fever", "resp"}, 3},
	{"S1", "influenza", "Fièvre, toux sèche", "2024-08-01T09:00:00Z", []string{"fever"}, 4},
	{"S1", "Migraine", "headache at night", "2024-08-15T12:00:00Z", []string{"neuro"}, 6},
	{"S1", "Type-2 Diabètes", "", "2024-09-01T08:30:00Z", nil, 0},
	{"S2", "Influenza", "coughing at night", "2024-08-02T00:00:00Z", []string{"resp"}, 2},
	{"S2", "Eczema", "itchy rash", "2024-08-31T23:59:59Z", []string{"skin"}, 7},
	{"S2", "Migraine", "headache", "2024-10-01T10:00:00Z", []string{"neuro", "fever"}, 8},
	{"S3", "Influenza", "fever", "2024-07-31T23:59:59.999Z", []string{"fever"}, 5},
	{"S3", "Sprain", "ankle after a fall", "2024-08-20T10:00:00Z", []string{"ortho"}, 9},
	{"S3", "Influenza", "cough", "2024-08-05T10:00:00Z", []string{"fever", "resp"}, 1},
}

// filter is one filter of a search, with its parameter and what it keeps.
type filter struct {
	param string
	keeps func(visit) bool
}

var searchFilters = []filter{
	{"insurance_no=S1", func(v visit) bool { return v.no == "S1" }},
	{"label=fever&label=resp", func(v visit) bool { return slices.Contains(v.labels, "fever") || slices.Contains(v.labels, "resp") }},
	{"ailment=INFLUENZA", func(v visit) bool { return strings.EqualFold(v.ailment, "influenza") }},
	{"from=2024-08-01&to=2024-08-31", func(v visit) bool { return v.date >= "2024-08-01" && v.date < "2024-09-01" }},
	{"health_status_min=3", func(v visit) bool { return v.health >= 3 }},
	{"health_status_max=6", func(v visit) bool { return v.health != 0 && v.health <= 6 }},
	{"q=cou", func(v visit) bool { return strings.Contains(strings.ToLower(v.symptoms), "cou") }},
	{"sort=date", nil},
}

// TestSearchInteractions searches visits across patients with every combination of
// the filters, each page by page, and compares with what the filters keep of the
// data recorded; then a few more cases one by one, the patient-scoped list, paging
// while visits are added, and the 400s that name the parameter.
func TestSearchInteractions(t *testing.T) {
	e := newEnv(t)
	for _, no := range []string{"S1", "S2", "S3"} {
		e.createPatient(no)
	}
	ids := map[int]string{}
	for i, v := range searchData {
		body := fmt.Sprintf(`{"insurance_no":%q,"ailment":%q,"symptoms":%q,"interaction_date":%q,"label":%s`,
			v.no, v.ailment, v.symptoms, v.date, jsonList(v.labels))
		if v.health != 0 {
			body += fmt.Sprintf(`,"health_status":%d`, v.health)
		}
		ids[i] = e.mustDo(201, "POST", "/api/v1/interactions", body+"}")["id"].(string)
	}
	// One more visit, entered in error: listed only with include=entered-in-error.
	eie := e.mustDo(201, "POST", "/api/v1/interactions", `{"insurance_no":"S1","ailment":"Influenza","interaction_date":"2024-08-10T00:00:00Z"}`)
	markEnteredInError(t, e, eie["id"].(string))

	// expect returns the ids of the visits every filter keeps, in the order asked.
	expect := func(filters []filter, ascending bool) []string {
		var kept []int
		for i, v := range searchData {
			if !slices.ContainsFunc(filters, func(f filter) bool { return f.keeps != nil && !f.keeps(v) }) {
				kept = append(kept, i)
			}
		}
		slices.SortFunc(kept, func(a, b int) int {
			da, _ := time.Parse(time.RFC3339Nano, searchData[a].date)
			db, _ := time.Parse(time.RFC3339Nano, searchData[b].date)
			c := da.Compare(db)
			if c == 0 {
				c = strings.Compare(ids[a], ids[b])
			}
			if !ascending {
				c = -c
			}
			return c
		})
		out := make([]string, len(kept))
		for i, k := range kept {
			out[i] = ids[k]
		}
		return out
	}
	for mask := range 1 << len(searchFilters) {
		var chosen []filter
		var params []string
		ascending := false
		for i, f := range searchFilters {
			if mask&(1<<i) != 0 {
				chosen = append(chosen, f)
				params = append(params, f.param)
				ascending = ascending || f.param == "sort=date"
			}
		}
		query := strings.Join(params, "&")
		if got, want := search(t, e, "/api/v1/interactions", query), expect(chosen, ascending); !slices.Equal(got, want) {
			t.Errorf("GET /api/v1/interactions?%s = %v, want %v", query, got, want)
		}
	}

	// The patient-scoped list takes the same filters, but not insurance_no.
	if got, want := search(t, e, "/api/v1/patients/S2/interactions", "q=headache&sort=date"), []string{ids[6]}; !slices.Equal(got, want) {
		t.Errorf("S2's visits with headache = %v, want %v", got, want)
	}
	if got := search(t, e, "/api/v1/interactions", "insurance_no=S1&include=entered-in-error&ailment=influenza"); len(got) != 3 || !slices.Contains(got, eie["id"].(string)) {
		t.Errorf("S1's influenza visits, entered in error included = %v", got)
	}
	if got := search(t, e, "/api/v1/interactions", "from=2024-08-01T09:00:00Z&to=2024-08-01T09:00:00Z"); len(got) != 2 {
		t.Errorf("visits at exactly 2024-08-01T09:00:00Z = %v, want the two", got)
	}
	if got := search(t, e, "/api/v1/interactions", "q=FIEVRE+seche"); !slices.Equal(got, []string{ids[1]}) {
		t.Errorf("visits with fièvre sèche = %v, want %v", got, ids[1])
	}
	if got := search(t, e, "/api/v1/interactions", "label=fever&label=resp&label_mode=all"); len(got) != 2 {
		t.Errorf("visits with both fever and resp = %v", got)
	}

	// Paging while visits are added: every visit there at the start is listed once.
	before := search(t, e, "/api/v1/interactions", "")
	var seen []string
	path := "/api/v1/interactions?limit=2"
	for n := 0; ; n++ {
		page := e.mustDo(200, "GET", path, "")
		for _, it := range page["items"].([]any) {
			seen = append(seen, it.(map[string]any)["id"].(string))
		}
		// A newer visit and an older one arrive between pages.
		e.mustDo(201, "POST", "/api/v1/interactions", fmt.Sprintf(`{"insurance_no":"S3","interaction_date":"2025-01-%02dT00:00:00Z"}`, n%28+1))
		e.mustDo(201, "POST", "/api/v1/interactions", fmt.Sprintf(`{"insurance_no":"S2","interaction_date":"2023-01-%02dT00:00:00Z"}`, n%28+1))
		next, _ := page["next_cursor"].(string)
		if next == "" || n > 100 {
			break
		}
		path = "/api/v1/interactions?limit=2&cursor=" + url.QueryEscape(next)
	}
	for _, id := range before {
		if c := countOf(seen, id); c != 1 {
			t.Errorf("visit %s listed %d times while visits were added", id, c)
		}
	}
	if len(slices.Compact(slices.Sorted(slices.Values(seen)))) != len(seen) {
		t.Errorf("a visit was listed twice: %v", seen)
	}

	next := e.mustDo(200, "GET", "/api/v1/interactions?limit=1&q=cough", "")["next_cursor"].(string)
	for _, tc := range []struct{ route, query, field string }{
		{"/api/v1/interactions", "from=yesterday", "from"},
		{"/api/v1/interactions", "to=2024-13-01", "to"},
		{"/api/v1/interactions", "from=2024-09-01&to=2024-08-01", "to"},
		{"/api/v1/interactions", "health_status_min=0", "health_status_min"},
		{"/api/v1/interactions", "health_status_max=eleven", "health_status_max"},
		{"/api/v1/interactions", "health_status_min=7&health_status_max=3", "health_status_max"},
		{"/api/v1/interactions", "q=%2A%2A", "q"},
		{"/api/v1/interactions", "ailment=%20-%20", "ailment"},
		{"/api/v1/interactions", "sort=name", "sort"},
		{"/api/v1/interactions", "label_mode=some", "label_mode"},
		{"/api/v1/interactions", "insurance_no=a%20b", "insurance_no"},
		{"/api/v1/interactions", "q=cough&sort=date&cursor=" + url.QueryEscape(next), "cursor"},
		{"/api/v1/interactions", "patient=S1", "patient"},
		{"/api/v1/patients/S1/interactions", "insurance_no=S2", "insurance_no"},
	} {
		if fields := assertError(t, e.do("GET", tc.route+"?"+tc.query, ""), 400, "validation_failed"); fields[tc.field] == nil {
			t.Errorf("%s?%s: fields %v do not name %s", tc.route, tc.query, fields, tc.field)
		}
	}
	assertError(t, e.as(models.RoleAuditor).do("GET", "/api/v1/interactions", ""), 403, "forbidden")
	// A viewer searches the visits of a patient it names, not everyone's.
	assertError(t, e.as(models.RoleViewer).do("GET", "/api/v1/interactions?q=cough", ""), 403, "forbidden")
	e.as(models.RoleViewer).mustDo(200, "GET", "/api/v1/interactions?insurance_no=S1&q=cough", "")
}

// search returns the ids of every interaction route lists with query, reading its
// pages three at a time.
func search(t *testing.T, e *env, route, query string) []string {
	t.Helper()
	ids := []string{}
	path := route + "?limit=3&" + query
	for {
		page := e.mustDo(200, "GET", path, "")
		for _, it := range page["items"].([]any) {
			ids = append(ids, it.(map[string]any)["id"].(string))
		}
		next, _ := page["next_cursor"].(string)
		if next == "" {
			return ids
		}
		path = route + "?limit=3&" + query + "&cursor=" + url.QueryEscape(next)
	}
}

// markEnteredInError marks interaction id, at version 1, entered in error.
func markEnteredInError(t *testing.T, e *env, id string) {
	t.Helper()
	if res := e.do("DELETE", "/api/v1/interactions/"+id+"?reason=wrong%20patient", "", "If-Match", `"1"`); res.status != 200 {
		t.Fatalf("mark %s entered in error: %d %s", id, res.status, res.body)
	}
}

func jsonList(items []string) string {
	quoted := make([]string, len(items))
	for i, s := range items {
		quoted[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(quoted, ",") + "]"
}

func countOf(items []string, item string) int {
	n := 0
	for _, it := range items {
		if it == item {
			n++
		}
	}
	return n
}
