// Package synthetic draws synthetic patients and their histories from a catalogue of
// visit reasons (catalog.go) and tables of names and addresses (people.go): records
// the API would accept, the same for a seed at any time (see Generator). With
// planted structure (see NewPlanted), they measure how well the service's insights
// find it. Visit draws one visit for a patient made elsewhere.
package synthetic

import (
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

// Limits of a generated history.
const (
	minVisits = 2
	maxVisits = 20
	// historyDays is how far back generated visits reach: about three years.
	historyDays = 3 * 365
	// syntheticPrefix starts every generated insurance number. Real insurance numbers
	// hold no '-', so generated ones cannot collide with them.
	syntheticPrefix = "SYN-"
)

// insuranceEncoding spells the random part of generated insurance numbers.
var insuranceEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// The random sources of a generated patient, told apart by the last part of their
// key (see patientSource).
const (
	// recordSource draws the patient's record and what happens at each visit.
	recordSource byte = iota
	// identitySource draws the patient's insurance number and the ids of its
	// interactions.
	identitySource
	// calendarSource draws the days and hours of the visits, the only draws whose
	// number depends on the time of the run (weekends are skipped).
	calendarSource
)

// Generator draws synthetic patients and their histories. Patient i (from 0) of a
// seed is drawn from random sources keyed by the seed and i alone (see
// patientSource), so it is the same in every run with that seed, whatever the number
// of patients asked for: the first 200 patients of a run of 300 are those of a run
// of 200. The time of the run only dates the visits and the records: the insurance
// numbers, the interaction ids and everything else are the same at any time. The
// generator remembers the insurance numbers it has issued, which are therefore
// unique within a run. A Generator is not safe for concurrent use.
type Generator struct {
	seed uint64
	now  time.Time
	// r is the record source of the patient being drawn.
	r    *rand.Rand
	used map[string]bool
	// planted draws the planted patients instead (see planted.go).
	planted bool
}

// New returns a generator of the patients of seed. Records are created at now, and
// visits fall in the three years before it.
func New(seed uint64, now time.Time) *Generator {
	return &Generator{seed: seed, now: models.StoreTime(now), used: map[string]bool{}}
}

// NewPlanted returns a generator of the planted patients of seed (see planted.go),
// created at now like those of New.
func NewPlanted(seed uint64, now time.Time) *Generator {
	g := New(seed, now)
	g.planted = true
	return g
}

// patientSource returns the random source of the given kind for patient i of seed: a
// ChaCha8 generator whose key holds the seed, i and the kind, so that every patient
// and kind has a stream of its own.
func patientSource(seed uint64, i int, kind byte) *rand.Rand {
	var key [32]byte
	binary.BigEndian.PutUint64(key[0:8], seed)
	binary.BigEndian.PutUint64(key[8:16], uint64(i))
	key[16] = kind
	return rand.New(rand.NewChaCha8(key))
}

// Generate returns the first n synthetic patients of seed and all their interactions
// (2 to 20 each), created at now. It returns an error only when a generated record
// fails the models' validation, which would be a bug in the generator.
func Generate(seed uint64, now time.Time, n int) ([]models.Patient, []models.Interaction, error) {
	g := New(seed, now)
	patients := make([]models.Patient, 0, n)
	var interactions []models.Interaction
	for i := range n {
		p, history, err := g.Patient(i)
		if err != nil {
			return nil, nil, err
		}
		patients = append(patients, p)
		interactions = append(interactions, history...)
	}
	return patients, interactions, nil
}

// historyLength draws how many interactions a patient has, from 2 to 20 and most often
// around 11, as the first draw of r.
func historyLength(r *rand.Rand) int {
	half := (maxVisits - minVisits) / 2
	return minVisits + r.IntN(half+1) + r.IntN(half+1)
}

// Visits returns how many interactions patient i will have, without drawing it.
func (g *Generator) Visits(i int) int {
	if g.planted {
		return g.plantedVisits(i)
	}
	return historyLength(patientSource(g.seed, i, recordSource))
}

// Patient draws patient i with its history, oldest visit first. Both go through
// models.NewPatient and models.NewInteraction, as API requests do; an error from them
// is returned wrapped and means the generator made an invalid record.
func (g *Generator) Patient(i int) (models.Patient, []models.Interaction, error) {
	if g.planted {
		p, history, _, err := g.plantedPatient(i)
		return p, history, err
	}
	g.r = patientSource(g.seed, i, recordSource)
	identity := patientSource(g.seed, i, identitySource)
	visits := historyLength(g.r)
	insuranceNo := g.insuranceNo(identity)
	ids := make([]string, visits)
	for j := range ids {
		ids[j] = uuidV4(identity)
	}

	sex := pick(g.r, []string{"M", "F"})
	age := g.age()
	conditions := g.conditions(age, visits)
	doc := g.patientDocument(insuranceNo, sex, age, conditions)
	p, err := models.NewPatient(doc, g.now)
	if err != nil {
		return models.Patient{}, nil, fmt.Errorf("generated patient is invalid: %w", err)
	}

	history := make([]models.Interaction, 0, visits)
	for j, at := range g.visitTimes(patientSource(g.seed, i, calendarSource), visits) {
		a := g.visitReason(age, conditions)
		in, err := models.NewInteraction(g.interactionDocument(ids[j], p.InsuranceNo, a, at), g.now)
		if err != nil {
			return models.Patient{}, nil, fmt.Errorf("generated interaction is invalid: %w", err)
		}
		history = append(history, in)
	}
	return p, history, nil
}

// Visit returns the request document of a visit of the patient with insurance
// number no, who is age years old, at time at, as a client sends it to the API:
// without an id, which the API gives. It is an acute complaint of the catalogue
// suited to the age, with its symptoms, vitals, questions and plan, drawn from r
// alone, so that callers with sources of their own may call it at the same time.
func Visit(r *rand.Rand, no string, age int, at time.Time) bson.D {
	g := &Generator{r: r}
	return g.interactionDocument("", no, g.visitReason(age, nil), at)
}

// age draws an age in years, weighted towards adults as in a general practice.
func (g *Generator) age() int {
	switch x := g.r.IntN(100); {
	case x < 15:
		return between(g.r, span{0, 17})
	case x < 50:
		return between(g.r, span{18, 44})
	case x < 80:
		return between(g.r, span{45, 64})
	default:
		return between(g.r, span{65, 95})
	}
}

// conditions draws the chronic ailments a patient lives with: more likely with age and
// with a long history.
func (g *Generator) conditions(age, visits int) []*ailment {
	chance := 0.1
	switch {
	case age >= 65:
		chance = 0.75
	case age >= 45:
		chance = 0.5
	case age >= 18:
		chance = 0.25
	}
	chance += 0.02 * float64(visits-minVisits)
	if g.r.Float64() >= chance {
		return nil
	}
	eligible := catalogue(func(a *ailment) bool { return a.chronic && age >= a.minAge })
	n := 1
	if age >= 45 {
		n += g.r.IntN(3)
	}
	return sample(g.r, eligible, n)
}

// patientDocument builds the request document of a new patient.
func (g *Generator) patientDocument(insuranceNo, sex string, age int, conditions []*ailment) bson.D {
	first := pick(g.r, firstNames[sex])
	last := pick(g.r, lastNames)
	town := pick(g.r, towns)
	doc := bson.D{
		{Key: "insurance_no", Value: insuranceNo},
		{Key: "fname", Value: first},
		{Key: "lname", Value: last},
		{Key: "addr", Value: fmt.Sprintf("%s %d, %s %s", pick(g.r, streets), 1+g.r.IntN(180), town.postcode, town.name)},
		{Key: "age", Value: int64(age)},
		{Key: "sex", Value: sex},
		{Key: "ph_no", Value: fmt.Sprintf("%s %07d", pick(g.r, mobilePrefixes), g.r.IntN(10_000_000))},
	}
	if age >= 14 && g.r.IntN(100) < 85 {
		email := asciiLower(first) + "." + asciiLower(last)
		if g.r.IntN(2) == 0 {
			email += strconv.Itoa(1 + g.r.IntN(99))
		}
		doc = append(doc, bson.E{Key: "email", Value: email + "@" + pick(g.r, emailDomains)})
	}
	if g.r.IntN(100) < 20 {
		doc = append(doc, bson.E{Key: "related_docs", Value: sample(g.r, relatedDocs, 1+g.r.IntN(2))})
	}
	if h := g.habits(age); len(h) > 0 {
		doc = append(doc, bson.E{Key: "habits", Value: h})
	}
	if len(conditions) > 0 {
		names := make([]string, len(conditions))
		meds := make([]string, len(conditions))
		for i, a := range conditions {
			names[i] = a.condition
			meds[i] = a.meds[g.r.IntN(min(2, len(a.meds)))]
		}
		doc = append(doc,
			bson.E{Key: "pre_existing_conditions", Value: names},
			bson.E{Key: "pre_existing_medications", Value: meds},
		)
	}
	return append(doc,
		bson.E{Key: "blood_type", Value: g.bloodType()},
		bson.E{Key: "insurance_provider", Value: pick(g.r, insuranceProviders)},
	)
}

// insuranceNo returns a new synthetic insurance number: the prefix and 64 bits drawn
// from r in base32, never one issued before by g.
func (g *Generator) insuranceNo(r *rand.Rand) string {
	for {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], r.Uint64())
		no := syntheticPrefix + insuranceEncoding.EncodeToString(b[:])
		if !g.used[no] {
			g.used[no] = true
			return no
		}
	}
}

// habits draws lifestyle entries, none of the adult ones for minors.
func (g *Generator) habits(age int) []string {
	var out []string
	for _, h := range habits {
		if (h.adultOnly && age < 18) || g.r.IntN(100) >= 18 {
			continue
		}
		out = append(out, h.name)
	}
	return out
}

// bloodType draws a blood type with its share in the population.
func (g *Generator) bloodType() string {
	x := g.r.IntN(1000)
	for _, b := range bloodTypes {
		if x < b.weight {
			return b.name
		}
		x -= b.weight
	}
	return bloodTypes[0].name
}

// visitTimes draws from r n visit times on distinct weekdays within the three years
// before g.now, in surgery hours (08:00 to 17:45 UTC), in ascending order.
func (g *Generator) visitTimes(r *rand.Rand, n int) []time.Time {
	today := g.now.Truncate(24 * time.Hour)
	days := map[int]bool{}
	times := make([]time.Time, 0, n)
	for len(times) < n {
		back := 1 + r.IntN(historyDays)
		day := today.AddDate(0, 0, -back)
		switch day.Weekday() {
		case time.Saturday:
			day, back = day.AddDate(0, 0, -1), back+1
		case time.Sunday:
			day, back = day.AddDate(0, 0, -2), back+2
		}
		if days[back] {
			continue
		}
		days[back] = true
		times = append(times, day.Add(8*time.Hour+time.Duration(r.IntN(40))*15*time.Minute))
	}
	// Insertion sort: n is at most 20.
	for i := 1; i < len(times); i++ {
		for j := i; j > 0 && times[j].Before(times[j-1]); j-- {
			times[j], times[j-1] = times[j-1], times[j]
		}
	}
	return times
}

// visitReason picks what a visit is about: half of a chronic patient's visits follow
// up one of their conditions, the rest are acute complaints suited to their age.
func (g *Generator) visitReason(age int, conditions []*ailment) *ailment {
	if len(conditions) > 0 && g.r.IntN(2) == 0 {
		return pick(g.r, conditions)
	}
	return pick(g.r, catalogue(func(a *ailment) bool { return !a.chronic && age >= a.minAge }))
}

// interactionDocument builds the request document of a visit for ailment a at time
// at, whose id is id unless it is empty (the API then gives one).
func (g *Generator) interactionDocument(id, insuranceNo string, a *ailment, at time.Time) bson.D {
	var doc bson.D
	if id != "" {
		doc = bson.D{{Key: "id", Value: id}}
	}
	doc = append(doc,
		bson.E{Key: "insurance_no", Value: insuranceNo},
		bson.E{Key: "ailment", Value: a.name},
		bson.E{Key: "symptoms", Value: strings.Join(sample(g.r, a.symptoms, 1+g.r.IntN(3)), ", ")},
		bson.E{Key: "interaction_date", Value: at.Format(time.RFC3339)},
		bson.E{Key: "metrics", Value: g.metrics(a)},
	)
	if g.r.IntN(100) < 65 {
		remark := pick(g.r, genericRemarks)
		if len(a.remarks) > 0 && g.r.IntN(100) < 70 {
			remark = pick(g.r, a.remarks)
		}
		doc = append(doc, bson.E{Key: "remarks", Value: remark})
	}
	doc = append(doc,
		bson.E{Key: "health_status", Value: int64(between(g.r, a.status))},
		bson.E{Key: "qa", Value: g.qa(a)},
	)
	if g.r.IntN(100) < 85 {
		doc = append(doc, bson.E{Key: "next_steps", Value: g.nextSteps(a, at)})
	}
	return append(doc, bson.E{Key: "label", Value: a.labels})
}

// metrics draws vitals consistent with the ailment: temperature in °C, blood pressure
// as "systolic/diastolic" with at least 25 mmHg between them, heart rate, oxygen
// saturation in percent, and an ECG finding that fits the heart rate.
func (g *Generator) metrics(a *ailment) bson.D {
	temp := a.temp.lo + g.r.Float64()*(a.temp.hi-a.temp.lo)
	systolic := between(g.r, a.systolic)
	diastolic := min(between(g.r, a.diastolic), systolic-25)
	rate := between(g.r, a.heartRate)
	ecg := "Normal"
	switch {
	case len(a.ecg) > 0:
		ecg = pick(g.r, a.ecg)
	case rate > 100:
		ecg = "Sinus tachycardia"
	case rate < 60:
		ecg = "Sinus bradycardia"
	}
	m := bson.D{
		{Key: "temp", Value: math.Round(temp*10) / 10},
		{Key: "BP", Value: fmt.Sprintf("%d/%d", systolic, diastolic)},
		{Key: "heart_rate", Value: int64(rate)},
		{Key: "spo2", Value: int64(between(g.r, a.spo2))},
		{Key: "ECG", Value: ecg},
	}
	if a.glucose != nil {
		m = append(m, bson.E{Key: "glucose_mg_dl", Value: int64(between(g.r, *a.glucose))})
	}
	return m
}

// qa draws one to three of the ailment's questions with an answer each.
func (g *Generator) qa(a *ailment) bson.D {
	qs := sample(g.r, a.questions, 1+g.r.IntN(min(3, len(a.questions))))
	d := make(bson.D, 0, len(qs))
	for _, q := range qs {
		d = append(d, bson.E{Key: q.ask, Value: pick(g.r, q.answers)})
	}
	return d
}

// nextSteps draws the plan after a visit at time at: a next visit on a later day,
// one or two prescriptions, up to two tests and sometimes a referral.
func (g *Generator) nextSteps(a *ailment, at time.Time) bson.D {
	next := at.Truncate(24*time.Hour).AddDate(0, 0, between(g.r, a.followUp))
	d := bson.D{
		{Key: "next_visit", Value: next.Format(time.DateOnly)},
		{Key: "prescribed_meds", Value: sample(g.r, a.meds, 1+g.r.IntN(2))},
	}
	if n := g.r.IntN(3); n > 0 && len(a.tests) > 0 {
		d = append(d, bson.E{Key: "prescribed_tests", Value: sample(g.r, a.tests, n)})
	}
	if a.specialist != "" && g.r.Float64() < a.referral {
		d = append(d, bson.E{Key: "prescribed_specialist", Value: a.specialist})
	}
	return d
}

// catalogue returns the ailments of the catalogue that keep keeps, in its order.
func catalogue(keep func(*ailment) bool) []*ailment {
	var out []*ailment
	for i := range ailments {
		if keep(&ailments[i]) {
			out = append(out, &ailments[i])
		}
	}
	return out
}

// uuidV4 returns a version 4 UUID, whose bits are drawn from r, in its canonical
// string form.
func uuidV4(r *rand.Rand) string {
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[0:8], r.Uint64())
	binary.BigEndian.PutUint64(u[8:16], r.Uint64())
	u[6] = 0x40 | u[6]&0x0f // version 4
	u[8] = 0x80 | u[8]&0x3f // RFC 9562 variant
	return u.String()
}

// between draws an integer in s, bounds included.
func between(r *rand.Rand, s span) int {
	return s.lo + r.IntN(s.hi-s.lo+1)
}

// pick draws one element of xs, which must not be empty.
func pick[T any](r *rand.Rand, xs []T) T {
	return xs[r.IntN(len(xs))]
}

// sample draws n distinct elements of xs (all of them when n exceeds its length), in
// the order drawn.
func sample[T any](r *rand.Rand, xs []T, n int) []T {
	n = min(n, len(xs))
	idx := r.Perm(len(xs))[:n]
	out := make([]T, n)
	for i, j := range idx {
		out[i] = xs[j]
	}
	return out
}

// asciiLower spells a name in lower-case ASCII for an email address, transcribing
// German and Turkish letters and dropping anything else that is not a letter.
func asciiLower(name string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(name) {
		switch {
		case c >= 'a' && c <= 'z':
			b.WriteRune(c)
		case c == 'ä':
			b.WriteString("ae")
		case c == 'ö':
			b.WriteString("oe")
		case c == 'ü':
			b.WriteString("ue")
		case c == 'ß':
			b.WriteString("ss")
		case c == 'ş':
			b.WriteByte('s')
		case c == 'ı':
			b.WriteByte('i')
		}
	}
	return b.String()
}
