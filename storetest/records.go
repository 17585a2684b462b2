package storetest

import (
	"bytes"
	"context"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

// recordCollections are the collections that hold records: patients, interactions
// and their archived versions.
var recordCollections = []string{
	repository.PatientsCollection, repository.InteractionsCollection,
	repository.PatientVersionsCollection, repository.InteractionVersionsCollection,
}

// Dump returns every document of coll as stored, in _id order. It fails t when the
// store does not answer.
func Dump(t testing.TB, coll *mongo.Collection) []bson.Raw {
	t.Helper()
	ctx := context.Background()
	cur, err := coll.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		t.Fatalf("find in %s: %v", coll.Name(), err)
	}
	defer cur.Close(ctx)
	var docs []bson.Raw
	for cur.Next(ctx) {
		docs = append(docs, append(bson.Raw(nil), cur.Current...))
	}
	if err := cur.Err(); err != nil {
		t.Fatalf("read %s: %v", coll.Name(), err)
	}
	return docs
}

// Interactions returns the interactions stored in db by id.
func Interactions(t testing.TB, db *mongo.Database) map[string]models.Interaction {
	t.Helper()
	return decoded(t, db.Collection(repository.InteractionsCollection), func(in models.Interaction) string { return in.ID })
}

// Patients returns the patients stored in db by insurance number.
func Patients(t testing.TB, db *mongo.Database) map[string]models.Patient {
	t.Helper()
	return decoded(t, db.Collection(repository.PatientsCollection), func(p models.Patient) string { return p.InsuranceNo })
}

// decoded returns every document of coll decoded as T, by the key key gives it.
func decoded[T any](t testing.TB, coll *mongo.Collection, key func(T) string) map[string]T {
	t.Helper()
	out := map[string]T{}
	for _, raw := range Dump(t, coll) {
		var v T
		if err := bson.Unmarshal(raw, &v); err != nil {
			t.Fatalf("decode a document of %s: %v", coll.Name(), err)
		}
		out[key(v)] = v
	}
	return out
}

// Snapshot returns every document of every collection that holds records, by
// collection.
func Snapshot(t testing.TB, db *mongo.Database) map[string][]bson.Raw {
	t.Helper()
	out := map[string][]bson.Raw{}
	for _, c := range recordCollections {
		out[c] = Dump(t, db.Collection(c))
	}
	return out
}

// AssertSameSnapshot fails t when a collection differs between two snapshots.
func AssertSameSnapshot(t testing.TB, before, after map[string][]bson.Raw) {
	t.Helper()
	for _, c := range recordCollections {
		if len(after[c]) != len(before[c]) {
			t.Errorf("%s: %d documents, %d before", c, len(after[c]), len(before[c]))
			continue
		}
		for i := range after[c] {
			if !bytes.Equal(after[c][i], before[c][i]) {
				t.Errorf("%s: document changed:\nbefore %s\nafter  %s", c, before[c][i], after[c][i])
			}
		}
	}
}
