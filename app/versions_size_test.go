package app_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

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
