package vitals

import "math"

// The codes of HL7 v3 ObservationInterpretation a reading of a vital sign is given
// (see Interpret): normal, low, high, critically low, critically high.
const (
	Normal       = "N"
	Low          = "L"
	High         = "H"
	CriticalLow  = "LL"
	CriticalHigh = "HH"
)

// InterpretationSystem is the code system of the interpretation codes.
const InterpretationSystem = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"

// InterpretationDisplay returns the display of an interpretation code, as HL7 names
// it ("High"), or "" for a code that is none of them.
func InterpretationDisplay(code string) string {
	switch code {
	case Normal:
		return "Normal"
	case Low:
		return "Low"
	case High:
		return "High"
	case CriticalLow:
		return "Critical low"
	case CriticalHigh:
		return "Critical high"
	}
	return ""
}

// Abnormal reports whether code marks a reading outside its normal range.
func Abnormal(code string) bool { return code != "" && code != Normal }

// band is one row of the reference ranges: a reading of the vital sign, in its
// series' unit and rounded to step, is critically low at or below criticalLow, low
// at or below low, high at or above high, critically high at or above
// criticalHigh, and normal between; a NaN bound is none.
type band struct {
	metric                               string
	step                                 float64
	criticalLow, low, high, criticalHigh float64
	// source names where the bounds come from.
	source string
}

var none = math.NaN()

// referenceRanges are the documented adult (resting, 18 years and older) reference
// ranges the readings of vital signs are interpreted by, one row per vital sign, in
// the unit of its series (°C, mmHg, /min, %). Weight has none: no range of body
// weight holds for adults of every height.
//
//	metric        critically low  low          normal         high          critically high  source
//	temperature   ≤ 35.0          35.1–36.0    36.1–38.0      ≥ 38.1        —                NEWS2 (Royal College of Physicians, 2017)
//	systolic_bp   ≤ 90            91–100       101–119        120–180       ≥ 181            low: NEWS2 (RCP, 2017); high: 2017 ACC/AHA guideline (elevated from 120, hypertensive crisis above 180)
//	diastolic_bp  —               ≤ 59         60–79          80–120        ≥ 121            low: AHA, low blood pressure below 90/60; high: 2017 ACC/AHA guideline (stage 1 from 80, hypertensive crisis above 120)
//	heart_rate    ≤ 40            41–50        51–90          91–130        ≥ 131            NEWS2 (RCP, 2017)
//	spo2          ≤ 91            92–95        ≥ 96           —             —                NEWS2 (RCP, 2017), SpO2 scale 1
var referenceRanges = []band{
	{metric: Temperature, step: 0.1, criticalLow: 35.0, low: 36.0, high: 38.1, criticalHigh: none,
		source: "NEWS2, National Early Warning Score 2 (Royal College of Physicians, 2017)"},
	{metric: Systolic, step: 1, criticalLow: 90, low: 100, high: 120, criticalHigh: 181,
		source: "low: NEWS2 (Royal College of Physicians, 2017); high: 2017 ACC/AHA Guideline for the Prevention, Detection, Evaluation, and Management of High Blood Pressure in Adults (elevated from 120 mmHg, hypertensive crisis above 180 mmHg)"},
	{metric: Diastolic, step: 1, criticalLow: none, low: 59, high: 80, criticalHigh: 121,
		source: "low: American Heart Association, low blood pressure below 90/60 mmHg; high: 2017 ACC/AHA Guideline (stage 1 hypertension from 80 mmHg, hypertensive crisis above 120 mmHg)"},
	{metric: HeartRate, step: 1, criticalLow: 40, low: 50, high: 91, criticalHigh: 131,
		source: "NEWS2, National Early Warning Score 2 (Royal College of Physicians, 2017)"},
	{metric: SpO2, step: 1, criticalLow: 91, low: 95, high: none, criticalHigh: none,
		source: "NEWS2, National Early Warning Score 2 (Royal College of Physicians, 2017), SpO2 scale 1"},
}

// Source returns the source of metric's reference range, "" when it has none.
func Source(metric string) string {
	for _, b := range referenceRanges {
		if b.metric == metric {
			return b.source
		}
	}
	return ""
}

// Interpret returns the interpretation code (N, L, H, LL, HH) of a reading of metric
// (a canonical name, see Name) given in unit ("" for the series' own), by
// referenceRanges: "" when the metric has no range there or the unit cannot be
// brought to the range's.
func Interpret(metric string, value float64, unit string) string {
	for _, b := range referenceRanges {
		if b.metric != metric {
			continue
		}
		to := known[metric].unit
		from := to
		if unit != "" {
			from = Unit(unit)
		}
		v, ok := convert(value, from, to)
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			return ""
		}
		return b.interpret(Round(v/b.step, 0) * b.step)
	}
	return ""
}

// interpret places v, rounded to the band's step, in the band.
func (b band) interpret(v float64) string {
	// The rounding of v/step*step leaves a little noise (36.1 as 36.100000000000001).
	const eps = 1e-9
	switch {
	case !math.IsNaN(b.criticalLow) && v <= b.criticalLow+eps:
		return CriticalLow
	case !math.IsNaN(b.low) && v <= b.low+eps:
		return Low
	case !math.IsNaN(b.criticalHigh) && v >= b.criticalHigh-eps:
		return CriticalHigh
	case !math.IsNaN(b.high) && v >= b.high-eps:
		return High
	}
	return Normal
}

// Worst returns the most severe of codes: critical before high or low, high or low
// before normal; "" when none is given.
func Worst(codes ...string) string {
	worst := ""
	for _, c := range codes {
		if severity(c) > severity(worst) {
			worst = c
		}
	}
	return worst
}

// severity ranks an interpretation code: critical above high or low, above normal,
// above none.
func severity(code string) int {
	switch code {
	case Normal:
		return 1
	case Low, High:
		return 2
	case CriticalLow, CriticalHigh:
		return 3
	}
	return 0
}
