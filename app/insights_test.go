package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/handlers"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/summary"
)

// insightsEnv returns an env holding six patients: I1 to I3 with influenza, I4 and
// I5 with hypertension, I6 with no visit; and one visit of I1 entered in error.
func insightsEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	for _, p := range []string{
		`{"insurance_no":"I1","age":30,"sex":"M"}`, `{"insurance_no":"I2","age":32,"sex":"M"}`,
		`{"insurance_no":"I3","age":29,"sex":"F"}`, `{"insurance_no":"I4","age":66,"sex":"F"}`,
		`{"insurance_no":"I5","age":70,"sex":"M"}`, `{"insurance_no":"I6","age":50}`,
	} {
		e.mustDo(201, "POST", "/api/v1/patients", p)
	}
	flu := func(id, no, date, temp, qa string) string {
		return fmt.Sprintf(`{"id":%q,"insurance_no":%q,"ailment":"Influenza","symptoms":"fever, dry cough, muscle aches",
		  "interaction_date":%q,"metrics":{"temp":%s,"BP":"120/80","HR":95},"health_status":4,"qa":%s,"label":["fever","respiratory"]}`,
			id, no, date, temp, qa)
	}
	bp := func(id, no, date, sys, qa string) string {
		return fmt.Sprintf(`{"id":%q,"insurance_no":%q,"ailment":"hypertension ","symptoms":"headache, dizziness",
		  "interaction_date":%q,"metrics":{"temp":36.7,"BP":"%s/95","HR":70},"health_status":7,"qa":%s,"label":["cardio","chronic"]}`,
			id, no, date, sys, qa)
	}
	for _, v := range []string{
		flu("f1", "I1", "2024-09-02T09:00:00Z", "38.9", `{"Since when?":"3 days","Any contact with sick people?":"yes"}`),
		flu("f2", "I2", "2024-09-10T09:00:00Z", "38.5", `{"since when":"2 days","any contact with sick  people":"no"}`),
		flu("f3", "I3", "2024-10-01T09:00:00Z", "39.1", `{"Since when?":"1 day","Travelled recently?":"no"}`),
		flu("f4", "I1", "2024-10-05T09:00:00Z", "38.0", `{"Vaccinated this season?":"no"}`),
		bp("h1", "I4", "2024-09-03T09:00:00Z", "165", `{"Takes medication as prescribed?":"yes","Salt intake?":"high"}`),
		bp("h2", "I5", "2024-10-03T09:00:00Z", "170", `{"Takes medication as prescribed?":"mostly"}`),
		`{"id":"x1","insurance_no":"I1","ailment":"Influenza","interaction_date":"2024-10-06T09:00:00Z","qa":{"Wrong patient question?":"x"},"label":["fever"]}`,
	} {
		e.mustDo(201, "POST", "/api/v1/interactions", v)
	}
	if res := e.do("DELETE", "/api/v1/interactions/x1?reason=wrong%20patient", "", "If-Match", `"1"`); res.status != 200 {
		t.Fatalf("mark x1 entered-in-error: %d %s", res.status, res.body)
	}
	return e
}

func decode[T any](t *testing.T, res response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(res.body, &v); err != nil {
		t.Fatalf("decode %s: %v", res.body, err)
	}
	return v
}

func TestSuggestedQuestions(t *testing.T) {
	e := insightsEnv(t)
	suggest := func(t *testing.T, method, path, body string) []string {
		t.Helper()
		res := e.do(method, path, body)
		if res.status != 200 {
			t.Fatalf("status %d: %s", res.status, res.body)
		}
		got := decode[handlers.QuestionSuggestions](t, res)
		if got.Source != summary.SourceDeterministic {
			t.Errorf("source %s", got.Source)
		}
		out := []string{}
		for _, s := range got.Items {
			out = append(out, fmt.Sprintf("%s|%d|%d", s.Question, s.Support, s.SameAilment))
		}
		return out
	}
	tests := []struct {
		name, method, path, body string
		want                     []string
	}{
		// f4 asked about vaccination; f1 to f3 share its ailment, h1 and h2 share
		// nothing, x1 is entered in error. "Since when?" is spelled two ways and is
		// one question; f1 and f2 spell the contact question two ways, one each.
		{"of an interaction", "GET", "/api/v1/interactions/f4/suggested-questions", "",
			[]string{"Since when?|3|3", "Any contact with sick people?|2|2", "Travelled recently?|1|1"}},
		{"limit", "GET", "/api/v1/interactions/f4/suggested-questions?limit=1", "", []string{"Since when?|3|3"}},
		{"its own questions are not suggested", "GET", "/api/v1/interactions/f1/suggested-questions", "",
			[]string{"Travelled recently?|1|1", "Vaccinated this season?|1|1"}},
		{"of a context", "POST", "/api/v1/suggestions/questions",
			`{"ailment":"HYPERTENSION","symptoms":"headache","labels":["cardio"],"asked":["salt intake"]}`,
			[]string{"Takes medication as prescribed?|2|2"}},
		{"by symptoms alone", "POST", "/api/v1/suggestions/questions?limit=2", `{"symptoms":"dizziness and a headache"}`,
			[]string{"Takes medication as prescribed?|2|0", "Salt intake?|1|0"}},
		{"nothing similar", "POST", "/api/v1/suggestions/questions", `{"ailment":"fracture","labels":[]}`, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := suggest(t, tc.method, tc.path, tc.body); !slices.Equal(got, tc.want) {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
	t.Run("refusals", func(t *testing.T) {
		for _, tc := range []struct {
			method, path, body string
			status             int
			code, field        string
		}{
			{"GET", "/api/v1/interactions/nope/suggested-questions", "", 404, "not_found", ""},
			{"GET", "/api/v1/interactions/x1/suggested-questions", "", 410, "entered_in_error", ""},
			{"GET", "/api/v1/interactions/f1/suggested-questions?limit=0", "", 400, "validation_failed", "limit"},
			{"GET", "/api/v1/interactions/f1/suggested-questions?k=3", "", 400, "validation_failed", "k"},
			{"POST", "/api/v1/suggestions/questions", `{"ailment":3}`, 400, "validation_failed", "ailment"},
			{"POST", "/api/v1/suggestions/questions", `{"labels":"fever","asked":[1]}`, 400, "validation_failed", "labels"},
			{"POST", "/api/v1/suggestions/questions", `{"ailment":"flu","extra":1}`, 400, "validation_failed", "extra"},
			{"POST", "/api/v1/suggestions/questions", `{"ailment":"?!"}`, 400, "validation_failed", ""},
			{"POST", "/api/v1/suggestions/questions?limit=51", `{"ailment":"flu"}`, 400, "validation_failed", "limit"},
			{"POST", "/api/v1/suggestions/questions", `{"ailment":`, 400, "malformed_body", ""},
		} {
			res := e.doBeyondContract(tc.method, tc.path, tc.body)
			fields := assertError(t, res, tc.status, tc.code)
			if tc.field != "" && fields[tc.field] == nil {
				t.Errorf("%s %s: fields %v lack %s", tc.method, tc.path, fields, tc.field)
			}
		}
	})
}

func TestSimilarPatients(t *testing.T) {
	e := insightsEnv(t)
	res := e.do("GET", "/api/v1/patients/I1/similar?k=3", "")
	if res.status != 200 {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	got := decode[handlers.SimilarPatients](t, res)
	var nos []string
	for _, n := range got.Items {
		nos = append(nos, n.InsuranceNo)
	}
	// I2 is a man of 32 with influenza, I3 a woman of 29 with it; the rest have
	// other ailments or none.
	if got.InsuranceNo != "I1" || got.Compared != 5 || !slices.Equal(nos[:2], []string{"I2", "I3"}) || len(nos) != 3 {
		t.Fatalf("got %s", res.body)
	}
	first := got.Items[0]
	for _, want := range []string{"label fever", "label respiratory", "ailment influenza", "sex M"} {
		if !strings.Contains(first.Explanation, want) {
			t.Errorf("explanation %q lacks %q", first.Explanation, want)
		}
	}
	if first.Distance <= 0 || first.Distance > got.Items[1].Distance || first.Visits != 1 {
		t.Errorf("first %+v", first)
	}
	all := decode[handlers.SimilarPatients](t, e.do("GET", "/api/v1/patients/I6/similar?k=50", ""))
	if len(all.Items) != 5 || slices.ContainsFunc(all.Items, func(n handlers.Neighbour) bool { return n.InsuranceNo == "I6" }) {
		t.Errorf("k=50 for I6: %+v", all.Items)
	}
	assertError(t, e.do("GET", "/api/v1/patients/NOPE/similar", ""), 404, "patient_not_found")
	for _, q := range []string{"k=0", "k=51", "k=x", "limit=3"} {
		assertError(t, e.doBeyondContract("GET", "/api/v1/patients/I1/similar?"+q, ""), 400, "validation_failed")
	}
}

func TestCohorts(t *testing.T) {
	e := insightsEnv(t)
	res := e.do("GET", "/api/v1/analytics/cohorts?k=3&limit=2", "")
	if res.status != 200 {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	got := decode[handlers.Cohorts](t, res)
	if got.K != 3 || got.Patients != 6 || len(got.Cohorts) != 3 {
		t.Fatalf("got %s", res.body)
	}
	members := map[string]int{}
	pages := 0
	for page := got; ; pages++ {
		for _, m := range page.Members.Items {
			if _, dup := members[m.InsuranceNo]; dup {
				t.Errorf("%s listed twice", m.InsuranceNo)
			}
			members[m.InsuranceNo] = m.Cohort
		}
		if page.Members.NextCursor == nil {
			break
		}
		page = decode[handlers.Cohorts](t, e.do("GET", "/api/v1/analytics/cohorts?k=3&limit=2&cursor="+*page.Members.NextCursor, ""))
	}
	if len(members) != 6 || pages != 2 {
		t.Fatalf("members %v in %d pages", members, pages+1)
	}
	// The influenza patients are one cohort, the hypertensive ones another.
	if members["I1"] != members["I2"] || members["I2"] != members["I3"] || members["I4"] != members["I5"] || members["I1"] == members["I4"] {
		t.Errorf("members %v", members)
	}
	flu := got.Cohorts[members["I1"]]
	if flu.Size != 3 || !strings.HasPrefix(flu.Description, "Mostly Influenza (100%); labels fever (100%), respiratory (100%)") {
		t.Errorf("influenza cohort %+v", flu)
	}
	again := e.do("GET", "/api/v1/analytics/cohorts?k=3&limit=2", "")
	if string(again.body) != string(res.body) {
		t.Errorf("the same records gave other cohorts:\n%s\n%s", res.body, again.body)
	}
	one := decode[handlers.Cohorts](t, e.do("GET", fmt.Sprintf("/api/v1/analytics/cohorts?k=3&cohort=%d", members["I4"]), ""))
	if len(one.Members.Items) != 2 || one.Members.NextCursor != nil {
		t.Errorf("cohort of I4: %+v", one.Members)
	}
	for _, q := range []string{"k=0", "k=21", "cohort=3&k=3", "cohort=-1", "limit=101", "cursor=bad",
		"k=2&cursor=" + *got.Members.NextCursor, "q=x"} {
		assertError(t, e.doBeyondContract("GET", "/api/v1/analytics/cohorts?"+q, ""), 400, "validation_failed")
	}
}

// TestInsightsFollowTheRecords asks for the cohorts and the similar patients,
// changes records every way the API does (a patient and a visit created, a visit
// amended, one entered in error, a patient amended), and asks again: the answers
// changed, and are those of a server that reads the records afresh.
func TestInsightsFollowTheRecords(t *testing.T) {
	e := insightsEnv(t)
	paths := []string{"/api/v1/analytics/cohorts?k=3&limit=100", "/api/v1/analytics/cohorts?k=2&limit=3",
		"/api/v1/patients/I1/similar?k=5", "/api/v1/patients/I4/similar?k=2"}
	answers := func(e *env) []string {
		var out []string
		for _, path := range paths {
			res := e.do("GET", path, "")
			if res.status != 200 {
				t.Fatalf("GET %s: %d %s", path, res.status, res.body)
			}
			out = append(out, string(res.body))
		}
		return out
	}
	before := answers(e)
	e.mustDo(201, "POST", "/api/v1/patients", `{"insurance_no":"I7","age":31,"sex":"F"}`)
	e.mustDo(201, "POST", "/api/v1/interactions", `{"id":"f7","insurance_no":"I7","ailment":"Influenza",
	  "interaction_date":"2024-10-09T09:00:00Z","metrics":{"temp":38.7},"label":["fever","respiratory"]}`)
	e.changeInteraction("PATCH", "h1", "misdiagnosed", `{"ailment":"Influenza","label":["fever"]}`)
	e.changeInteraction("DELETE", "f4", "wrong patient", "")
	if res := e.do("PATCH", "/api/v1/patients/I6?reason=typo", `{"sex":"F"}`, "If-Match", `"1"`,
		"Content-Type", "application/merge-patch+json"); res.status != 200 {
		t.Fatalf("amend I6: %d %s", res.status, res.body)
	}
	after := answers(e)
	server, err := app.NewServer(slog.New(slog.DiscardHandler), e.repo, app.ServerConfig{RequestTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	fresh := *e
	fresh.app = server
	afresh := answers(&fresh)
	for i, path := range paths {
		if after[i] != afresh[i] {
			t.Errorf("GET %s after the changes:\n%s\nread afresh:\n%s", path, after[i], afresh[i])
		}
	}
	if after[0] == before[0] || !strings.Contains(after[0], `"patients":7`) {
		t.Errorf("the cohorts did not follow the changes:\n%s", after[0])
	}
}

func TestMonthlyCounts(t *testing.T) {
	e := insightsEnv(t)
	tests := []struct{ path, want string }{
		{"/api/v1/analytics/labels", `[{"month":"2024-09","visits":3,"counts":[{"name":"fever","count":2},{"name":"respiratory","count":2},{"name":"cardio","count":1},{"name":"chronic","count":1}]},` +
			`{"month":"2024-10","visits":3,"counts":[{"name":"fever","count":2},{"name":"respiratory","count":2},{"name":"cardio","count":1},{"name":"chronic","count":1}]}]`},
		{"/api/v1/analytics/ailments?from=2024-10-01&to=2024-10-03", `[{"month":"2024-10","visits":2,"counts":[{"name":"Influenza","count":1},{"name":"hypertension","count":1}]}]`},
		{"/api/v1/analytics/ailments?from=2024-10-02T00:00:00Z", `[{"month":"2024-10","visits":2,"counts":[{"name":"Influenza","count":1},{"name":"hypertension","count":1}]}]`},
		{"/api/v1/analytics/labels?to=2023-01-01", `[]`},
	}
	for _, tc := range tests {
		res := e.do("GET", tc.path, "")
		if res.status != 200 {
			t.Fatalf("%s: status %d: %s", tc.path, res.status, res.body)
		}
		got := decode[handlers.MonthlyCounts](t, res)
		if text := jsonText(t, got.Months); text != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.path, text, tc.want)
		}
	}
	ranged := decode[handlers.MonthlyCounts](t, e.do("GET", "/api/v1/analytics/labels?from=2024-10-01&to=2024-10-03", ""))
	if ranged.From == nil || ranged.To == nil || ranged.From.Format(time.RFC3339Nano) != "2024-10-01T00:00:00Z" ||
		ranged.To.Format(time.RFC3339Nano) != "2024-10-03T23:59:59.999Z" {
		t.Errorf("range %v %v", ranged.From, ranged.To)
	}
	for _, q := range []string{"from=yesterday", "to=2024-13-01", "from=2024-10-02&to=2024-10-01", "label=fever"} {
		if fields := assertError(t, e.doBeyondContract("GET", "/api/v1/analytics/ailments?"+q, ""), 400, "validation_failed"); len(fields) == 0 {
			t.Errorf("%s: no field named", q)
		}
	}
}

func TestInsightsAccessAndAudit(t *testing.T) {
	e := insightsEnv(t)
	chart := []models.Role{models.RoleClinician, models.RoleViewer}
	across := []models.Role{models.RoleClinician}
	routes := []struct {
		method, path, body, action string
		allowed                    []models.Role
	}{
		{"GET", "/api/v1/interactions/f1/suggested-questions", "", "interactions.suggested-questions.read", chart},
		{"POST", "/api/v1/suggestions/questions", `{"ailment":"flu"}`, "suggestions.questions.read", across},
		{"GET", "/api/v1/patients/I1/similar", "", "patients.similar.read", across},
		{"GET", "/api/v1/analytics/cohorts", "", "analytics.cohorts.read", across},
		{"GET", "/api/v1/analytics/labels", "", "analytics.labels.read", across},
		{"GET", "/api/v1/analytics/ailments", "", "analytics.ailments.read", across},
		{"GET", "/api/v1/patients/I1/summary?format=text", "", "patients.summary.read", chart},
	}
	for _, r := range routes {
		for _, role := range models.Roles() {
			res := e.as(role).do(r.method, r.path, r.body)
			if !slices.Contains(r.allowed, role) {
				assertError(t, res, 403, "forbidden")
			} else if res.status != 200 {
				t.Errorf("%s %s as %s: %d", r.method, r.path, role, res.status)
			}
		}
		assertError(t, e.withKey("").do(r.method, r.path, r.body), 401, "unauthenticated")
	}
	count := map[string]int{}
	for _, ev := range e.auditEvents() {
		count[ev.Action+" "+fmt.Sprint(ev.Status)]++
	}
	for _, r := range routes {
		allowed, refused := len(r.allowed), len(models.Roles())-len(r.allowed)
		if count[r.action+" 200"] != allowed || count[r.action+" 403"] != refused || count[r.action+" 401"] != 0 {
			t.Errorf("%s: events %d 200, %d 403, %d 401; want %d, %d, 0", r.action,
				count[r.action+" 200"], count[r.action+" 403"], count[r.action+" 401"], allowed, refused)
		}
	}
	// The requests without a key are counted together (see TestFailedAuthenticationsAreCounted).
	e.app.AuditTick(context.Background())
	if failed := e.eventsOf(audit.UnauthenticatedAction); len(failed) != 1 || failed[0].Counts["unauthenticated"] != len(routes) {
		t.Errorf("events counting the requests without a key = %+v, want one counting %d", failed, len(routes))
	}
}

func TestInsightsOfAnEmptyStore(t *testing.T) {
	e := newEnv(t)
	cohorts := decode[handlers.Cohorts](t, e.do("GET", "/api/v1/analytics/cohorts", ""))
	if cohorts.K != 0 || cohorts.Patients != 0 || len(cohorts.Cohorts) != 0 || len(cohorts.Members.Items) != 0 || cohorts.Members.NextCursor != nil {
		t.Errorf("cohorts of nobody: %+v", cohorts)
	}
	if got := decode[handlers.MonthlyCounts](t, e.do("GET", "/api/v1/analytics/labels", "")); len(got.Months) != 0 {
		t.Errorf("labels of nothing: %+v", got)
	}
	got := decode[handlers.QuestionSuggestions](t, e.do("POST", "/api/v1/suggestions/questions", `{"labels":["fever"]}`))
	if got.SimilarVisits != 0 || len(got.Items) != 0 {
		t.Errorf("suggestions from nothing: %+v", got)
	}
	e.createPatient("ALONE")
	similar := decode[handlers.SimilarPatients](t, e.do("GET", "/api/v1/patients/ALONE/similar", ""))
	if similar.Compared != 0 || len(similar.Items) != 0 {
		t.Errorf("similar to the only patient: %+v", similar)
	}
	one := decode[handlers.Cohorts](t, e.do("GET", "/api/v1/analytics/cohorts?k=3", ""))
	if one.K != 1 || len(one.Members.Items) != 1 || one.Cohorts[0].Description == "" {
		t.Errorf("cohorts of one patient: %+v", one)
	}
}
