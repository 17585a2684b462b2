package repository_test

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/records"
	"github.com/clinic/interactions/repository"
	"github.com/clinic/interactions/storetest"
)

var testStore *storetest.Store

func TestMain(m *testing.M) { os.Exit(storetest.Main(m, &testStore)) }

// TestMigrateArchiveIDs writes an archive as the service stored it before versions
// had ids of their own (generated ids, a unique index on record and version), then
// prepares the database: every version is kept, under its natural id, marked
// committed up to the record's version; the old index is gone; a second run changes
// nothing; and the versions read back through the records' rules.
func TestMigrateArchiveIDs(t *testing.T) {
	ctx := context.Background()
	db := testStore.Database(t)
	archive := db.Collection(repository.InteractionVersionsCollection)
	_, err := archive.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "insurance_no", Value: 1}, {Key: "interaction_id", Value: 1}, {Key: "version", Value: -1}},
		Options: options.Index().SetName("insurance_no_interaction_version_unique").SetUnique(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	record := func(v int, remarks string) bson.D {
		return bson.D{
			{Key: "_id", Value: "1"}, {Key: "insurance_no", Value: "A11"}, {Key: "remarks", Value: remarks},
			{Key: "interaction_date", Value: at}, {Key: "label", Value: bson.A{}}, {Key: "version", Value: int32(v)},
			{Key: "created_at", Value: at}, {Key: "updated_at", Value: at},
		}
	}
	// Version 2 is the record's; version 3 an abandoned intent.
	if _, err := db.Collection(repository.InteractionsCollection).InsertOne(ctx, record(2, "second")); err != nil {
		t.Fatal(err)
	}
	for v, remarks := range map[int]string{1: "first", 2: "second", 3: "abandoned"} {
		_, err := archive.InsertOne(ctx, bson.D{
			{Key: "insurance_no", Value: "A11"}, {Key: "interaction_id", Value: "1"}, {Key: "version", Value: int32(v)},
			{Key: "archived_at", Value: at}, {Key: "document", Value: record(v, remarks)},
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	repo := repository.New(db)
	for run := 1; run <= 2; run++ {
		if err := repo.Prepare(ctx); err != nil {
			t.Fatalf("Prepare, run %d: %v", run, err)
		}
		var stored []struct {
			ID        any  `bson:"_id"`
			Version   int  `bson:"version"`
			Committed bool `bson:"committed"`
		}
		cur, err := archive.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "version", Value: 1}}))
		if err != nil {
			t.Fatal(err)
		}
		if err := cur.All(ctx, &stored); err != nil {
			t.Fatal(err)
		}
		if len(stored) != 3 {
			t.Fatalf("run %d: %d archived versions, want 3", run, len(stored))
		}
		for _, v := range stored {
			key := models.RecordKey{InsuranceNo: "A11", InteractionID: "1"}
			if v.ID != models.VersionID(key, v.Version) || v.Committed != (v.Version <= 2) {
				t.Errorf("run %d: version %d stored as %v, committed %v", run, v.Version, v.ID, v.Committed)
			}
		}
		specs, err := archive.Indexes().ListSpecifications(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(specs, func(s mongo.IndexSpecification) bool { return s.Name == "insurance_no_interaction_version_unique" }) {
			t.Errorf("run %d: the old unique index is still there", run)
		}
	}

	interactions := records.NewInteractions(repo, repo.InteractionVersions(), nil)
	page, err := interactions.Versions(ctx, "1", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, in := range page.Items {
		got = append(got, in.Remarks)
	}
	if !slices.Equal(got, []string{"second", "first"}) {
		t.Errorf("versions after the migration: %q", got)
	}
	// The abandoned intent is completed by the next amendment of version 2.
	_, err = interactions.Amend(ctx, "1", func(v int) bool { return v == 2 }, bson.D{{Key: "remarks", Value: "other"}}, "")
	if err == nil {
		t.Error("an amendment of version 2 won over the abandoned intent of version 3")
	}
	if cur, _ := interactions.Get(ctx, "1"); cur.Version != 3 || cur.Remarks != "abandoned" {
		t.Errorf("current = version %d %q, want the intent completed", cur.Version, cur.Remarks)
	}
}
