// Package summary computes what a clinician reads first about a patient: visits,
// labels and ailments, vitals and their trends, current medications, pending tests
// and the next visit, from the patient's record and interactions. It needs no store
// and no HTTP: the caller reads the chart and hands each interaction to a Builder.
// The summary's text is the templates' (Summary.Paragraph), or a language model's
// written from the de-identified Facts alone, with the templates' text to fall back
// on (Refine).
package summary

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/vitals"
)

// CurrentWindow is how far back from the most recent visit a prescription counts as
// current (see Summary.CurrentMedications).
const CurrentWindow = 90 * 24 * time.Hour

// The statuses of the next visit.
const (
	Scheduled = "scheduled"
	Overdue   = "overdue"
)

// Summary is a patient's chart at a glance.
type Summary struct {
	InsuranceNo string `json:"insurance_no" validate:"required" example:"A11"`
	// AsOf is when the summary was computed; the next visit is scheduled or overdue
	// relative to it.
	AsOf    time.Time `json:"as_of" validate:"required" format:"date-time" example:"2024-11-05T10:00:00Z"`
	Patient Patient   `json:"patient" validate:"required"`
	Visits  Visits    `json:"visits" validate:"required"`
	// Labels counts the visits carrying each label, most frequent first.
	Labels []Count `json:"labels" validate:"required"`
	// Ailments counts the visits of each ailment (compared ignoring case and repeated
	// spaces, named as the newest visit spells it), most frequent first.
	Ailments []Count       `json:"ailments" validate:"required"`
	Vitals   vitals.Vitals `json:"vitals" validate:"required"`
	// HealthStatus is the series of the visits' health_status (1 to 10), with its trend.
	HealthStatus vitals.Series `json:"health_status" validate:"required"`
	// CurrentMedications are the medications prescribed (next_steps.prescribed_meds)
	// at a visit in the 90 days up to and including the most recent visit, by last
	// prescribed, newest first. Names are compared ignoring case and repeated spaces.
	CurrentMedications []Medication `json:"current_medications" validate:"required"`
	// PendingTests are the tests ordered (next_steps.prescribed_tests) at a visit that
	// no later visit has followed yet: the tests of the most recent visit (of all
	// visits at that same time).
	PendingTests []Test `json:"pending_tests" validate:"required"`
	// NextVisit is the next_steps.next_visit of the most recent visit that set one,
	// unless a visit has taken place on or after that date: null then, and when no
	// visit set one.
	NextVisit              *NextVisit `json:"next_visit" validate:"required" extensions:"x-nullable"`
	PreExistingConditions  []string   `json:"pre_existing_conditions" validate:"required" example:"Asthma"`
	PreExistingMedications []string   `json:"pre_existing_medications" validate:"required" example:"GTH 30mg"`
	// Text is the summary as a short clinical paragraph, given when asked for (see
	// Summary.Paragraph).
	Text string `json:"text,omitempty" example:"Ada Byron, 36 years old, female, blood type O-, insurance number S1. 4 visits from 1 Sep 2024 to 1 Oct 2024. Main problems: Influenza (2 visits)."`
	// TextSource says who wrote Text: deterministic (the service's templates) or
	// llm (a language model, from the de-identified Facts).
	TextSource string `json:"text_source,omitempty" enums:"deterministic,llm" example:"deterministic"`
}

// Patient is who the summary is about.
type Patient struct {
	InsuranceNo string   `json:"insurance_no" validate:"required" example:"A11"`
	FName       string   `json:"fname,omitempty" example:"Vernon"`
	LName       string   `json:"lname,omitempty" example:"Lopez"`
	Age         *int     `json:"age,omitempty" example:"30"`
	Sex         string   `json:"sex,omitempty" example:"M"`
	BloodType   string   `json:"blood_type,omitempty" example:"B+"`
	Habits      []string `json:"habits,omitempty" example:"smoking,drinking"`
}

// Visits counts a patient's visits (interactions not entered in error).
type Visits struct {
	Count int `json:"count" validate:"required" example:"6"`
	// First and Last are the first and last interaction_date, null without visits.
	First *time.Time `json:"first" validate:"required" extensions:"x-nullable" format:"date-time" example:"2024-08-05T09:30:00Z"`
	Last  *time.Time `json:"last" validate:"required" extensions:"x-nullable" format:"date-time" example:"2024-10-22T10:00:00Z"`
}

// Count is how many visits carry a label or an ailment.
type Count struct {
	Name  string `json:"name" validate:"required" example:"fever"`
	Count int    `json:"count" validate:"required" example:"5"`
}

// Medication is a current medication.
type Medication struct {
	// Name is as the most recent prescription spells it.
	Name string `json:"name" validate:"required" example:"DEF 4mg"`
	// FirstPrescribed is its first prescription in the whole chart, LastPrescribed its
	// latest, and TimesPrescribed the number of visits that prescribed it.
	FirstPrescribed time.Time `json:"first_prescribed" validate:"required" format:"date-time" example:"2024-08-05T09:30:00Z"`
	LastPrescribed  time.Time `json:"last_prescribed" validate:"required" format:"date-time" example:"2024-09-02T08:45:00Z"`
	TimesPrescribed int       `json:"times_prescribed" validate:"required" example:"3"`
}

// Test is a test ordered and not followed by a visit yet.
type Test struct {
	Name string `json:"name" validate:"required" example:"CRP"`
	// OrderedAt is the interaction_date of the visit that ordered it.
	OrderedAt     time.Time `json:"ordered_at" validate:"required" format:"date-time" example:"2024-10-22T10:00:00Z"`
	InteractionID string    `json:"interaction_id" validate:"required" example:"6"`
}

// NextVisit is the next visit a visit scheduled.
type NextVisit struct {
	Date time.Time `json:"date" validate:"required" format:"date-time" example:"2024-11-22T00:00:00Z"`
	// SetAt is the interaction_date of the visit that scheduled it.
	SetAt         time.Time `json:"set_at" validate:"required" format:"date-time" example:"2024-09-02T08:45:00Z"`
	InteractionID string    `json:"interaction_id" validate:"required" example:"3"`
	// Status is scheduled when the date is today or later (as_of, UTC), overdue when
	// it has passed without a visit.
	Status string `json:"status" validate:"required" enums:"scheduled,overdue" example:"scheduled"`
}

// Builder computes a Summary from a patient's interactions, handed to Add one at a
// time in any order; it keeps aggregates, not the interactions.
type Builder struct {
	patient     models.Patient
	asOf        time.Time
	count       int
	first, last time.Time
	labels      counter
	ailments    counter
	chart       vitals.Chart
	health      []vitals.Point
	meds        map[string]*Medication
	// medsSeen notes each medication's newest prescription, whose spelling names it.
	medsSeen map[string]visitKey
	// tests are the tests ordered at the most recent visits (those at last).
	tests []Test
	// plan is the next visit of the most recent visit that set one.
	plan *NextVisit
}

// visitKey places a visit in a history: by date, then id.
type visitKey struct {
	at time.Time
	id string
}

func (k visitKey) after(o visitKey) bool {
	return k.at.After(o.at) || k.at.Equal(o.at) && k.id > o.id
}

// NewBuilder returns a Builder of p's summary as of asOf.
func NewBuilder(p models.Patient, asOf time.Time) *Builder {
	return &Builder{patient: p, asOf: asOf, meds: map[string]*Medication{}, medsSeen: map[string]visitKey{}}
}

// Add counts in among the patient's visits. An interaction marked entered-in-error
// is left out.
func (b *Builder) Add(in models.Interaction) {
	if in.Status == models.StatusEnteredInError {
		return
	}
	at, key := in.InteractionDate, visitKey{at: in.InteractionDate, id: in.ID}
	if b.count == 0 || at.Before(b.first) {
		b.first = at
	}
	if b.count == 0 || at.After(b.last) {
		b.last = at
		b.tests = b.tests[:0]
	}
	b.count++
	for _, l := range in.Label {
		b.labels.add(l, key)
	}
	if strings.TrimSpace(in.Ailment) != "" {
		b.ailments.add(in.Ailment, key)
	}
	b.chart.Add(at, in.ID, in.Metrics)
	if in.HealthStatus != nil {
		b.health = append(b.health, vitals.Point{Date: at, Value: float64(*in.HealthStatus), InteractionID: in.ID})
	}
	if in.NextSteps != nil {
		b.addNextSteps(in, key)
	}
}

func (b *Builder) addNextSteps(in models.Interaction, key visitKey) {
	ns := in.NextSteps
	for _, name := range distinct(ns.PrescribedMeds) {
		b.prescribe(name, key)
	}
	if key.at.Equal(b.last) {
		for _, name := range distinct(ns.PrescribedTests) {
			b.tests = append(b.tests, Test{Name: tidy(name), OrderedAt: key.at, InteractionID: in.ID})
		}
	}
	if ns.NextVisit != nil && (b.plan == nil || key.after(visitKey{at: b.plan.SetAt, id: b.plan.InteractionID})) {
		b.plan = &NextVisit{Date: *ns.NextVisit, SetAt: key.at, InteractionID: in.ID}
	}
}

func (b *Builder) prescribe(name string, key visitKey) {
	k := fold(name)
	m, ok := b.meds[k]
	if !ok {
		m = &Medication{FirstPrescribed: key.at, LastPrescribed: key.at}
		b.meds[k] = m
	}
	m.TimesPrescribed++
	m.FirstPrescribed = minTime(m.FirstPrescribed, key.at)
	m.LastPrescribed = maxTime(m.LastPrescribed, key.at)
	if seen, ok := b.medsSeen[k]; !ok || key.after(seen) {
		b.medsSeen[k] = key
		m.Name = tidy(name)
	}
}

// Summary returns the summary of the interactions added so far.
func (b *Builder) Summary() Summary {
	p := b.patient
	s := Summary{
		InsuranceNo: p.InsuranceNo,
		AsOf:        b.asOf,
		Patient: Patient{InsuranceNo: p.InsuranceNo, FName: p.FName, LName: p.LName, Age: p.Age, Sex: p.Sex,
			BloodType: p.BloodType, Habits: p.Habits},
		Visits:                 Visits{Count: b.count},
		Labels:                 b.labels.counts(),
		Ailments:               b.ailments.counts(),
		Vitals:                 b.chart.Vitals(),
		HealthStatus:           vitals.NewSeries(vitals.HealthStatus, "", b.health),
		CurrentMedications:     []Medication{},
		PendingTests:           append([]Test{}, b.tests...),
		PreExistingConditions:  nonNil(p.PreExistingConditions),
		PreExistingMedications: nonNil(p.PreExistingMedications),
	}
	if b.count == 0 {
		return s
	}
	s.Visits.First, s.Visits.Last = &b.first, &b.last
	since := b.last.Add(-CurrentWindow)
	for _, m := range b.meds {
		if !m.LastPrescribed.Before(since) {
			s.CurrentMedications = append(s.CurrentMedications, *m)
		}
	}
	slices.SortFunc(s.CurrentMedications, func(a, b Medication) int {
		return cmp.Or(b.LastPrescribed.Compare(a.LastPrescribed), strings.Compare(a.Name, b.Name))
	})
	// By visit; a visit's tests in the order it gave them.
	slices.SortStableFunc(s.PendingTests, func(a, b Test) int { return strings.Compare(a.InteractionID, b.InteractionID) })
	if b.plan != nil && b.last.Before(b.plan.Date) {
		next := *b.plan
		next.Status = Scheduled
		if next.Date.Before(b.asOf.UTC().Truncate(24 * time.Hour)) {
			next.Status = Overdue
		}
		s.NextVisit = &next
	}
	return s
}

// counter counts visits by a name compared ignoring case and repeated spaces, and
// names each as its newest visit spells it.
type counter struct {
	entries map[string]*countEntry
}

type countEntry struct {
	Count
	newest visitKey
}

func (c *counter) add(name string, key visitKey) {
	if c.entries == nil {
		c.entries = map[string]*countEntry{}
	}
	k := fold(name)
	e, ok := c.entries[k]
	if !ok {
		e = &countEntry{newest: key}
		c.entries[k] = e
	}
	e.Count.Count++
	if !ok || key.after(e.newest) {
		e.newest, e.Name = key, tidy(name)
	}
}

// counts returns the counts, most frequent first, then by name.
func (c *counter) counts() []Count {
	out := make([]Count, 0, len(c.entries))
	for _, e := range c.entries {
		out = append(out, e.Count)
	}
	slices.SortFunc(out, func(a, b Count) int { return cmp.Or(b.Count-a.Count, strings.Compare(a.Name, b.Name)) })
	return out
}

// tidy returns s trimmed, with single spaces.
func tidy(s string) string { return strings.Join(strings.Fields(s), " ") }

// fold is the form names are compared in: tidy, in lower case.
func fold(s string) string { return strings.ToLower(tidy(s)) }

// distinct returns the non-empty names of list, each once (compared as fold does).
func distinct(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if k := fold(s); k != "" && !seen[k] {
			seen[k] = true
			out = append(out, s)
		}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
