// Package vitals reads the vital signs recorded in interactions' metrics: it names
// each metric (HR and heart_rate are one), reads its values ("120/80", 38.5,
// "38.5 °C"), brings them to one unit, and makes time series with their
// least-squares trends. It needs no store and no HTTP.
package vitals

import (
	"strings"
	"unicode"
)

// The canonical names of the vital signs the package knows. Any other metric keeps
// its own key, normalized (see Name).
const (
	Temperature   = "temperature"
	BloodPressure = "blood_pressure"
	Systolic      = "systolic_bp"
	Diastolic     = "diastolic_bp"
	HeartRate     = "heart_rate"
	SpO2          = "spo2"
	Weight        = "weight"
	// HealthStatus names the series of the interactions' health_status (1 to 10).
	HealthStatus = "health_status"
)

// aliases maps a normalized metric key to the canonical name of its vital sign.
var aliases = map[string]string{
	"temp": Temperature, "temperature": Temperature, "body_temp": Temperature, "body_temperature": Temperature,
	"bp": BloodPressure, "blood_pressure": BloodPressure,
	"systolic": Systolic, "systolic_bp": Systolic, "sbp": Systolic,
	"diastolic": Diastolic, "diastolic_bp": Diastolic, "dbp": Diastolic,
	"hr": HeartRate, "heart_rate": HeartRate, "heartrate": HeartRate, "pulse": HeartRate, "pulse_rate": HeartRate,
	"spo2": SpO2, "sp_o2": SpO2, "o2_sat": SpO2, "sao2": SpO2, "oxygen_saturation": SpO2,
	"weight": Weight, "body_weight": Weight, "wt": Weight,
}

// vital is what the package knows of a numeric vital sign: the unit its series is
// kept in (and assumed when a reading gives none), and its trend's dead band, per
// 30 days, in that unit.
type vital struct {
	unit     string
	deadBand float64
}

// known are the numeric vital signs the package knows, blood pressure as its two
// series. health_status is a series of its own (see Series), with a dead band too.
var known = map[string]vital{
	Temperature:  {unit: "°C", deadBand: 0.1},
	Systolic:     {unit: "mmHg", deadBand: 1},
	Diastolic:    {unit: "mmHg", deadBand: 1},
	HeartRate:    {unit: "/min", deadBand: 1},
	SpO2:         {unit: "%", deadBand: 0.2},
	Weight:       {unit: "kg", deadBand: 0.2},
	HealthStatus: {deadBand: 0.1},
}

// Known reports whether metric is a series of a vital sign the package knows, or
// health_status, rather than one named after a clinic's own metric.
func Known(metric string) bool {
	_, ok := known[metric]
	return ok
}

// rank orders metrics as a chart reads them: the known vital signs first, in the
// order below, then every other metric by name.
func rank(name string) int {
	for i, n := range []string{Temperature, BloodPressure, Systolic, Diastolic, HeartRate, SpO2, Weight} {
		if n == name {
			return i
		}
	}
	return 100
}

// compareNames orders metric names by rank, then by name.
func compareNames(a, b string) int {
	if ra, rb := rank(a), rank(b); ra != rb {
		return ra - rb
	}
	return strings.Compare(a, b)
}

// Name returns the canonical name of a metric key. A key is first normalized: lower
// case, with runs of spaces, '-' and '_' turned into one '_' ("Heart Rate",
// "heart-rate" and "heart_rate" are one). A known vital sign's alias then gives its
// canonical name:
//
//	temperature     temp, temperature, body_temp, body_temperature
//	blood_pressure  BP, blood_pressure ("120/80": systolic_bp and diastolic_bp)
//	systolic_bp     systolic, systolic_bp, sbp
//	diastolic_bp    diastolic, diastolic_bp, dbp
//	heart_rate      HR, heart_rate, heartrate, pulse, pulse_rate
//	spo2            SpO2, sp_o2, o2_sat, sao2, oxygen_saturation
//	weight          weight, body_weight, wt
//
// Any other key is its own name, normalized.
func Name(key string) string {
	n := normalize(key)
	if canonical, ok := aliases[n]; ok {
		return canonical
	}
	return n
}

func normalize(key string) string {
	if normal(key) {
		return key
	}
	words := strings.FieldsFunc(strings.ToLower(key), func(r rune) bool {
		return r == '-' || r == '_' || unicode.IsSpace(r)
	})
	return strings.Join(words, "_")
}

// unitAliases maps the spellings of units, in lower case, to the one the package
// writes.
var unitAliases = map[string]string{
	"°c": "°C", "c": "°C", "cel": "°C", "degc": "°C", "deg c": "°C", "celsius": "°C", "℃": "°C",
	"°f": "°F", "f": "°F", "[degf]": "°F", "degf": "°F", "deg f": "°F", "fahrenheit": "°F", "℉": "°F",
	"kg": "kg", "kgs": "kg", "kilogram": "kg", "kilograms": "kg",
	"lb": "lb", "lbs": "lb", "[lb_av]": "lb", "pound": "lb", "pounds": "lb",
	"mmhg": "mmHg", "mm[hg]": "mmHg", "mm hg": "mmHg",
	"/min": "/min", "bpm": "/min", "beats/min": "/min", "{beats}/min": "/min", "per min": "/min",
	"%": "%", "percent": "%",
}

// Unit returns the unit s names as the package writes it ("Cel" and "C" are "°C",
// "mm[Hg]" is "mmHg", "bpm" is "/min", "[lb_av]" is "lb"), or s trimmed when it does
// not know it.
func Unit(s string) string {
	s = strings.TrimSpace(s)
	if u, ok := unitAliases[strings.ToLower(s)]; ok {
		return u
	}
	return s
}

// convert returns v, given in unit from, in unit to: the same when the units are
// one, converted from °F to °C and from lb to kg, and false for any other pair.
func convert(v float64, from, to string) (float64, bool) {
	switch {
	case strings.EqualFold(from, to):
		return v, true
	case from == "°F" && to == "°C":
		return (v - 32) * 5 / 9, true
	case from == "lb" && to == "kg":
		return v * 0.45359237, true
	}
	return 0, false
}

// normal reports whether key is normalized already: lower-case ASCII letters and
// digits, words one '_' apart.
func normal(key string) bool {
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '_' && i > 0 && i < len(key)-1 && key[i-1] != '_':
		default:
			return false
		}
	}
	return key != ""
}
