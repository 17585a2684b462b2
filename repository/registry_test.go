package repository_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

// TestInteractionIDRegistry runs the repository as on MongoDB (no lone-_id filters)
// over the test store: creating an interaction registers its id for its patient;
// the id is then found through the registry; an entry left by a create that never
// stored its interaction reads as absent, is taken up by a retry for the same
// patient and refuses another patient's; a batch insert skips ids of other patients;
// and preparing a database that has interactions without entries registers them,
// again harmlessly.
func TestInteractionIDRegistry(t *testing.T) {
	ctx := context.Background()
	db := testStore.Database(t)
	repo := repository.New(db)
	if err := repo.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, no := range []string{"A11", "B11"} {
		if err := repo.CreatePatient(ctx, models.Patient{InsuranceNo: no, Version: 1, CreatedAt: at, UpdatedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	visit := func(id, no string) models.Interaction {
		return models.Interaction{ID: id, InsuranceNo: no, InteractionDate: at, Label: []string{}, Version: 1, CreatedAt: at, UpdatedAt: at}
	}
	registry := db.Collection(repository.InteractionIDsCollection)
	owner := func(id string) string {
		t.Helper()
		var e struct {
			InsuranceNo string `bson:"insurance_no"`
		}
		if err := registry.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&e); err != nil {
			t.Fatalf("registry entry %s: %v", id, err)
		}
		return e.InsuranceNo
	}

	if err := repo.CreateInteraction(ctx, visit("1", "A11")); err != nil {
		t.Fatal(err)
	}
	if got := owner("1"); got != "A11" {
		t.Errorf("registry holds 1 for %q, want A11", got)
	}
	if got, err := repo.Interaction(ctx, "1"); err != nil || got.InsuranceNo != "A11" {
		t.Errorf("Interaction(1) = %+v, %v", got, err)
	}
	if err := repo.CreateInteraction(ctx, visit("1", "B11")); !errors.Is(err, models.ErrConflict) {
		t.Errorf("the same id for another patient: %v, want a conflict", err)
	}
	if _, err := repo.Interaction(ctx, "nope"); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("an unknown id: %v, want not found", err)
	}

	// A create interrupted between its registry entry and its interaction.
	if _, err := registry.InsertOne(ctx, bson.D{{Key: "_id", Value: "2"}, {Key: "insurance_no", Value: "A11"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Interaction(ctx, "2"); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("an entry without its interaction: %v, want not found", err)
	}
	if err := repo.CreateInteraction(ctx, visit("2", "B11")); !errors.Is(err, models.ErrConflict) {
		t.Errorf("an interrupted create's id for another patient: %v, want a conflict", err)
	}
	if err := repo.CreateInteraction(ctx, visit("2", "A11")); err != nil {
		t.Errorf("the retry of an interrupted create: %v", err)
	}
	if got, err := repo.Interaction(ctx, "2"); err != nil || got.InsuranceNo != "A11" {
		t.Errorf("Interaction(2) after the retry = %+v, %v", got, err)
	}

	// A batch: one new, one another patient's id, one stored already.
	res, err := repo.InsertInteractions(ctx, []models.Interaction{visit("3", "B11"), visit("1", "B11"), visit("2", "A11")})
	if err != nil || res.Inserted != 1 || res.Existing != 2 {
		t.Errorf("InsertInteractions = %+v, %v; want 1 inserted, 2 existing", res, err)
	}
	if !slices.Equal(res.ExistingAt, []int{1, 2}) {
		t.Errorf("InsertInteractions says %v existed, want positions 1 and 2", res.ExistingAt)
	}
	pairs := []string{}
	for _, id := range []string{"1", "2", "3"} {
		in, err := repo.Interaction(ctx, id)
		if err != nil {
			t.Fatalf("Interaction(%s): %v", id, err)
		}
		pairs = append(pairs, in.ID+"/"+in.InsuranceNo)
	}
	if want := []string{"1/A11", "2/A11", "3/B11"}; !slices.Equal(pairs, want) {
		t.Errorf("the interactions stored = %v, want %v", pairs, want)
	}

	// Interactions stored before the registry existed.
	if _, err := db.Collection(repository.InteractionsCollection).InsertOne(ctx, visit("4", "B11")); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Collection(repository.MigrationsCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: "interaction-ids"}}); err != nil {
		t.Fatal(err)
	}
	for run := range 2 {
		if err := repo.Prepare(ctx); err != nil {
			t.Fatalf("prepare, run %d: %v", run+1, err)
		}
		if got := owner("4"); got != "B11" {
			t.Errorf("run %d: registry holds 4 for %q, want B11", run+1, got)
		}
		if got, err := repo.Interaction(ctx, "4"); err != nil || got.InsuranceNo != "B11" {
			t.Errorf("run %d: Interaction(4) = %+v, %v", run+1, got, err)
		}
	}
	if n, err := registry.CountDocuments(ctx, bson.D{}); err != nil || n != 4 {
		t.Errorf("registry holds %d entries, %v; want 4", n, err)
	}
}

// TestNoRegistryWithLoneIDFilters checks that the embedded store's mode neither
// writes the registry nor records its migration as done: the database, once served
// from MongoDB, gets its registry then.
func TestNoRegistryWithLoneIDFilters(t *testing.T) {
	ctx := context.Background()
	db := testStore.Database(t)
	repo := repository.New(db, repository.WithLoneIDFilters())
	if err := repo.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := repo.CreatePatient(ctx, models.Patient{InsuranceNo: "A11", Version: 1, CreatedAt: at, UpdatedAt: at}); err != nil {
		t.Fatal(err)
	}
	in := models.Interaction{ID: "1", InsuranceNo: "A11", InteractionDate: at, Label: []string{}, Version: 1, CreatedAt: at, UpdatedAt: at}
	if err := repo.CreateInteraction(ctx, in); err != nil {
		t.Fatal(err)
	}
	if n, err := db.Collection(repository.InteractionIDsCollection).CountDocuments(ctx, bson.D{}); err != nil || n != 0 {
		t.Errorf("registry entries with lone-_id filters: %d, %v; want none", n, err)
	}
	if n, err := db.Collection(repository.MigrationsCollection).CountDocuments(ctx, bson.D{{Key: "_id", Value: "interaction-ids"}}); err != nil || n != 0 {
		t.Errorf("the registry's migration recorded with lone-_id filters: %d, %v", n, err)
	}

	mongo := repository.New(db)
	if err := mongo.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := mongo.Interaction(ctx, "1"); err != nil || got.InsuranceNo != "A11" {
		t.Errorf("once served as from MongoDB: Interaction(1) = %+v, %v", got, err)
	}

	// Served by the embedded store again, which records interactions without the
	// registry, then from MongoDB again: the registry is filled again.
	if err := repo.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	in.ID = "2"
	if err := repo.CreateInteraction(ctx, in); err != nil {
		t.Fatal(err)
	}
	if err := mongo.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := mongo.Interaction(ctx, "2"); err != nil || got.InsuranceNo != "A11" {
		t.Errorf("served from MongoDB again: Interaction(2) = %+v, %v", got, err)
	}
}
