package app_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/records"
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

// interruptedAmend makes the amendment patch (with reason) of interaction id from
// version 1 as a writer that stops at step would: another process that crashed
// there, or whose store failed. It returns the writer's error.
func (e *env) interruptedAmend(id, patch, reason string, step storetest.Step) error {
	e.t.Helper()
	return e.interruptedAmendBy("test-clinician", id, patch, reason, step)
}

// interruptedAmendBy is interruptedAmend by the holder of the API key named key.
func (e *env) interruptedAmendBy(key, id, patch, reason string, step storetest.Step) error {
	e.t.Helper()
	doc, err := models.ParseDocument([]byte(patch))
	if err != nil {
		e.t.Fatal(err)
	}
	writer := records.NewInteractions(e.repo, storetest.Interrupt(e.repo.InteractionVersions(), step), nil)
	// An earlier attempt, in a request of its own.
	ctx := models.WithAuthor(context.Background(), models.Author{Key: key, RequestID: "earlier-attempt"})
	_, err = writer.Amend(ctx, id, func(v int) bool { return v == 1 }, doc, reason)
	return err
}

// TestAmendmentInterrupted interrupts an amendment before and between each of its
// writes, as a crash or a store error would, and checks that the record and its
// history stay whole: the current version is 1 or 2, every version up to it is
// retrievable and unchanged, nothing beyond it shows, and the client's retry with the
// ETag it holds leaves the amendment made exactly once.
func TestAmendmentInterrupted(t *testing.T) {
	for _, tc := range []struct {
		step      storetest.Step
		committed bool
	}{
		{storetest.BeforeArchive, false},
		{storetest.BeforeIntent, false},
		{storetest.BeforeCommit, false},
		{storetest.AfterCommit, true},
	} {
		t.Run(string(tc.step), func(t *testing.T) {
			e, v1 := newAmendEnv(t)
			patch := `{"remarks":"amended","health_status":5}`
			if err := e.interruptedAmend("1", patch, "fix", tc.step); !errors.Is(err, storetest.ErrInterrupted) {
				t.Fatalf("interrupted amendment: %v", err)
			}

			cur := e.mustDo(200, "GET", "/api/v1/interactions/1", "")
			wantVersion, wantHistory := "1", "1"
			if tc.committed {
				wantVersion, wantHistory = "2", "2 1"
			}
			if got := jsonText(t, cur["version"]); got != wantVersion {
				t.Fatalf("current version %s, want %s", got, wantVersion)
			}
			if got := strings.Join(e.versions("/api/v1/interactions/1/history", 20), " "); got != wantHistory {
				t.Errorf("history %q, want %q", got, wantHistory)
			}
			if got := e.do("GET", "/api/v1/interactions/1/history/1", ""); string(got.body) != v1 {
				t.Errorf("version 1 changed:\n%s\nwant\n%s", got.body, v1)
			}
			if !tc.committed {
				assertError(t, e.do("GET", "/api/v1/interactions/1/history/2", ""), 404, "not_found")
			}
			ids, _ := historyIDs(t, e, "/api/v1/patients/A11/interactions")
			if len(ids) != 1 {
				t.Errorf("list holds %v", ids)
			}

			// The client retries with the ETag it holds: the amendment is made once. When
			// it was already committed the retry is told the record changed, and the
			// client finds its change there.
			retry := e.patch("/api/v1/interactions/1?reason=fix", `"1"`, patch)
			if tc.committed {
				assertError(t, retry, 412, "precondition_failed")
			} else if retry.status != 200 || retry.header.Get("ETag") != `"2"` {
				t.Fatalf("retry: %d %q %s", retry.status, retry.header.Get("ETag"), retry.body)
			}
			if got := strings.Join(e.versions("/api/v1/interactions/1/history", 20), " "); got != "2 1" {
				t.Errorf("history after the retry %q, want \"2 1\"", got)
			}
			v2 := e.mustDo(200, "GET", "/api/v1/interactions/1", "")
			if v2["remarks"] != "amended" || v2["amendment_reason"] != "fix" || jsonText(t, v2["version"]) != "2" {
				t.Errorf("current = %v", v2)
			}
			if got := e.do("GET", "/api/v1/interactions/1/history/1", ""); string(got.body) != v1 {
				t.Errorf("version 1 changed after the retry:\n%s", got.body)
			}
			// A different change made with the old ETag is refused.
			assertError(t, e.patch("/api/v1/interactions/1", `"1"`, `{"remarks":"other"}`), 412, "precondition_failed")
		})
	}
}

// TestAbandonedAmendmentIsCompleted leaves an amendment after its intent is written
// (a crashed writer), then has another client amend the version it holds: the
// abandoned change is completed rather than lost or left blocking, and the other
// client is told the record changed.
func TestAbandonedAmendmentIsCompleted(t *testing.T) {
	e, _ := newAmendEnv(t)
	if err := e.interruptedAmend("1", `{"remarks":"abandoned"}`, "", storetest.BeforeCommit); !errors.Is(err, storetest.ErrInterrupted) {
		t.Fatalf("interrupted amendment: %v", err)
	}

	assertError(t, e.patch("/api/v1/interactions/1", `"1"`, `{"remarks":"other"}`), 412, "precondition_failed")
	cur := e.do("GET", "/api/v1/interactions/1", "")
	if cur.status != 200 || cur.header.Get("ETag") != `"2"` || cur.json(t)["remarks"] != "abandoned" {
		t.Fatalf("current: %d %q %s", cur.status, cur.header.Get("ETag"), cur.body)
	}
	res := e.patch("/api/v1/interactions/1", `"2"`, `{"remarks":"other"}`)
	if res.status != 200 || res.header.Get("ETag") != `"3"` {
		t.Fatalf("amend version 2: %d %s", res.status, res.body)
	}
	if got := strings.Join(e.versions("/api/v1/interactions/1/history", 20), " "); got != "3 2 1" {
		t.Errorf("history %q", got)
	}
}

// TestConcurrentAmendments sends 50 amendments with the same ETag at once: exactly
// one wins, the others are told the record changed, and the history holds the
// original and the winner only.
func TestConcurrentAmendments(t *testing.T) {
	e, v1 := newAmendEnv(t)
	const n = 50
	results := make([]response, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			results[i] = e.patch("/api/v1/interactions/1", `"1"`, fmt.Sprintf(`{"remarks":"writer %d"}`, i))
		}(i)
	}
	close(start)
	wg.Wait()

	winner := ""
	for i, res := range results {
		switch res.status {
		case 200:
			if winner != "" {
				t.Errorf("two amendments won: %s and writer %d", winner, i)
			}
			winner = fmt.Sprintf("writer %d", i)
		case 412:
		default:
			t.Errorf("writer %d: %d %s", i, res.status, res.body)
		}
	}
	if winner == "" {
		t.Fatal("no amendment won")
	}
	if got := strings.Join(e.versions("/api/v1/interactions/1/history", 100), " "); got != "2 1" {
		t.Errorf("history %q, want \"2 1\"", got)
	}
	if cur := e.mustDo(200, "GET", "/api/v1/interactions/1", ""); cur["remarks"] != winner {
		t.Errorf("current remarks %v, want %s", cur["remarks"], winner)
	}
	if got := e.do("GET", "/api/v1/interactions/1/history/1", ""); string(got.body) != v1 {
		t.Errorf("version 1 changed:\n%s", got.body)
	}
	if n := e.count("interaction_versions"); n != 2 {
		t.Errorf("%d archived versions, want 2 (version 1 and the winner)", n)
	}
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

// TestRecordSizeIsBounded grows a record with merge patches of 900 KB each: the one
// that would take it past 2 MiB as stored is refused, naming the limit, and changes
// nothing.
func TestRecordSizeIsBounded(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")
	e.mustDo(201, "POST", "/api/v1/interactions", `{"id":"1","insurance_no":"A11"}`)
	blob := strings.Repeat("x", 900_000)
	for v, field := range []string{"note_a", "note_b"} {
		if res := e.patch("/api/v1/interactions/1", fmt.Sprintf(`"%d"`, v+1), `{"`+field+`":"`+blob+`"}`); res.status != 200 {
			t.Fatalf("patch %d: %d %s", v+1, res.status, res.body)
		}
	}
	res := e.patch("/api/v1/interactions/1", `"3"`, `{"note_c":"`+blob+`"}`)
	assertError(t, res, 422, "document_too_large")
	if msg := string(res.body); !strings.Contains(msg, "2097152") {
		t.Errorf("the error does not name the limit: %s", msg)
	}
	if cur := e.mustDo(200, "GET", "/api/v1/interactions/1", ""); jsonText(t, cur["version"]) != "3" || cur["note_c"] != nil {
		t.Errorf("the refused patch changed the record: version %v", cur["version"])
	}
}

// TestPagesAreBoundedInBytes lists records of 700 KB each: a page holds fewer than its
// limit when they would pass 4 MiB, and its next_cursor goes on from there, so the
// listing still gives every record once.
func TestPagesAreBoundedInBytes(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")
	blob := strings.Repeat("y", 700_000)
	for i := 0; i < 8; i++ {
		e.mustDo(201, "POST", "/api/v1/interactions", fmt.Sprintf(`{"id":"big-%d","insurance_no":"A11","interaction_date":"2024-01-%02dT00:00:00Z","note":%q}`, i, i+1, blob))
	}
	var seen []string
	path := "/api/v1/patients/A11/interactions?limit=100"
	for pages := 0; ; pages++ {
		res := e.do("GET", path, "")
		if res.status != 200 {
			t.Fatalf("page: %d %s", res.status, res.body)
		}
		if len(res.body) > 5<<20 {
			t.Errorf("a page of %d bytes", len(res.body))
		}
		page := res.json(t)
		items := page["items"].([]any)
		if len(items) > 5 {
			t.Errorf("a page of %d records of 700 KB", len(items))
		}
		for _, it := range items {
			seen = append(seen, it.(map[string]any)["id"].(string))
		}
		next, _ := page["next_cursor"].(string)
		if next == "" {
			break
		}
		path = "/api/v1/patients/A11/interactions?limit=100&cursor=" + url.QueryEscape(next)
	}
	if len(seen) != 8 {
		t.Errorf("listed %v, want the 8 records once each", seen)
	}
	// The version history is bounded the same way.
	for v := 1; v <= 6; v++ {
		if res := e.patch("/api/v1/interactions/big-0", fmt.Sprintf(`"%d"`, v), fmt.Sprintf(`{"n":%d}`, v)); res.status != 200 {
			t.Fatalf("amendment %d: %d %s", v, res.status, res.body)
		}
	}
	if got := strings.Join(e.versions("/api/v1/interactions/big-0/history", 100), " "); got != "7 6 5 4 3 2 1" {
		t.Errorf("versions %q", got)
	}
	first := e.mustDo(200, "GET", "/api/v1/interactions/big-0/history?limit=100", "")
	if n := len(first["items"].([]any)); n > 5 || first["next_cursor"] == nil {
		t.Errorf("the first page of versions holds %d and next_cursor %v", n, first["next_cursor"])
	}
}

// staleCommit is a store whose Commit checks its condition, then waits for release
// before it writes, unconditionally: what the embedded store's update does when its
// writer stalls between the check and the write.
type staleCommit struct {
	records.Versions[models.Interaction]
	coll             *mongo.Collection
	checked, release chan struct{}
}

func (s *staleCommit) Commit(ctx context.Context, next models.Interaction) error {
	var stored struct {
		Version int `bson:"version"`
	}
	if err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: next.ID}}).Decode(&stored); err != nil {
		return err
	}
	if stored.Version >= next.Version {
		return nil
	}
	close(s.checked)
	<-s.release
	_, err := s.coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: next.ID}}, next)
	return err
}

// TestAVersionNeverGoesBack races three writers as the embedded store lets them:
// A claims version 2 and stalls between the check and the write of its commit; B,
// amending version 1 too, completes A's change and is told the record changed; C
// makes version 3; then A's write lands, putting version 2 back where the record is
// stored. No reader sees version 2 again, and the record is written forward.
func TestAVersionNeverGoesBack(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")
	e.mustDo(201, "POST", "/api/v1/interactions", `{"id":"1","insurance_no":"A11","remarks":"first","label":["fever"]}`)
	coll := e.db.Collection("interactions")
	stalled := &staleCommit{Versions: e.repo.InteractionVersions(), coll: coll,
		checked: make(chan struct{}), release: make(chan struct{})}
	writerA := records.NewInteractions(e.repo, stalled, nil)
	done := make(chan error, 1)
	go func() {
		ctx := models.WithAuthor(context.Background(), models.Author{Key: "dr-a"})
		_, err := writerA.Amend(ctx, "1", func(v int) bool { return v == 1 }, bson.D{{Key: "remarks", Value: "by A"}}, "")
		done <- err
	}()
	<-stalled.checked

	assertError(t, e.patch("/api/v1/interactions/1", `"1"`, `{"remarks":"by B"}`), 412, "precondition_failed")
	if res := e.patch("/api/v1/interactions/1", `"2"`, `{"remarks":"by C"}`); res.status != 200 || res.header.Get("ETag") != `"3"` {
		t.Fatalf("C: %d %s", res.status, res.body)
	}
	close(stalled.release)
	if err := <-done; err != nil {
		t.Fatalf("A: %v", err)
	}
	stored := func() int {
		var doc struct {
			Version int `bson:"version"`
		}
		if err := coll.FindOne(context.Background(), bson.D{{Key: "_id", Value: "1"}}).Decode(&doc); err != nil {
			t.Fatal(err)
		}
		return doc.Version
	}
	if v := stored(); v != 2 {
		t.Fatalf("the record is stored at version %d: A's stalled write did not land over version 3", v)
	}

	list := e.mustDo(200, "GET", "/api/v1/patients/A11/interactions?label=fever", "")
	if items := list["items"].([]any); len(items) != 1 || items[0].(map[string]any)["remarks"] != "by C" {
		t.Errorf("the list shows %v, want version 3", items)
	}
	if v := stored(); v != 3 {
		t.Errorf("after a read the record is stored at version %d, want 3", v)
	}
	cur := e.do("GET", "/api/v1/interactions/1", "")
	if cur.header.Get("ETag") != `"3"` || cur.json(t)["remarks"] != "by C" {
		t.Errorf("GET: %s %s", cur.header.Get("ETag"), cur.body)
	}
	if got := strings.Join(e.versions("/api/v1/interactions/1/history", 10), " "); got != "3 2 1" {
		t.Errorf("versions %q", got)
	}
	if by := e.mustDo(200, "GET", "/api/v1/interactions/1/history/2", "")["recorded_by"].(map[string]any); by["key"] != "dr-a" {
		t.Errorf("version 2 recorded_by %v, want A's", by)
	}
	if res := e.patch("/api/v1/interactions/1", `"3"`, `{"remarks":"by D"}`); res.status != 200 || res.header.Get("ETag") != `"4"` {
		t.Errorf("D: %d %s", res.status, res.body)
	}
}
