package vitals

import (
	"cmp"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// RecordReadings returns the reading of each known vital sign (see Known) in one
// record's metrics, in its series' unit: the one point of its series in a Chart of
// that record alone (see Chart.Vitals), none for a value that cannot be read or
// brought to the series' unit. It reads only the known vital signs, so it is
// cheaper than such a Chart; it reports false, and reads nothing, when a series
// would have more than one point (two keys of one vital sign), which only a Chart
// orders.
func RecordReadings(metrics bson.D) (map[string]float64, bool) {
	if len(metrics) > maxRead {
		metrics = metrics[:maxRead]
	}
	u := (&Chart{}).units(time.Time{}, "", metrics)
	type reading struct {
		value float64
		unit  string
	}
	found := map[string]reading{}
	twice := false
	add := func(name string, value float64, unit string) {
		_, seen := found[name]
		twice = twice || seen
		found[name] = reading{value, unit}
	}
	for _, e := range metrics {
		if e.Key == unitsKey {
			continue
		}
		name := Name(e.Key)
		if _, isKnown := known[name]; !isKnown && name != BloodPressure {
			continue
		}
		ms, err := measures(name, e.Value, u.of(e.Key, name))
		if err != nil {
			continue
		}
		for _, m := range ms {
			add(m.metric, m.value, m.unit)
		}
	}
	if twice {
		return nil, false
	}
	out := make(map[string]float64, len(found))
	for name, r := range found {
		unit := known[name].unit
		value, ok := convert(r.value, cmp.Or(Unit(r.unit), unit), unit)
		if !ok {
			continue
		}
		if value != r.value { // converted, as series rounds it
			value = Round(value, 2)
		}
		out[name] = value
	}
	return out, true
}
