package synthetic

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

// TestVisit draws visits for patients of several ages, as a load test does, the ages
// at the same time (each from a source of its own): each is a request the API
// accepts, without an id, about an acute complaint suited to the age, and passes the
// checks of a generated history's visits once the API has given it an id.
func TestVisit(t *testing.T) {
	now := time.Date(2025, 6, 15, 14, 7, 3, 0, time.UTC)
	at := time.Date(2025, 6, 11, 9, 30, 0, 0, time.UTC) // a Wednesday, in surgery hours
	for _, age := range []int{0, 4, 17, 30, 64, 95} {
		t.Run(fmt.Sprintf("age %d", age), func(t *testing.T) {
			t.Parallel()
			r := rand.New(rand.NewPCG(uint64(age), 1))
			p := models.Patient{InsuranceNo: "BENCH-20250611T093000-001", Age: &age}
			for range 200 {
				doc := Visit(r, p.InsuranceNo, age, at)
				if slices.ContainsFunc(doc, func(e bson.E) bool { return e.Key == "id" }) {
					t.Fatalf("the visit has an id: %v", doc)
				}
				in, err := models.NewInteraction(doc, now)
				if err != nil {
					t.Fatalf("the API refuses the visit %v: %v", doc, err)
				}
				if a := catalogueAilment(in.Ailment); a == nil || a.chronic {
					t.Errorf("%s is not an acute complaint of the catalogue", in.Ailment)
				}
				if in.InsuranceNo != p.InsuranceNo || !in.InteractionDate.Equal(at) {
					t.Errorf("visit of %s at %s, want %s at %s", in.InsuranceNo, in.InteractionDate, p.InsuranceNo, at)
				}
				in.ID = uuidV4(r)
				checkInteraction(t, in, p, now)
			}
		})
	}
}
