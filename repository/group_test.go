package repository_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

// TestGroupedInserts creates many interactions at once, some with an id another
// holds already, and some for a patient that does not exist, on a DB that groups
// its inserts: each caller gets its own outcome, as a single insert gives it, and
// exactly the others are stored.
func TestGroupedInserts(t *testing.T) {
	ctx := context.Background()
	db := testStore.Database(t)
	repo := repository.New(db, repository.WithLoneIDFilters(), repository.WithOneWriter())
	if err := repo.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := repo.CreatePatient(ctx, models.Patient{InsuranceNo: "A11", Version: 1, CreatedAt: at, UpdatedAt: at}); err != nil {
		t.Fatal(err)
	}
	interaction := func(id, no string) models.Interaction {
		return models.Interaction{ID: id, InsuranceNo: no, InteractionDate: at, Label: []string{}, Version: 1, CreatedAt: at, UpdatedAt: at}
	}
	for i := range 10 {
		if err := repo.CreateInteraction(ctx, interaction(fmt.Sprintf("taken-%d", i), "A11")); err != nil {
			t.Fatal(err)
		}
	}
	const n = 250
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			switch {
			case i%25 == 0:
				errs[i] = repo.CreateInteraction(ctx, interaction(fmt.Sprintf("taken-%d", i/25), "A11"))
			case i%25 == 1:
				errs[i] = repo.CreateInteraction(ctx, interaction(fmt.Sprintf("new-%d", i), "NOBODY"))
			default:
				errs[i] = repo.CreateInteraction(ctx, interaction(fmt.Sprintf("new-%d", i), "A11"))
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		var want error
		switch i % 25 {
		case 0:
			want = models.ErrConflict
		case 1:
			want = models.ErrPatientNotFound
		}
		if !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("create %d: %v, want %v", i, err, want)
		}
	}
	stored, err := db.Collection(repository.InteractionsCollection).CountDocuments(ctx, bson.D{})
	if want := int64(10 + n - 2*n/25); err != nil || stored != want {
		t.Errorf("%d interactions stored, %v; want %d", stored, err, want)
	}

	// A caller whose context has ended gets its error, and the others go on.
	ended, cancel := context.WithCancel(ctx)
	cancel()
	if err := repo.CreateInteraction(ended, interaction("late", "A11")); !errors.Is(err, models.ErrUnavailable) && !errors.Is(err, context.Canceled) {
		t.Errorf("a create whose context ended: %v", err)
	}
	if err := repo.CreateInteraction(ctx, interaction("after", "A11")); err != nil {
		t.Errorf("the create after it: %v", err)
	}
}
