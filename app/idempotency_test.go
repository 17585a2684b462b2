package app_test

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/idempotency"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

const (
	interactionsPath = "/api/v1/interactions"
	patientsPath     = "/api/v1/patients"
)

// post sends a JSON create to path with the given Idempotency-Key; an empty key sends none.
func (e *env) post(path, body, key string) response {
	e.t.Helper()
	if key == "" {
		return e.do("POST", path, body)
	}
	return e.do("POST", path, body, "Idempotency-Key", key)
}

// postAtOnce sends n identical creates to path with key, released together once all
// are ready, and returns their answers in no particular order. It reports failures
// with t.Errorf only, as it runs them on goroutines of its own.
func (e *env) postAtOnce(t *testing.T, n int, path, body, key string) []response {
	t.Helper()
	start := make(chan struct{})
	out := make([]response, n)
	var wg sync.WaitGroup
	for i := range n {
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
		req.Header.Set("Authorization", "Bearer "+e.key)
		sent := req.Clone(context.Background())
		wg.Go(func() {
			<-start
			res, err := e.app.Test(req, 30_000)
			if err != nil {
				t.Errorf("request %d: %v", i, err)
				return
			}
			defer res.Body.Close()
			data, err := io.ReadAll(res.Body)
			if err != nil {
				t.Errorf("request %d: read body: %v", i, err)
				return
			}
			checkContract(t, sent, []byte(body), res.StatusCode, res.Header, data, true)
			out[i] = response{status: res.StatusCode, header: res.Header, body: data}
		})
	}
	close(start)
	wg.Wait()
	return out
}

// keyID is the id under which the clinician's Idempotency-Key on route is kept.
func keyID(route, key string) string { return route + " test-clinician " + key }

// requestHash is the fingerprint the server keeps for a POST of body to path.
func requestHash(path, body string) string {
	return idempotency.Fingerprint("POST", path, []byte(body))
}

// insertIdempotencyRecord stores rec directly, as a request of another process would have.
func (e *env) insertIdempotencyRecord(t *testing.T, rec models.IdempotencyRecord) {
	t.Helper()
	if _, err := e.db.Collection(repository.IdempotencyKeysCollection).InsertOne(context.Background(), rec); err != nil {
		t.Fatalf("insert idempotency record %q: %v", rec.ID, err)
	}
}

// idempotencyRecord reads the record with id as the server reads it: with its
// answer, whether it is kept in the record or beside it.
func (e *env) idempotencyRecord(t *testing.T, id string) models.IdempotencyRecord {
	t.Helper()
	rec, err := e.repo.IdempotencyRecord(context.Background(), id)
	if err != nil {
		t.Fatalf("find idempotency record %q: %v", id, err)
	}
	return rec
}

// assertFirstAnswer checks that res is a 201 that ran, not a replay, and carries the
// headers a replay must repeat.
func assertFirstAnswer(t *testing.T, res response) {
	t.Helper()
	if res.status != 201 {
		t.Fatalf("first request: status %d, want 201\n%s", res.status, res.body)
	}
	if got := res.header.Get("Idempotent-Replayed"); got != "" {
		t.Errorf("first request: Idempotent-Replayed = %q, want none", got)
	}
	for _, name := range []string{"Location", "ETag", "Content-Type"} {
		if res.header.Get(name) == "" {
			t.Errorf("first request: no %s header", name)
		}
	}
}

// assertReplay checks that again repeats first exactly and says it is a replay.
func assertReplay(t *testing.T, first, again response) {
	t.Helper()
	if again.status != first.status {
		t.Errorf("replay: status %d, want %d\n%s", again.status, first.status, again.body)
	}
	if !bytes.Equal(again.body, first.body) {
		t.Errorf("replay body differs:\n got %s\nwant %s", again.body, first.body)
	}
	for _, name := range []string{"Location", "ETag", "Content-Type"} {
		if g, w := again.header.Get(name), first.header.Get(name); g != w {
			t.Errorf("replay: %s = %q, want %q", name, g, w)
		}
	}
	if got := again.header.Get("Idempotent-Replayed"); got != "true" {
		t.Errorf("replay: Idempotent-Replayed = %q, want \"true\"", got)
	}
}

func TestIdempotentCreateReplaysTheFirstAnswer(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")
	cases := []struct {
		name       string
		path       string
		body       string
		key        string
		collection string
		// wantID is the id the answer must carry; empty when the server assigns it.
		wantID string
	}{
		{"interaction with client id", interactionsPath, `{"id":"i1","insurance_no":"A11","ailment":"Influenza"}`, "k1", "interactions", "i1"},
		{"interaction with server-assigned id", interactionsPath, `{"insurance_no":"A11","ailment":"Cough"}`, "k2", "interactions", ""},
		{"patient", patientsPath, `{"insurance_no":"B22","fname":"Ada","lname":"Byron"}`, "k1", "patients", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.count(tc.collection)
			first := e.post(tc.path, tc.body, tc.key)
			assertFirstAnswer(t, first)
			again := e.post(tc.path, tc.body, tc.key)
			assertReplay(t, first, again)
			// The replay's audit event names the record as the first request's does.
			events := e.auditEvents()
			created, replayed := events[len(events)-2], events[len(events)-1]
			if created.InsuranceNo == "" || replayed.InsuranceNo != created.InsuranceNo ||
				replayed.InteractionID != created.InteractionID || replayed.Status != created.Status {
				t.Errorf("audit events: create %+v, replay %+v; want the same subject", created, replayed)
			}
			if n := e.count(tc.collection); n != before+1 {
				t.Errorf("%d %s stored, want %d", n, tc.collection, before+1)
			}
			if tc.path != interactionsPath {
				return
			}
			id, _ := first.json(t)["id"].(string)
			if tc.wantID != "" && id != tc.wantID {
				t.Errorf("id = %q, want %q", id, tc.wantID)
			}
			if id == "" {
				t.Fatalf("no id in %s", first.body)
			}
			if got, _ := again.json(t)["id"].(string); got != id {
				t.Errorf("replay id = %q, want %q", got, id)
			}
			if want := interactionsPath + "/" + id; again.header.Get("Location") != want {
				t.Errorf("replay Location = %q, want %q", again.header.Get("Location"), want)
			}
			stored := e.mustDo(200, "GET", interactionsPath+"/"+id, "")
			if jsonText(t, stored) != jsonText(t, again.json(t)) {
				t.Errorf("replay answered\n%s\nbut the store holds\n%s", again.body, jsonText(t, stored))
			}
		})
	}
}

func TestIdempotencyKeyReusedWithAnotherRequest(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")
	const original = `{"id":"i1","insurance_no":"A11","ailment":"Influenza"}`
	first := e.post(interactionsPath, original, "k1")
	assertFirstAnswer(t, first)

	cases := []struct {
		name string
		body string
	}{
		{"another ailment", `{"id":"i1","insurance_no":"A11","ailment":"Measles"}`},
		{"another id", `{"id":"i2","insurance_no":"A11","ailment":"Influenza"}`},
		{"no id", `{"insurance_no":"A11","ailment":"Influenza"}`},
		{"an extra field", `{"id":"i1","insurance_no":"A11","ailment":"Influenza","ward":"3B"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := e.post(interactionsPath, tc.body, "k1")
			assertError(t, res, 422, "idempotency_key_reused")
			if got := res.header.Get("Idempotent-Replayed"); got != "" {
				t.Errorf("Idempotent-Replayed = %q on a rejected reuse", got)
			}
			if n := e.count("interactions"); n != 1 {
				t.Errorf("%d interactions stored, want 1", n)
			}
		})
	}
	t.Run("the first request still replays", func(t *testing.T) {
		assertReplay(t, first, e.post(interactionsPath, original, "k1"))
		assertError(t, e.do("GET", interactionsPath+"/i2", ""), 404, "not_found")
	})
}

// TestIdempotencyComparesDocuments retries a create with its body re-serialised, as
// another client library would send it: the same document is the same request.
func TestIdempotencyComparesDocuments(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")
	first := e.post(interactionsPath, `{"insurance_no": "A11", "ailment": "Influenza",
		"metrics": {"temp": 38.4, "BP": "120/80"}}`, "k-doc")
	assertFirstAnswer(t, first)
	for _, body := range []string{
		`{"insurance_no":"A11","ailment":"Influenza","metrics":{"temp":38.4,"BP":"120/80"}}`,
		`{"metrics":{"BP":"120/80","temp":38.4},"ailment":"Influenza","insurance_no":"A11"}`,
	} {
		assertReplay(t, first, e.post(interactionsPath, body, "k-doc"))
	}
	for _, body := range []string{
		`{"insurance_no":"A11","ailment":"Influenza","metrics":{"temp":38.5,"BP":"120/80"}}`,
		`{"insurance_no":"A11","ailment":"Influenza","metrics":{"temp":"38.4","BP":"120/80"}}`,
	} {
		assertError(t, e.post(interactionsPath, body, "k-doc"), 422, "idempotency_key_reused")
	}
	if n := e.count("interactions"); n != 1 {
		t.Errorf("%d interactions stored, want 1", n)
	}
}

func TestIdempotencyKeysAreScopedPerRoute(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")
	const key = "shared-key"
	interactionBody := `{"id":"i1","insurance_no":"A11"}`
	patientBody := `{"insurance_no":"B22","fname":"Ada"}`

	interaction := e.post(interactionsPath, interactionBody, key)
	assertFirstAnswer(t, interaction)
	patient := e.post(patientsPath, patientBody, key)
	assertFirstAnswer(t, patient)
	if got := patient.json(t)["insurance_no"]; got != "B22" {
		t.Errorf("patient create answered insurance_no %v, want B22\n%s", got, patient.body)
	}
	if n := e.count("patients"); n != 2 {
		t.Errorf("%d patients stored, want 2", n)
	}

	cases := []struct {
		name  string
		path  string
		body  string
		first response
	}{
		{"interactions", interactionsPath, interactionBody, interaction},
		{"patients", patientsPath, patientBody, patient},
	}
	for _, tc := range cases {
		t.Run(tc.name+" replays its own answer", func(t *testing.T) {
			assertReplay(t, tc.first, e.post(tc.path, tc.body, key))
		})
	}
	if n := e.count("interactions"); n != 1 {
		t.Errorf("%d interactions stored, want 1", n)
	}
	if n := e.count(repository.IdempotencyKeysCollection); n != 2 {
		t.Errorf("%d idempotency records, want 2 (one per route)", n)
	}
}

func TestInvalidIdempotencyKey(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")
	cases := []struct {
		name string
		key  string
	}{
		{"contains a space", "k 1"},
		{"contains a tab", "k\t1"},
		{"non-ASCII", "schlüssel"},
		{"longer than 255 characters", strings.Repeat("a", 256)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := e.post(interactionsPath, `{"insurance_no":"A11"}`, tc.key)
			fields := assertError(t, res, 400, "validation_failed")
			if msg, _ := fields["Idempotency-Key"].(string); msg == "" {
				t.Errorf("fields = %v, want a message for Idempotency-Key", fields)
			}
		})
	}
	if n := e.count("interactions"); n != 0 {
		t.Errorf("%d interactions stored after invalid keys, want 0", n)
	}
	if n := e.count(repository.IdempotencyKeysCollection); n != 0 {
		t.Errorf("%d idempotency records stored after invalid keys, want 0", n)
	}

	valid := []struct {
		name string
		key  string
	}{
		{"255 characters", strings.Repeat("b", 255)},
		{"printable punctuation", `!"#$%&'()*+,-./:;<=>?@[\]^_{|}~`},
	}
	for _, tc := range valid {
		t.Run("accepted: "+tc.name, func(t *testing.T) {
			body := `{"insurance_no":"A11","ailment":"` + tc.name + `"}`
			first := e.post(interactionsPath, body, tc.key)
			assertFirstAnswer(t, first)
			assertReplay(t, first, e.post(interactionsPath, body, tc.key))
		})
	}
}

func TestCreateWithoutIdempotencyKeyIsNotDeduplicated(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")
	const body = `{"insurance_no":"A11","ailment":"Influenza"}`
	ids := map[string]bool{}
	for range 2 {
		res := e.post(interactionsPath, body, "")
		if res.status != 201 {
			t.Fatalf("status %d, want 201\n%s", res.status, res.body)
		}
		if got := res.header.Get("Idempotent-Replayed"); got != "" {
			t.Errorf("Idempotent-Replayed = %q without a key", got)
		}
		id, _ := res.json(t)["id"].(string)
		ids[id] = true
	}
	if len(ids) != 2 {
		t.Errorf("ids %v, want two different ones", ids)
	}
	if n := e.count("interactions"); n != 2 {
		t.Errorf("%d interactions stored, want 2", n)
	}
	if n := e.count(repository.IdempotencyKeysCollection); n != 0 {
		t.Errorf("%d idempotency records without a key, want 0", n)
	}
}

func TestIdempotencyKeeps404EvenAfterThePatientIsCreated(t *testing.T) {
	e := newEnv(t)
	const body = `{"insurance_no":"Z99","ailment":"Influenza"}`
	first := e.post(interactionsPath, body, "k")
	assertError(t, first, 404, "patient_not_found")

	e.createPatient("Z99")
	again := e.post(interactionsPath, body, "k")
	assertError(t, again, 404, "patient_not_found")
	assertReplay(t, first, again)
	if n := e.count("interactions"); n != 0 {
		t.Fatalf("%d interactions stored by a replayed 404, want 0", n)
	}

	created := e.post(interactionsPath, body, "k-new")
	assertFirstAnswer(t, created)
	if n := e.count("interactions"); n != 1 {
		t.Errorf("%d interactions stored with a new key, want 1", n)
	}
}

func TestConcurrentIdempotentCreatesStoreOne(t *testing.T) {
	const n = 20
	cases := []struct {
		name       string
		path       string
		body       string
		collection string
	}{
		{"interaction without id", interactionsPath, `{"insurance_no":"A11","ailment":"Influenza"}`, "interactions"},
		{"patient", patientsPath, `{"insurance_no":"B22","fname":"Ada"}`, "patients"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.createPatient("A11")
			before := e.count(tc.collection)
			answers := e.postAtOnce(t, n, tc.path, tc.body, "k-concurrent")
			if t.Failed() {
				t.FailNow()
			}
			ran := 0
			for i, res := range answers {
				if res.status != 201 {
					t.Errorf("answer %d: status %d, want 201\n%s", i, res.status, res.body)
				}
				if !bytes.Equal(res.body, answers[0].body) {
					t.Errorf("answer %d differs:\n%s\nanswer 0:\n%s", i, res.body, answers[0].body)
				}
				if res.header.Get("Location") != answers[0].header.Get("Location") {
					t.Errorf("answer %d: Location %q, answer 0: %q", i, res.header.Get("Location"), answers[0].header.Get("Location"))
				}
				if res.header.Get("Idempotent-Replayed") == "" {
					ran++
				}
			}
			if ran != 1 {
				t.Errorf("%d answers were not replays, want exactly 1", ran)
			}
			if got := e.count(tc.collection); got != before+1 {
				t.Errorf("%d %s stored, want %d", got, tc.collection, before+1)
			}
		})
	}
}

func TestIdempotencyTakesOverADeadRequest(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")
	const body = `{"insurance_no":"A11","ailment":"Influenza"}`
	now := time.Now()
	dead := func(key, hash, reserved string) models.IdempotencyRecord {
		return models.IdempotencyRecord{
			ID: keyID(interactionsPath, key), RequestHash: hash, Token: "dead", ReservedID: reserved,
			State: models.IdempotencyPending, CreatedAt: now.Add(-time.Minute), LeaseUntil: now.Add(-time.Second),
		}
	}

	t.Run("same request reuses the reserved id", func(t *testing.T) {
		e.insertIdempotencyRecord(t, dead("k-dead", requestHash(interactionsPath, body), "reserved-1"))
		first := e.post(interactionsPath, body, "k-dead")
		assertFirstAnswer(t, first)
		if id := first.json(t)["id"]; id != "reserved-1" {
			t.Errorf("id = %v, want the reserved id reserved-1", id)
		}
		if got, want := first.header.Get("Location"), interactionsPath+"/reserved-1"; got != want {
			t.Errorf("Location = %q, want %q", got, want)
		}
		rec := e.idempotencyRecord(t, keyID(interactionsPath, "k-dead"))
		if rec.State != models.IdempotencyDone || rec.Status != 201 || rec.Token == "dead" || rec.Body != string(first.body) {
			t.Errorf("record after takeover: state %q, status %d, token %q, body %q", rec.State, rec.Status, rec.Token, rec.Body)
		}
		assertReplay(t, first, e.post(interactionsPath, body, "k-dead"))
		if n := e.count("interactions"); n != 1 {
			t.Errorf("%d interactions stored, want 1", n)
		}
	})
	t.Run("a record the dead request stored is answered, not duplicated", func(t *testing.T) {
		stored := e.mustDo(201, "POST", interactionsPath, `{"id":"reserved-3","insurance_no":"A11","ailment":"Influenza"}`)
		e.insertIdempotencyRecord(t, dead("k-stored", requestHash(interactionsPath, body), "reserved-3"))
		before := e.count("interactions")
		res := e.post(interactionsPath, body, "k-stored")
		assertFirstAnswer(t, res)
		if got := res.json(t); got["id"] != "reserved-3" || got["created_at"] != stored["created_at"] {
			t.Errorf("answer = %s, want the stored record %v", res.body, stored)
		}
		assertReplay(t, res, e.post(interactionsPath, body, "k-stored"))
		if n := e.count("interactions"); n != before {
			t.Errorf("%d interactions stored, want %d", n, before)
		}
	})
	t.Run("another request is still a reuse", func(t *testing.T) {
		e.insertIdempotencyRecord(t, dead("k-other", requestHash(interactionsPath, `{"insurance_no":"A11"}`), "reserved-2"))
		assertError(t, e.post(interactionsPath, body, "k-other"), 422, "idempotency_key_reused")
		if rec := e.idempotencyRecord(t, keyID(interactionsPath, "k-other")); rec.Token != "dead" || rec.State != models.IdempotencyPending {
			t.Errorf("record taken over by another request: token %q, state %q", rec.Token, rec.State)
		}
		assertError(t, e.do("GET", interactionsPath+"/reserved-2", ""), 404, "not_found")
	})
}

func TestIdempotencyWaitsForALiveRequest(t *testing.T) {
	const body = `{"insurance_no":"A11","ailment":"Influenza"}`
	kept := map[string]string{
		"Content-Type": "application/json",
		"Location":     interactionsPath + "/kept-1",
		"ETag":         `"1"`,
	}
	const keptBody = `{"id":"kept-1","insurance_no":"A11","interaction_date":"2024-01-01T00:00:00Z","label":[],` +
		`"version":1,"created_at":"2024-01-01T00:00:00Z","updated_at":"2024-01-01T00:00:00Z"}`
	live := func(key string) models.IdempotencyRecord {
		now := time.Now()
		return models.IdempotencyRecord{
			ID: keyID(interactionsPath, key), RequestHash: requestHash(interactionsPath, body), Token: "alive",
			ReservedID: "reserved-live", State: models.IdempotencyPending, CreatedAt: now, LeaseUntil: now.Add(time.Hour),
		}
	}
	complete := func(e *env, key string) error {
		_, err := e.db.Collection(repository.IdempotencyKeysCollection).UpdateOne(context.Background(),
			bson.D{{Key: "_id", Value: keyID(interactionsPath, key)}},
			bson.D{{Key: "$set", Value: bson.D{
				{Key: "state", Value: models.IdempotencyDone},
				{Key: "status", Value: 201},
				{Key: "headers", Value: kept},
				{Key: "body", Value: keptBody},
			}}})
		return err
	}
	assertKept := func(t *testing.T, e *env, res response) {
		t.Helper()
		if res.status != 201 || string(res.body) != keptBody {
			t.Errorf("got %d %s, want the kept 201 %s", res.status, res.body, keptBody)
		}
		for name, want := range kept {
			if got := res.header.Get(name); got != want {
				t.Errorf("%s = %q, want %q", name, got, want)
			}
		}
		if got := res.header.Get("Idempotent-Replayed"); got != "true" {
			t.Errorf("Idempotent-Replayed = %q, want \"true\"", got)
		}
		if n := e.count("interactions"); n != 0 {
			t.Errorf("%d interactions stored, want 0: the request ran instead of replaying", n)
		}
	}

	t.Run("409 when the deadline passes, then the kept answer", func(t *testing.T) {
		const timeout = time.Second // time for the store under the load of the whole suite
		e := newEnvWithTimeout(t, timeout)
		e.createPatient("A11")
		e.insertIdempotencyRecord(t, live("k-live"))
		res := e.post(interactionsPath, body, "k-live")
		assertError(t, res, 409, "idempotency_in_progress")
		if rec := e.idempotencyRecord(t, keyID(interactionsPath, "k-live")); rec.Token != "alive" || rec.State != models.IdempotencyPending {
			t.Errorf("live record taken over: token %q, state %q", rec.Token, rec.State)
		}
		if n := e.count("interactions"); n != 0 {
			t.Fatalf("%d interactions stored while the key was held, want 0", n)
		}
		if err := complete(e, "k-live"); err != nil {
			t.Fatal(err)
		}
		assertKept(t, e, e.post(interactionsPath, body, "k-live"))
	})
	t.Run("a waiting retry gets the answer once it is kept", func(t *testing.T) {
		e := newEnv(t)
		e.createPatient("A11")
		e.insertIdempotencyRecord(t, live("k-wait"))
		const delay = 200 * time.Millisecond
		done := make(chan error, 1)
		time.AfterFunc(delay, func() { done <- complete(e, "k-wait") })
		res := e.post(interactionsPath, body, "k-wait")
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		// Kept only after the request began: it can only have it by waiting.
		assertKept(t, e, res)
	})
}

func TestPurgeIdempotencyKeys(t *testing.T) {
	e := newEnv(t)
	now := time.Now()
	for _, rec := range []struct {
		key string
		age time.Duration
	}{
		{"old", 25 * time.Hour},
		{"recent", time.Hour},
	} {
		e.insertIdempotencyRecord(t, models.IdempotencyRecord{
			ID: keyID(interactionsPath, rec.key), RequestHash: "h", Token: "t", ReservedID: "r-" + rec.key,
			State: models.IdempotencyDone, IdempotentAnswer: models.IdempotentAnswer{Status: 201, Body: "{}"},
			CreatedAt: now.Add(-rec.age), LeaseUntil: now.Add(-rec.age).Add(30 * time.Second),
		})
	}
	n, err := e.repo.PurgeIdempotencyKeys(context.Background(), now.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("purged %d records, want 1", n)
	}
	cur, err := e.db.Collection(repository.IdempotencyKeysCollection).Find(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var left []models.IdempotencyRecord
	if err := cur.All(context.Background(), &left); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, rec := range left {
		ids = append(ids, rec.ID)
	}
	if want := []string{keyID(interactionsPath, "recent")}; !slices.Equal(ids, want) {
		t.Errorf("records left %q, want %q", ids, want)
	}
}

// TestIdempotencyKeysAreScopedPerAPIKey has two clinicians use the same
// Idempotency-Key: neither gets the other's answer.
func TestIdempotencyKeysAreScopedPerAPIKey(t *testing.T) {
	e := newEnv(t)
	e.createPatient("A11")
	other := e.as(models.RoleAdmin).mustDo(201, "POST", "/api/v1/keys", `{"name":"dr-two","role":"clinician"}`)["key"].(string)
	const body = `{"insurance_no":"A11"}`
	first := e.post(interactionsPath, body, "shared")
	second := e.withKey(other).post(interactionsPath, body, "shared")
	assertFirstAnswer(t, first)
	assertFirstAnswer(t, second)
	if first.json(t)["id"] == second.json(t)["id"] {
		t.Error("the second clinician got the first one's answer")
	}
	if n := e.count("interactions"); n != 2 {
		t.Errorf("%d interactions, want 2", n)
	}
}
