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
