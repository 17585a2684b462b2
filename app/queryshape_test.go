package app_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/dataversion"
	"github.com/clinic/interactions/repository"
)

// The query-shape tests run the service as it runs on MongoDB, over the test store,
// capture every command the driver sends while the whole API is exercised, and check
// that a sharded cluster (docs/guides/operations.md, "Scaling out") can serve each from one shard and
// from an index.

// shardKeys are the shard keys of the collections the operations guide shards.
var shardKeys = map[string]string{
	repository.PatientsCollection:            "_id",
	repository.InteractionsCollection:        "insurance_no",
	repository.InteractionVersionsCollection: "insurance_no",
	repository.PatientVersionsCollection:     "insurance_no",
	repository.InteractionIDsCollection:      "_id",
}

// unsharded are the collections the operations guide leaves unsharded, on the primary shard.
var unsharded = []string{
	repository.AuditEventsCollection,
	repository.AuditDisclosuresCollection,
	repository.AuditChainsCollection,
	repository.AuditCheckpointsCollection,
	repository.IdempotencyKeysCollection,
	repository.APIKeysCollection,
	repository.MigrationsCollection,
	dataversion.Collection,
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
	{"fhir search across patients", repository.InteractionsCollection,
		"a FHIR search of every patient's Encounters has no patient to target: each shard answers from its interaction_date_id index, mongos merges the sorted pages"},
	{"fhir search across patients", repository.PatientsCollection,
		"a FHIR search of patients by name is the directory's: each shard answers from its sort_key_id index, mongos merges the sorted pages"},
	{"fhir read", repository.PatientsCollection,
		"a Patient id that is no insurance number may be the id of the Patient an import kept: found by the start of a search key, on every shard, from its search_keys index"},
}

// TestQueryShapes exercises every route of the API (and fails when one is left
// out) on the service as it runs on MongoDB, and checks what it sent: every query of
// a sharded collection names the shard key (but for the scatter-gather ones listed,
// which say why); every document inserted into one carries it; every unique index of
// one begins with it; an index serves every list query in the order equality, sort,
// range; no query uses an operator an index cannot serve; and the collections are
// those the operations guide places.
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
		if (strings.HasPrefix(r.Path, "/api/v1/") || strings.HasPrefix(r.Path, "/fhir/R4/")) && r.Method != "HEAD" && !called[r.Method+" "+r.Path] {
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
	if !slices.ContainsFunc(qs, func(q query) bool {
		return q.step == "audit of a patient" && q.collection == repository.AuditDisclosuresCollection && len(q.sort) > 0 &&
			slices.Contains(equalities(q.filter), "insurance_no") && field(q.filter, "$or") != nil
	}) {
		t.Error("the audit events of a patient, past their first page, were not read from the index of audit events by patient")
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
		t.Errorf("the service created the collections %v; the operations guide places %v", created, placed)
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
