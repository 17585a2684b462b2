package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/clinic/interactions/apikey"
	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

// The query-shape tests run the service as it runs on MongoDB, over the test store,
// capture every command the driver sends while the whole API is exercised, and check
// that a sharded cluster (README, "Scaling out") can serve each from one shard and
// from an index.

// shardKeys are the shard keys of the collections the README shards.
var shardKeys = map[string]string{
	repository.PatientsCollection:            "_id",
	repository.InteractionsCollection:        "insurance_no",
	repository.InteractionVersionsCollection: "insurance_no",
	repository.PatientVersionsCollection:     "insurance_no",
	repository.InteractionIDsCollection:      "_id",
}

// unsharded are the collections the README leaves unsharded, on the primary shard.
var unsharded = []string{
	repository.AuditEventsCollection,
	repository.AuditChainsCollection,
	repository.AuditCheckpointsCollection,
	repository.IdempotencyKeysCollection,
	repository.APIKeysCollection,
	repository.MigrationsCollection,
}

// scatterGather are the queries on a sharded collection that go to every shard by
// design, by the step of the exercise that sends them and the collection.
var scatterGather = []struct{ step, collection, reason string }{
	{"search across patients", repository.InteractionsCollection,
		"the search of visits of every patient has no patient to target: each shard answers from its interaction_date_id (or ailment) index, mongos merges the sorted pages"},
	{"patient directory", repository.PatientsCollection,
		"the directory lists every patient by name: each shard answers from its sort_key_id index, mongos merges the sorted pages"},
	{"similar patients", repository.PatientsCollection,
		"a patient is compared with every other: each shard streams its patients once"},
	{"similar patients", repository.InteractionsCollection,
		"a patient is compared with every other: each shard streams its visits once, to build every patient's profile"},
	{"suggested questions", repository.InteractionsCollection,
		"similar visits are those of every patient with the ailment, a label or a symptom word: each shard streams its matching visits"},
	{"analytics", repository.PatientsCollection,
		"cohorts are drawn over every patient: each shard streams its patients once"},
	{"analytics", repository.InteractionsCollection,
		"cohorts and the monthly counts are over every patient's visits: each shard streams its visits once"},
}

// captured is one command the driver sent, with the step of the exercise it was sent in.
type captured struct {
	step, name string
	body       bson.D
}

// query is one filter a command carries, with its sort.
type query struct {
	step, command, collection string
	filter, sort              bson.D
}

// queriesOf returns the filters of c: a find's, a count's, a distinct's, an
// aggregate's first $match, and each statement's of an update or delete.
func queriesOf(c captured) []query {
	coll, _ := field(c.body, c.name).(string)
	q := query{step: c.step, command: c.name, collection: coll}
	switch c.name {
	case "find":
		q.filter, _ = field(c.body, "filter").(bson.D)
		q.sort, _ = field(c.body, "sort").(bson.D)
	case "count", "distinct":
		q.filter, _ = field(c.body, "query").(bson.D)
	case "findAndModify":
		q.filter, _ = field(c.body, "query").(bson.D)
		q.sort, _ = field(c.body, "sort").(bson.D)
	case "aggregate":
		if stages, _ := field(c.body, "pipeline").(bson.A); len(stages) > 0 {
			if first, ok := stages[0].(bson.D); ok {
				q.filter, _ = field(first, "$match").(bson.D)
			}
		}
	case "update", "delete":
		list := "updates"
		if c.name == "delete" {
			list = "deletes"
		}
		statements, _ := field(c.body, list).(bson.A)
		var out []query
		for _, s := range statements {
			if st, ok := s.(bson.D); ok {
				one := q
				one.filter, _ = field(st, "q").(bson.D)
				out = append(out, one)
			}
		}
		return out
	default:
		return nil
	}
	return []query{q}
}

// field returns the value of key in d, or nil.
func field(d bson.D, key string) any {
	for _, e := range d {
		if e.Key == key {
			return e.Value
		}
	}
	return nil
}

// targets reports whether filter names key with a value or a list of values
// ($in), which mongos routes to the shards holding them.
func targets(filter bson.D, key string) bool {
	for _, e := range filter {
		if e.Key != key {
			continue
		}
		op, isOp := e.Value.(bson.D)
		if !isOp || !isOperator(op) {
			return true
		}
		return len(op) == 1 && op[0].Key == "$in"
	}
	return false
}

// isOperator reports whether d is an operator expression ({$gt: ...}), not a value.
func isOperator(d bson.D) bool {
	return len(d) > 0 && strings.HasPrefix(d[0].Key, "$")
}

// shardKeyViolations returns the queries on sharded collections that do not name
// their shard key, but for the scatter-gather ones listed.
func shardKeyViolations(qs []query) []string {
	var out []string
	for _, q := range qs {
		key, sharded := shardKeys[q.collection]
		if !sharded || targets(q.filter, key) {
			continue
		}
		if slices.ContainsFunc(scatterGather, func(s struct{ step, collection, reason string }) bool {
			return s.step == q.step && s.collection == q.collection
		}) {
			continue
		}
		out = append(out, fmt.Sprintf("%s: %s on %s without the shard key %s: %v", q.step, q.command, q.collection, key, q.filter))
	}
	return out
}

// insertViolations returns the inserts into sharded collections of documents
// without the shard key, which a sharded collection refuses.
func insertViolations(commands []captured) []string {
	var out []string
	for _, c := range commands {
		coll, _ := field(c.body, "insert").(string)
		key, sharded := shardKeys[coll]
		if c.name != "insert" || !sharded {
			continue
		}
		docs, _ := field(c.body, "documents").(bson.A)
		for _, d := range docs {
			if doc, _ := d.(bson.D); field(doc, key) == nil {
				out = append(out, fmt.Sprintf("%s: insert into %s of a document without %s", c.step, coll, key))
			}
		}
	}
	return out
}

// index is an index of a collection.
type index struct {
	name   string
	keys   bson.D
	unique bool
}

// fields returns the fields of the index's keys, in order.
func (x index) fields() []string {
	out := make([]string, len(x.keys))
	for i, k := range x.keys {
		out[i] = k.Key
	}
	return out
}

// uniqueIndexViolations returns the unique indexes of sharded collections not
// prefixed by the shard key, which MongoDB can enforce only within each shard. The
// _id index is left out: on the collections sharded by _id it is the shard key's; on
// interactions, the registry of interaction ids (sharded on _id) keeps the ids
// unique across shards; an archived version's _id names its interaction or patient,
// all of whose versions share an insurance number and so a shard.
func uniqueIndexViolations(indexes map[string][]index) []string {
	var out []string
	for coll, list := range indexes {
		key, sharded := shardKeys[coll]
		if !sharded {
			continue
		}
		for _, x := range list {
			if x.unique && x.name != "_id_" && (len(x.keys) == 0 || x.keys[0].Key != key) {
				out = append(out, fmt.Sprintf("unique index %s of %s is not prefixed by the shard key %s", x.name, coll, key))
			}
		}
	}
	return out
}

// equalities returns the fields filter compares for equality at its top level.
func equalities(filter bson.D) []string {
	var out []string
	for _, e := range filter {
		if strings.HasPrefix(e.Key, "$") {
			continue
		}
		if op, isOp := e.Value.(bson.D); isOp && isOperator(op) {
			continue
		}
		out = append(out, e.Key)
	}
	return out
}

// servedBy reports whether index x serves q in the order MongoDB reads an index:
// equality fields first, then the sort's fields in its order (or all reversed),
// then anything else; and, when lead is set, with lead among the equality fields.
func servedBy(x index, q query, lead string) bool {
	eq := equalities(q.filter)
	for k := 0; k <= len(x.keys); k++ {
		prefix := x.fields()[:k]
		if k > 0 && !slices.Contains(eq, prefix[k-1]) {
			return false
		}
		if lead != "" && !slices.Contains(prefix, lead) {
			continue
		}
		if len(x.keys)-k < len(q.sort) {
			return false
		}
		if sortMatches(x.keys[k:k+len(q.sort)], q.sort) {
			return true
		}
	}
	return false
}

// sortMatches reports whether keys, part of an index, read in sort's order, forward
// or backward.
func sortMatches(keys, sort bson.D) bool {
	forward, backward := true, true
	for i, s := range sort {
		if keys[i].Key != s.Key {
			return false
		}
		same := direction(keys[i].Value) == direction(s.Value)
		forward, backward = forward && same, backward && !same
	}
	return forward || backward
}

// direction returns 1 or -1 for an index key's or a sort's direction.
func direction(v any) int {
	switch n := v.(type) {
	case int32:
		return int(n)
	case int64:
		return int(n)
	case float64:
		return int(n)
	case int:
		return n
	}
	return 0
}

// lead is the equality field of q an index must begin with: the insurance number
// when q names one (the shard key, and what a patient's lists are scoped by), else
// the first equality field that begins one of the collection's indexes; "" when
// there is none.
func lead(q query, indexes []index) string {
	eq := equalities(q.filter)
	if slices.Contains(eq, "insurance_no") {
		return "insurance_no"
	}
	for _, f := range eq {
		if slices.ContainsFunc(indexes, func(x index) bool { return x.keys[0].Key == f }) {
			return f
		}
	}
	return ""
}

// listQueryViolations returns the sorted queries (list queries: a page of a history,
// of the directory, of versions, of the audit trail) that no index serves in the
// order equality, sort, range (see servedBy).
func listQueryViolations(qs []query, indexes map[string][]index) []string {
	var out []string
	for _, q := range qs {
		if len(q.sort) == 0 {
			continue
		}
		want := lead(q, indexes[q.collection])
		if !slices.ContainsFunc(indexes[q.collection], func(x index) bool { return servedBy(x, q, want) }) {
			out = append(out, fmt.Sprintf("%s: %s on %s with sort %v served by no index (equality fields %v first, %q among them): %v",
				q.step, q.command, q.collection, q.sort, equalities(q.filter), want, q.filter))
		}
	}
	return out
}

// operatorViolations returns the queries that use what MongoDB cannot serve from
// an index: $where, $expr, $text on a collection without a text index, a regular
// expression not anchored at the start (or case-insensitive), and $ne, $nin or $not
// on an indexed field.
func operatorViolations(qs []query, indexes map[string][]index) []string {
	var out []string
	for _, q := range qs {
		indexed := map[string]bool{}
		for _, x := range indexes[q.collection] {
			for _, f := range x.fields() {
				indexed[f] = true
			}
		}
		for _, problem := range badOperators(q.filter, "", indexed) {
			out = append(out, fmt.Sprintf("%s: %s on %s: %s", q.step, q.command, q.collection, problem))
		}
	}
	return out
}

// badOperators walks filter, a filter or an operator expression on path, and
// returns what operatorViolations looks for.
func badOperators(filter bson.D, path string, indexed map[string]bool) []string {
	var out []string
	for _, e := range filter {
		switch e.Key {
		case "$where", "$expr", "$text", "$function":
			out = append(out, e.Key)
			continue
		case "$and", "$or", "$nor":
			list, _ := e.Value.(bson.A)
			for _, sub := range list {
				if d, ok := sub.(bson.D); ok {
					out = append(out, badOperators(d, "", indexed)...)
				}
			}
			if e.Key == "$nor" {
				out = append(out, "$nor")
			}
			continue
		case "$ne", "$nin", "$not":
			if indexed[path] {
				out = append(out, fmt.Sprintf("%s on the indexed field %s", e.Key, path))
			}
			continue
		case "$regex":
			if p, _ := e.Value.(string); !strings.HasPrefix(p, "^") || strings.Contains(fmt.Sprint(field(filter, "$options")), "i") {
				out = append(out, fmt.Sprintf("the regular expression %q on %s is not anchored", p, path))
			}
			continue
		}
		if strings.HasPrefix(e.Key, "$") {
			continue
		}
		switch v := e.Value.(type) {
		case bson.Regex:
			if !strings.HasPrefix(v.Pattern, "^") || strings.Contains(v.Options, "i") {
				out = append(out, fmt.Sprintf("the regular expression %q on %s is not anchored", v.Pattern, e.Key))
			}
		case bson.D:
			if isOperator(v) {
				out = append(out, badOperators(v, e.Key, indexed)...)
			}
		}
	}
	return out
}

// shapeEnv is a server over the test store as it runs on MongoDB: connected through
// MONGODB_URI, with a repository without the embedded store's lone-_id writes, side
// index or scan gate. It records every command of its database sent while step is
// set.
type shapeEnv struct {
	*env
	mu       sync.Mutex
	step     string
	commands []captured
}

func newShapeEnv(t *testing.T) *shapeEnv {
	t.Helper()
	if testStore.URI() == "" || strings.Contains(testStore.URI(), "***@") {
		t.Skip("needs the test store's URI, without credentials")
	}
	database := testStore.Database(t).Name()
	s := &shapeEnv{}
	monitor := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.step == "" || e.DatabaseName != database {
			return
		}
		var body bson.D
		if err := bson.Unmarshal(e.Command, &body); err != nil {
			t.Errorf("decode %s: %v", e.CommandName, err)
			return
		}
		s.commands = append(s.commands, captured{step: s.step, name: e.CommandName, body: body})
	}}
	cfg, err := app.ConfigFrom(func(k string) string {
		return map[string]string{"MONGODB_URI": testStore.URI(), "MONGODB_DATABASE": database}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(io.MultiWriter(logs, &allLogs), nil))
	conn, err := app.Connect(ctx, cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), app.ConnectOptions{Monitor: monitor})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseLogged(slog.New(slog.NewJSONHandler(io.Discard, nil))) })
	repo := repository.New(conn.DB)
	if err := repo.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	server, err := app.NewServer(logger, repo, app.ServerConfig{RequestTimeout: 10 * time.Second, Now: tickingClock()})
	if err != nil {
		t.Fatal(err)
	}
	s.env = &env{t: t, app: server, repo: repo, db: conn.DB, logs: logs, keys: map[models.Role]string{}}
	s.at("issue keys")
	keys := apikey.New(repo, nil, logger)
	for _, role := range models.Roles() {
		issued, err := keys.Issue(ctx, models.NewKeyRequest{Name: "shape-" + string(role), Role: role})
		if err != nil {
			t.Fatalf("issue %s key: %v", role, err)
		}
		s.keys[role] = issued.Key
	}
	s.key = s.keys[models.RoleClinician]
	return s
}

// at names the step of the exercise the next commands belong to.
func (s *shapeEnv) at(step string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.step = step
}

// captured returns the commands recorded so far.
func (s *shapeEnv) captured() []captured {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.commands)
}

// indexes returns the indexes of every collection of the database.
func (s *shapeEnv) indexes() map[string][]index {
	s.t.Helper()
	ctx := context.Background()
	names, err := s.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		s.t.Fatal(err)
	}
	out := map[string][]index{}
	for _, name := range names {
		specs, err := s.db.Collection(name).Indexes().ListSpecifications(ctx)
		if err != nil {
			s.t.Fatal(err)
		}
		for _, spec := range specs {
			var keys bson.D
			if err := bson.Unmarshal(spec.KeysDocument, &keys); err != nil {
				s.t.Fatal(err)
			}
			out[name] = append(out[name], index{name: spec.Name, keys: keys, unique: spec.Unique != nil && *spec.Unique})
		}
	}
	return out
}

// exercise sends a request of every route, each step named for what it does.
func (s *shapeEnv) exercise() {
	s.t.Helper()
	step := func(name string, want int, method, path, body string, headers ...string) response {
		s.t.Helper()
		s.at(name)
		res := s.do(method, path, body, headers...)
		if res.status != want {
			s.t.Fatalf("%s: %s %s: status %d, want %d\n%s", name, method, path, res.status, want, res.body)
		}
		return res
	}
	patch := []string{"Content-Type", "application/merge-patch+json", "If-Match", `"1"`}
	step("create patient", 201, "POST", "/api/v1/patients", `{"insurance_no":"A11","fname":"Vernon","lname":"Lopez","age":30}`)
	step("create patient", 201, "POST", "/api/v1/patients", `{"insurance_no":"B11","fname":"Zebulon","lname":"Quixote"}`)
	step("read patient", 200, "GET", "/api/v1/patients/A11", "")
	step("amend patient", 200, "PATCH", "/api/v1/patients/A11?reason=typo", `{"age":31}`, patch...)
	step("patient versions", 200, "GET", "/api/v1/patients/A11/history?limit=1", "")
	step("patient version", 200, "GET", "/api/v1/patients/A11/history/1", "")
	for i, date := range []string{"2024-01-05", "2024-02-05", "2024-03-05"} {
		step("create interaction", 201, "POST", "/api/v1/interactions", fmt.Sprintf(
			`{"id":"%d","insurance_no":"A11","interaction_date":%q,"ailment":"Influenza","symptoms":"fever and cough","label":["fever"],"health_status":%d}`,
			i+1, date, i+4))
	}
	step("create interaction", 201, "POST", "/api/v1/interactions", `{"id":"9","insurance_no":"B11","interaction_date":"2024-01-09","label":["skin"]}`)
	step("create interaction with another patient's id", 409, "POST", "/api/v1/interactions", `{"id":"1","insurance_no":"B11","label":["skin"]}`)
	created := step("idempotent create", 201, "POST", "/api/v1/interactions", `{"insurance_no":"B11","label":["skin"]}`, "Idempotency-Key", "k-1")
	step("idempotent replay", 201, "POST", "/api/v1/interactions", `{"insurance_no":"B11","label":["skin"]}`, "Idempotency-Key", "k-1")
	reserved := created.json(s.t)["id"].(string)
	step("read interaction", 200, "GET", "/api/v1/interactions/"+url.PathEscape(reserved), "")
	step("read interaction", 200, "GET", "/api/v1/interactions/1", "")
	step("read unknown interaction", 404, "GET", "/api/v1/interactions/nope", "")
	step("amend interaction", 200, "PATCH", "/api/v1/interactions/1?reason=typo", `{"remarks":"better"}`, patch...)
	step("amend interaction", 200, "PATCH", "/api/v1/interactions/1?reason=again", `{"remarks":"best"}`,
		"Content-Type", "application/merge-patch+json", "If-Match", `"2"`)
	versions := step("interaction versions", 200, "GET", "/api/v1/interactions/1/history?limit=1", "").json(s.t)
	step("interaction versions", 200, "GET", "/api/v1/interactions/1/history?limit=1&cursor="+url.QueryEscape(versions["next_cursor"].(string)), "")
	step("interaction version", 200, "GET", "/api/v1/interactions/1/history/1", "")
	step("mark entered in error", 200, "DELETE", "/api/v1/interactions/3?reason=wrong%20patient", "", "If-Match", `"1"`)
	step("read entered in error", 410, "GET", "/api/v1/interactions/3", "")
	page := step("history", 200, "GET", "/api/v1/patients/A11/interactions?limit=1", "").json(s.t)
	step("history", 200, "GET", "/api/v1/patients/A11/interactions?limit=1&cursor="+url.QueryEscape(page["next_cursor"].(string)), "")
	step("history", 200, "GET", "/api/v1/patients/A11/interactions?label=fever&label_mode=all&include=entered-in-error", "")
	step("search of a patient", 200, "GET", "/api/v1/interactions?insurance_no=A11&ailment=influenza&from=2024-01-01&to=2024-12-31&health_status_min=2&health_status_max=9&q=feve&sort=date&limit=1", "")
	step("search of a patient", 200, "GET", "/api/v1/interactions?insurance_no=A11&label=fever", "")
	step("search across patients", 200, "GET", "/api/v1/interactions?limit=2", "")
	step("search across patients", 200, "GET", "/api/v1/interactions?ailment=influenza&q=cough", "")
	step("search across patients", 200, "GET", "/api/v1/interactions?label=skin&from=2024-01-01&sort=date", "")
	step("patient directory", 200, "GET", "/api/v1/patients?limit=1", "")
	step("patient directory", 200, "GET", "/api/v1/patients?q=vern", "")
	step("summary", 200, "GET", "/api/v1/patients/A11/summary", "")
	step("report", 200, "GET", "/api/v1/patients/A11/report", "")
	step("export", 200, "GET", "/api/v1/patients/A11/export", "")
	step("export", 200, "GET", "/api/v1/patients/A11/export?include=history", "")
	step("export", 200, "GET", "/api/v1/patients/A11/export?format=fhir", "")
	step("similar patients", 200, "GET", "/api/v1/patients/A11/similar?k=2", "")
	step("suggested questions", 200, "GET", "/api/v1/interactions/1/suggested-questions", "")
	step("suggested questions", 200, "POST", "/api/v1/suggestions/questions", `{"ailment":"Influenza","symptoms":"fever","labels":["fever"],"asked":[]}`)
	step("analytics", 200, "GET", "/api/v1/analytics/cohorts?k=2", "")
	step("analytics", 200, "GET", "/api/v1/analytics/labels?from=2024-01-01", "")
	step("analytics", 200, "GET", "/api/v1/analytics/ailments", "")
	step("summary", 200, "GET", "/api/v1/patients/A11/summary?format=text", "")
	// The seed command's import inserts records in batches, then reads each one that
	// was stored already by its identity.
	s.at("import")
	ctx := context.Background()
	at := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	batch := []models.Interaction{
		{ID: "imported", InsuranceNo: "B11", InteractionDate: at, Label: []string{}, Version: 1, CreatedAt: at, UpdatedAt: at},
		{ID: "1", InsuranceNo: "A11", InteractionDate: at, Label: []string{}, Version: 1, CreatedAt: at, UpdatedAt: at},
	}
	res, err := s.repo.InsertInteractions(ctx, batch)
	if err != nil || res.Inserted != 1 || !slices.Equal(res.ExistingAt, []int{1}) {
		s.t.Fatalf("InsertInteractions = %+v, %v; want 1 inserted, the second existing", res, err)
	}
	if got, err := s.repo.Interaction(ctx, batch[1].ID); err != nil || got.InsuranceNo != "A11" {
		s.t.Fatalf("Interaction(%s) = %+v, %v", batch[1].ID, got, err)
	}
	if pres, err := s.repo.InsertPatients(ctx, []models.Patient{{InsuranceNo: "A11", Version: 1, CreatedAt: at, UpdatedAt: at}}); err != nil || pres.Existing != 1 {
		s.t.Fatalf("InsertPatients = %+v, %v; want the patient existing", pres, err)
	}
	if _, err := s.repo.Patient(ctx, "A11"); err != nil {
		s.t.Fatalf("Patient(A11): %v", err)
	}
	admin := s.as(models.RoleAdmin)
	s.at("keys")
	for _, r := range []struct {
		want         int
		method, path string
		body         string
	}{
		{201, "POST", "/api/v1/keys", `{"name":"extra","role":"viewer"}`},
		{200, "GET", "/api/v1/keys", ""},
		{200, "GET", "/api/v1/keys/extra", ""},
		{200, "DELETE", "/api/v1/keys/extra", ""},
	} {
		if res := admin.do(r.method, r.path, r.body); res.status != r.want {
			s.t.Fatalf("keys: %s %s: status %d, want %d\n%s", r.method, r.path, res.status, r.want, res.body)
		}
	}
	auditor := s.as(models.RoleAuditor)
	s.at("audit")
	for _, path := range []string{
		"/api/v1/audit?limit=2",
		"/api/v1/audit?insurance_no=A11&from=2020-01-01",
		"/api/v1/audit?action=interactions.read",
		"/api/v1/audit/verify",
	} {
		if res := auditor.do("GET", path, ""); res.status != 200 {
			s.t.Fatalf("audit: GET %s: status %d\n%s", path, res.status, res.body)
		}
	}
	s.at("")
}

// TestQueryShapes exercises every route of the API (and fails when one is left
// out) on the service as it runs on MongoDB, and checks what it sent: every query of
// a sharded collection names the shard key (but for the scatter-gather ones listed,
// which say why); every document inserted into one carries it; every unique index of
// one begins with it; an index serves every list query in the order equality, sort,
// range; no query uses an operator an index cannot serve; and the collections are
// those the README places.
func TestQueryShapes(t *testing.T) {
	s := newShapeEnv(t)
	s.exercise()
	commands := s.captured()
	var qs []query
	for _, c := range commands {
		qs = append(qs, queriesOf(c)...)
	}
	indexes := s.indexes()

	// The exercise called every route of the API, and reached every sharded
	// collection, by id routes included.
	called := map[string]bool{}
	for _, line := range strings.Split(s.logs.String(), "\n") {
		var entry struct{ Msg, Method, Route string }
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "request" {
			called[entry.Method+" "+entry.Route] = true
		}
	}
	for _, r := range s.app.GetRoutes(true) {
		if strings.HasPrefix(r.Path, "/api/v1/") && r.Method != "HEAD" && !called[r.Method+" "+r.Path] {
			t.Errorf("the exercise does not call %s %s", r.Method, r.Path)
		}
	}
	for coll := range shardKeys {
		if !slices.ContainsFunc(qs, func(q query) bool { return q.collection == coll }) {
			t.Errorf("no query on %s was captured", coll)
		}
	}
	if !slices.ContainsFunc(qs, func(q query) bool {
		return q.step == "read interaction" && q.collection == repository.InteractionsCollection && targets(q.filter, "insurance_no")
	}) {
		t.Error("reading an interaction by id sent no query of interactions naming its insurance number")
	}
	for _, check := range []struct {
		name       string
		violations []string
	}{
		{"shard key in every filter", shardKeyViolations(qs)},
		{"shard key in every document", insertViolations(commands)},
		{"unique indexes begin with the shard key", uniqueIndexViolations(indexes)},
		{"list queries served by an index", listQueryViolations(qs, indexes)},
		{"operators indexes serve", operatorViolations(qs, indexes)},
	} {
		for _, v := range check.violations {
			t.Errorf("%s: %s", check.name, v)
		}
	}

	var placed []string
	for coll := range shardKeys {
		placed = append(placed, coll)
	}
	placed = append(placed, unsharded...)
	slices.Sort(placed)
	var created []string
	for coll := range indexes {
		created = append(created, coll)
	}
	slices.Sort(created)
	if !slices.Equal(created, placed) {
		t.Errorf("the service created the collections %v; the README places %v", created, placed)
	}
}

// TestQueryShapeChecksFail feeds the checks of TestQueryShapes commands and indexes
// of the shapes they must refuse, and shapes they must accept.
func TestQueryShapeChecksFail(t *testing.T) {
	d := func(kv ...any) bson.D {
		var out bson.D
		for i := 0; i+1 < len(kv); i += 2 {
			out = append(out, bson.E{Key: kv[i].(string), Value: kv[i+1]})
		}
		return out
	}
	interactions := repository.InteractionsCollection
	indexes := map[string][]index{interactions: {
		{name: "_id_", keys: d("_id", int32(1)), unique: true},
		{name: "insurance_no_date_id", keys: d("insurance_no", int32(1), "interaction_date", int32(-1), "_id", int32(-1))},
		{name: "interaction_date_id", keys: d("interaction_date", int32(-1), "_id", int32(-1))},
		{name: "ailment_key_date_id", keys: d("ailment_key", int32(1), "interaction_date", int32(-1), "_id", int32(-1))},
	}}
	history := d("interaction_date", int32(-1), "_id", int32(-1))
	for _, tc := range []struct {
		name  string
		check func() []string
		fails bool
	}{
		{"a find by _id alone", func() []string {
			return shardKeyViolations([]query{{step: "read interaction", command: "find", collection: interactions, filter: d("_id", "1")}})
		}, true},
		{"a find by _id and insurance number", func() []string {
			return shardKeyViolations([]query{{step: "read interaction", command: "find", collection: interactions, filter: d("insurance_no", "A11", "_id", "1")}})
		}, false},
		{"an update by a range of the shard key", func() []string {
			return shardKeyViolations(queriesOf(captured{step: "amend interaction", name: "update", body: d("update", interactions,
				"updates", bson.A{d("q", d("insurance_no", d("$gt", "A"), "_id", "1"))})}))
		}, true},
		{"a cross-patient search in another step", func() []string {
			return shardKeyViolations([]query{{step: "history", command: "find", collection: interactions, filter: d()}})
		}, true},
		{"a cross-patient search where listed", func() []string {
			return shardKeyViolations([]query{{step: "search across patients", command: "find", collection: interactions, filter: d()}})
		}, false},
		{"an insert without the shard key", func() []string {
			return insertViolations([]captured{{step: "x", name: "insert", body: d("insert", interactions, "documents", bson.A{d("_id", "1")})}})
		}, true},
		{"a unique index without the shard key", func() []string {
			return uniqueIndexViolations(map[string][]index{interactions: {{name: "source_unique", keys: d("source", int32(1)), unique: true}}})
		}, true},
		{"a unique index with the shard key", func() []string {
			return uniqueIndexViolations(map[string][]index{interactions: {{name: "no_source", keys: d("insurance_no", int32(1), "source", int32(1)), unique: true}}})
		}, false},
		{"a history sorted on an unindexed field", func() []string {
			return listQueryViolations([]query{{collection: interactions, filter: d("insurance_no", "A11"), sort: d("health_status", int32(1))}}, indexes)
		}, true},
		{"a history walking the date index past its patient", func() []string {
			idx := map[string][]index{interactions: {indexes[interactions][2]}}
			return listQueryViolations([]query{{collection: interactions, filter: d("insurance_no", "A11"), sort: history}}, idx)
		}, true},
		{"a history sorted in mixed directions", func() []string {
			return listQueryViolations([]query{{collection: interactions, filter: d("insurance_no", "A11"), sort: d("interaction_date", int32(-1), "_id", int32(1))}}, indexes)
		}, true},
		{"a history, oldest first", func() []string {
			return listQueryViolations([]query{{collection: interactions, filter: d("insurance_no", "A11", "interaction_date", d("$gte", 1)), sort: d("interaction_date", int32(1), "_id", int32(1))}}, indexes)
		}, false},
		{"a search by ailment", func() []string {
			return listQueryViolations([]query{{collection: interactions, filter: d("ailment_key", "flu"), sort: history}}, indexes)
		}, false},
		{"a search by ailment without its index", func() []string {
			idx := map[string][]index{interactions: {indexes[interactions][2], {name: "ailment_key", keys: d("ailment_key", int32(1))}}}
			return listQueryViolations([]query{{collection: interactions, filter: d("ailment_key", "flu"), sort: history}}, idx)
		}, true},
		{"$where", func() []string {
			return operatorViolations([]query{{collection: interactions, filter: d("$where", "true")}}, indexes)
		}, true},
		{"$expr inside $and", func() []string {
			return operatorViolations([]query{{collection: interactions, filter: d("$and", bson.A{d("$expr", d("$eq", bson.A{1, 1}))})}}, indexes)
		}, true},
		{"an unanchored regular expression", func() []string {
			return operatorViolations([]query{{collection: interactions, filter: d("search_tokens", bson.Regex{Pattern: "flu"})}}, indexes)
		}, true},
		{"a case-insensitive $regex", func() []string {
			return operatorViolations([]query{{collection: interactions, filter: d("search_tokens", d("$regex", "^flu", "$options", "i"))}}, indexes)
		}, true},
		{"$ne on an indexed field", func() []string {
			return operatorViolations([]query{{collection: interactions, filter: d("interaction_date", d("$ne", 1))}}, indexes)
		}, true},
		{"$nin on an indexed field inside $or", func() []string {
			return operatorViolations([]query{{collection: interactions, filter: d("$or", bson.A{d("_id", d("$nin", bson.A{"1"}))})}}, indexes)
		}, true},
		{"$ne on a field no index holds, an anchored prefix", func() []string {
			return operatorViolations([]query{{collection: interactions, filter: d("status", d("$ne", "x"), "search_tokens", bson.Regex{Pattern: "^flu"})}}, indexes)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.check()
			if tc.fails && len(got) == 0 {
				t.Error("the check passed it")
			}
			if !tc.fails && len(got) > 0 {
				t.Errorf("the check refused it: %v", got)
			}
		})
	}
}
