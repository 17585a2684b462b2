package app_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/storetest"
)

const original = `{"id":"1","insurance_no":"A11","symptoms":"dry cough","remarks":"first visit",
	"interaction_date":"2024-10-01T09:30:00Z","metrics":{"temp":37.5,"BP":"120/80"},"health_status":4,
	"label":["fever"],"ward":"3B","custom":{"a":1,"b":[true,null]}}`

// newAmendEnv returns an env holding patient A11 and interaction 1 (version 1), and
// the JSON of that version as created.
func newAmendEnv(t *testing.T) (*env, string) {
	t.Helper()
	e := newEnv(t)
	e.createPatient("A11")
	res := e.do("POST", "/api/v1/interactions", original)
	if res.status != 201 || res.header.Get("ETag") != `"1"` {
		t.Fatalf("create: %d ETag %q %s", res.status, res.header.Get("ETag"), res.body)
	}
	return e, string(res.body)
}

// patch sends a merge patch with If-Match.
func (e *env) patch(path, etag, body string) response {
	e.t.Helper()
	if etag == "" {
		return e.do("PATCH", path, body, "Content-Type", "application/merge-patch+json")
	}
	return e.do("PATCH", path, body, "Content-Type", "application/merge-patch+json", "If-Match", etag)
}

// versions lists the version numbers of a record's history, all pages, newest first.
func (e *env) versions(path string, limit int) []string {
	e.t.Helper()
	var got []string
	next := ""
	for page := 0; page < 100; page++ {
		q := fmt.Sprintf("?limit=%d", limit)
		if next != "" {
			q += "&cursor=" + url.QueryEscape(next)
		}
		body := e.mustDo(200, "GET", path+q, "")
		for _, it := range body["items"].([]any) {
			got = append(got, jsonText(e.t, it.(map[string]any)["version"]))
		}
		next, _ = body["next_cursor"].(string)
		if next == "" {
			return got
		}
	}
	e.t.Fatal("history does not end")
	return nil
}

func TestAmendInteraction(t *testing.T) {
	e, v1 := newAmendEnv(t)

	t.Run("If-Match is required", func(t *testing.T) {
		assertError(t, e.patch("/api/v1/interactions/1", "", `{"remarks":"x"}`), 428, "precondition_required")
	})
	t.Run("If-Match must be an entity tag", func(t *testing.T) {
		for _, bad := range []string{`1`, `'1'`, `"1`, `W/1`, `"1", 2`} {
			fields := assertError(t, e.patch("/api/v1/interactions/1", bad, `{"remarks":"x"}`), 400, "validation_failed")
			if msg, _ := fields["If-Match"].(string); !strings.Contains(msg, `"2"`) {
				t.Errorf("If-Match %s: fields %v, want a message showing the quotes", bad, fields)
			}
		}
	})
	t.Run("If-Match: * names no version and is refused", func(t *testing.T) {
		assertError(t, e.patch("/api/v1/interactions/1", `*`, `{"remarks":"x"}`), 428, "precondition_required")
		assertError(t, e.do("DELETE", "/api/v1/interactions/1?reason=x", "", "If-Match", "*"), 428, "precondition_required")
	})
	t.Run("If-Match takes exactly one ETag", func(t *testing.T) {
		// A list naming the current version among others would pass whatever the
		// version is: a blind overwrite under another spelling.
		for _, list := range []string{`"1", "2"`, `"1", "2", "3", "4", "5"`, `W/"1", "1"`, `"1","1"`} {
			for _, res := range []response{
				e.patch("/api/v1/interactions/1", list, `{"remarks":"x"}`),
				e.do("DELETE", "/api/v1/interactions/1?reason=x", "", "If-Match", list),
				e.patch("/api/v1/patients/A11", list, `{"age":31}`),
			} {
				fields := assertError(t, res, 400, "malformed_request")
				if _, ok := fields["If-Match"]; !ok {
					t.Errorf("If-Match %s: fields %v, want If-Match named", list, fields)
				}
			}
		}
		if got := e.mustDo(200, "GET", "/api/v1/interactions/1", ""); got["version"] != 1.0 || got["remarks"] != "first visit" {
			t.Errorf("the interaction changed: %v", got)
		}
		if got := e.mustDo(200, "GET", "/api/v1/patients/A11", ""); got["version"] != 1.0 || got["age"] != nil {
			t.Errorf("the patient changed: %v", got)
		}
	})
	t.Run("a stale ETag is refused", func(t *testing.T) {
		assertError(t, e.patch("/api/v1/interactions/1", `"7"`, `{"remarks":"x"}`), 412, "precondition_failed")
		assertError(t, e.patch("/api/v1/interactions/1", `W/"1"`, `{"remarks":"x"}`), 412, "precondition_failed")
	})
	for _, tc := range []struct{ name, patch, field string }{
		{"id is immutable", `{"id":"2"}`, "id"},
		{"insurance_no is immutable", `{"insurance_no":"B11"}`, "insurance_no"},
		{"insurance_no cannot be removed", `{"insurance_no":null}`, "insurance_no"},
		{"interaction_date cannot be removed", `{"interaction_date":null}`, "interaction_date"},
		{"the result is validated", `{"health_status":11}`, "health_status"},
		{"nested values are validated", `{"next_steps":{"next_visit":"soon"}}`, "next_steps.next_visit"},
		{"server fields are read-only", `{"version":5}`, "version"},
		{"operators are refused", `{"metrics":{"$set":1}}`, "metrics.$set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fields := assertError(t, e.patch("/api/v1/interactions/1", `"1"`, tc.patch), 400, "validation_failed")
			if _, ok := fields[tc.field]; !ok {
				t.Errorf("fields = %v, want %q", fields, tc.field)
			}
		})
	}
	if got := e.do("GET", "/api/v1/interactions/1", ""); string(got.body) != v1 {
		t.Fatalf("refused patches changed the record:\n%s\nwant\n%s", got.body, v1)
	}

	res := e.patch("/api/v1/interactions/1?reason="+url.QueryEscape("temperature misread"), `"1"`,
		`{"remarks":null,"metrics":{"temp":38.5,"SpO2":97},"custom":{"b":null},"ward":null,"label":["fever","cold"]}`)
	if res.status != 200 {
		t.Fatalf("patch: %d %s", res.status, res.body)
	}
	if res.header.Get("ETag") != `"2"` {
		t.Errorf("ETag = %q, want \"2\"", res.header.Get("ETag"))
	}
	v2 := res.json(t)
	for field, want := range map[string]string{
		"version":          `2`,
		"amendment_reason": `"temperature misread"`,
		"metrics":          `{"BP":"120/80","SpO2":97,"temp":38.5}`,
		"custom":           `{"a":1}`,
		"label":            `["fever","cold"]`,
		"symptoms":         `"dry cough"`,
		"remarks":          `null`,
		"ward":             `null`,
	} {
		if got := jsonText(t, v2[field]); got != want {
			t.Errorf("%s = %s, want %s", field, got, want)
		}
	}
	first := mustJSON(t, v1)
	if v2["created_at"] != first["created_at"] || v2["updated_at"] == first["updated_at"] {
		t.Errorf("created_at %v→%v, updated_at %v→%v", first["created_at"], v2["created_at"], first["updated_at"], v2["updated_at"])
	}

	t.Run("the previous version is kept intact", func(t *testing.T) {
		got := e.do("GET", "/api/v1/interactions/1/history/1", "")
		if got.status != 200 || string(got.body) != v1 {
			t.Errorf("version 1 = %d\n%s\nwant\n%s", got.status, got.body, v1)
		}
		if got.header.Get("ETag") != `"1"` {
			t.Errorf("ETag = %q", got.header.Get("ETag"))
		}
		cur := e.do("GET", "/api/v1/interactions/1/history/2", "")
		if cur.status != 200 || jsonText(t, cur.json(t)) != jsonText(t, v2) {
			t.Errorf("version 2 = %d %s", cur.status, cur.body)
		}
		if got := strings.Join(e.versions("/api/v1/interactions/1/history", 20), " "); got != "2 1" {
			t.Errorf("history versions = %q, want \"2 1\"", got)
		}
		assertError(t, e.do("GET", "/api/v1/interactions/1/history/3", ""), 404, "not_found")
		assertError(t, e.do("GET", "/api/v1/interactions/1/history/0", ""), 400, "validation_failed")
		assertError(t, e.do("GET", "/api/v1/interactions/1/history/x", ""), 400, "validation_failed")
		assertError(t, e.do("GET", "/api/v1/interactions/nope/history", ""), 404, "not_found")
		assertError(t, e.do("GET", "/api/v1/interactions/1/history?limit=0", ""), 400, "validation_failed")
		assertError(t, e.do("GET", "/api/v1/interactions/1/history?cursor=zz", ""), 400, "validation_failed")
	})
	t.Run("If-None-Match", func(t *testing.T) {
		for _, tc := range []struct {
			tag    string
			status int
		}{{`"2"`, 304}, {`W/"2"`, 304}, {`"1", "2"`, 304}, {`*`, 304}, {`"1"`, 200}} {
			res := e.do("GET", "/api/v1/interactions/1", "", "If-None-Match", tc.tag)
			if res.status != tc.status {
				t.Errorf("If-None-Match %s: %d, want %d", tc.tag, res.status, tc.status)
			}
			if tc.status == 304 && len(res.body) != 0 {
				t.Errorf("304 with a body: %s", res.body)
			}
		}
	})
	t.Run("the old ETag no longer matches", func(t *testing.T) {
		assertError(t, e.patch("/api/v1/interactions/1", `"1"`, `{"remarks":"x"}`), 412, "precondition_failed")
	})
	t.Run("plain JSON is accepted too", func(t *testing.T) {
		res := e.do("PATCH", "/api/v1/interactions/1", `{"remarks":"again"}`, "If-Match", `"2"`)
		if res.status != 200 || res.header.Get("ETag") != `"3"` {
			t.Errorf("patch: %d %q %s", res.status, res.header.Get("ETag"), res.body)
		}
	})
	t.Run("unknown interaction", func(t *testing.T) {
		assertError(t, e.patch("/api/v1/interactions/nope", `"1"`, `{"remarks":"x"}`), 404, "not_found")
	})
	t.Run("bad reason parameter", func(t *testing.T) {
		assertError(t, e.patch("/api/v1/interactions/1?why=x", `"3"`, `{}`), 400, "validation_failed")
		assertError(t, e.patch("/api/v1/interactions/1?reason="+strings.Repeat("r", 1001), `"3"`, `{}`), 400, "validation_failed")
	})
}

func TestAmendPatient(t *testing.T) {
	e := newEnv(t)
	created := e.do("POST", "/api/v1/patients", `{"insurance_no":"A11","fname":"Vernon","age":30,"habits":["smoking"],"allergies":"none"}`)
	if created.status != 201 || created.header.Get("ETag") != `"1"` {
		t.Fatalf("create: %d %q", created.status, created.header.Get("ETag"))
	}
	assertError(t, e.patch("/api/v1/patients/A11", "", `{"age":31}`), 428, "precondition_required")
	assertError(t, e.patch("/api/v1/patients/A11", `"2"`, `{"age":31}`), 412, "precondition_failed")
	assertError(t, e.patch("/api/v1/patients/A11", `"1"`, `{"insurance_no":"B11"}`), 400, "validation_failed")
	assertError(t, e.patch("/api/v1/patients/A11", `"1"`, `{"blood_type":"Q"}`), 400, "validation_failed")
	assertError(t, e.patch("/api/v1/patients/Z99", `"1"`, `{"age":31}`), 404, "not_found")

	res := e.patch("/api/v1/patients/A11?reason=birthday", `"1"`, `{"age":31,"habits":null,"allergies":"penicillin"}`)
	if res.status != 200 || res.header.Get("ETag") != `"2"` {
		t.Fatalf("patch: %d %q %s", res.status, res.header.Get("ETag"), res.body)
	}
	got := e.mustDo(200, "GET", "/api/v1/patients/A11", "")
	for field, want := range map[string]string{"age": "31", "habits": "null", "allergies": `"penicillin"`, "version": "2", "amendment_reason": `"birthday"`, "fname": `"Vernon"`} {
		if g := jsonText(t, got[field]); g != want {
			t.Errorf("%s = %s, want %s", field, g, want)
		}
	}
	if v1 := e.do("GET", "/api/v1/patients/A11/history/1", ""); v1.status != 200 || string(v1.body) != string(created.body) {
		t.Errorf("version 1 = %d %s, want %s", v1.status, v1.body, created.body)
	}
	if v := strings.Join(e.versions("/api/v1/patients/A11/history", 1), " "); v != "2 1" {
		t.Errorf("history = %q", v)
	}
	if res := e.do("GET", "/api/v1/patients/A11", "", "If-None-Match", `"2"`); res.status != 304 {
		t.Errorf("If-None-Match: %d", res.status)
	}
	assertError(t, e.do("GET", "/api/v1/patients/A11/history/3", ""), 404, "not_found")
}

func TestEnteredInError(t *testing.T) {
	e, v1 := newAmendEnv(t)
	e.mustDo(201, "POST", "/api/v1/interactions", `{"id":"2","insurance_no":"A11","interaction_date":"2024-09-01","label":["fever"]}`)

	assertError(t, e.do("DELETE", "/api/v1/interactions/1?reason=dup", ""), 428, "precondition_required")
	assertError(t, e.do("DELETE", "/api/v1/interactions/1", "", "If-Match", `"1"`), 400, "validation_failed")
	assertError(t, e.do("DELETE", "/api/v1/interactions/1?reason=%20", "", "If-Match", `"1"`), 400, "validation_failed")
	assertError(t, e.do("DELETE", "/api/v1/interactions/1?reason=dup", "", "If-Match", `"9"`), 412, "precondition_failed")
	assertError(t, e.do("DELETE", "/api/v1/interactions/1?reason=a", `{"reason":"b"}`, "If-Match", `"1"`), 400, "validation_failed")
	assertError(t, e.do("DELETE", "/api/v1/interactions/1", `{"why":"b"}`, "If-Match", `"1"`), 400, "validation_failed")

	res := e.do("DELETE", "/api/v1/interactions/1", `{"reason":"recorded for the wrong patient"}`, "If-Match", `"1"`)
	if res.status != 200 || res.header.Get("ETag") != `"2"` {
		t.Fatalf("delete: %d %q %s", res.status, res.header.Get("ETag"), res.body)
	}
	marked := res.json(t)
	if marked["status"] != "entered-in-error" || marked["amendment_reason"] != "recorded for the wrong patient" {
		t.Errorf("marked = %v", marked)
	}

	gone := assertError(t, e.do("GET", "/api/v1/interactions/1", ""), 410, "entered_in_error")
	if gone["status"] != "entered-in-error" || gone["reason"] != "recorded for the wrong patient" {
		t.Errorf("410 fields = %v", gone)
	}
	assertError(t, e.patch("/api/v1/interactions/1", `"2"`, `{"remarks":"x"}`), 410, "entered_in_error")
	assertError(t, e.do("DELETE", "/api/v1/interactions/1?reason=again", "", "If-Match", `"2"`), 410, "entered_in_error")

	for _, tc := range []struct{ query, want string }{
		{"", "2"},
		{"?label=fever", "2"},
		{"?include=entered-in-error", "1 2"},
		{"?include=entered-in-error&label=fever", "1 2"},
	} {
		ids, _ := historyIDs(t, e, "/api/v1/patients/A11/interactions"+tc.query)
		if got := strings.Join(ids, " "); got != tc.want {
			t.Errorf("list%s = %q, want %q", tc.query, got, tc.want)
		}
	}
	assertError(t, e.do("GET", "/api/v1/patients/A11/interactions?include=all", ""), 400, "validation_failed")

	if got := strings.Join(e.versions("/api/v1/interactions/1/history", 20), " "); got != "2 1" {
		t.Errorf("history = %q", got)
	}
	if got := e.do("GET", "/api/v1/interactions/1/history/1", ""); string(got.body) != v1 {
		t.Errorf("version 1 after marking = %s", got.body)
	}
	if n := e.count("interactions"); n != 2 {
		t.Errorf("%d interactions stored, want 2: nothing is removed", n)
	}
}

func TestVersionHistoryPagination(t *testing.T) {
	e, _ := newAmendEnv(t)
	for v := 1; v <= 24; v++ {
		res := e.patch("/api/v1/interactions/1", fmt.Sprintf(`"%d"`, v), fmt.Sprintf(`{"health_status":%d}`, v%10+1))
		if res.status != 200 {
			t.Fatalf("amendment %d: %d %s", v, res.status, res.body)
		}
	}
	var want []string
	for v := 25; v >= 1; v-- {
		want = append(want, fmt.Sprint(v))
	}
	for _, limit := range []int{1, 7, 25, 100} {
		if got := e.versions("/api/v1/interactions/1/history", limit); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("limit %d: %v", limit, got)
		}
	}
	page := e.mustDo(200, "GET", "/api/v1/interactions/1/history", "")
	if n := len(page["items"].([]any)); n != 20 {
		t.Errorf("default page holds %d versions, want 20", n)
	}
	t.Run("a cursor serves only its own record", func(t *testing.T) {
		e.mustDo(201, "POST", "/api/v1/interactions", `{"id":"2","insurance_no":"A11"}`)
		cursor := url.QueryEscape(page["next_cursor"].(string))
		assertError(t, e.do("GET", "/api/v1/interactions/2/history?cursor="+cursor, ""), 400, "validation_failed")
		assertError(t, e.do("GET", "/api/v1/patients/A11/history?cursor="+cursor, ""), 400, "validation_failed")
	})
}

func mustJSON(t *testing.T, s string) map[string]any {
	t.Helper()
	return response{body: []byte(s)}.json(t)
}

// TestProvenanceAndAuthorship checks that source is the server's to set, never a
// client's, and that every version names who made it: the API key and the request,
// the original author of an amendment another writer completed included.
func TestProvenanceAndAuthorship(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/api/v1/interactions", `{"insurance_no":"A11","source":{"system":"fhir","encounter":"e1"}}`},
		{"POST", "/api/v1/patients", `{"insurance_no":"B11","source":{"system":"fhir","patient":"p1"}}`},
		{"POST", "/api/v1/interactions", `{"insurance_no":"A11","recorded_by":{"key":"someone-else"}}`},
	} {
		fields := assertError(t, e.do(tc.method, tc.path, tc.body), 400, "validation_failed")
		if fields["source"] == nil && fields["recorded_by"] == nil {
			t.Errorf("%s: fields %v", tc.body, fields)
		}
	}

	res := e.do("POST", "/api/v1/interactions", `{"id":"1","insurance_no":"A11","remarks":"first"}`)
	created := res.json(t)
	if by, _ := created["recorded_by"].(map[string]any); by["key"] != "test-clinician" || by["request_id"] != res.header.Get("X-Request-Id") {
		t.Errorf("recorded_by = %v, want the clinician's key and the request's id %s", created["recorded_by"], res.header.Get("X-Request-Id"))
	}
	// An import's record: its source is kept through amendments, and cannot be changed.
	imported := `{"id":"2","insurance_no":"A11","remarks":"imported"}`
	in, err := models.NewInteraction(mustDoc(t, imported), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	in.Source = bson.D{{Key: "system", Value: "fhir"}, {Key: "encounter", Value: "e2"}}
	if err := e.repo.CreateInteraction(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	for _, patch := range []string{`{"source":null}`, `{"source":{"system":"other"}}`} {
		assertError(t, e.patch("/api/v1/interactions/2", `"1"`, patch), 400, "validation_failed")
	}
	amended := e.patch("/api/v1/interactions/2", `"1"`, `{"remarks":"amended"}`).json(t)
	if src, _ := amended["source"].(map[string]any); src["system"] != "fhir" || src["encounter"] != "e2" {
		t.Errorf("source after an amendment = %v", amended["source"])
	}

	// dr-one's amendment is left half done; the clinician's of the same version
	// completes it: version 2 stays dr-one's, and the clinician is told.
	if err := e.interruptedAmendBy("dr-one", "1", `{"remarks":"by dr-one"}`, "", storetest.BeforeCommit); !errors.Is(err, storetest.ErrInterrupted) {
		t.Fatal(err)
	}
	assertError(t, e.patch("/api/v1/interactions/1", `"1"`, `{"remarks":"by the clinician"}`), 412, "precondition_failed")
	v2 := e.mustDo(200, "GET", "/api/v1/interactions/1/history/2", "")
	if by, _ := v2["recorded_by"].(map[string]any); by["key"] != "dr-one" || v2["remarks"] != "by dr-one" {
		t.Errorf("version 2 = %v, want dr-one's", v2)
	}
	v3 := e.patch("/api/v1/interactions/1", `"2"`, `{"remarks":"by the clinician"}`).json(t)
	if by, _ := v3["recorded_by"].(map[string]any); by["key"] != "test-clinician" {
		t.Errorf("version 3 recorded_by = %v", v3["recorded_by"])
	}
	if v1 := e.mustDo(200, "GET", "/api/v1/interactions/1/history/1", ""); jsonText(t, v1["recorded_by"]) != jsonText(t, created["recorded_by"]) {
		t.Errorf("version 1 recorded_by = %v, want %v", v1["recorded_by"], created["recorded_by"])
	}
}

func mustDoc(t *testing.T, s string) bson.D {
	t.Helper()
	d, err := models.ParseDocument([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return d
}
