package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

// auditEvents returns every stored audit event in chain and sequence order.
func (e *env) auditEvents() []models.AuditEvent {
	e.t.Helper()
	cur, err := e.db.Collection(repository.AuditEventsCollection).Find(context.Background(), bson.D{},
		options.Find().SetSort(bson.D{{Key: "chain", Value: 1}, {Key: "seq", Value: 1}}))
	if err != nil {
		e.t.Fatal(err)
	}
	var events []models.AuditEvent
	if err := cur.All(context.Background(), &events); err != nil {
		e.t.Fatal(err)
	}
	return events
}

// verify asks the API to verify the audit trail.
func (e *env) verify() map[string]any {
	e.t.Helper()
	return e.as(models.RoleAuditor).mustDo(200, "GET", "/api/v1/audit/verify", "")
}

func TestAuditRecordsEveryRequest(t *testing.T) {
	e := newEnv(t)
	start := time.Now().Add(-time.Second)
	e.createPatient("A11")
	created := e.mustDo(201, "POST", "/api/v1/interactions", `{"insurance_no":"A11","label":["fever"]}`)
	id := created["id"].(string)
	e.as(models.RoleViewer).mustDo(200, "GET", "/api/v1/interactions/"+id, "")
	e.as(models.RoleViewer).mustDo(200, "GET", "/api/v1/patients/A11/interactions?label=fever", "")
	assertError(t, e.as(models.RoleViewer).do("POST", "/api/v1/interactions", `{"insurance_no":"A11"}`), 403, "forbidden")
	assertError(t, e.withKey("").do("GET", "/api/v1/patients/A11", ""), 401, "unauthenticated")
	assertError(t, e.do("GET", "/api/v1/interactions/nope", ""), 404, "not_found")

	page := e.as(models.RoleAuditor).mustDo(200, "GET", "/api/v1/audit?insurance_no=A11&limit=100", "")
	items := page["items"].([]any)
	type row struct{ key, role, action, route, patient, interaction, status string }
	var got []row
	for i := len(items) - 1; i >= 0; i-- { // oldest first
		ev := items[i].(map[string]any)
		if ev["request_id"] == "" || ev["client_ip"] == "" || ev["hash"] == "" || ev["time"] == nil {
			t.Errorf("incomplete event %v", ev)
		}
		str := func(k string) string { s, _ := ev[k].(string); return s }
		got = append(got, row{str("key_name"), str("role"), str("action"), str("route"), str("insurance_no"), str("interaction_id"), jsonText(t, ev["status"])})
	}
	want := []row{
		{"test-clinician", "clinician", "patients.create", "/api/v1/patients", "A11", "", "201"},
		{"test-clinician", "clinician", "interactions.create", "/api/v1/interactions", "A11", id, "201"},
		{"test-viewer", "viewer", "interactions.read", "/api/v1/interactions/:id", "A11", id, "200"},
		{"test-viewer", "viewer", "patients.interactions.read", "/api/v1/patients/:insurance_no/interactions", "A11", "", "200"},
		{"", "", "patients.read", "/api/v1/patients/:insurance_no", "A11", "", "401"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events for A11:\n%v\nwant\n%v", got, want)
	}

	t.Run("filters", func(t *testing.T) {
		auditor := e.as(models.RoleAuditor)
		count := func(query string) int {
			t.Helper()
			return len(auditor.mustDo(200, "GET", "/api/v1/audit?limit=100&"+query, "")["items"].([]any))
		}
		// The refused create names no patient: it was refused before its body was read.
		if n := count("key_name=test-viewer"); n != 3 {
			t.Errorf("key_name=test-viewer: %d events, want 3", n)
		}
		if n := count("action=interactions.create"); n != 2 {
			t.Errorf("action=interactions.create: %d events, want 2", n)
		}
		if n := count("insurance_no=A11&from=" + url.QueryEscape(start.Format(time.RFC3339Nano))); n != 5 {
			t.Errorf("from: %d events, want 5", n)
		}
		if n := count("insurance_no=A11&to=" + url.QueryEscape(start.Format(time.RFC3339Nano))); n != 0 {
			t.Errorf("to: %d events, want 0", n)
		}
		var seen []string
		path := "/api/v1/audit?insurance_no=A11&limit=4"
		for {
			p := auditor.mustDo(200, "GET", path, "")
			for _, it := range p["items"].([]any) {
				seen = append(seen, it.(map[string]any)["id"].(string))
			}
			next, _ := p["next_cursor"].(string)
			if next == "" {
				break
			}
			path = "/api/v1/audit?insurance_no=A11&limit=4&cursor=" + url.QueryEscape(next)
		}
		if len(seen) != 5 {
			t.Errorf("paged through %d events, want 5: %v", len(seen), seen)
		}
		next, _ := auditor.mustDo(200, "GET", "/api/v1/audit?insurance_no=A11&limit=2", "")["next_cursor"].(string)
		assertError(t, auditor.do("GET", "/api/v1/audit?insurance_no=A11&action=patients.read&cursor="+url.QueryEscape(next), ""), 400, "validation_failed")
		for _, q := range []string{"from=yesterday", "limit=0", "cursor=x", "who=me"} {
			assertError(t, auditor.do("GET", "/api/v1/audit?"+q, ""), 400, "validation_failed")
		}
	})
	if v := e.verify(); v["ok"] != true {
		t.Errorf("verify = %v", v)
	}
}

// TestAuditChainUnderConcurrency sends 100 requests at once: every one is recorded,
// the chain's sequence numbers have no gap and it verifies.
func TestAuditChainUnderConcurrency(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if i%2 == 0 {
				e.do("GET", "/api/v1/patients/A11", "")
			} else {
				e.do("POST", "/api/v1/interactions", fmt.Sprintf(`{"insurance_no":"A11","remarks":"r%d"}`, i))
			}
		}(i)
	}
	wg.Wait()
	events := e.auditEvents()
	if len(events) != 101 {
		t.Fatalf("%d events, want 101", len(events))
	}
	for i, ev := range events {
		if ev.Seq != int64(i+1) || ev.Chain != events[0].Chain {
			t.Fatalf("event %d: chain %s seq %d", i, ev.Chain, ev.Seq)
		}
	}
	if v := e.verify(); v["ok"] != true || jsonText(t, v["chains"]) != "1" {
		t.Errorf("verify = %v", v)
	}
}

// TestAuditTwoServers runs two server processes' worth of servers on one database:
// each keeps a chain of its own, and both verify.
func TestAuditTwoServers(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")
	other, err := app.NewServer(slog.New(slog.NewJSONHandler(io.Discard, nil)), e.repo, app.ServerConfig{RequestTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	second := *e
	second.app = other
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(2)
		go func() { defer wg.Done(); e.do("GET", "/api/v1/patients/A11", "") }()
		go func() { defer wg.Done(); second.do("GET", "/api/v1/patients/A11", "") }()
	}
	wg.Wait()
	chains := map[string]int{}
	for _, ev := range e.auditEvents() {
		chains[ev.Chain]++
	}
	if len(chains) != 2 {
		t.Fatalf("chains: %v, want 2", chains)
	}
	v := e.verify()
	if v["ok"] != true || jsonText(t, v["chains"]) != "2" || jsonText(t, v["events"]) != "81" {
		t.Errorf("verify = %v", v)
	}
}

// TestAuditTampering changes, inserts and deletes events directly in the store:
// verification names the first broken link each time.
func TestAuditTampering(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, e *env, events []models.AuditEvent) int64 // returns the seq to be named
		reason string
		chain  string // the chain to be named, when not the server's
	}{
		{"change an event", func(t *testing.T, e *env, events []models.AuditEvent) int64 {
			update(t, e, events[3].ID, bson.D{{Key: "status", Value: 200}, {Key: "key_name", Value: "someone-else"}})
			return 4
		}, "hash does not match", ""},
		{"change an event and its hash", func(t *testing.T, e *env, events []models.AuditEvent) int64 {
			update(t, e, events[3].ID, bson.D{{Key: "insurance_no", Value: "Z99"}, {Key: "hash", Value: strings.Repeat("0", 64)}})
			return 4
		}, "hash does not match", ""},
		{"append a forged event", func(t *testing.T, e *env, events []models.AuditEvent) int64 {
			// Linked and hashed as the chain would be, but without the server's key.
			last := events[len(events)-1]
			forged := last
			forged.Seq, forged.ID, forged.PrevHash = last.Seq+1, audit.EventID(last.Chain, last.Seq+1), last.Hash
			forged.Action, forged.InsuranceNo = "patients.read", "B11"
			forged.Hash = audit.Hash(nil, forged)
			insert(t, e, forged)
			return forged.Seq
		}, "hash does not match", ""},
		{"insert a chain", func(t *testing.T, e *env, events []models.AuditEvent) int64 {
			forged := events[0]
			forged.Chain = "0000-forged"
			forged.ID = audit.EventID(forged.Chain, 1)
			insert(t, e, forged)
			return 1
		}, "no head record", "0000-forged"},
		{"delete an event", func(t *testing.T, e *env, events []models.AuditEvent) int64 {
			remove(t, e, events[4].ID)
			return 5
		}, "event 5 is missing", ""},
		{"delete the last events", func(t *testing.T, e *env, events []models.AuditEvent) int64 {
			remove(t, e, events[len(events)-1].ID)
			remove(t, e, events[len(events)-2].ID)
			return int64(len(events) - 1)
		}, "missing from the end", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvWithConfig(t, app.ServerConfig{RequestTimeout: 10 * time.Second, AuditKey: []byte(strings.Repeat("k", 32))})
			e.createPatient("A11")
			for i := 0; i < 8; i++ {
				e.do("GET", "/api/v1/patients/A11", "")
			}
			if v := e.verify(); v["ok"] != true {
				t.Fatalf("verify before tampering = %v", v)
			}
			events := e.auditEvents()
			seq := tc.tamper(t, e, events)
			// Another server verifies: this one's chain may be blocked by the forgery.
			other, err := app.NewServer(slog.New(slog.NewJSONHandler(io.Discard, nil)), e.repo,
				app.ServerConfig{RequestTimeout: 10 * time.Second, AuditKey: []byte(strings.Repeat("k", 32))})
			if err != nil {
				t.Fatal(err)
			}
			verifier := *e
			verifier.app = other
			v := verifier.verify()
			chain := events[0].Chain
			if tc.chain != "" {
				chain = tc.chain
			}
			brk, _ := v["first_break"].(map[string]any)
			if v["ok"] != false || brk == nil {
				t.Fatalf("verify after tampering = %v", v)
			}
			if brk["chain"] != chain || jsonText(t, brk["seq"]) != fmt.Sprint(seq) || !strings.Contains(brk["reason"].(string), tc.reason) {
				t.Errorf("first break = %v, want chain %s seq %d (%s)", brk, chain, seq, tc.reason)
			}
		})
	}
}

func update(t *testing.T, e *env, id string, set bson.D) {
	t.Helper()
	res, err := e.db.Collection(repository.AuditEventsCollection).UpdateOne(context.Background(),
		bson.D{{Key: "_id", Value: id}}, bson.D{{Key: "$set", Value: set}})
	if err != nil || res.MatchedCount != 1 {
		t.Fatalf("tamper: %v %v", res, err)
	}
}

func insert(t *testing.T, e *env, ev models.AuditEvent) {
	t.Helper()
	if _, err := e.db.Collection(repository.AuditEventsCollection).InsertOne(context.Background(), ev); err != nil {
		t.Fatalf("tamper: %v", err)
	}
}

func remove(t *testing.T, e *env, id string) {
	t.Helper()
	res, err := e.db.Collection(repository.AuditEventsCollection).DeleteOne(context.Background(), bson.D{{Key: "_id", Value: id}})
	if err != nil || res.DeletedCount != 1 {
		t.Fatalf("tamper: %v %v", res, err)
	}
}

// TestRequestIDs sends client-chosen X-Request-Id values: the server always gives the
// request an id of its own, and keeps a plain client id apart in the audit event.
func TestRequestIDs(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")
	for _, tc := range []struct{ sent, kept string }{
		{"trace-42/a:b_c.d", "trace-42/a:b_c.d"},
		{"evil\" id; drop", ""},
		{strings.Repeat("x", 65), ""},
		{"", ""},
	} {
		res := e.do("GET", "/api/v1/patients/A11", "", "X-Request-Id", tc.sent)
		id := res.header.Get("X-Request-Id")
		if id == "" || id == tc.sent {
			t.Errorf("sent %q: the answer's X-Request-Id is %q, want the server's own", tc.sent, id)
		}
		events := e.auditEvents()
		last := events[len(events)-1]
		if last.RequestID != id || last.ClientRequestID != tc.kept {
			t.Errorf("sent %q: event request_id %q, client_request_id %q; want %q and %q", tc.sent, last.RequestID, last.ClientRequestID, id, tc.kept)
		}
	}
	if v := e.verify(); v["ok"] != true {
		t.Errorf("verify = %v", v)
	}
}
