package vitals

import (
	"cmp"
	"hash/maphash"
	"maps"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

// unitsKey is the metric that holds the units of the others: {"HR": "/min"}.
const unitsKey = "units"

// The bounds of a chart, so that neither one record nor a long chart can make it
// cost without end (see Chart).
const (
	// MaxOtherMetrics is how many metrics other than the known vital signs a chart
	// keeps: the first by name (as Vitals orders them).
	MaxOtherMetrics = 16
	// MaxUnparseable is how many values that could not be read Vitals lists: the
	// newest.
	MaxUnparseable = 100
	// maxRead is how many of one record's metrics a chart reads: the first, as
	// stored. No record can hold more since the caps of models; one stored before
	// them may.
	maxRead = models.MaxMetrics
	// maxUnitsRead is how many entries of one record's units a chart reads.
	maxUnitsRead = models.MaxObjectKeys
	// maxCounted is how many metrics LeftOut.Metrics counts at most: the chart
	// keeps a fixed-size digest of each metric it met, up to this many.
	maxCounted = 4096
)

// Point is one reading of a series.
type Point struct {
	// Date is the interaction_date of the visit that recorded it.
	Date          time.Time `json:"date" validate:"required" format:"date-time" example:"2024-10-01T09:30:00Z"`
	Value         float64   `json:"value" validate:"required" example:"38.4"`
	InteractionID string    `json:"interaction_id" validate:"required" example:"visit-1"`
	// Interpretation places the reading in its vital sign's adult reference range
	// (HL7 ObservationInterpretation: N normal, L low, H high, LL critically low, HH
	// critically high); absent for a metric without one (weight, health_status, a
	// clinic's own).
	Interpretation string `json:"interpretation,omitempty" enums:"N,L,H,LL,HH" example:"H"`
}

// Series is one numeric metric over time.
type Series struct {
	// Metric is the metric's canonical name (see the workspace guide: temp and temperature are
	// temperature, HR and heart_rate are heart_rate, BP gives systolic_bp and
	// diastolic_bp, ...), or its own key, in lower case, for any other metric.
	Metric string `json:"metric" validate:"required" example:"temperature"`
	// Unit is the unit of every value: a known vital sign's own (°C, mmHg, /min, %,
	// kg; °F and lb are converted), else the unit of the newest reading that gives
	// one; "" when none does.
	Unit string `json:"unit" validate:"required" example:"°C"`
	// Points are the readings, oldest first.
	Points []Point `json:"points" validate:"required"`
	// Trend is null when the series has fewer than 3 readings, or spans less than 7
	// days.
	Trend *Trend `json:"trend" validate:"required" extensions:"x-nullable"`
}

// Latest is the newest value of a metric, as recorded.
type Latest struct {
	// Metric is the metric's canonical name; blood_pressure for BP.
	Metric string `json:"metric" validate:"required" example:"blood_pressure"`
	// Value is the value as recorded: a number, a string ("120/80", "Normal") or any
	// JSON value.
	Value any `json:"value" validate:"required" extensions:"x-nullable"`
	// Unit is the unit recorded with it (in metrics.units, or in the value), else a
	// known vital sign's own; "" when neither gives one.
	Unit string `json:"unit" validate:"required" example:"mmHg"`
	// Date is the interaction_date of the visit that recorded it.
	Date          time.Time `json:"date" validate:"required" format:"date-time" example:"2024-10-01T09:30:00Z"`
	InteractionID string    `json:"interaction_id" validate:"required" example:"visit-1"`
	// Interpretation places a numeric value of a vital sign with a reference range in
	// it, as a series' points do; for blood_pressure, the worse of its systolic and
	// diastolic pressures. Absent otherwise.
	Interpretation string `json:"interpretation,omitempty" enums:"N,L,H,LL,HH" example:"H"`
}

// Problem is a value of a numeric metric that could not be read, so it is in no
// series.
type Problem struct {
	// Date is the interaction_date of the visit that recorded it.
	Date          time.Time `json:"date" validate:"required" format:"date-time" example:"2024-09-16T11:00:00Z"`
	InteractionID string    `json:"interaction_id" validate:"required" example:"visit-4"`
	// Metric is the key as recorded in metrics.
	Metric string `json:"metric" validate:"required" example:"temp"`
	// Value is the value as recorded.
	Value  any    `json:"value" validate:"required" extensions:"x-nullable"`
	Reason string `json:"reason" validate:"required" example:"not a number (a number, or a number and a unit such as \"38.5 °C\")"`
}

// Vitals are the vital signs of a patient's chart.
type Vitals struct {
	// Latest holds the newest value of every metric charted, numeric or not (ECG).
	Latest []Latest `json:"latest" validate:"required"`
	// Series holds every numeric metric charted over time, the known vital signs
	// first.
	Series []Series `json:"series" validate:"required"`
	// Unparseable lists the newest 100 values of a numeric metric that could not be
	// read, newest first.
	Unparseable []Problem `json:"unparseable" validate:"required"`
	// LeftOut counts what the chart does not show: nothing is left out without a
	// word.
	LeftOut LeftOut `json:"left_out" validate:"required"`
}

// LeftOut counts what a chart leaves out, so that no record, however large, makes
// it cost without end.
type LeftOut struct {
	// Metrics counts the metrics, other than the known vital signs, that have no
	// series and no latest value: a chart keeps the first 16 by name. It counts up
	// to 4,096.
	Metrics int `json:"metrics" validate:"required" example:"0"`
	// Unread counts the metrics a chart did not read: those of a record past its
	// first 64 (the most a record may hold; one stored before that cap may hold
	// more).
	Unread int `json:"unread" validate:"required" example:"0"`
	// Unparseable counts the values that could not be read beyond the newest 100
	// listed.
	Unparseable int `json:"unparseable" validate:"required" example:"0"`
}

// Chart collects the metrics of a patient's interactions, given in any order, and
// makes their series (see Vitals). A metric is numeric when it is a known vital sign
// or at least one of its values is a number; a metric that never is (ECG: "Normal")
// has its latest value only.
//
// What a chart holds is bounded whatever the records hold: it reads the first 64
// metrics of a record (and the first 256 of its units), and keeps the known vital
// signs and the first MaxOtherMetrics other metrics by name; the rest it counts
// (see LeftOut). Which metrics it keeps does not depend on the order of the
// records.
type Chart struct {
	readings map[string][]reading
	// failed holds, by metric, the values that are not numbers, kept until Vitals
	// knows whether the metric is numeric.
	failed   map[string][]Problem
	problems []Problem
	latest   map[string]Latest
	// kept are the other metrics the chart keeps, at most MaxOtherMetrics.
	kept map[string]bool
	// met holds a digest of each other metric met, up to maxCounted of them.
	met    map[uint64]bool
	seed   maphash.Seed
	unread int
}

// reading is a number read from a metric, in the unit it was recorded in ("" for
// none).
type reading struct {
	point Point
	key   string
	raw   any
	unit  string
}

// Add collects the metrics an interaction recorded at date: the first 64 of them.
func (c *Chart) Add(date time.Time, interactionID string, metrics bson.D) {
	if c.readings == nil {
		c.readings, c.failed, c.latest = map[string][]reading{}, map[string][]Problem{}, map[string]Latest{}
	}
	if len(metrics) > maxRead {
		c.unread += len(metrics) - maxRead
		metrics = metrics[:maxRead]
	}
	units := c.units(date, interactionID, metrics)
	for _, e := range metrics {
		if e.Key == unitsKey {
			continue
		}
		name := Name(e.Key)
		if !c.keep(name) {
			continue
		}
		unit := units.of(e.Key, name)
		latest := Latest{Metric: name, Value: e.Value, Unit: latestUnit(e.Value, unit, name), Date: date, InteractionID: interactionID}
		ms, err := measures(name, e.Value, unit)
		if err != nil {
			c.note(latest)
			problem := Problem{Date: date, InteractionID: interactionID, Metric: e.Key, Value: e.Value, Reason: err.Error()}
			if name == BloodPressure {
				c.problems = append(c.problems, problem)
			} else {
				c.failed[name] = append(c.failed[name], problem)
			}
			continue
		}
		for _, m := range ms {
			latest.Interpretation = Worst(latest.Interpretation, Interpret(m.metric, m.value, m.unit))
			point := Point{Date: date, InteractionID: interactionID, Value: m.value}
			c.readings[m.metric] = append(c.readings[m.metric], reading{point: point, key: e.Key, raw: e.Value, unit: m.unit})
		}
		c.note(latest)
	}
}

// measure is a number read from a value of a metric: the series it belongs to, and
// the unit it was recorded in ("" for the series' own).
type measure struct {
	metric string
	value  float64
	unit   string
}

// measures reads a value of the metric name, recorded in unit ("" when none was
// given beside it): for blood_pressure ("120/80") its systolic and diastolic
// pressures, else the one number, each in the unit written with it or else unit.
func measures(name string, value any, unit string) ([]measure, error) {
	if name == BloodPressure {
		systolic, diastolic, written, err := Pressure(value)
		if err != nil {
			return nil, err
		}
		unit = cmp.Or(written, unit)
		return []measure{{Systolic, systolic, unit}, {Diastolic, diastolic, unit}}, nil
	}
	n, written, err := Number(value)
	if err != nil {
		return nil, err
	}
	return []measure{{name, n, cmp.Or(written, unit)}}, nil
}

// keep reports whether the chart keeps the metric name: a known vital sign always,
// another metric while it is among the first MaxOtherMetrics by name met so far.
// Keeping one may leave out another it kept (and all it collected of it), so that
// the chart keeps the first by name of all, whatever the order of the records.
func (c *Chart) keep(name string) bool {
	if _, ok := known[name]; ok || name == BloodPressure || c.kept[name] {
		return true
	}
	if c.kept == nil {
		c.kept, c.met, c.seed = map[string]bool{}, map[uint64]bool{}, maphash.MakeSeed()
	}
	if len(c.met) < maxCounted {
		c.met[maphash.String(c.seed, name)] = true
	}
	if len(c.kept) == MaxOtherMetrics {
		last := ""
		for k := range c.kept {
			if last == "" || compareNames(k, last) > 0 {
				last = k
			}
		}
		if compareNames(name, last) > 0 {
			return false
		}
		delete(c.kept, last)
		delete(c.readings, last)
		delete(c.failed, last)
		delete(c.latest, last)
	}
	c.kept[name] = true
	return true
}

// units are a record's metrics.units: unit by metric key, and by metric name for a
// key of the same name ("HR" for "heart_rate"), the first key in byte order giving
// a name its unit.
type units struct {
	byKey, byName map[string]string
}

// of returns the unit units give the metric key of name: under the key itself,
// else under another key of the same name.
func (u units) of(key, name string) string {
	if unit, ok := u.byKey[key]; ok {
		return unit
	}
	return u.byName[name]
}

// units returns metrics.units, its first 256 entries, noting a problem for units
// that are not an object of strings.
func (c *Chart) units(date time.Time, interactionID string, metrics bson.D) units {
	var out units
	for _, e := range metrics {
		if e.Key != unitsKey {
			continue
		}
		d, ok := e.Value.(bson.D)
		if !ok {
			c.problems = append(c.problems, Problem{Date: date, InteractionID: interactionID, Metric: e.Key, Value: e.Value,
				Reason: "units must be an object of metric names and units, such as {\"HR\": \"/min\"}"})
			continue
		}
		out = units{byKey: map[string]string{}, byName: map[string]string{}}
		for _, u := range d[:min(len(d), maxUnitsRead)] {
			s, ok := u.Value.(string)
			if !ok {
				c.problems = append(c.problems, Problem{Date: date, InteractionID: interactionID, Metric: unitsKey + "." + u.Key,
					Value: u.Value, Reason: "a unit must be a string"})
				continue
			}
			out.byKey[u.Key] = s
		}
		for _, k := range slices.Sorted(maps.Keys(out.byKey)) {
			if name := Name(k); out.byName[name] == "" {
				out.byName[name] = out.byKey[k]
			}
		}
	}
	return out
}

// latestUnit is the unit Latest gives a value: written in it, in metrics.units, or
// the known vital sign's own.
func latestUnit(value any, unit, name string) string {
	if s, ok := value.(string); ok {
		if _, written, err := Number(s); err == nil && written != "" {
			return Unit(written)
		}
		if _, _, written, err := Pressure(s); err == nil && written != "" {
			return Unit(written)
		}
	}
	if unit != "" {
		return Unit(unit)
	}
	if name == BloodPressure {
		return known[Systolic].unit
	}
	return known[name].unit
}

// note keeps l when it is the newest value of its metric so far: the later visit,
// or of two at the same time, the one with the greater id (as a history orders them).
func (c *Chart) note(l Latest) {
	old, ok := c.latest[l.Metric]
	if !ok || newer(l.Date, l.InteractionID, old.Date, old.InteractionID) {
		c.latest[l.Metric] = l
	}
}

// newer reports whether the visit (at, id) comes after (thenAt, thenID) in a history.
func newer(at time.Time, id string, thenAt time.Time, thenID string) bool {
	return at.After(thenAt) || at.Equal(thenAt) && id > thenID
}

// Vitals returns what the chart collected: the latest value of every metric, a series
// of every numeric metric with its trend, and every value of a numeric metric that
// could not be read.
func (c *Chart) Vitals() Vitals {
	v := Vitals{Latest: []Latest{}, Series: []Series{}, Unparseable: append([]Problem{}, c.problems...)}
	for _, l := range c.latest {
		v.Latest = append(v.Latest, l)
	}
	slices.SortFunc(v.Latest, func(a, b Latest) int { return compareNames(a.Metric, b.Metric) })

	names := slices.Collect(maps.Keys(c.readings))
	for name := range c.failed {
		if _, ok := c.readings[name]; !ok {
			names = append(names, name)
		}
	}
	slices.SortFunc(names, compareNames)
	for _, name := range names {
		_, isKnown := known[name]
		if !isKnown && len(c.readings[name]) == 0 {
			continue // a text metric, such as ECG
		}
		v.Unparseable = append(v.Unparseable, c.failed[name]...)
		s, problems := series(name, c.readings[name])
		v.Unparseable = append(v.Unparseable, problems...)
		if len(s.Points) > 0 {
			v.Series = append(v.Series, s)
		}
	}
	slices.SortStableFunc(v.Unparseable, func(a, b Problem) int {
		if newer(a.Date, a.InteractionID, b.Date, b.InteractionID) {
			return -1
		}
		if newer(b.Date, b.InteractionID, a.Date, a.InteractionID) {
			return 1
		}
		return strings.Compare(a.Metric, b.Metric)
	})
	if len(v.Unparseable) > MaxUnparseable {
		v.LeftOut.Unparseable = len(v.Unparseable) - MaxUnparseable
		v.Unparseable = v.Unparseable[:MaxUnparseable]
	}
	v.LeftOut.Metrics = len(c.met) - len(c.kept)
	v.LeftOut.Unread = c.unread
	return v
}

// series makes metric's series of readings, in one unit: the known vital sign's own,
// else the unit of the newest reading that gives one. A reading without a unit is
// taken to be in that unit; one whose unit cannot be converted to it is a problem.
func series(metric string, readings []reading) (Series, []Problem) {
	unit := known[metric].unit
	if _, ok := known[metric]; !ok {
		var newest reading
		for _, r := range readings {
			if r.unit != "" && (newest.unit == "" || newer(r.point.Date, r.point.InteractionID, newest.point.Date, newest.point.InteractionID)) {
				newest = r
			}
		}
		unit = Unit(newest.unit)
	}
	var points []Point
	var problems []Problem
	for _, r := range readings {
		from := cmp.Or(Unit(r.unit), unit)
		value, ok := convert(r.point.Value, from, unit)
		if !ok {
			problems = append(problems, Problem{Date: r.point.Date, InteractionID: r.point.InteractionID, Metric: r.key,
				Value: r.raw, Reason: unitError(from, unit).Error()})
			continue
		}
		p := r.point
		if value != p.Value { // converted
			p.Value = Round(value, 2)
		}
		points = append(points, p)
	}
	return NewSeries(metric, unit, points), problems
}

// NewSeries returns the series of metric's points, in unit, sorted oldest first, with
// its trend.
func NewSeries(metric, unit string, points []Point) Series {
	points = slices.Clone(points)
	if points == nil {
		points = []Point{}
	}
	slices.SortFunc(points, func(a, b Point) int {
		return cmp.Or(a.Date.Compare(b.Date), strings.Compare(a.InteractionID, b.InteractionID))
	})
	for i := range points {
		points[i].Interpretation = Interpret(metric, points[i].Value, unit)
	}
	return Series{Metric: metric, Unit: unit, Points: points, Trend: trendOf(metric, points)}
}
