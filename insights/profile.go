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
	// spellings count the visits spelling each ailment so, for Profiler.Forget.
	spellings []ailmentSpelling
}

// ailmentSpelling is how many visits of a patient spell the ailment key as name.
type ailmentSpelling struct {
	key, name string
	n         int
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
// handed over one at a time in any order. A patient's visits are counted in the
// order they are handed over: the same records handed over in the same order give
// the same profiles, to the last bit of their trends.
//
// It is kept up to date as records change by forgetting what it holds of the
// patients whose records changed and adding their records again: Clone first, so
// that the profiles and spaces made from the Profiler before stay as they were.
type Profiler struct {
	profiles map[string]*Profile
	// visits holds the aggregates of visits whose patient has not been added (yet).
	visits map[string]*Profile
	names  Names
	// owned, set in a clone (see Clone), names the profiles the clone has made its
	// own: the others are shared with the Profiler it is a clone of, and are
	// copied before they change.
	owned map[string]bool
}

// NewProfiler returns an empty Profiler.
func NewProfiler() *Profiler {
	return &Profiler{profiles: map[string]*Profile{}, visits: map[string]*Profile{}}
}

// Clone returns a Profiler holding what b holds, which changes without changing b:
// b must not change after.
func (b *Profiler) Clone() *Profiler {
	return &Profiler{profiles: maps.Clone(b.profiles), visits: maps.Clone(b.visits), names: b.names.clone(),
		owned: map[string]bool{}}
}

// Forget forgets what b holds of patient no: their record and their visits.
func (b *Profiler) Forget(no string) {
	for _, m := range []map[string]*Profile{b.profiles, b.visits} {
		if prof := m[no]; prof != nil {
			for _, sp := range prof.spellings {
				b.names.remove(sp.key, sp.name, sp.n)
			}
			delete(m, no)
		}
	}
}

// own returns prof, the profile of no that b holds, once b may change it: a copy
// when it is shared with the Profiler b was cloned from.
func (b *Profiler) own(no string, prof *Profile) *Profile {
	if b.owned == nil || b.owned[no] {
		return prof
	}
	c := *prof
	c.Labels, c.Ailments = maps.Clone(prof.Labels), maps.Clone(prof.Ailments)
	c.Tracks, c.spellings = slices.Clone(prof.Tracks), slices.Clone(prof.spellings)
	b.owned[no] = true
	return &c
}

// AddPatient adds p's record.
func (b *Profiler) AddPatient(p models.Patient) {
	prof := b.visits[p.InsuranceNo]
	if prof == nil {
		prof = b.newProfile(p.InsuranceNo)
	} else {
		prof = b.own(p.InsuranceNo, prof)
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
func (b *Profiler) AddVisit(in models.Interaction) { b.Add(NewVisit(in)) }

// Visit is what a profile counts of one visit (see NewVisit).
type Visit struct {
	enteredInError bool
	insuranceNo    string
	id             string
	date           time.Time
	labels         []string
	ailmentKey     string
	ailment        string
	readings       map[string]float64
}

// NewVisit returns what a profile counts of in: the work of AddVisit that needs no
// Profiler (its readings above all), so that many visits can be read at once and
// added in their order.
func NewVisit(in models.Interaction) Visit {
	var r VisitReader
	return r.Visit(in)
}

// VisitReader makes what profiles count of visits, as NewVisit does, remembering
// the keys of the ailments it met (models.AilmentKey), which visits repeat. One
// goroutine uses it.
type VisitReader struct {
	keys map[string]string
}

// maxKeysKept bounds the ailment keys a VisitReader remembers.
const maxKeysKept = 4096

// Visit returns what a profile counts of in (see NewVisit).
func (r *VisitReader) Visit(in models.Interaction) Visit {
	if in.Status == models.StatusEnteredInError {
		return Visit{enteredInError: true}
	}
	key, ok := r.keys[in.Ailment]
	if !ok {
		key = in.AilmentKey()
		if r.keys == nil {
			r.keys = map[string]string{}
		}
		if len(r.keys) < maxKeysKept {
			r.keys[in.Ailment] = key
		}
	}
	return Visit{insuranceNo: in.InsuranceNo, id: in.ID, date: in.InteractionDate, labels: in.Label,
		ailmentKey: key, ailment: in.Ailment, readings: Readings(in)}
}

// Add counts v among its patient's visits, as AddVisit counts the visit it was
// made of.
func (b *Profiler) Add(v Visit) {
	if v.enteredInError {
		return
	}
	prof := b.profiles[v.insuranceNo]
	switch {
	case prof != nil:
		prof = b.own(v.insuranceNo, prof)
		b.profiles[v.insuranceNo] = prof
	case b.visits[v.insuranceNo] != nil:
		prof = b.own(v.insuranceNo, b.visits[v.insuranceNo])
		b.visits[v.insuranceNo] = prof
	default:
		prof = b.newProfile(v.insuranceNo)
		b.visits[v.insuranceNo] = prof
	}
	prof.Visits++
	for _, l := range v.labels {
		prof.Labels[l]++
	}
	if key := v.ailmentKey; key != "" {
		prof.Ailments[key]++
		name := b.names.Add(key, v.ailment)
		at := slices.IndexFunc(prof.spellings, func(sp ailmentSpelling) bool { return sp.key == key && sp.name == name })
		if at < 0 {
			prof.spellings = append(prof.spellings, ailmentSpelling{key: key, name: name})
			at = len(prof.spellings) - 1
		}
		prof.spellings[at].n++
	}
	for name, r := range v.readings {
		if i := slices.Index(Tracked, name); i >= 0 {
			prof.Tracks[i].Add(v.date, v.id, r)
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

// newProfile returns an empty profile of no, which b owns.
func (b *Profiler) newProfile(no string) *Profile {
	if b.owned != nil {
		b.owned[no] = true
	}
	return &Profile{InsuranceNo: no, Labels: map[string]int{}, Ailments: map[string]int{}, Tracks: make([]Track, len(Tracked))}
}

// Readings returns the tracked readings of a visit, each in its series' unit (see
// package vitals): temperature, systolic_bp, diastolic_bp, heart_rate, spo2, weight
// and health_status. A value that cannot be read is left out.
func Readings(in models.Interaction) map[string]float64 {
	out := map[string]float64{}
	if found, ok := vitals.RecordReadings(in.Metrics); ok && len(in.Metrics) > 0 {
		for name, v := range found {
			if _, ok := Units[name]; ok {
				out[name] = v
			}
		}
	} else if len(in.Metrics) > 0 {
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

// Add counts one visit spelling the ailment key as name, and returns the spelling
// counted: name with its spaces made single.
func (n *Names) Add(key, name string) string {
	if n.votes == nil {
		n.votes = map[string]map[string]int{}
	}
	if n.votes[key] == nil {
		n.votes[key] = map[string]int{}
	}
	name = strings.Join(strings.Fields(name), " ")
	n.votes[key][name]++
	return name
}

// remove takes back count visits spelling key as name, a spelling Add returned.
func (n *Names) remove(key, name string, count int) {
	votes := n.votes[key]
	if votes == nil {
		return
	}
	if votes[name] -= count; votes[name] <= 0 {
		delete(votes, name)
	}
	if len(votes) == 0 {
		delete(n.votes, key)
	}
}

// clone returns a copy of n that changes without changing n.
func (n *Names) clone() Names {
	c := Names{votes: make(map[string]map[string]int, len(n.votes))}
	for key, votes := range n.votes {
		c.votes[key] = maps.Clone(votes)
	}
	return c
}

// Of returns the spelling of key: key itself when no visit spelled it.
func (n *Names) Of(key string) string { return spelling(n.votes[key], key) }
