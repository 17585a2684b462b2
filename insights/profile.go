package insights

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/vitals"
)

// Tracked are the series a profile follows, each by its latest reading and its
// trend: the vital signs, then health_status.
var Tracked = []string{vitals.Temperature, vitals.Systolic, vitals.Diastolic, vitals.HeartRate, vitals.SpO2,
	vitals.Weight, vitals.HealthStatus}

// Units are the units of the tracked series (health_status has none).
var Units = map[string]string{vitals.Temperature: "°C", vitals.Systolic: "mmHg", vitals.Diastolic: "mmHg",
	vitals.HeartRate: "/min", vitals.SpO2: "%", vitals.Weight: "kg", vitals.HealthStatus: ""}

// Profile is what is known of one patient for comparing patients: their record's age
// and sex, and aggregates of their visits (interactions not entered in error). It
// holds no visit, so its size does not grow with the chart.
type Profile struct {
	InsuranceNo string
	Age         *int
	// Sex is "M", "F", or "" when unknown or anything else.
	Sex    string
	Visits int
	// Labels and Ailments count the visits carrying each label and each ailment (by
	// models.AilmentKey).
	Labels   map[string]int
	Ailments map[string]int
	// Tracks follow the series of Tracked, in that order.
	Tracks []Track
}

// Track follows one series of a patient by running sums: its latest reading and its
// least-squares slope.
type Track struct {
	n                int
	origin           time.Time
	sx, sy, sxx, sxy float64
	firstX, lastX    float64
	latestAt         time.Time
	latestID         string
	latest           float64
}

// Add counts one reading, taken at at in the visit id.
func (t *Track) Add(at time.Time, id string, v float64) {
	if t.n == 0 {
		t.origin = at
	}
	x := at.Sub(t.origin).Hours() / 24
	t.n++
	t.sx += x
	t.sy += v
	t.sxx += x * x
	t.sxy += x * v
	if t.n == 1 || x < t.firstX {
		t.firstX = x
	}
	if t.n == 1 || x > t.lastX {
		t.lastX = x
	}
	if t.n == 1 || at.After(t.latestAt) || at.Equal(t.latestAt) && id > t.latestID {
		t.latestAt, t.latestID, t.latest = at, id, v
	}
}

// Latest returns the newest reading, and false when there is none.
func (t Track) Latest() (float64, bool) { return t.latest, t.n > 0 }

// Slope returns the least-squares slope per 30 days, and false under
// vitals.MinReadings readings or when they span less than vitals.MinSpan, as a
// summary's trend (see package vitals).
func (t Track) Slope() (float64, bool) {
	span := time.Duration((t.lastX - t.firstX) * 24 * float64(time.Hour))
	if t.n < vitals.MinReadings || span < vitals.MinSpan {
		return 0, false
	}
	n := float64(t.n)
	den := n*t.sxx - t.sx*t.sx
	if den == 0 {
		return 0, false
	}
	return (n*t.sxy - t.sx*t.sy) / den * 30, true
}

// Profiler builds the profiles of many patients from their records and visits,
// handed over one at a time in any order.
type Profiler struct {
	profiles map[string]*Profile
	// visits holds the aggregates of visits whose patient has not been added (yet).
	visits map[string]*Profile
	names  Names
}

// NewProfiler returns an empty Profiler.
func NewProfiler() *Profiler {
	return &Profiler{profiles: map[string]*Profile{}, visits: map[string]*Profile{}}
}

// AddPatient adds p's record.
func (b *Profiler) AddPatient(p models.Patient) {
	prof := b.visits[p.InsuranceNo]
	if prof == nil {
		prof = newProfile(p.InsuranceNo)
	}
	delete(b.visits, p.InsuranceNo)
	prof.Age = p.Age
	switch strings.ToUpper(strings.TrimSpace(p.Sex)) {
	case "M", "MALE":
		prof.Sex = "M"
	case "F", "FEMALE":
		prof.Sex = "F"
	}
	b.profiles[p.InsuranceNo] = prof
}

// AddVisit counts in among its patient's visits; one entered in error is left out.
func (b *Profiler) AddVisit(in models.Interaction) {
	if in.Status == models.StatusEnteredInError {
		return
	}
	prof := b.profiles[in.InsuranceNo]
	if prof == nil {
		if prof = b.visits[in.InsuranceNo]; prof == nil {
			prof = newProfile(in.InsuranceNo)
			b.visits[in.InsuranceNo] = prof
		}
	}
	prof.Visits++
	for _, l := range in.Label {
		prof.Labels[l]++
	}
	if key := in.AilmentKey(); key != "" {
		prof.Ailments[key]++
		b.names.Add(key, in.Ailment)
	}
	for name, v := range Readings(in) {
		if i := slices.Index(Tracked, name); i >= 0 {
			prof.Tracks[i].Add(in.InteractionDate, in.ID, v)
		}
	}
}

// Profiles returns the profiles of the patients added, by insurance number; visits
// of patients never added are left out.
func (b *Profiler) Profiles() []Profile {
	out := make([]Profile, 0, len(b.profiles))
	for _, no := range slices.Sorted(maps.Keys(b.profiles)) {
		out = append(out, *b.profiles[no])
	}
	return out
}

// Names returns the spelling of every ailment seen (see Names).
func (b *Profiler) Names() *Names { return &b.names }

func newProfile(no string) *Profile {
	return &Profile{InsuranceNo: no, Labels: map[string]int{}, Ailments: map[string]int{}, Tracks: make([]Track, len(Tracked))}
}

// Readings returns the tracked readings of a visit, each in its series' unit (see
// package vitals): temperature, systolic_bp, diastolic_bp, heart_rate, spo2, weight
// and health_status. A value that cannot be read is left out.
func Readings(in models.Interaction) map[string]float64 {
	out := map[string]float64{}
	if len(in.Metrics) > 0 {
		var chart vitals.Chart
		chart.Add(in.InteractionDate, in.ID, in.Metrics)
		for _, s := range chart.Vitals().Series {
			if _, ok := Units[s.Metric]; ok && len(s.Points) > 0 {
				out[s.Metric] = s.Points[len(s.Points)-1].Value
			}
		}
	}
	if in.HealthStatus != nil {
		out[vitals.HealthStatus] = float64(*in.HealthStatus)
	}
	return out
}

// Names spells ailments: each ailment key as most visits spell it, ties by the
// first in byte order.
type Names struct {
	votes map[string]map[string]int
}

// Add counts one visit spelling the ailment key as name.
func (n *Names) Add(key, name string) {
	if n.votes == nil {
		n.votes = map[string]map[string]int{}
	}
	if n.votes[key] == nil {
		n.votes[key] = map[string]int{}
	}
	n.votes[key][strings.Join(strings.Fields(name), " ")]++
}

// Of returns the spelling of key: key itself when no visit spelled it.
func (n *Names) Of(key string) string { return spelling(n.votes[key], key) }
