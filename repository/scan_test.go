package repository_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

// TestScansBothWays reads every visit and patient both ways: through a cursor of
// the store's own query (as on MongoDB) and, on the embedded store, by the side
// index. The analytics' fields are the same both ways, for every filter.
func TestScansBothWays(t *testing.T) {
	ctx := context.Background()
	bySide, db := testStore.DB(t)
	byQuery := repository.New(db)
	base := time.Date(2024, 3, 1, 9, 30, 0, 0, time.UTC)
	age := 41
	patients := []models.Patient{
		{InsuranceNo: "S1", Age: &age, Sex: "F", FName: "Ada", Version: 1, CreatedAt: base, UpdatedAt: base},
		{InsuranceNo: "S2", Version: 1, CreatedAt: base, UpdatedAt: base},
	}
	if _, err := bySide.InsertPatients(ctx, patients); err != nil {
		t.Fatal(err)
	}
	var visits []models.Interaction
	for i := range 30 {
		h := 1 + i%10
		in := models.Interaction{ID: fmt.Sprintf("v%02d", i), InsuranceNo: []string{"S1", "S2"}[i%2], Version: 1,
			CreatedAt: base, UpdatedAt: base, InteractionDate: base.AddDate(0, 0, 3*i).Add(time.Duration(i) * time.Millisecond),
			Ailment: []string{"Influenza", "Hypertension ", "", "Migräne"}[i%4], Symptoms: []string{"fever, cough", "", "headache"}[i%3],
			Label: [][]string{{"fever", "respiratory"}, {"cardio"}, {}}[i%3], Remarks: "remark " + fmt.Sprint(i)}
		if i%3 != 0 {
			in.HealthStatus = &h
		}
		if i%2 == 0 {
			in.Metrics = bson.D{{Key: "temp", Value: 37.5 + float64(i)/10}, {Key: "BP", Value: "120/80"}, {Key: "HR", Value: int32(60 + i)},
				{Key: "big", Value: int64(1) << 40}, {Key: "units", Value: bson.D{{Key: "HR", Value: "/min"}}}, {Key: "ok", Value: true}}
			in.QA = bson.D{{Key: "Zeta?", Value: "z"}, {Key: "alpha", Value: "a"}, {Key: "Since when?", Value: fmt.Sprint(i, " days")}}
		}
		if i%7 == 6 {
			in.Status = models.StatusEnteredInError
		}
		visits = append(visits, in)
	}
	if _, err := bySide.InsertInteractions(ctx, visits); err != nil {
		t.Fatal(err)
	}
	read := func(t *testing.T, db *repository.DB, q models.ScanQuery) []string {
		t.Helper()
		var out []string
		err := db.EachVisit(ctx, q, func(in models.Interaction) error {
			// The fields the analytics read, as they read them.
			data, _ := json.Marshal(struct {
				ID, No, Ailment, Symptoms, Remarks, Status string
				Date                                       time.Time
				Health                                     *int
				Metrics, QA                                bson.D
				Labels                                     []string
			}{in.ID, in.InsuranceNo, in.Ailment, in.Symptoms, in.Remarks, in.Status, in.InteractionDate, in.HealthStatus,
				in.Metrics, in.QA, in.Label})
			out = append(out, string(data))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(out)
		return out
	}
	for _, q := range []models.ScanQuery{
		{},
		{From: base.AddDate(0, 0, 10), To: base.AddDate(0, 0, 40)},
		// Within visit 10's millisecond, which the store keeps no finer: visit 10 is in.
		{From: base.AddDate(0, 0, 30).Add(10*time.Millisecond + 500*time.Microsecond)},
		{WithQA: true},
		{AilmentKey: "hypertension"},
		{Labels: []string{"cardio", "nope"}},
		{Words: []string{"headache"}},
		{WithQA: true, AilmentKey: "influenza", Labels: []string{"cardio"}, Words: []string{"headache"}},
		{ProfileFields: true},
		{ProfileFields: true, WithQA: true, Labels: []string{"cardio"}, Words: []string{"headache"}},
	} {
		t.Run(fmt.Sprintf("%+v", q), func(t *testing.T) {
			want := read(t, byQuery, q)
			got := read(t, bySide, q)
			if !slices.Equal(got, want) {
				t.Errorf("by the side index:\n%s\nby the query:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			for _, v := range want {
				if strings.Contains(v, models.StatusEnteredInError) {
					t.Errorf("an entered-in-error visit was read: %s", v)
				}
			}
			if len(want) == 0 {
				t.Error("the query reads nothing")
			}
		})
	}
	t.Run("patients", func(t *testing.T) {
		both := [2][]string{}
		for i, db := range []*repository.DB{byQuery, bySide} {
			err := db.EachPatient(ctx, func(p models.Patient) error {
				both[i] = append(both[i], fmt.Sprintf("%s %v %s", p.InsuranceNo, p.Age != nil && *p.Age == 41, p.Sex))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(both[i])
		}
		if !slices.Equal(both[0], both[1]) || len(both[0]) != 2 {
			t.Errorf("by the query %v, by the side index %v", both[0], both[1])
		}
	})
}
