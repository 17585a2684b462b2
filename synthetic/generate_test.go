package synthetic

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

var (
	bpPattern    = regexp.MustCompile(`^(\d{2,3})/(\d{2,3})$`)
	phonePattern = regexp.MustCompile(`^01[5-7]\d \d{7}$`)
	emailPattern = regexp.MustCompile(`^[a-z]+\.[a-z]+\d{0,2}@example\.(com|org|net)$`)
)

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
			patients, interactions, err := Generate(tt.seed, now, tt.n)
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
	p1, i1, err := Generate(99, now, 40)
	if err != nil {
		t.Fatal(err)
	}
	p2, i2, err := Generate(99, now, 40)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p1, p2) || !reflect.DeepEqual(i1, i2) {
		t.Error("the same seed and time gave different records")
	}
	p3, i3, err := Generate(100, now, 40)
	if err != nil {
		t.Fatal(err)
	}
	if p3[0].InsuranceNo == p1[0].InsuranceNo || i3[0].ID == i1[0].ID {
		t.Error("different seeds gave the same identities")
	}
}

func TestGenerateCoversTheCatalogue(t *testing.T) {
	_, interactions, err := Generate(5, time.Now(), 2000)
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

func TestGeneratedPatientDependsOnSeedAndPositionOnly(t *testing.T) {
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	p20, i20, err := Generate(11, now, 20)
	if err != nil {
		t.Fatal(err)
	}
	p35, i35, err := Generate(11, now, 35)
	if err != nil {
		t.Fatal(err)
	}
	if len(i35) < len(i20) || !reflect.DeepEqual(p35[:20], p20) || !reflect.DeepEqual(i35[:len(i20)], i20) {
		t.Error("the first 20 of 35 patients differ from the 20 patients of the same seed")
	}

	// Another day of the week, another year: the records are dated differently and
	// are otherwise the same, identities included.
	later := now.AddDate(1, 2, 3).Add(5 * time.Hour)
	pl, il, err := Generate(11, later, 20)
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
