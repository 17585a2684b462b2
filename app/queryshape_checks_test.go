package app_test

import (
	"fmt"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
)

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
