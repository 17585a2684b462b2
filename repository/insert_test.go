package repository_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

// TestInsertSaysWhichExisted inserts a batch of which some interactions are already
// stored: the others are inserted, and the result counts and names the positions of
// those left alone, in a batch larger than the embedded store's own chunks of 100.
func TestInsertSaysWhichExisted(t *testing.T) {
	ctx := context.Background()
	repo, _ := testStore.DB(t)
	now := time.Now()
	interaction := func(i int) models.Interaction {
		in, err := models.NewInteraction(bson.D{
			{Key: "id", Value: fmt.Sprintf("i%05d", i)}, {Key: "insurance_no", Value: "A11"},
		}, now)
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	var stored, batch []models.Interaction
	var want []int
	for i := range 1500 {
		in := interaction(i)
		if i%7 == 3 || i == 1499 {
			stored = append(stored, in)
			want = append(want, i)
		}
		batch = append(batch, in)
	}
	if _, err := repo.InsertInteractions(ctx, stored); err != nil {
		t.Fatal(err)
	}
	res, err := repo.InsertInteractions(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if res.Inserted != len(batch)-len(want) || res.Existing != len(want) || !slices.Equal(res.ExistingAt, want) {
		t.Errorf("result = %d inserted, %d existing at %v; want %d, %d at %v",
			res.Inserted, res.Existing, res.ExistingAt, len(batch)-len(want), len(want), want)
	}
	res, err = repo.InsertInteractions(ctx, batch[:5])
	if err != nil {
		t.Fatal(err)
	}
	if res.Inserted != 0 || res.Existing != 5 || !slices.Equal(res.ExistingAt, []int{0, 1, 2, 3, 4}) {
		t.Errorf("result of a batch stored already = %+v", res)
	}
}
