package repository

import (
	"fmt"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestMatches(t *testing.T) {
	doc := bson.D{{Key: "token", Value: "t1"}, {Key: "state", Value: "pending"}, {Key: "version", Value: int32(3)}}
	below := func(n int) bson.D {
		return bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "version", Value: bson.D{{Key: "$lt", Value: n}}}},
			bson.D{{Key: "version", Value: bson.D{{Key: "$exists", Value: false}}}},
		}}}
	}
	for _, tc := range []struct {
		name   string
		doc    bson.D
		filter bson.D
		want   bool
	}{
		{"no condition", doc, nil, true},
		{"equal strings", doc, bson.D{{Key: "token", Value: "t1"}, {Key: "state", Value: "pending"}}, true},
		{"one differs", doc, bson.D{{Key: "token", Value: "t1"}, {Key: "state", Value: "done"}}, false},
		{"missing field", doc, bson.D{{Key: "owner", Value: "x"}}, false},
		{"integers however stored", doc, bson.D{{Key: "version", Value: int64(3)}}, true},
		{"below", doc, below(4), true},
		{"not below", doc, below(3), false},
		{"no version counts as below", bson.D{}, below(1), true},
		{"$lte at the limit", doc, bson.D{{Key: "version", Value: bson.D{{Key: "$lte", Value: 3}}}}, true},
		{"$lte beyond", doc, bson.D{{Key: "version", Value: bson.D{{Key: "$lte", Value: 2}}}}, false},
		{"$lt of a string", doc, bson.D{{Key: "token", Value: bson.D{{Key: "$lt", Value: 2}}}}, false},
		{"$exists true", doc, bson.D{{Key: "token", Value: bson.D{{Key: "$exists", Value: true}}}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := matches(tc.doc, tc.filter)
			if err != nil || got != tc.want {
				t.Errorf("matches = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	for _, bad := range []bson.D{
		{{Key: "version", Value: bson.D{{Key: "$gt", Value: 1}}}},
		{{Key: "token", Value: bson.A{"t1"}}},
		{{Key: "$or", Value: "x"}},
	} {
		if _, err := matches(doc, bad); err == nil {
			t.Errorf("matches(%v) took a filter it does not know", bad)
		}
	}
}

func TestTopology(t *testing.T) {
	for _, tc := range []struct {
		hello hello
		want  string
	}{
		{hello{}, "{standalone  }"},
		{hello{SetName: "rs0", Primary: "mongo1:27017"}, "{replica set rs0 mongo1:27017}"},
		{hello{Msg: "isdbgrid"}, "{sharded  }"},
	} {
		if got := fmt.Sprint(tc.hello.topology()); got != tc.want {
			t.Errorf("topology of %+v = %s, want %s", tc.hello, got, tc.want)
		}
	}
}

// TestKnownIsBounded fills a set of at most 8 keys with many more: it never holds
// more than 8, keeps the keys added or found most recently, and finds each of them.
func TestKnownIsBounded(t *testing.T) {
	k := newKnown(8)
	for i := range 100 {
		k.add(fmt.Sprint(i))
		if n := k.len(); n > 8 {
			t.Fatalf("%d keys held after %d added, want at most 8", n, i+1)
		}
	}
	for _, key := range []string{"96", "97", "98", "99"} {
		if !k.has(key) {
			t.Errorf("the recent key %s is not held", key)
		}
	}
	if k.has("0") || k.has("50") {
		t.Error("old keys are still held")
	}
	// A key found is kept as one of the most recent.
	k = newKnown(8)
	k.add("kept")
	for i := range 20 {
		k.add(fmt.Sprint(i))
		if !k.has("kept") {
			t.Fatalf("the key found after every add was dropped after %d adds", i+1)
		}
	}
}
