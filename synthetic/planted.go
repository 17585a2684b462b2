package synthetic

import (
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

// Planted patients (NewPlanted, GeneratePlanted; seed -generate N -planted) have a
// structure known in advance, to measure how well the service's insights find it
// (see Truth):
//
//   - cohorts: patient i belongs to cohort i mod 5, each with an age range and a few
//     ailments of its own that nine visits in ten are about (the tenth is an acute
//     complaint of any kind);
//   - a question pattern: each ailment has a question of its own, asked at four
//     visits in five of that ailment, besides the catalogue's questions;
//   - twins: every TwinEvery-th patient is the twin of the one before: the same
//     draws of record, age, sex and visits, on visit days of its own.
//
// Planted patients draw from random sources of their own (see the kinds below), so
// they never share an insurance number or an interaction id with the patients New
// draws.
const (
	plantedRecordSource byte = iota + 16
	plantedIdentitySource
	plantedCalendarSource
)

// TwinEvery says which planted patients are twins: every TwinEvery-th, of the one
// before it.
const TwinEvery = 25

// Shape of the planted data.
const (
	plantedMinVisits = 4
	plantedMaxVisits = 12
	plantedNoise     = 0.1
	plantedQuestionP = 0.8
)

// plantedCohort is a cohort planted in the data.
type plantedCohort struct {
	name     string
	age      span
	ailments []string
}

// plantedCohorts are the cohorts, patient i belonging to plantedCohorts[i mod 5].
var plantedCohorts = []plantedCohort{
	{name: "young adults with respiratory infections", age: span{18, 35},
		ailments: []string{"Influenza", "Common cold", "Acute bronchitis", "Acute sinusitis"}},
	{name: "older adults with cardiometabolic disease", age: span{62, 88},
		ailments: []string{"Hypertension", "Type 2 diabetes mellitus", "Atrial fibrillation"}},
	{name: "adults with gut complaints", age: span{20, 50},
		ailments: []string{"Acute gastroenteritis", "Gastro-oesophageal reflux disease", "Irritable bowel syndrome"}},
	{name: "middle-aged adults with joint and back pain", age: span{45, 65},
		ailments: []string{"Low back pain", "Osteoarthritis of the knee"}},
	{name: "children and young people with skin and allergy", age: span{5, 25},
		ailments: []string{"Atopic dermatitis", "Contact dermatitis", "Allergic rhinitis"}},
}

// plantedQuestion is the question of an ailment's planted pattern.
func plantedQuestion(a *ailment) string {
	return "Has anyone you live with had " + strings.ToLower(a.name) + " this year?"
}

// Truth is what was planted in the first n patients of a seed.
type Truth struct {
	// Cohorts is how many cohorts were planted; Cohort numbers them from 0.
	Cohorts int
	// Cohort gives each patient's cohort by insurance number.
	Cohort map[string]int
	// Twins pairs each twin with the patient it is the twin of.
	Twins map[string]string
	// Questions gives each ailment's planted question by ailment name.
	Questions map[string]string
}

// twinOf returns the patient whose twin patient i is, or -1.
func twinOf(i int) int {
	if i%TwinEvery == TwinEvery-1 {
		return i - 1
	}
	return -1
}

// plantedVisits returns how many interactions planted patient i has.
func (g *Generator) plantedVisits(i int) int {
	if j := twinOf(i); j >= 0 {
		i = j
	}
	r := patientSource(g.seed, i, plantedRecordSource)
	return plantedMinVisits + r.IntN(plantedMaxVisits-plantedMinVisits+1)
}

// plantedPatient draws planted patient i with its history, oldest visit first, and
// its cohort. Like Patient, it returns an error only for an invalid record.
func (g *Generator) plantedPatient(i int) (models.Patient, []models.Interaction, int, error) {
	draws := i
	if j := twinOf(i); j >= 0 {
		draws = j
	}
	g.r = patientSource(g.seed, draws, plantedRecordSource)
	visits := plantedMinVisits + g.r.IntN(plantedMaxVisits-plantedMinVisits+1)
	identity := patientSource(g.seed, i, plantedIdentitySource)
	insuranceNo := g.insuranceNo(identity)
	ids := make([]string, visits)
	for j := range ids {
		ids[j] = uuidV4(identity)
	}
	cohort := plantedCohorts[draws%len(plantedCohorts)]
	own := make([]*ailment, 0, len(cohort.ailments))
	var conditions []*ailment
	for _, name := range cohort.ailments {
		a, err := ailmentNamed(name)
		if err != nil {
			return models.Patient{}, nil, 0, err
		}
		own = append(own, a)
		if a.chronic {
			conditions = append(conditions, a)
		}
	}
	sex := pick(g.r, []string{"M", "F"})
	age := between(g.r, cohort.age)
	p, err := models.NewPatient(g.patientDocument(insuranceNo, sex, age, conditions), g.now)
	if err != nil {
		return models.Patient{}, nil, 0, fmt.Errorf("generated patient is invalid: %w", err)
	}
	history := make([]models.Interaction, 0, visits)
	for j, at := range g.visitTimes(patientSource(g.seed, i, plantedCalendarSource), visits) {
		a := pick(g.r, own)
		if g.r.Float64() < plantedNoise {
			a = g.visitReason(age, nil)
		}
		doc := g.interactionDocument(ids[j], insuranceNo, a, at)
		if g.r.Float64() < plantedQuestionP {
			doc = plantQuestion(doc, plantedQuestion(a), pick(g.r, []string{"yes", "no", "not that I know of"}))
		}
		in, err := models.NewInteraction(doc, g.now)
		if err != nil {
			return models.Patient{}, nil, 0, fmt.Errorf("generated interaction is invalid: %w", err)
		}
		history = append(history, in)
	}
	return p, history, draws % len(plantedCohorts), nil
}

// plantQuestion adds question, with answer, to the qa of an interaction document.
func plantQuestion(doc bson.D, question, answer string) bson.D {
	for k, e := range doc {
		if e.Key == "qa" {
			qa, _ := e.Value.(bson.D)
			doc[k].Value = append(qa, bson.E{Key: question, Value: answer})
		}
	}
	return doc
}

// ailmentNamed returns the catalogue's ailment named name. It returns an error when
// the catalogue has none, which would be a bug in plantedCohorts.
func ailmentNamed(name string) (*ailment, error) {
	if found := catalogue(func(a *ailment) bool { return a.name == name }); len(found) > 0 {
		return found[0], nil
	}
	return nil, fmt.Errorf("the planted cohorts name an ailment the catalogue lacks: %s", name)
}

// GeneratePlanted returns the first n planted patients of seed, all their
// interactions and what was planted, created at now. Like Generate, it returns an
// error only for an invalid record.
func GeneratePlanted(seed uint64, now time.Time, n int) ([]models.Patient, []models.Interaction, Truth, error) {
	g := NewPlanted(seed, now)
	truth := Truth{Cohorts: len(plantedCohorts), Cohort: map[string]int{}, Twins: map[string]string{}, Questions: map[string]string{}}
	patients := make([]models.Patient, 0, n)
	var interactions []models.Interaction
	for i := range n {
		p, history, cohort, err := g.plantedPatient(i)
		if err != nil {
			return nil, nil, truth, err
		}
		truth.Cohort[p.InsuranceNo] = cohort
		if twinOf(i) >= 0 {
			truth.Twins[p.InsuranceNo] = patients[i-1].InsuranceNo
		}
		patients = append(patients, p)
		interactions = append(interactions, history...)
	}
	for _, c := range plantedCohorts {
		for _, name := range c.ailments {
			a, err := ailmentNamed(name)
			if err != nil {
				return nil, nil, truth, err
			}
			truth.Questions[name] = plantedQuestion(a)
		}
	}
	return patients, interactions, truth, nil
}
