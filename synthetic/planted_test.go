package synthetic

import (
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestPlanted checks what NewPlanted draws: the same patients for a seed, apart from
// those New draws; the cohorts, twins and question patterns as planted.go says; and
// records the API would accept.
func TestPlanted(t *testing.T) {
	const seed = 1
	now := time.Now()
	patients, visits, truth, err := GeneratePlanted(seed, now, 60)
	if err != nil {
		t.Fatal(err)
	}
	again, againVisits, _, err := GeneratePlanted(seed, now.Add(time.Hour), 60)
	if err != nil {
		t.Fatal(err)
	}
	plain, plainVisits, err := Generate(seed, now, 60)
	if err != nil {
		t.Fatal(err)
	}
	g := NewPlanted(seed, now)
	counted := 0
	for i, p := range patients {
		counted += g.Visits(i)
		if again[i].InsuranceNo != p.InsuranceNo || plain[i].InsuranceNo == p.InsuranceNo {
			t.Errorf("patient %d: %s, again %s, without -planted %s", i, p.InsuranceNo, again[i].InsuranceNo, plain[i].InsuranceNo)
		}
		if want := plantedCohorts[i%len(plantedCohorts)]; twinOf(i) < 0 && (truth.Cohort[p.InsuranceNo] != i%len(plantedCohorts) ||
			*p.Age < want.age.lo || *p.Age > want.age.hi) {
			t.Errorf("patient %d: cohort %d, age %d", i, truth.Cohort[p.InsuranceNo], *p.Age)
		}
	}
	if counted != len(visits) || len(againVisits) != len(visits) || visits[0].ID == plainVisits[0].ID {
		t.Errorf("%d visits, %d counted, %d again", len(visits), counted, len(againVisits))
	}
	// Patients 24 and 49 are the twins of 23 and 48: same cohort, age, sex and
	// number of visits, with ailments drawn alike.
	for _, i := range []int{24, 49} {
		twin, of := patients[i], patients[i-1]
		if truth.Twins[twin.InsuranceNo] != of.InsuranceNo || *twin.Age != *of.Age || twin.Sex != of.Sex ||
			truth.Cohort[twin.InsuranceNo] != truth.Cohort[of.InsuranceNo] {
			t.Errorf("twin %d: %+v of %+v", i, twin, of)
		}
	}
	if len(truth.Twins) != 2 {
		t.Errorf("twins %v", truth.Twins)
	}
	if truth.Cohorts != len(plantedCohorts) {
		t.Errorf("truth counts %d cohorts, %d planted", truth.Cohorts, len(plantedCohorts))
	}
	// Each planted ailment's question is asked at about four visits in five of it.
	asked, of := 0, 0
	for _, in := range visits {
		q, ok := truth.Questions[in.Ailment]
		if !ok {
			continue
		}
		of++
		if slices.ContainsFunc(in.QA, func(e bson.E) bool { return e.Key == q }) {
			asked++
		}
	}
	if share := float64(asked) / float64(of); share < 0.7 || share > 0.9 {
		t.Errorf("planted questions asked at %d of %d visits", asked, of)
	}
}
