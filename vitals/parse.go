package vitals

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// The reasons a value is not read, as Problem.Reason gives them.
var (
	errNotNumber   = errors.New("not a number (a number, or a number and a unit such as \"38.5 °C\")")
	errNotPressure = errors.New("not a blood pressure (systolic/diastolic, such as \"120/80\")")
	errInverted    = errors.New("the systolic pressure (first) is not above the diastolic (second)")
	errOutOfRange  = errors.New("beyond ±1,000,000,000, which no reading reaches")
)

// maxReading bounds a reading's size, far beyond any measurement's, so that every
// computation over readings (means, trends, charts) stays finite.
const maxReading = 1e9

// A unit written after a number starts with something other than a digit, a point
// or a space, and holds no digit: "°C", "kg", "%", "/min", "mg/dL". So "120/80" is
// never 120 in the unit "/80".
const unitPattern = `([^\d\s.][^\d]*)?`

var (
	numberText   = regexp.MustCompile(`^([-+]?(?:\d+(?:\.\d*)?|\.\d+))\s*` + unitPattern + `$`)
	pressureText = regexp.MustCompile(`^(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*` + unitPattern + `$`)
)

// Number reads v as a number: a JSON number, or a string holding a number,
// optionally followed by a unit ("38.5", "38.5 °C", "38.5C", "72 bpm"). It returns
// the number and the unit written with it ("" when none), or an error saying why v
// is not a number: a decimal comma ("38,5"), an empty string, a boolean, an object
// or an array is not one.
func Number(v any) (float64, string, error) {
	n, unit, err := number(v)
	if err == nil && math.Abs(n) > maxReading {
		return 0, "", errOutOfRange
	}
	return n, unit, err
}

// number reads v as Number does, whatever its size.
func number(v any) (float64, string, error) {
	switch n := v.(type) {
	case int32:
		return float64(n), "", nil
	case int64:
		return float64(n), "", nil
	case int:
		return float64(n), "", nil
	case float64:
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return 0, "", errNotNumber
		}
		return n, "", nil
	case string:
		m := numberText.FindStringSubmatch(strings.TrimSpace(n))
		if m == nil {
			return 0, "", errNotNumber
		}
		f, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			return 0, "", errNotNumber
		}
		return f, strings.TrimSpace(m[2]), nil
	}
	return 0, "", errNotNumber
}

// Pressure reads v as a blood pressure: a string "systolic/diastolic", optionally
// followed by a unit ("120/80", "120 / 80 mmHg"). It returns an error saying why
// when v is not one, or when its systolic pressure is not above the diastolic one,
// which catches the two written the wrong way round.
func Pressure(v any) (systolic, diastolic float64, unit string, err error) {
	s, ok := v.(string)
	if !ok {
		return 0, 0, "", errNotPressure
	}
	m := pressureText.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, 0, "", errNotPressure
	}
	// The pattern admits only decimal numbers, which ParseFloat reads, or finds too
	// large (+Inf, and an error).
	systolic, _ = strconv.ParseFloat(m[1], 64)
	diastolic, _ = strconv.ParseFloat(m[2], 64)
	if systolic > maxReading || diastolic > maxReading {
		return 0, 0, "", errOutOfRange
	}
	if systolic <= diastolic {
		return 0, 0, "", errInverted
	}
	return systolic, diastolic, strings.TrimSpace(m[3]), nil
}

// unitError is the reason of a reading whose unit cannot be brought to its series'.
func unitError(from, to string) error {
	return fmt.Errorf("unit %q cannot be converted to the series' unit %q", from, to)
}
