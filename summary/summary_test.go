package summary

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

var asOf = time.Date(2024, 11, 5, 10, 0, 0, 0, time.UTC)

// day returns 09:00 UTC of the day n days before asOf.
func day(n int) time.Time { return time.Date(2024, 11, 5, 9, 0, 0, 0, time.UTC).AddDate(0, 0, -n) }

func ptr[T any](v T) *T { return &v }

// visit returns an interaction of patient A11 n days before asOf.
func visit(id string, n int, edit func(*models.Interaction)) models.Interaction {
	in := models.Interaction{ID: id, InsuranceNo: "A11", InteractionDate: day(n), Label: []string{}}
	if edit != nil {
		edit(&in)
	}
	return in
}

func steps(next *time.Time, meds, tests []string) func(*models.Interaction) {
	return func(in *models.Interaction) {
		in.NextSteps = &models.NextSteps{NextVisit: next, PrescribedMeds: meds, PrescribedTests: tests}
	}
}

func TestSummary(t *testing.T) {
	tests := []struct {
		name   string
		visits []models.Interaction
		// check compares one part of the summary, as JSON, with want.
		part func(Summary) any
		want string
	}{
		{
			name:   "no visits",
			visits: nil,
			part: func(s Summary) any {
				return []any{s.Visits, s.CurrentMedications, s.PendingTests, s.NextVisit, s.HealthStatus}
			},
			want: `[{"count":0,"first":null,"last":null},[],[],null,{"metric":"health_status","unit":"","points":[],"trend":null}]`,
		},
		{
			name: "visits counted, entered-in-error left out",
			visits: []models.Interaction{
				visit("2", 10, nil), visit("1", 50, nil), visit("3", 5, func(in *models.Interaction) { in.Status = models.StatusEnteredInError }),
			},
			part: func(s Summary) any { return s.Visits },
			want: `{"count":2,"first":"2024-09-16T09:00:00Z","last":"2024-10-26T09:00:00Z"}`,
		},
		{
			name: "labels and ailments, most frequent first, named as the newest visit spells them",
			visits: []models.Interaction{
				visit("1", 30, func(in *models.Interaction) { in.Label, in.Ailment = []string{"fever"}, "influenza" }),
				visit("2", 20, func(in *models.Interaction) { in.Label, in.Ailment = []string{"fever", "skin"}, " Influenza " }),
				visit("3", 10, func(in *models.Interaction) { in.Label, in.Ailment = []string{"skin", "gut"}, "Eczema" }),
				visit("4", 5, func(in *models.Interaction) { in.Label = []string{"fever"} }),
			},
			part: func(s Summary) any { return []any{s.Labels, s.Ailments} },
			want: `[[{"name":"fever","count":3},{"name":"skin","count":2},{"name":"gut","count":1}],` +
				`[{"name":"Influenza","count":2},{"name":"Eczema","count":1}]]`,
		},
		{
			name: "current medications: prescribed in the 90 days up to the last visit",
			visits: []models.Interaction{
				visit("1", 400, steps(nil, []string{"Metformin 500mg", "Old drug 1mg"}, nil)),
				visit("2", 120, steps(nil, []string{"metformin  500MG"}, nil)),
				visit("3", 100, steps(nil, []string{"Ramipril 5mg"}, nil)),
				visit("4", 80, steps(nil, []string{"Metformin 500mg", "Metformin 500mg"}, nil)),
				visit("5", 11, steps(nil, []string{"Amoxicillin 1g"}, nil)),
				visit("6", 10, nil),
			},
			part: func(s Summary) any { return s.CurrentMedications },
			// The window reaches back 90 days from day 10: to day 100, included.
			want: `[{"name":"Amoxicillin 1g","first_prescribed":"2024-10-25T09:00:00Z","last_prescribed":"2024-10-25T09:00:00Z","times_prescribed":1},` +
				`{"name":"Metformin 500mg","first_prescribed":"2023-10-02T09:00:00Z","last_prescribed":"2024-08-17T09:00:00Z","times_prescribed":3},` +
				`{"name":"Ramipril 5mg","first_prescribed":"2024-07-28T09:00:00Z","last_prescribed":"2024-07-28T09:00:00Z","times_prescribed":1}]`,
		},
		{
			name: "pending tests: those of the most recent visit",
			visits: []models.Interaction{
				visit("1", 30, steps(nil, nil, []string{"CRP"})),
				visit("2", 10, steps(nil, nil, []string{"ECG", " Lipid panel ", "ECG"})),
				visit("3", 10, steps(nil, nil, []string{"HbA1c"})),
			},
			part: func(s Summary) any { return s.PendingTests },
			want: `[{"name":"ECG","ordered_at":"2024-10-26T09:00:00Z","interaction_id":"2"},` +
				`{"name":"Lipid panel","ordered_at":"2024-10-26T09:00:00Z","interaction_id":"2"},` +
				`{"name":"HbA1c","ordered_at":"2024-10-26T09:00:00Z","interaction_id":"3"}]`,
		},
		{
			name: "pending tests: none when a visit followed",
			visits: []models.Interaction{
				visit("1", 30, steps(nil, nil, []string{"CRP"})),
				visit("2", 10, nil),
			},
			part: func(s Summary) any { return s.PendingTests },
			want: `[]`,
		},
		{
			name: "next visit: the newest plan, scheduled",
			visits: []models.Interaction{
				visit("1", 30, steps(ptr(day(-30)), nil, nil)),
				visit("2", 10, steps(ptr(day(-7).Truncate(24*time.Hour)), nil, nil)),
				visit("3", 5, nil),
			},
			part: func(s Summary) any { return s.NextVisit },
			want: `{"date":"2024-11-12T00:00:00Z","set_at":"2024-10-26T09:00:00Z","interaction_id":"2","status":"scheduled"}`,
		},
		{
			name: "next visit: today is still scheduled",
			visits: []models.Interaction{
				visit("1", 30, steps(ptr(day(0).Truncate(24*time.Hour)), nil, nil)),
			},
			part: func(s Summary) any { return s.NextVisit.Status },
			want: `"scheduled"`,
		},
		{
			name: "next visit: overdue when its date passed without a visit",
			visits: []models.Interaction{
				visit("1", 30, steps(ptr(day(20).Truncate(24*time.Hour)), nil, nil)),
				visit("2", 25, nil),
			},
			part: func(s Summary) any { return s.NextVisit },
			want: `{"date":"2024-10-16T00:00:00Z","set_at":"2024-10-06T09:00:00Z","interaction_id":"1","status":"overdue"}`,
		},
		{
			name: "next visit: none once a visit took place on or after it",
			visits: []models.Interaction{
				visit("1", 30, steps(ptr(day(20).Truncate(24*time.Hour)), nil, nil)),
				visit("2", 20, nil),
			},
			part: func(s Summary) any { return s.NextVisit },
			want: `null`,
		},
		{
			name: "health status series and trend",
			visits: []models.Interaction{
				visit("1", 90, func(in *models.Interaction) { in.HealthStatus = ptr(3) }),
				visit("2", 60, func(in *models.Interaction) { in.HealthStatus = ptr(5) }),
				visit("3", 30, nil),
				visit("4", 0, func(in *models.Interaction) { in.HealthStatus = ptr(6) }),
			},
			part: func(s Summary) any { return s.HealthStatus },
			want: `{"metric":"health_status","unit":"","points":[` +
				`{"date":"2024-08-07T09:00:00Z","value":3,"interaction_id":"1"},` +
				`{"date":"2024-09-06T09:00:00Z","value":5,"interaction_id":"2"},` +
				`{"date":"2024-11-05T09:00:00Z","value":6,"interaction_id":"4"}],` +
				`"trend":{"slope_per_30_days":0.9286,"direction":"rising","dead_band":0.1}}`,
		},
		{
			name: "vitals",
			visits: []models.Interaction{
				visit("1", 10, func(in *models.Interaction) {
					in.Metrics = bson.D{{Key: "temp", Value: 38.4}, {Key: "BP", Value: "120/80"}, {Key: "ECG", Value: "Normal"}}
				}),
				visit("2", 5, func(in *models.Interaction) { in.Metrics = bson.D{{Key: "temp", Value: "38,1"}} }),
			},
			part: func(s Summary) any {
				return []any{len(s.Vitals.Latest), len(s.Vitals.Series), s.Vitals.Unparseable}
			},
			want: `[3,3,[{"date":"2024-10-31T09:00:00Z","interaction_id":"2","metric":"temp","value":"38,1",` +
				`"reason":"not a number (a number, or a number and a unit such as \"38.5 °C\")"}]]`,
		},
		{
			name:   "pre-existing conditions from the patient",
			visits: nil,
			part:   func(s Summary) any { return []any{s.PreExistingConditions, s.PreExistingMedications, s.Patient} },
			want:   `[["Asthma"],[],{"insurance_no":"A11","fname":"Vernon","lname":"Lopez","age":30}]`,
		},
	}
	patient := models.Patient{InsuranceNo: "A11", FName: "Vernon", LName: "Lopez", Age: ptr(30), PreExistingConditions: []string{"Asthma"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The result must not depend on the order the visits come in.
			for round := range 4 {
				visits := append([]models.Interaction{}, tt.visits...)
				rand.New(rand.NewPCG(uint64(round), 1)).Shuffle(len(visits), func(i, j int) { visits[i], visits[j] = visits[j], visits[i] })
				b := NewBuilder(patient, asOf)
				for _, in := range visits {
					b.Add(in)
				}
				if got := jsonOf(t, tt.part(b.Summary())); got != tt.want {
					t.Fatalf("order %d:\n got %s\nwant %s", round, got, tt.want)
				}
			}
		})
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
