package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/report"
	"github.com/clinic/interactions/summary"
)

func init() {
	// The report answers text/html, which kin-openapi does not read by itself: read
	// it as a string, as it reads text/plain, so that checkContract checks it too.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
}

// chartVisits are the visits of patient S1: four valid ones, one with a
// temperature that cannot be read, and s-4, which chartEnv marks entered-in-error.
var chartVisits = []string{
	`{"id":"s-1","insurance_no":"S1","ailment":"Influenza","interaction_date":"2024-09-01T09:00:00Z",
	  "metrics":{"temp":38.9,"BP":"130/85","HR":96,"ECG":"Normal"},"health_status":3,
	  "next_steps":{"prescribed_meds":["Oseltamivir 75mg"],"prescribed_tests":["CRP"]},"label":["fever","respiratory"]}`,
	`{"id":"s-2","insurance_no":"S1","interaction_date":"2024-09-15T09:00:00Z",
	  "metrics":{"temp":"37.9 C","BP":"125/82","heart_rate":"88 bpm","weight":"150 lb"},"health_status":5,
	  "next_steps":{"prescribed_meds":["oseltamivir  75MG","Paracetamol 500mg"]},"label":["fever"]}`,
	`{"id":"s-5","insurance_no":"S1","interaction_date":"2024-09-20T09:00:00Z","metrics":{"temp":"38,2"},"label":["fever"]}`,
	`{"id":"s-3","insurance_no":"S1","ailment":"Influenza","interaction_date":"2024-10-01T09:00:00Z",
	  "metrics":{"temp":37.0,"BP":"120/80","HR":72,"SpO2":98,"weight":68.5,"units":{"weight":"kg","SpO2":"%"}},"health_status":7,
	  "next_steps":{"next_visit":"2099-01-15","prescribed_tests":["Chest X-ray","CRP"]},"label":["respiratory"]}`,
	`{"id":"s-4","insurance_no":"S1","ailment":"Recorded for the wrong patient","interaction_date":"2024-10-05T09:00:00Z",
	  "metrics":{"temp":"warm"},"label":["error"]}`,
}

// chartEnv returns an env holding patient S1 and chartVisits.
func chartEnv(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	e.mustDo(201, "POST", "/api/v1/patients", `{"insurance_no":"S1","fname":"Ada","lname":"Byron","age":36,"sex":"F",
	  "blood_type":"O-","pre_existing_conditions":["Asthma"],"pre_existing_medications":["Salbutamol 100mcg"]}`)
	for _, v := range chartVisits {
		e.mustDo(201, "POST", "/api/v1/interactions", v)
	}
	if res := e.do("DELETE", "/api/v1/interactions/s-4?reason=wrong%20patient", "", "If-Match", `"1"`); res.status != 200 {
		t.Fatalf("mark s-4 entered-in-error: %d %s", res.status, res.body)
	}
	return e
}

func TestSummaryRoute(t *testing.T) {
	e := chartEnv(t)
	res := e.as(models.RoleViewer).do("GET", "/api/v1/patients/S1/summary", "")
	if res.status != 200 {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	var s summary.Summary
	if err := json.Unmarshal(res.body, &s); err != nil {
		t.Fatal(err)
	}
	if time.Since(s.AsOf).Abs() > time.Minute {
		t.Errorf("as_of %v is not now", s.AsOf)
	}
	checks := []struct {
		name string
		got  any
		want string
	}{
		{"patient", s.Patient, `{"insurance_no":"S1","fname":"Ada","lname":"Byron","age":36,"sex":"F","blood_type":"O-"}`},
		{"visits, s-4 left out", s.Visits, `{"count":4,"first":"2024-09-01T09:00:00Z","last":"2024-10-01T09:00:00Z"}`},
		{"labels", s.Labels, `[{"name":"fever","count":3},{"name":"respiratory","count":2}]`},
		{"ailments", s.Ailments, `[{"name":"Influenza","count":2}]`},
		{"pre-existing", []any{s.PreExistingConditions, s.PreExistingMedications}, `[["Asthma"],["Salbutamol 100mcg"]]`},
		{"current medications", s.CurrentMedications,
			`[{"name":"Paracetamol 500mg","first_prescribed":"2024-09-15T09:00:00Z","last_prescribed":"2024-09-15T09:00:00Z","times_prescribed":1},` +
				`{"name":"oseltamivir 75MG","first_prescribed":"2024-09-01T09:00:00Z","last_prescribed":"2024-09-15T09:00:00Z","times_prescribed":2}]`},
		{"pending tests", s.PendingTests,
			`[{"name":"Chest X-ray","ordered_at":"2024-10-01T09:00:00Z","interaction_id":"s-3"},{"name":"CRP","ordered_at":"2024-10-01T09:00:00Z","interaction_id":"s-3"}]`},
		{"next visit", s.NextVisit, `{"date":"2099-01-15T00:00:00Z","set_at":"2024-10-01T09:00:00Z","interaction_id":"s-3","status":"scheduled"}`},
		{"health status", s.HealthStatus,
			`{"metric":"health_status","unit":"","points":[{"date":"2024-09-01T09:00:00Z","value":3,"interaction_id":"s-1"},` +
				`{"date":"2024-09-15T09:00:00Z","value":5,"interaction_id":"s-2"},{"date":"2024-10-01T09:00:00Z","value":7,"interaction_id":"s-3"}],` +
				`"trend":{"slope_per_30_days":3.9941,"direction":"rising","dead_band":0.1}}`},
		{"unparseable", s.Vitals.Unparseable,
			`[{"date":"2024-09-20T09:00:00Z","interaction_id":"s-5","metric":"temp","value":"38,2","reason":"not a number (a number, or a number and a unit such as \"38.5 °C\")"}]`},
	}
	for _, c := range checks {
		if got := jsonText(t, c.got); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
	series := map[string]string{}
	for _, v := range s.Vitals.Series {
		var values []float64
		for _, p := range v.Points {
			values = append(values, p.Value)
		}
		trend := "none"
		if v.Trend != nil {
			trend = v.Trend.Direction
		}
		series[v.Metric] = v.Unit + " " + jsonText(t, values) + " " + trend
	}
	for metric, want := range map[string]string{
		"temperature":  "°C [38.9,37.9,37] falling",
		"systolic_bp":  "mmHg [130,125,120] falling",
		"diastolic_bp": "mmHg [85,82,80] falling",
		"heart_rate":   "/min [96,88,72] falling",
		"spo2":         "% [98] none",
		"weight":       "kg [68.04,68.5] none",
	} {
		if series[metric] != want {
			t.Errorf("series %s = %q, want %q", metric, series[metric], want)
		}
	}
	if len(series) != 6 {
		t.Errorf("series %v, want 6", series)
	}
	latest := map[string]string{}
	for _, l := range s.Vitals.Latest {
		latest[l.Metric] = l.InteractionID + " " + jsonText(t, l.Value)
	}
	if jsonText(t, latest) != `{"blood_pressure":"s-3 \"120/80\"","ecg":"s-1 \"Normal\"","heart_rate":"s-3 72","spo2":"s-3 98","temperature":"s-3 37","weight":"s-3 68.5"}` {
		t.Errorf("latest %s", jsonText(t, latest))
	}
}

func TestSummaryAndReportRefusals(t *testing.T) {
	e := chartEnv(t)
	for _, route := range []string{"summary", "report"} {
		t.Run(route, func(t *testing.T) {
			assertError(t, e.do("GET", "/api/v1/patients/NOPE/"+route, ""), 404, "patient_not_found")
			assertError(t, e.do("GET", "/api/v1/patients/S1/"+route+"?visits=10", ""), 400, "validation_failed")
			assertError(t, e.as(models.RoleAuditor).do("GET", "/api/v1/patients/S1/"+route, ""), 403, "forbidden")
			assertError(t, e.as(models.RoleAdmin).do("GET", "/api/v1/patients/S1/"+route, ""), 403, "forbidden")
			assertError(t, e.withKey("").do("GET", "/api/v1/patients/S1/"+route, ""), 401, "unauthenticated")
			if res := e.do("GET", "/api/v1/patients/S1/"+route, ""); res.status != 200 {
				t.Errorf("a clinician: %d", res.status)
			}
		})
	}
	// Every request is audited, under an action named for its route; those without a
	// key are counted together (see TestFailedAuthenticationsAreCounted).
	want := map[string]int{}
	for _, ev := range e.auditEvents() {
		if strings.HasSuffix(ev.Route, "/summary") || strings.HasSuffix(ev.Route, "/report") {
			want[ev.Action+" "+ev.InsuranceNo+" "+jsonText(t, ev.Status)]++
		}
	}
	for _, action := range []string{"patients.summary.read", "patients.report.read"} {
		for _, key := range []string{action + " S1 200", action + " NOPE 404", action + " S1 400", action + " S1 403"} {
			if want[key] == 0 {
				t.Errorf("no audit event %q in %v", key, want)
			}
		}
	}
	e.app.AuditTick(context.Background())
	if failed := e.eventsOf(audit.UnauthenticatedAction); len(failed) != 1 || failed[0].Counts["unauthenticated"] != 2 {
		t.Errorf("events counting the requests without a key = %+v, want one counting 2", failed)
	}
}

func TestReportRoute(t *testing.T) {
	e := chartEnv(t)
	res := e.as(models.RoleViewer).do("GET", "/api/v1/patients/S1/report", "")
	if res.status != 200 {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	if ct := res.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if csp := res.header.Get("Content-Security-Policy"); csp != report.ContentSecurityPolicy() {
		t.Errorf("Content-Security-Policy %q, want the report's %q", csp, report.ContentSecurityPolicy())
	}
	for name, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Cache-Control": "no-store"} {
		if got := res.header.Get(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	page := string(res.body)
	for _, want := range []string{"<h1>Ada Byron</h1>", "<td>Paracetamol 500mg</td>", "<td>Chest X-ray</td>", "15 Jan 2099, scheduled",
		"<b>Weight</b> (kg): 2 readings", "<td>temp</td><td>38,2</td>"} {
		if !strings.Contains(page, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if strings.Contains(page, "wrong patient") || strings.Contains(page, "warm") {
		t.Error("the report shows the visit entered in error")
	}
	// Health status and the six vital series, and the visits' timeline.
	if n := strings.Count(page, "<svg "); n != 8 {
		t.Errorf("%d SVG elements, want 8", n)
	}
	if strings.Contains(strings.ToLower(page), "<script") {
		t.Error("the report holds a script")
	}
	// Other answers keep the policy that forbids everything.
	if csp := e.do("GET", "/api/v1/patients/S1/summary", "").header.Get("Content-Security-Policy"); csp != "default-src 'none'; frame-ancestors 'none'" {
		t.Errorf("the summary's Content-Security-Policy %q", csp)
	}
}

// TestReportEscapesThroughTheAPI records hostile values through the API and checks
// that the report shows them as text.
func TestReportEscapesThroughTheAPI(t *testing.T) {
	e := newEnv(t)
	e.mustDo(201, "POST", "/api/v1/patients", `{"insurance_no":"H1","fname":"<script>alert(1)</script>","lname":"O'Brien \"Jr\""}`)
	for i, date := range []string{"2024-09-01", "2024-09-15", "2024-10-01"} {
		e.mustDo(201, "POST", "/api/v1/interactions", `{"insurance_no":"H1","interaction_date":"`+date+`",
		  "ailment":"<script>alert(1)</script>","label":["\"quoted\" 'label'"],
		  "metrics":{"\"><img src=x>":`+string(rune('5'+i))+`,"units":{"\"><img src=x>":"</text><script>alert(2)</script>"}},
		  "next_steps":{"prescribed_meds":["<img src=x onerror=alert(3)>"]}}`)
	}
	res := e.do("GET", "/api/v1/patients/H1/report", "")
	if res.status != 200 {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	page := string(res.body)
	for _, raw := range []string{"<script", "<img", `"quoted"`, "'label'", `O'Brien`} {
		if strings.Contains(page, raw) {
			t.Errorf("the report holds %q unescaped", raw)
		}
	}
	for _, escaped := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&#34;quoted&#34; &#39;label&#39;",
		"&#34;&gt;&lt;img_src=x&gt;", "&lt;/text&gt;&lt;script&gt;alert(2)&lt;/script&gt;", "&lt;img src=x onerror=alert(3)&gt;",
		"O&#39;Brien &#34;Jr&#34;"} {
		if !strings.Contains(page, escaped) {
			t.Errorf("the report lacks %q", escaped)
		}
	}
}

// TestSummaryAndReportOfAnUnchangedChart asks for the summary and the report of a
// chart again and again: while the chart does not change, each answer is the first
// one, sent again, under the same ETag, and a request naming that ETag is answered
// 304, audited as disclosing the patient; a new visit, an amendment, an
// entered-in-error and an amended patient record each change the ETag and the
// answer; another patient's changes change neither; nor does a day, but for the
// next day.
func TestSummaryAndReportOfAnUnchangedChart(t *testing.T) {
	var now atomic.Pointer[time.Time]
	start := time.Now()
	now.Store(&start)
	e := newEnvWithConfig(t, app.ServerConfig{RequestTimeout: 10 * time.Second, Now: func() time.Time { return *now.Load() }})
	for _, p := range []string{`{"insurance_no":"S1","age":36,"sex":"F"}`, `{"insurance_no":"S2","age":50}`} {
		e.mustDo(201, "POST", "/api/v1/patients", p)
	}
	for i, no := range []string{"S1", "S1", "S2"} {
		e.mustDo(201, "POST", "/api/v1/interactions", fmt.Sprintf(`{"id":"u-%d","insurance_no":%q,"ailment":"Influenza",
		  "interaction_date":"2024-09-0%dT09:00:00Z","metrics":{"temp":38.%d},"label":["fever"]}`, i, no, i+1, i))
	}
	for _, path := range []string{"/api/v1/patients/S1/summary", "/api/v1/patients/S1/summary?format=text", "/api/v1/patients/S1/report"} {
		t.Run(path, func(t *testing.T) {
			first := e.as(models.RoleViewer).do("GET", path, "")
			tag := first.header.Get("ETag")
			if first.status != 200 || !strings.HasPrefix(tag, `W/"`) {
				t.Fatalf("first: %d, ETag %q", first.status, tag)
			}
			later := start.Add(time.Minute)
			now.Store(&later)
			again := e.do("GET", path, "")
			if again.status != 200 || again.header.Get("ETag") != tag || string(again.body) != string(first.body) {
				t.Errorf("again: %d, ETag %q; the same body: %v", again.status, again.header.Get("ETag"), string(again.body) == string(first.body))
			}
			for _, held := range []string{tag, strings.TrimPrefix(tag, "W/"), `"other", ` + tag} {
				res := e.as(models.RoleViewer).do("GET", path, "", "If-None-Match", held)
				if res.status != 304 || len(res.body) != 0 || res.header.Get("ETag") != tag {
					t.Errorf("If-None-Match %s: %d, ETag %q, %d bytes", held, res.status, res.header.Get("ETag"), len(res.body))
				}
			}
			if res := e.do("GET", path, "", "If-None-Match", `W/"other"`); res.status != 200 {
				t.Errorf("If-None-Match naming another ETag: %d", res.status)
			}
			assertError(t, e.do("GET", strings.Replace(path, "S1", "NOPE", 1), "", "If-None-Match", "*"), 404, "patient_not_found")
			audited := false
			for _, ev := range e.auditEvents() {
				route, _, _ := strings.Cut(path, "?")
				if ev.Status == 304 && ev.KeyName == "test-viewer" && strings.ReplaceAll(ev.Route, ":insurance_no", "S1") == route {
					audited = ev.InsuranceNo == "S1" && slices.Equal(ev.Patients, []string{"S1"})
				}
			}
			if !audited {
				t.Error("no audit event of a 304 that disclosed S1")
			}
			now.Store(&start)
		})
	}
	tags := map[string]string{}
	step := func(name string) {
		t.Helper()
		res := e.do("GET", "/api/v1/patients/S1/summary", "")
		tag := res.header.Get("ETag")
		if res.status != 200 || tag == "" {
			t.Fatalf("%s: %d, ETag %q", name, res.status, tag)
		}
		for before, at := range tags {
			if at == tag {
				t.Errorf("%s: the ETag is the one after %s", name, before)
			}
		}
		tags[name] = tag
	}
	step("the first visits")
	e.mustDo(201, "POST", "/api/v1/interactions", `{"id":"u-9","insurance_no":"S1","interaction_date":"2024-10-01T09:00:00Z","label":[]}`)
	step("a new visit")
	e.changeInteraction("PATCH", "u-0", "typo", `{"ailment":"Common cold"}`)
	step("an amendment")
	e.changeInteraction("DELETE", "u-1", "wrong patient", "")
	step("an entered-in-error")
	if res := e.do("PATCH", "/api/v1/patients/S1?reason=typo", `{"age":37}`, "If-Match", `"1"`,
		"Content-Type", "application/merge-patch+json"); res.status != 200 {
		t.Fatalf("amend S1: %d %s", res.status, res.body)
	}
	step("an amended patient")
	last := tags["an amended patient"]
	e.changeInteraction("PATCH", "u-2", "typo", `{"ailment":"Common cold"}`)
	e.mustDo(201, "POST", "/api/v1/interactions", `{"id":"u-10","insurance_no":"S2","interaction_date":"2024-10-01T09:00:00Z","label":[]}`)
	if res := e.do("GET", "/api/v1/patients/S1/summary", "", "If-None-Match", last); res.status != 304 {
		t.Errorf("after changes of another chart: %d", res.status)
	}
	tomorrow := start.Add(24 * time.Hour)
	now.Store(&tomorrow)
	step("a day")
}
