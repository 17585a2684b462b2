package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

var (
	bpPattern    = regexp.MustCompile(`^(\d{2,3})/(\d{2,3})$`)
	phonePattern = regexp.MustCompile(`^01[5-7]\d \d{7}$`)
	emailPattern = regexp.MustCompile(`^[a-z]+\.[a-z]+\d{0,2}@example\.(com|org|net)$`)
)

// catalogueAilment returns the catalogue entry named name, or nil.
func catalogueAilment(name string) *ailment {
	for i := range ailments {
		if ailments[i].name == name {
			return &ailments[i]
		}
	}
	return nil
}

// revalidate sends v through JSON and the API's parser and validation, as a client
// posting the record would, and returns the document it parsed.
func revalidate(t *testing.T, v any) bson.D {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	doc, err := models.ParseDocument(data)
	if err != nil {
		t.Fatalf("parse %s: %v", data, err)
	}
	// The server sets these; a client cannot send them.
	return slices.DeleteFunc(doc, func(e bson.E) bool {
		return slices.Contains([]string{"created_at", "updated_at", "version", "status", "amendment_reason", "source", "recorded_by"}, e.Key)
	})
}

func TestGeneratePlausible(t *testing.T) {
	now := time.Date(2025, 6, 15, 14, 7, 3, 0, time.UTC)
	tests := []struct {
		seed uint64
		n    int
	}{
		{1, 1},
		{2, 25},
		{3, 300},
		{4, 300},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("seed %d n %d", tt.seed, tt.n), func(t *testing.T) {
			patients, interactions, err := generate(tt.seed, now, tt.n)
			if err != nil {
				t.Fatalf("generate: %v", err)
			}
			if len(patients) != tt.n {
				t.Fatalf("%d patients, want %d", len(patients), tt.n)
			}
			byNo := map[string]models.Patient{}
			for _, p := range patients {
				checkPatient(t, p, now)
				if _, dup := byNo[p.InsuranceNo]; dup {
					t.Errorf("insurance number %s issued twice", p.InsuranceNo)
				}
				byNo[p.InsuranceNo] = p
			}

			visits := map[string][]models.Interaction{}
			ids := map[string]bool{}
			for _, in := range interactions {
				p, ok := byNo[in.InsuranceNo]
				if !ok {
					t.Fatalf("interaction %s belongs to no generated patient", in.ID)
				}
				if ids[in.ID] {
					t.Errorf("id %s issued twice", in.ID)
				}
				ids[in.ID] = true
				visits[in.InsuranceNo] = append(visits[in.InsuranceNo], in)
				checkInteraction(t, in, p, now)
			}
			for no, history := range visits {
				if len(history) < minVisits || len(history) > maxVisits {
					t.Errorf("patient %s has %d interactions, want %d to %d", no, len(history), minVisits, maxVisits)
				}
				for i := 1; i < len(history); i++ {
					if !history[i].InteractionDate.After(history[i-1].InteractionDate) {
						t.Errorf("patient %s: visits %d and %d are not in time order", no, i-1, i)
					}
				}
			}
			if len(visits) != tt.n {
				t.Errorf("%d patients have interactions, want all %d", len(visits), tt.n)
			}
		})
	}
}

func checkPatient(t *testing.T, p models.Patient, now time.Time) {
	t.Helper()
	errorf := func(format string, args ...any) {
		t.Helper()
		t.Errorf("patient %s: %s", p.InsuranceNo, fmt.Sprintf(format, args...))
	}
	if !strings.HasPrefix(p.InsuranceNo, syntheticPrefix) || !models.ValidIdentifier(p.InsuranceNo) {
		errorf("insurance number is not a valid %q one", syntheticPrefix)
	}
	if p.Age == nil || *p.Age < 0 || *p.Age > 95 {
		errorf("age %v", p.Age)
	}
	if p.Sex != "M" && p.Sex != "F" || p.FName == "" || p.LName == "" || p.Addr == "" || p.InsuranceProvider == "" {
		errorf("incomplete: %+v", p)
	}
	if !slices.Contains(firstNames[p.Sex], p.FName) {
		errorf("first name %q is not one for sex %q", p.FName, p.Sex)
	}
	if !phonePattern.MatchString(p.PhNo) {
		errorf("phone %q", p.PhNo)
	}
	if p.Email != "" && !emailPattern.MatchString(p.Email) {
		errorf("email %q is not a reserved example address", p.Email)
	}
	if len(p.PreExistingConditions) != len(p.PreExistingMedications) {
		errorf("%d conditions but %d medications", len(p.PreExistingConditions), len(p.PreExistingMedications))
	}
	for i, c := range p.PreExistingConditions {
		found := false
		for _, a := range ailments {
			if a.chronic && a.condition == c {
				found = true
				if *p.Age < a.minAge {
					errorf("%s at age %d", c, *p.Age)
				}
				if !slices.Contains(a.meds, p.PreExistingMedications[i]) {
					errorf("medication %q does not treat %s", p.PreExistingMedications[i], c)
				}
			}
		}
		if !found {
			errorf("condition %q is not a chronic ailment of the catalogue", c)
		}
	}
	if *p.Age < 18 && (slices.Contains(p.Habits, "smoking") || slices.Contains(p.Habits, "drinking")) {
		errorf("minor with habits %q", p.Habits)
	}
	if !p.CreatedAt.Equal(now) || !p.UpdatedAt.Equal(now) {
		errorf("created_at %s, updated_at %s, want %s", p.CreatedAt, p.UpdatedAt, now)
	}

	again, err := models.NewPatient(revalidate(t, p), now)
	if err == nil {
		again.RecordedBy = p.RecordedBy // the server's, as the run's author
	}
	if err != nil {
		errorf("fails the API's validation: %v", err)
	} else if !reflect.DeepEqual(again, p) {
		errorf("changes when posted:\n%+v\n%+v", again, p)
	}
}

func checkInteraction(t *testing.T, in models.Interaction, p models.Patient, now time.Time) {
	t.Helper()
	errorf := func(format string, args ...any) {
		t.Helper()
		t.Errorf("interaction %s (%s): %s", in.ID, in.Ailment, fmt.Sprintf(format, args...))
	}

	id, err := uuid.Parse(in.ID)
	switch {
	case err != nil:
		errorf("id is not a UUID: %v", err)
	case id.Version() != 4 || id.Variant() != uuid.RFC4122:
		errorf("id is version %d variant %s, want 4 RFC4122", id.Version(), id.Variant())
	case id.String() != in.ID || !models.ValidIdentifier(in.ID):
		errorf("id is not a valid identifier in canonical UUID form")
	}

	a := catalogueAilment(in.Ailment)
	if a == nil {
		errorf("ailment not in the catalogue")
		return
	}
	if *p.Age < a.minAge {
		errorf("drawn at age %d, below %d", *p.Age, a.minAge)
	}
	for _, s := range strings.Split(in.Symptoms, ", ") {
		if !slices.Contains(a.symptoms, s) {
			errorf("symptom %q does not belong to the ailment", s)
		}
	}

	d := in.InteractionDate
	if !d.Before(now) || d.Before(now.AddDate(0, 0, -historyDays-3)) {
		errorf("interaction_date %s is not within the three years before %s", d, now)
	}
	if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday || d.Hour() < 8 || d.Hour() > 17 {
		errorf("interaction_date %s is outside surgery hours", d)
	}

	if len(in.Label) == 0 {
		errorf("no label")
	}
	if !slices.Equal(models.NormalizeLabels(in.Label), in.Label) {
		errorf("labels %q are not trimmed, lower-case and distinct", in.Label)
	}
	for _, l := range in.Label {
		if l != strings.ToLower(l) || strings.TrimSpace(l) == "" {
			errorf("label %q", l)
		}
	}

	checkMetrics(t, in, a)

	if in.HealthStatus == nil || *in.HealthStatus < a.status.lo || *in.HealthStatus > a.status.hi {
		errorf("health_status %v outside %v", in.HealthStatus, a.status)
	}
	if len(in.QA) == 0 {
		errorf("no qa")
	}
	asked := map[string]bool{}
	for _, e := range in.QA {
		if s, ok := e.Value.(string); !ok || s == "" || asked[e.Key] {
			errorf("qa %v: answers must be distinct questions with string answers", in.QA)
		}
		asked[e.Key] = true
	}
	if ns := in.NextSteps; ns != nil {
		if ns.NextVisit == nil || !ns.NextVisit.After(d) {
			errorf("next_visit %v is not after interaction_date %s", ns.NextVisit, d)
		}
		if len(ns.PrescribedMeds) == 0 {
			errorf("next_steps without prescriptions")
		}
		for _, m := range ns.PrescribedMeds {
			if !slices.Contains(a.meds, m) || !strings.ContainsAny(m, "0123456789") {
				errorf("prescription %q has no dose or does not treat the ailment", m)
			}
		}
		if ns.PrescribedSpecialist != "" && ns.PrescribedSpecialist != a.specialist {
			errorf("referral to %q", ns.PrescribedSpecialist)
		}
	}
	if !in.CreatedAt.Equal(now) {
		errorf("created_at %s, want %s", in.CreatedAt, now)
	}

	again, err := models.NewInteraction(revalidate(t, in), now)
	if err != nil {
		errorf("fails the API's validation: %v", err)
		return
	}
	if again.ID != in.ID || again.InsuranceNo != in.InsuranceNo || !again.InteractionDate.Equal(d) ||
		!slices.Equal(again.Label, in.Label) || !reflect.DeepEqual(again.NextSteps, in.NextSteps) {
		errorf("changes when posted:\n%+v\n%+v", again, in)
	}
}

func checkMetrics(t *testing.T, in models.Interaction, a *ailment) {
	t.Helper()
	errorf := func(format string, args ...any) {
		t.Helper()
		t.Errorf("interaction %s (%s) metrics %v: %s", in.ID, in.Ailment, in.Metrics, fmt.Sprintf(format, args...))
	}
	m := map[string]any{}
	for _, e := range in.Metrics {
		m[e.Key] = e.Value
	}
	temp, ok := m["temp"].(float64)
	if !ok || temp < a.temp.lo-0.05 || temp > a.temp.hi+0.05 || temp < 35.5 || temp > 41 {
		errorf("temp %v °C", m["temp"])
	}
	if temp != float64(int(temp*10+0.5))/10 {
		errorf("temp %v has more than one decimal", temp)
	}
	bp, _ := m["BP"].(string)
	parts := bpPattern.FindStringSubmatch(bp)
	if parts == nil {
		errorf("BP %q is not systolic/diastolic", bp)
	} else {
		sys, _ := strconv.Atoi(parts[1])
		dia, _ := strconv.Atoi(parts[2])
		if sys <= dia || sys < 80 || sys > 220 || dia < 40 || dia > 130 || sys < a.systolic.lo || sys > a.systolic.hi {
			errorf("BP %d/%d", sys, dia)
		}
	}
	rate, ok := m["heart_rate"].(int64)
	if !ok || rate < 40 || rate > 180 {
		errorf("heart_rate %v", m["heart_rate"])
	}
	if spo2, ok := m["spo2"].(int64); !ok || spo2 < 85 || spo2 > 100 {
		errorf("spo2 %v", m["spo2"])
	}
	ecg, _ := m["ECG"].(string)
	switch {
	case len(a.ecg) > 0:
		if !slices.Contains(a.ecg, ecg) {
			errorf("ECG %q", ecg)
		}
	case rate > 100 && ecg != "Sinus tachycardia", rate < 60 && ecg != "Sinus bradycardia",
		rate >= 60 && rate <= 100 && ecg != "Normal":
		errorf("ECG %q does not fit a heart rate of %d", ecg, rate)
	}
	if _, ok := m["glucose_mg_dl"]; ok != (a.glucose != nil) {
		errorf("glucose reading present: %v", ok)
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	p1, i1, err := generate(99, now, 40)
	if err != nil {
		t.Fatal(err)
	}
	p2, i2, err := generate(99, now, 40)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p1, p2) || !reflect.DeepEqual(i1, i2) {
		t.Error("the same seed and time gave different records")
	}
	p3, i3, err := generate(100, now, 40)
	if err != nil {
		t.Fatal(err)
	}
	if p3[0].InsuranceNo == p1[0].InsuranceNo || i3[0].ID == i1[0].ID {
		t.Error("different seeds gave the same identities")
	}
}

func TestGenerateCoversTheCatalogue(t *testing.T) {
	_, interactions, err := generate(5, time.Now(), 2000)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	referrals := 0
	for _, in := range interactions {
		seen[in.Ailment]++
		if in.NextSteps != nil && in.NextSteps.PrescribedSpecialist != "" {
			referrals++
		}
	}
	for _, a := range ailments {
		if seen[a.name] == 0 {
			t.Errorf("ailment %q never drawn", a.name)
		}
	}
	if mean := float64(len(interactions)) / 2000; mean < 9 || mean > 13 {
		t.Errorf("mean history length %.1f, want about 11", mean)
	}
	if referrals == 0 {
		t.Error("no referral to a specialist")
	}
}

func TestAsciiLower(t *testing.T) {
	tests := map[string]string{"Müller": "mueller", "Schröder": "schroeder", "Ayşe": "ayse", "Yılmaz": "yilmaz", "Jürgen": "juergen", "Groß": "gross", "Lopez": "lopez"}
	for in, want := range tests {
		if got := asciiLower(in); got != want {
			t.Errorf("asciiLower(%q) = %q, want %q", in, got, want)
		}
	}
}

// orderStore records inserts, which may come from several goroutines at once, and
// checks that every interaction's patient is inserted before it, that no call holds
// more than batch documents and that no more than inflight calls run at once.
type orderStore struct {
	t               *testing.T
	batch, inflight int

	mu           sync.Mutex
	running      int
	patients     map[string]bool
	interactions int
}

func (s *orderStore) PatientExists(_ context.Context, no string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.patients[no], nil
}

// call checks a call of n documents, counting it as running until the function it
// returns is called.
func (s *orderStore) call(what string, n int) (done func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n > s.batch {
		s.t.Errorf("inserted %d %s at once, batch is %d", n, what, s.batch)
	}
	if s.running++; s.running > s.inflight {
		s.t.Errorf("%d calls at once, inflight is %d", s.running, s.inflight)
	}
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.running--
	}
}

func (s *orderStore) InsertPatients(_ context.Context, ps []models.Patient) (models.InsertResult, error) {
	defer s.call("patients", len(ps))()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range ps {
		s.patients[p.InsuranceNo] = true
	}
	return models.InsertResult{Inserted: len(ps)}, nil
}

func (s *orderStore) InsertInteractions(_ context.Context, ins []models.Interaction) (models.InsertResult, error) {
	defer s.call("interactions", len(ins))()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, in := range ins {
		if !s.patients[in.InsuranceNo] {
			s.t.Errorf("interaction %s inserted before its patient", in.ID)
		}
	}
	s.interactions += len(ins)
	return models.InsertResult{Inserted: len(ins)}, nil
}

func TestLoadGeneratedBatches(t *testing.T) {
	for _, opts := range []writeOptions{{1, 1}, {7, 1}, {7, 3}, {50, 2}, {50, 8}, {1000, 2}} {
		t.Run(fmt.Sprintf("batch=%d/inflight=%d", opts.batch, opts.inflight), func(t *testing.T) {
			store := &orderStore{t: t, batch: opts.batch, inflight: opts.inflight, patients: map[string]bool{}}
			now := time.Now()
			rep, err := loadGenerated(context.Background(), store, generateOptions{patients: 30, writeOptions: opts, seed: 8, now: now}, newConsole(io.Discard))
			if err != nil {
				t.Fatalf("loadGenerated: %v", err)
			}
			_, want, _ := generate(8, now, 30)
			if len(store.patients) != 30 || store.interactions != len(want) {
				t.Errorf("stored %d patients and %d interactions, want 30 and %d", len(store.patients), store.interactions, len(want))
			}
			if rep.patients.Inserted != 30 || rep.interactions.Inserted != len(want) || rep.documents() != 30+len(want) {
				t.Errorf("report %+v", rep)
			}
		})
	}
}

func TestGenerateIntoStore(t *testing.T) {
	db := newDatabase(t)
	stdout, stderr, err := runSeed(t, db, "-generate", "25", "-seed", "42", "-batch", "50")
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	g := newGenerator(42, time.Now())
	want := 0
	for i := range 25 {
		want += g.visits(i)
	}
	mustContain(t, "summary", stdout,
		"generating 25 synthetic patients (seed 42)",
		fmt.Sprintf("inserted %d documents (25 patients, %d interactions) in ", 25+want, want),
		" documents/s",
		"already present, left unchanged: 0 patients, 0 interactions")
	mustContain(t, "progress", stderr, "inserting", "docs")

	ps := patients(t, db)
	ins := interactions(t, db)
	if len(ps) != 25 || len(ins) != want {
		t.Fatalf("stored %d patients and %d interactions, want 25 and %d", len(ps), len(ins), want)
	}
	for _, in := range ins {
		p, ok := ps[in.InsuranceNo]
		if !ok {
			t.Fatalf("interaction %s belongs to no stored patient", in.ID)
		}
		checkInteraction(t, in, p, in.CreatedAt)
	}
	for _, p := range ps {
		checkPatient(t, p, p.CreatedAt)
		if p.RecordedBy == nil || p.RecordedBy.Key != "seed" || p.RecordedBy.RequestID == "" {
			t.Errorf("patient %s recorded_by = %+v, want the seed run", p.InsuranceNo, p.RecordedBy)
		}
	}

	stdout, stderr, err = runSeed(t, db, "-generate", "25", "-seed", "42")
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, stderr)
	}
	mustContain(t, "second summary", stdout,
		"inserted 0 documents (0 patients, 0 interactions) in ",
		fmt.Sprintf("already present, left unchanged: 25 patients, %d interactions", want))
	if n := len(interactions(t, db)); n != want {
		t.Errorf("%d interactions after the second run, want %d", n, want)
	}
}

func TestCatalogue(t *testing.T) {
	for _, a := range ailments {
		t.Run(a.name, func(t *testing.T) {
			if len(a.labels) == 0 || !slices.Equal(models.NormalizeLabels(a.labels), a.labels) {
				t.Errorf("labels %q are not non-empty, trimmed, lower-case and distinct", a.labels)
			}
			for _, s := range a.symptoms {
				if strings.Contains(s, ",") {
					t.Errorf("symptom %q holds a comma; symptoms are joined with commas", s)
				}
			}
			for _, m := range a.meds {
				if !strings.ContainsAny(m, "0123456789") {
					t.Errorf("prescription %q has no dose", m)
				}
			}
			if a.chronic != (a.condition != "") {
				t.Errorf("chronic %v with condition %q", a.chronic, a.condition)
			}
			if len(a.symptoms) == 0 || len(a.questions) == 0 || len(a.meds) == 0 {
				t.Error("needs symptoms, questions and prescriptions")
			}
			for _, s := range []span{a.systolic, a.diastolic, a.heartRate, a.spo2, a.status, a.followUp} {
				if s.lo > s.hi {
					t.Errorf("range %v is empty", s)
				}
			}
			if a.systolic.lo-25 < a.diastolic.lo {
				t.Errorf("systolic %v and diastolic %v leave less than 25 mmHg between them", a.systolic, a.diastolic)
			}
			if a.temp.lo > a.temp.hi || a.temp.lo < 35.5 || a.temp.hi > 41 {
				t.Errorf("temperature %v", a.temp)
			}
			if a.status.lo < 1 || a.status.hi > 10 || a.followUp.lo < 1 || a.spo2.hi > 100 {
				t.Errorf("status %v, follow-up %v, spo2 %v", a.status, a.followUp, a.spo2)
			}
			if (a.specialist == "") != (a.referral == 0) {
				t.Errorf("specialist %q with referral chance %v", a.specialist, a.referral)
			}
		})
	}
}

func TestGeneratedPatientDependsOnSeedAndPositionOnly(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	p20, i20, err := generate(11, now, 20)
	if err != nil {
		t.Fatal(err)
	}
	p35, i35, err := generate(11, now, 35)
	if err != nil {
		t.Fatal(err)
	}
	if len(i35) < len(i20) || !reflect.DeepEqual(p35[:20], p20) || !reflect.DeepEqual(i35[:len(i20)], i20) {
		t.Error("the first 20 of 35 patients differ from the 20 patients of the same seed")
	}

	// Another day of the week, another year: the records are dated differently and
	// are otherwise the same, identities included.
	later := now.AddDate(1, 2, 3).Add(5 * time.Hour)
	pl, il, err := generate(11, later, 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(pl) != len(p20) || len(il) != len(i20) {
		t.Fatalf("%d patients and %d interactions later, %d and %d before", len(pl), len(il), len(p20), len(i20))
	}
	for i := range pl {
		if pl[i].InsuranceNo != p20[i].InsuranceNo {
			t.Errorf("patient %d: insurance number %s later, %s before", i, pl[i].InsuranceNo, p20[i].InsuranceNo)
		}
		p := pl[i]
		p.CreatedAt, p.UpdatedAt = p20[i].CreatedAt, p20[i].UpdatedAt
		if !reflect.DeepEqual(p, p20[i]) {
			t.Errorf("patient %d differs in more than its dates:\n%+v\n%+v", i, pl[i], p20[i])
		}
	}
	moved := 0
	for j := range il {
		if il[j].ID != i20[j].ID || il[j].InsuranceNo != i20[j].InsuranceNo {
			t.Errorf("interaction %d: %s of %s later, %s of %s before", j, il[j].ID, il[j].InsuranceNo, i20[j].ID, i20[j].InsuranceNo)
		}
		if !il[j].InteractionDate.Equal(i20[j].InteractionDate) {
			moved++
		}
		if a, b := undated(il[j]), undated(i20[j]); !reflect.DeepEqual(a, b) {
			t.Errorf("interaction %d differs in more than its dates:\n%+v\n%+v", j, a, b)
		}
	}
	if moved == 0 {
		t.Error("no visit is dated differently a year later")
	}
}

// undated returns in without its dates.
func undated(in models.Interaction) models.Interaction {
	in.InteractionDate, in.CreatedAt, in.UpdatedAt = time.Time{}, time.Time{}, time.Time{}
	if in.NextSteps != nil {
		steps := *in.NextSteps
		steps.NextVisit = nil
		in.NextSteps = &steps
	}
	return in
}

func TestGenerateTwiceChangesNothing(t *testing.T) {
	for _, tt := range []struct {
		args []string
		seed int
	}{
		{[]string{"-generate", "30", "-seed", "7"}, 7},
		{[]string{"-generate", "12"}, 1},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			db := newDatabase(t)
			stdout, stderr, err := runSeed(t, db, tt.args...)
			if err != nil {
				t.Fatalf("first run: %v\n%s", err, stderr)
			}
			mustContain(t, "summary", stdout, fmt.Sprintf("synthetic patients (seed %d)\n", tt.seed))
			before := snapshot(t, db)
			patients := len(before[repository.PatientsCollection])
			interactions := len(before[repository.InteractionsCollection])

			// runSeed runs it an hour later, so visits would be dated differently.
			stdout, stderr, err = runSeed(t, db, tt.args...)
			if err != nil {
				t.Fatalf("second run: %v\n%s", err, stderr)
			}
			mustContain(t, "second summary", stdout,
				"inserted 0 documents (0 patients, 0 interactions) in ",
				fmt.Sprintf("already present, left unchanged: %d patients, %d interactions\n", patients, interactions))
			assertSameSnapshot(t, before, snapshot(t, db))
		})
	}
}

func TestGenerateMorePatientsOfASeed(t *testing.T) {
	db := newDatabase(t)
	if _, stderr, err := runSeed(t, db, "-generate", "20", "-seed", "3"); err != nil {
		t.Fatalf("first run: %v\n%s", err, stderr)
	}
	before := snapshot(t, db)

	stdout, stderr, err := runSeed(t, db, "-generate", "30", "-seed", "3")
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, stderr)
	}
	g := newGenerator(3, time.Now())
	old, added := 0, 0
	for i := range 30 {
		if i < 20 {
			old += g.visits(i)
		} else {
			added += g.visits(i)
		}
	}
	mustContain(t, "summary", stdout,
		fmt.Sprintf("inserted %d documents (10 patients, %d interactions) in ", 10+added, added),
		fmt.Sprintf("already present, left unchanged: 20 patients, %d interactions\n", old))

	after := snapshot(t, db)
	for _, c := range []struct {
		name  string
		added int
	}{
		{repository.PatientsCollection, 10},
		{repository.InteractionsCollection, added},
	} {
		stored := map[string]bson.Raw{}
		for _, doc := range after[c.name] {
			stored[doc.Lookup("_id").String()] = doc
		}
		for _, doc := range before[c.name] {
			if id := doc.Lookup("_id").String(); !bytes.Equal(stored[id], doc) {
				t.Errorf("%s: %s changed or removed by the second run", c.name, id)
			}
		}
		if want := len(before[c.name]) + c.added; len(after[c.name]) != want {
			t.Errorf("%s: %d documents, want %d", c.name, len(after[c.name]), want)
		}
	}
	ps, _, err := generate(3, time.Now(), 30)
	if err != nil {
		t.Fatal(err)
	}
	stored := patients(t, db)
	for _, p := range ps {
		if _, ok := stored[p.InsuranceNo]; !ok {
			t.Errorf("patient %s of seed 3 is not stored", p.InsuranceNo)
		}
	}
}

// interruptingStore is a store that ends the load's context when the given number
// of interaction batches have started, as SIGINT would in the middle of a load.
type interruptingStore struct {
	recordStore
	after  int32
	calls  atomic.Int32
	cancel context.CancelFunc
}

func (s *interruptingStore) InsertInteractions(ctx context.Context, ins []models.Interaction) (models.InsertResult, error) {
	if s.calls.Add(1) == s.after {
		s.cancel()
	}
	return s.recordStore.InsertInteractions(ctx, ins)
}

// TestGenerateInterrupted interrupts loads with several batches under way: each
// stops with an error naming the documents it inserted, and its report counts
// exactly what the store holds, no interaction without its patient; the next run
// adds the rest and counts what the interrupted one stored as present.
func TestGenerateInterrupted(t *testing.T) {
	for _, opts := range []writeOptions{{batch: 40, inflight: 1}, {batch: 40, inflight: 4}} {
		t.Run(fmt.Sprintf("inflight=%d", opts.inflight), func(t *testing.T) {
			repo, db := newRepository(t)
			now := time.Now()
			gen := generateOptions{patients: 60, writeOptions: opts, seed: 5, now: now}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			store := &interruptingStore{recordStore: repo, after: 3, cancel: cancel}
			rep, err := loadGenerated(ctx, store, gen, newConsole(io.Discard))
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("loadGenerated = %v, want an interruption", err)
			}
			mustContain(t, "error", err.Error(), fmt.Sprintf("interrupted after %d documents inserted", rep.documents()))

			ps, ins := patients(t, db), interactions(t, db)
			if rep.patients.Inserted != len(ps) || rep.interactions.Inserted != len(ins) {
				t.Errorf("report says %d patients and %d interactions inserted, the store holds %d and %d",
					rep.patients.Inserted, rep.interactions.Inserted, len(ps), len(ins))
			}
			for _, in := range ins {
				if _, ok := ps[in.InsuranceNo]; !ok {
					t.Errorf("interaction %s is stored without its patient", in.ID)
				}
			}
			_, all, _ := generate(5, now, 60)
			if len(ins) == len(all) {
				t.Fatalf("the interrupted load stored all %d interactions", len(all))
			}

			again, err := loadGenerated(context.Background(), repo, gen, newConsole(io.Discard))
			if err != nil {
				t.Fatal(err)
			}
			if again.patients.Existing != len(ps) || again.interactions.Existing != len(ins) ||
				again.patients.Inserted+len(ps) != 60 || again.interactions.Inserted+len(ins) != len(all) {
				t.Errorf("second run %+v after %d patients and %d interactions stored, want the rest of 60 and %d",
					again, len(ps), len(ins), len(all))
			}
		})
	}
}

// TestGenerateConcurrentlyIntoStore loads with several batches at once into the
// store, twice: the same records as one at a time, counted exactly, and nothing
// added the second time.
func TestGenerateConcurrentlyIntoStore(t *testing.T) {
	repo, db := newRepository(t)
	now := time.Now()
	gen := generateOptions{patients: 50, writeOptions: writeOptions{batch: 30, inflight: 4}, seed: 9, now: now}
	rep, err := loadGenerated(context.Background(), repo, gen, newConsole(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	wantPatients, wantInteractions, err := generate(9, now, 50)
	if err != nil {
		t.Fatal(err)
	}
	ps, ins := patients(t, db), interactions(t, db)
	if rep.patients.Inserted != 50 || rep.interactions.Inserted != len(wantInteractions) ||
		len(ps) != 50 || len(ins) != len(wantInteractions) {
		t.Fatalf("report %+v, store %d patients and %d interactions; want 50 and %d",
			rep, len(ps), len(ins), len(wantInteractions))
	}
	for _, p := range wantPatients {
		if _, ok := ps[p.InsuranceNo]; !ok {
			t.Errorf("patient %s not stored", p.InsuranceNo)
		}
	}
	for _, in := range wantInteractions {
		if _, ok := ins[in.ID]; !ok {
			t.Errorf("interaction %s not stored", in.ID)
		}
	}
	before := snapshot(t, db)
	again, err := loadGenerated(context.Background(), repo, gen, newConsole(io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	if again.documents() != 0 || again.patients.Existing != 50 || again.interactions.Existing != len(wantInteractions) {
		t.Errorf("second run %+v, want nothing inserted and everything present", again)
	}
	assertSameSnapshot(t, before, snapshot(t, db))
}
