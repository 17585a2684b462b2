package insights

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/summary"
)

func day(n int) time.Time { return time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC).AddDate(0, 0, n) }

func ptr2[T any](v T) *T { return &v }

// visit returns a visit of patient no on day n.
func visit(id, no string, n int, edit func(*models.Interaction)) models.Interaction {
	in := models.Interaction{ID: id, InsuranceNo: no, InteractionDate: day(n), Label: []string{}}
	if edit != nil {
		edit(&in)
	}
	return in
}

func TestTrack(t *testing.T) {
	tests := []struct {
		name      string
		days      []int
		values    []float64
		latest    float64
		slope     float64
		haveSlope bool
	}{
		{"rising 1 a day", []int{0, 10, 20}, []float64{1, 11, 21}, 21, 30, true},
		{"given out of order", []int{20, 0, 10}, []float64{21, 1, 11}, 21, 30, true},
		{"two readings", []int{0, 30}, []float64{1, 2}, 2, 0, false},
		{"within 7 days", []int{0, 3, 6}, []float64{1, 2, 3}, 3, 0, false},
		{"flat", []int{0, 10, 40}, []float64{5, 5, 5}, 5, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var tr Track
			for i, d := range tc.days {
				tr.Add(day(d), fmt.Sprint(i), tc.values[i])
			}
			if v, ok := tr.Latest(); !ok || v != tc.latest {
				t.Errorf("latest %g %v, want %g", v, ok, tc.latest)
			}
			slope, ok := tr.Slope()
			if ok != tc.haveSlope || math.Abs(slope-tc.slope) > 1e-9 {
				t.Errorf("slope %g %v, want %g %v", slope, ok, tc.slope, tc.haveSlope)
			}
		})
	}
	var empty Track
	if _, ok := empty.Latest(); ok {
		t.Error("an empty track has a latest reading")
	}
}

func TestProfiler(t *testing.T) {
	b := NewProfiler()
	// A visit may come before its patient; one of a patient never added is left out.
	b.AddVisit(visit("1", "P1", 0, func(in *models.Interaction) {
		in.Ailment, in.Label = "Influenza ", []string{"fever"}
		in.Metrics = bson.D{{Key: "temp", Value: 38.5}, {Key: "BP", Value: "130/85"}, {Key: "HR", Value: "90 bpm"}}
		in.HealthStatus = ptr2(4)
	}))
	b.AddPatient(models.Patient{InsuranceNo: "P1", Age: ptr2(40), Sex: "female"})
	b.AddPatient(models.Patient{InsuranceNo: "P0", Sex: "X"})
	b.AddVisit(visit("2", "P1", 10, func(in *models.Interaction) {
		in.Ailment, in.Label = "influenza", []string{"fever", "respiratory"}
		in.Metrics = bson.D{{Key: "temperature", Value: "100.4 F"}, {Key: "weight", Value: "bad"}}
	}))
	b.AddVisit(visit("3", "P1", 12, func(in *models.Interaction) {
		in.Ailment, in.Status = "Wrong", models.StatusEnteredInError
	}))
	b.AddVisit(visit("4", "P9", 1, nil))
	got := b.Profiles()
	if len(got) != 2 || got[0].InsuranceNo != "P0" || got[1].InsuranceNo != "P1" {
		t.Fatalf("profiles %+v", got)
	}
	p := got[1]
	if p.Visits != 2 || p.Sex != "F" || *p.Age != 40 || got[0].Sex != "" {
		t.Errorf("visits %d sex %q age %v", p.Visits, p.Sex, p.Age)
	}
	if want := map[string]int{"fever": 2, "respiratory": 1}; fmt.Sprint(p.Labels) != fmt.Sprint(want) {
		t.Errorf("labels %v", p.Labels)
	}
	if fmt.Sprint(p.Ailments) != "map[influenza:2]" || b.Names().Of("influenza") != "Influenza" {
		t.Errorf("ailments %v named %q", p.Ailments, b.Names().Of("influenza"))
	}
	latest := map[string]float64{}
	for i, name := range Tracked {
		if v, ok := p.Tracks[i].Latest(); ok {
			latest[name] = v
		}
	}
	want := map[string]float64{"temperature": 38, "systolic_bp": 130, "diastolic_bp": 85, "heart_rate": 90, "health_status": 4}
	if fmt.Sprint(latest) != fmt.Sprint(want) {
		t.Errorf("latest %v, want %v", latest, want)
	}
}

// TestProfilerKeptUpToDate changes the records of some patients and brings a clone
// of the Profiler of the records before up to date by forgetting those patients and
// adding their records again: it then holds exactly what a Profiler of the records
// after holds (profiles, trends to the last bit, ailments' spellings), while the
// Profiler cloned still holds what it held.
func TestProfilerKeptUpToDate(t *testing.T) {
	records := func(changed bool) ([]models.Patient, []models.Interaction) {
		patients := []models.Patient{{InsuranceNo: "P1", Age: ptr2(40), Sex: "F"}, {InsuranceNo: "P2", Age: ptr2(70)},
			{InsuranceNo: "P3", Sex: "M"}}
		var visits []models.Interaction
		for i := range 30 {
			no := []string{"P1", "P2", "P3", "P4"}[i%4] // P4 has no record
			spelling := []string{"Influenza", "influenza ", "Flu", "Asthma"}[i%4]
			visits = append(visits, visit(fmt.Sprint(i), no, i*3, func(in *models.Interaction) {
				in.Ailment, in.Label = spelling, []string{"a", "b"}[:1+i%2]
				in.Metrics = bson.D{{Key: "temp", Value: 36.1 + float64(i%7)/3}, {Key: "weight", Value: 80.3 - float64(i)/7}}
				in.HealthStatus = ptr2(1 + i%10)
			}))
		}
		if changed {
			patients[1].Sex = "female"                                // P2's record amended
			visits[1].Status = models.StatusEnteredInError            // a visit of P2 entered in error
			visits[6].Ailment, visits[6].Label = "Asthma", []string{} // a visit of P3 amended
			visits = append(visits, visit("new", "P4", 100, func(in *models.Interaction) { in.Ailment = "Asthma" }))
			patients = append(patients, models.Patient{InsuranceNo: "P5"}) // a new patient
		}
		return patients, visits
	}
	build := func(patients []models.Patient, visits []models.Interaction) *Profiler {
		b := NewProfiler()
		for _, p := range patients {
			b.AddPatient(p)
		}
		for _, in := range visits {
			b.AddVisit(in)
		}
		return b
	}
	before := build(records(false))
	patients, visits := records(true)
	after := before.Clone()
	changed := []string{"P2", "P3", "P4", "P5"}
	for _, no := range changed {
		after.Forget(no)
	}
	for _, p := range patients {
		if slices.Contains(changed, p.InsuranceNo) {
			after.AddPatient(p)
		}
	}
	for _, in := range visits {
		if slices.Contains(changed, in.InsuranceNo) {
			after.AddVisit(in)
		}
	}
	// A visit of P1, the last of all, added to the profile held.
	last := visit("last", "P1", 200, func(in *models.Interaction) {
		in.Ailment, in.Metrics = "Flu", bson.D{{Key: "temp", Value: 39.2}}
	})
	after.AddVisit(last)
	visits = append(visits, last)
	want := build(patients, visits)
	if got, w := after.Profiles(), want.Profiles(); !reflect.DeepEqual(got, w) {
		t.Errorf("profiles kept up to date:\n%+v\nwant:\n%+v", got, w)
	}
	for _, key := range []string{"influenza", "flu", "asthma", "none"} {
		if got, w := after.Names().Of(key), want.Names().Of(key); got != w {
			t.Errorf("%s is named %q, want %q", key, got, w)
		}
	}
	if fmt.Sprint(after.Names().votes) != fmt.Sprint(want.Names().votes) {
		t.Errorf("spellings %v, want %v", after.Names().votes, want.Names().votes)
	}
	if now, held := before.Profiles(), build(records(false)).Profiles(); !reflect.DeepEqual(now, held) {
		t.Errorf("the Profiler cloned changed:\n%+v\nit held:\n%+v", now, held)
	}
}

// profiles builds profiles from patients and their visits.
func profiles(patients []models.Patient, visits ...models.Interaction) []Profile {
	b := NewProfiler()
	for _, p := range patients {
		b.AddPatient(p)
	}
	for _, in := range visits {
		b.AddVisit(in)
	}
	return b.Profiles()
}

func TestSpace(t *testing.T) {
	flu := func(id, no string, n int, temp float64) models.Interaction {
		return visit(id, no, n, func(in *models.Interaction) {
			in.Ailment, in.Label = "Influenza", []string{"fever", "respiratory"}
			in.Metrics = bson.D{{Key: "temp", Value: temp}}
		})
	}
	bp := func(id, no string, n int, systolic int) models.Interaction {
		return visit(id, no, n, func(in *models.Interaction) {
			in.Ailment, in.Label = "Hypertension", []string{"cardio"}
			in.Metrics = bson.D{{Key: "BP", Value: fmt.Sprintf("%d/90", systolic)}}
		})
	}
	s := must(NewSpace(context.Background(), profiles([]models.Patient{
		{InsuranceNo: "A", Age: ptr2(30), Sex: "M"}, {InsuranceNo: "B", Age: ptr2(31), Sex: "M"},
		{InsuranceNo: "C", Age: ptr2(70), Sex: "F"}, {InsuranceNo: "D", Age: ptr2(72), Sex: "F"},
		{InsuranceNo: "E"},
	}, flu("1", "A", 0, 38.5), flu("2", "B", 0, 38.6), bp("3", "C", 0, 160), bp("4", "D", 0, 165))))(t)

	var names []string
	for _, f := range s.Features[:5] {
		names = append(names, f.Kind+":"+f.Name)
	}
	// Each label and ailment is carried by 2 patients: by count, then name.
	if want := "label:cardio label:fever label:respiratory ailment:hypertension ailment:influenza"; strings.Join(names, " ") != want {
		t.Errorf("features %v, want %s", names, want)
	}
	if len(s.Vectors) != 5 || len(s.Vectors[0]) != len(s.Features) {
		t.Fatalf("%d vectors of %d", len(s.Vectors), len(s.Vectors[0]))
	}
	// E has nothing: every numeric feature is imputed with the mean, a z-score of 0.
	for j, f := range s.Features {
		if v := s.Vectors[s.Index("E")][j]; v != 0 {
			t.Errorf("E's %s:%s = %g, want 0", f.Kind, f.Name, v)
		}
	}
	tests := []struct {
		no     string
		k      int
		want   []string
		shared string
	}{
		{"A", 1, []string{"B"}, "label fever; label respiratory; ailment influenza; age 30 and 31; sex M"},
		{"C", 2, []string{"D", "E"}, "label cardio; ailment hypertension; sex F"},
		{"E", 4, []string{"A", "B", "C", "D"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.no, func(t *testing.T) {
			i := s.Index(tc.no)
			got := must(s.Nearest(context.Background(), i, tc.k))(t)
			var nos []string
			for _, n := range got {
				nos = append(nos, s.Profiles[n.Index].InsuranceNo)
			}
			if tc.no == "E" {
				slices.Sort(nos) // equal distances would come in insurance number order
			}
			if !slices.Equal(nos, tc.want) {
				t.Errorf("nearest %v, want %v", nos, tc.want)
			}
			if slices.Contains(nos, tc.no) {
				t.Error("a patient is its own neighbour")
			}
			for n := 1; n < len(got); n++ {
				if got[n].Distance < got[n-1].Distance {
					t.Errorf("distances %v are not ascending", got)
				}
			}
			if tc.shared != "" {
				var words []string
				for _, sh := range got[0].Shared {
					words = append(words, sh.String())
				}
				for _, w := range strings.Split(tc.shared, "; ") {
					if !slices.Contains(words, w) {
						t.Errorf("shared %q lacks %q", words, w)
					}
				}
			}
		})
	}
	if s.Index("Z") != -1 {
		t.Error("an unknown patient has an index")
	}
}

func TestExplanation(t *testing.T) {
	tests := []struct {
		name   string
		shared []Shared
		want   string
	}{
		{"nothing shared", nil, "nothing in common beyond being near in the feature space"},
		{"one thing", []Shared{{Feature: KindLabel, Name: "fever"}}, "shares label fever"},
		{"several, in order", []Shared{
			{Feature: KindAilment, Name: "influenza"}, {Feature: KindSex, Name: "M"},
			{Feature: KindAge, Value: ptr2(30.0), Other: ptr2(34.0), Unit: "years"},
			{Feature: KindLatest, Name: "systolic_bp", Value: ptr2(142.0), Other: ptr2(138.0), Unit: "mmHg"},
			{Feature: KindSlope, Name: "weight", Value: ptr2(0.5), Other: ptr2(-0.25), Unit: "kg"},
		}, "shares ailment influenza; sex M; age 30 and 34; systolic_bp 142 and 138 mmHg; weight trend +0.5 and -0.25 kg per 30 days"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := (Neighbour{Shared: tc.shared}).Explanation(); got != tc.want {
				t.Errorf("explanation\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	var visits []models.Interaction
	var patients []models.Patient
	for i := range 4 {
		no := fmt.Sprint("P", i)
		patients = append(patients, models.Patient{InsuranceNo: no, Age: ptr2(60 + i), Sex: []string{"F", "F", "F", "M"}[i]})
		for d := range 3 {
			visits = append(visits, visit(fmt.Sprint(no, "-", d), no, d*10, func(in *models.Interaction) {
				in.Ailment, in.Label = "Type 2 diabetes", []string{"endocrine", "chronic"}
				in.Metrics = bson.D{{Key: "BP", Value: fmt.Sprintf("%d/80", 140+d)}}
				in.HealthStatus = ptr2(6)
			}))
		}
	}
	s := must(NewSpace(context.Background(), profiles(patients, visits...)))(t)
	b := NewProfiler()
	for _, in := range visits {
		b.AddVisit(in)
	}
	c := must(KMeans(context.Background(), s.Vectors, 1, KMeansSeed))(t)
	got := must(s.Describe(context.Background(), c, b.Names()))(t)
	if len(got) != 1 || got[0].Size != 4 {
		t.Fatalf("cohorts %+v", got)
	}
	want := "Mostly Type 2 diabetes (100%); labels chronic (100%), endocrine (100%); aged 62 on average, 75% women; " +
		"typical latest vitals: blood pressure 142/80 mmHg, health status 6.0 (trend +0.00 per 30 days)."
	if got[0].Description != want {
		t.Errorf("description\n got %s\nwant %s", got[0].Description, want)
	}
	data, _ := json.Marshal(got[0].Vitals)
	if string(data) != `[{"metric":"systolic_bp","unit":"mmHg","mean":142,"slope_per_30_days":3},{"metric":"diastolic_bp","unit":"mmHg","mean":80,"slope_per_30_days":0},{"metric":"health_status","unit":"","mean":6,"slope_per_30_days":0}]` {
		t.Errorf("vitals %s", data)
	}
}

func TestMembers(t *testing.T) {
	// Five patients in two cohorts, listed here out of insurance number order.
	s := &Space{Profiles: []Profile{{InsuranceNo: "E"}, {InsuranceNo: "A"}, {InsuranceNo: "D"}, {InsuranceNo: "B"}, {InsuranceNo: "C"}}}
	c := Clustering{Assign: []int{0, 1, 0, 0, 1}}
	tests := []struct {
		name   string
		cohort int
		after  *models.MemberCursor
		limit  int
		want   string
		more   bool
	}{
		{"every cohort, by cohort then insurance number", -1, nil, 10, "0:B 0:D 0:E 1:A 1:C", false},
		{"a page, with more after it", -1, nil, 2, "0:B 0:D", true},
		{"a page that ends with the members", -1, nil, 5, "0:B 0:D 0:E 1:A 1:C", false},
		{"after a member", -1, &models.MemberCursor{Cohort: 0, ID: "D"}, 2, "0:E 1:A", true},
		{"after the last member of a cohort", -1, &models.MemberCursor{Cohort: 0, ID: "E"}, 10, "1:A 1:C", false},
		{"after a member no longer there", -1, &models.MemberCursor{Cohort: 0, ID: "C"}, 10, "0:D 0:E 1:A 1:C", false},
		{"one cohort", 1, nil, 10, "1:A 1:C", false},
		{"one cohort, after a member of an earlier one", 1, &models.MemberCursor{Cohort: 0, ID: "Z"}, 1, "1:A", true},
		{"after the last member", -1, &models.MemberCursor{Cohort: 1, ID: "C"}, 10, "", false},
		{"a cohort of no one", 2, nil, 10, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			page, more, err := s.Members(context.Background(), c, tc.cohort, tc.after, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, i := range page {
				got = append(got, fmt.Sprintf("%d:%s", c.Assign[i], s.Profiles[i].InsuranceNo))
			}
			if strings.Join(got, " ") != tc.want || more != tc.more {
				t.Errorf("members %v, more %v; want %s, more %v", got, more, tc.want, tc.more)
			}
		})
	}
	if page, more, err := (&Space{}).Members(context.Background(), Clustering{}, -1, nil, 10); len(page) != 0 || more || err != nil {
		t.Errorf("members of no patients: %v, more %v", page, more)
	}
}

func TestSuggestions(t *testing.T) {
	asked := func(id, ailment, symptoms string, labels []string, questions ...string) models.Interaction {
		return visit(id, "P", 0, func(in *models.Interaction) {
			in.Ailment, in.Symptoms, in.Label = ailment, symptoms, labels
			for _, q := range questions {
				in.QA = append(in.QA, bson.E{Key: q, Value: "yes"})
			}
		})
	}
	past := []models.Interaction{
		asked("1", "Influenza", "fever, dry cough", []string{"fever"}, "Since when?", "Contact with sick people?"),
		asked("2", "influenza", "high fever", []string{"fever"}, "since  WHEN", "Vaccinated?"),
		asked("3", "Common cold", "runny nose", []string{"respiratory"}, "Since when?", "Smoker?"),
		asked("4", "Migraine", "dry cough at night", nil, "Since when?", "Any aura?"),
		asked("5", "Migraine", "headache", []string{"pain"}, "Any aura?", "Since when?"),
		asked("6", "Influenza", "fever", []string{"fever"}),
		func() models.Interaction {
			in := asked("7", "Influenza", "fever", []string{"fever"}, "Entered in error?")
			in.Status = models.StatusEnteredInError
			return in
		}(),
		asked("self", "Influenza", "fever", []string{"fever"}, "Own question?"),
	}
	tests := []struct {
		name    string
		context QuestionContext
		want    []string
		similar int
	}{
		{"same ailment first, then labels, then symptoms",
			QuestionContext{Ailment: "INFLUENZA", Symptoms: "Dry cough", Labels: []string{"Fever", "respiratory"}, Exclude: "self"},
			// 6 asked nothing, 7 is entered in error; 4 shares symptom words (Jaccard
			// 2/3), 3 a label (1/2), 5 nothing.
			[]string{"Since when?|4", "Contact with sick people?|1", "Vaccinated?|1", "Any aura?|1", "Smoker?|1"}, 4},
		{"asked questions are left out, compared folded",
			QuestionContext{Ailment: "Influenza", Asked: []string{"SINCE when ?!", "vaccinated"}, Exclude: "self"},
			[]string{"Contact with sick people?|1"}, 2},
		{"symptoms alone",
			QuestionContext{Symptoms: "a dry cough since monday"},
			// "since" is a stop word; 1 and 4 share dry and cough (Jaccard 1/2 each):
			// equal scores and supports go by question.
			[]string{"Since when?|2", "Any aura?|1", "Contact with sick people?|1"}, 2},
		{"nothing similar", QuestionContext{Ailment: "Fracture"}, []string{}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSuggester(tc.context)
			for _, in := range past {
				s.Add(in)
			}
			got := []string{}
			for _, sug := range s.Suggestions(10) {
				got = append(got, fmt.Sprintf("%s|%d", sug.Question, sug.Support))
			}
			if !slices.Equal(got, tc.want) || s.Similar() != tc.similar {
				t.Errorf("got %v (%d similar)\nwant %v (%d)", got, s.Similar(), tc.want, tc.similar)
			}
		})
	}
	s := NewSuggester(QuestionContext{Ailment: "Influenza", Symptoms: "dry cough", Labels: []string{"fever"}})
	for _, in := range past {
		s.Add(in)
	}
	top := s.Suggestions(1)
	// 1 and 2 share the ailment and the label, 1 and 4 symptom words; 3 nothing.
	want := "asked in 3 similar visits: 2 for the same ailment (influenza), 2 sharing labels (fever), 2 with symptom words in common (cough, dry)"
	if len(top) != 1 || top[0].Reason != want || top[0].SameAilment != 2 || top[0].SharedLabels != 2 || top[0].SharedSymptoms != 2 {
		t.Errorf("top %+v\nwant reason %s", top, want)
	}
}

func TestRerank(t *testing.T) {
	suggestions := func(supports ...int) []Suggestion {
		var out []Suggestion
		for i, n := range supports {
			out = append(out, Suggestion{Question: fmt.Sprintf("Q%d?", i+1), Support: n})
		}
		return out
	}
	failure := errors.New("the model answered status 500")
	tests := []struct {
		name  string
		items []Suggestion
		order []int
		err   error
		// shown is what the model is shown, "-" when it is not asked.
		shown, want, source string
	}{
		{"the model orders the questions asked in 2 visits or more", suggestions(5, 3, 2, 1, 1), []int{2, 0, 1}, nil,
			"Q1? Q2? Q3?", "Q3? Q1? Q2? Q4? Q5?", summary.SourceLLM},
		{"a question asked once ends the questions shown", suggestions(4, 1, 2), []int{0}, nil,
			"-", "Q1? Q2? Q3?", summary.SourceDeterministic},
		{"two questions are the fewest worth ordering", suggestions(2, 2), []int{1, 0}, nil,
			"Q1? Q2?", "Q2? Q1?", summary.SourceLLM},
		{"one question is not", suggestions(9), []int{0}, nil,
			"-", "Q1?", summary.SourceDeterministic},
		{"no questions", nil, nil, nil, "-", "", summary.SourceDeterministic},
		{"a failure keeps the order", suggestions(3, 2, 1), nil, failure,
			"Q1? Q2?", "Q1? Q2? Q3?", summary.SourceDeterministic},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			shown := "-"
			got, source, err := Rerank(tc.items, func(questions []string) ([]int, error) {
				shown = strings.Join(questions, " ")
				return tc.order, tc.err
			})
			var qs []string
			for _, s := range got {
				qs = append(qs, s.Question)
			}
			if shown != tc.shown || strings.Join(qs, " ") != tc.want || source != tc.source || !errors.Is(err, tc.err) {
				t.Errorf("shown %q, got %v by %s (%v); want shown %q, %s by %s", shown, qs, source, err, tc.shown, tc.want, tc.source)
			}
		})
	}
}

func TestKeyAndSymptomWords(t *testing.T) {
	for in, want := range map[string]string{"  Since WHEN?? ": "since when", "Fièvre, depuis-quand": "fievre depuis quand", "?!": ""} {
		if got := Key(in); got != want {
			t.Errorf("Key(%q) = %q, want %q", in, got, want)
		}
	}
	if got := SymptomWords("Fever above 38°C since 3 days, and a dry cough; fever"); !slices.Equal(got, []string{"cough", "dry", "fever"}) {
		t.Errorf("SymptomWords = %v", got)
	}
}

func TestMonthly(t *testing.T) {
	visits := []models.Interaction{
		visit("1", "P", 0, func(in *models.Interaction) { in.Ailment, in.Label = "Influenza", []string{"fever", "cough"} }),
		visit("2", "P", 5, func(in *models.Interaction) { in.Ailment, in.Label = "influenza ", []string{"fever"} }),
		visit("3", "P", 40, func(in *models.Interaction) { in.Ailment, in.Label = "influenza", []string{"rash"} }),
		visit("4", "P", 41, nil),
		visit("5", "P", 42, func(in *models.Interaction) {
			in.Ailment, in.Label, in.Status = "Wrong", []string{"error"}, models.StatusEnteredInError
		}),
	}
	tests := []struct {
		byAilment bool
		want      string
	}{
		{false, `[{"month":"2024-01","visits":2,"counts":[{"name":"fever","count":2},{"name":"cough","count":1}]},{"month":"2024-02","visits":2,"counts":[{"name":"rash","count":1}]}]`},
		// Two visits spell it influenza, one Influenza.
		{true, `[{"month":"2024-01","visits":2,"counts":[{"name":"influenza","count":2}]},{"month":"2024-02","visits":2,"counts":[{"name":"influenza","count":1}]}]`},
	}
	for _, tc := range tests {
		m := NewMonthly(tc.byAilment)
		for _, in := range visits {
			m.Add(in)
		}
		data, _ := json.Marshal(m.Months())
		if string(data) != tc.want {
			t.Errorf("by ailment %v:\n got %s\nwant %s", tc.byAilment, data, tc.want)
		}
	}
}

func TestSmallCohortMembers(t *testing.T) {
	s := &Space{}
	c := Clustering{Sizes: []int{MinGroupSize, MinGroupSize - 1, 1}}
	for cohort, size := range c.Sizes {
		for i := range size {
			s.Profiles = append(s.Profiles, Profile{InsuranceNo: fmt.Sprintf("C%d-%d", cohort, i)})
			c.Assign = append(c.Assign, cohort)
		}
	}
	got := s.SmallCohortMembers(c)
	slices.Sort(got)
	if want := []string{"C1-0", "C1-1", "C1-2", "C1-3", "C2-0"}; !slices.Equal(got, want) {
		t.Errorf("members of small cohorts %v, want %v", got, want)
	}
}

func TestSuggestionsDisclosed(t *testing.T) {
	s := NewSuggester(QuestionContext{Ailment: "Influenza"})
	// "Since when?" is asked by MinGroupSize patients, "Travelled?" by one patient in
	// two visits and by another, "Vaccinated?" by one.
	for i := range MinGroupSize {
		s.Add(visit(fmt.Sprintf("s%d", i), fmt.Sprintf("P%d", i), i, func(in *models.Interaction) {
			in.Ailment, in.QA = "influenza", bson.D{{Key: "Since when?", Value: "2 days"}}
		}))
	}
	for i, no := range []string{"T1", "T1", "T2"} {
		s.Add(visit(fmt.Sprintf("t%d", i), no, i, func(in *models.Interaction) {
			in.Ailment, in.QA = "influenza", bson.D{{Key: "Travelled?", Value: "no"}}
		}))
	}
	s.Add(visit("v", "V1", 0, func(in *models.Interaction) {
		in.Ailment, in.QA = "influenza", bson.D{{Key: "Vaccinated?", Value: "no"}}
	}))
	items := s.Suggestions(10)
	if len(items) != 3 {
		t.Fatalf("suggestions %+v", items)
	}
	for _, tc := range []struct {
		items []Suggestion
		want  []string
	}{
		{items, []string{"T1", "T2", "V1"}},
		{items[:1], nil},
		{items[1:2], []string{"T1", "T2"}},
	} {
		got := s.Disclosed(tc.items)
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("Disclosed(%v) = %v, want %v", tc.items, got, tc.want)
		}
	}
}

// TestSpaceStopsAtTheDeadline checks that building a space, finding the nearest
// patients, describing cohorts and paging their members each stop with the
// context's error at the request's deadline.
func TestSpaceStopsAtTheDeadline(t *testing.T) {
	b := NewProfiler()
	for i := range 5000 {
		b.AddPatient(models.Patient{InsuranceNo: fmt.Sprintf("P%04d", i), Age: ptr2(i % 90), Sex: []string{"M", "F"}[i%2]})
	}
	profiles := b.Profiles()
	s := must(NewSpace(context.Background(), profiles))(t)
	c := must(KMeans(context.Background(), s.Vectors, 3, KMeansSeed))(t)
	for name, ctx := range closeToDeadline() {
		t.Run(name, func(t *testing.T) {
			for what, err := range map[string]error{
				"NewSpace": second(NewSpace(ctx(), profiles)),
				"Nearest":  second(s.Nearest(ctx(), 0, 5)),
				"Describe": second(s.Describe(ctx(), c, b.Names())),
				"Members":  third(s.Members(ctx(), c, -1, nil, 10)),
			} {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("%s: err = %v, want the context's", what, err)
				}
			}
		})
	}
}

func second[T any](_ T, err error) error { return err }

func third[T, U any](_ T, _ U, err error) error { return err }
