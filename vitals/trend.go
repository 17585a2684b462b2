package vitals

import (
	"math"
	"time"
)

// The directions of a trend.
const (
	Rising  = "rising"
	Falling = "falling"
	Stable  = "stable"
)

// What a series needs for a trend: at least MinReadings readings, the first and the
// last at least MinSpan apart. With fewer, or closer, a slope per 30 days would say
// more than the readings do.
const (
	MinReadings = 3
	MinSpan     = 7 * 24 * time.Hour
)

// month is the period a trend's slope is given per.
const month = 30 * 24 * time.Hour

// Trend is the least-squares line through a series, as a slope and a direction.
type Trend struct {
	// SlopePer30Days is how much the fitted line rises (or falls, below 0) in 30
	// days, in the series' unit.
	SlopePer30Days float64 `json:"slope_per_30_days" validate:"required" example:"-0.35"`
	// Direction is stable when the slope is within the dead band (either way),
	// otherwise rising or falling.
	Direction string `json:"direction" validate:"required" enums:"rising,falling,stable" example:"falling"`
	// DeadBand is the slope per 30 days, either way, below which the series counts as
	// stable: 0.1 °C (temperature), 1 mmHg (systolic_bp, diastolic_bp), 1 /min
	// (heart_rate), 0.2 % (spo2), 0.2 kg (weight), 0.1 (health_status), and 1% of
	// the mean of the readings' absolute values for any other metric.
	DeadBand float64 `json:"dead_band" validate:"required" example:"0.1"`
}

// Line is a straight line through a series: At(t) = Intercept + PerDay · (days from
// Origin to t).
type Line struct {
	Origin    time.Time
	Intercept float64
	PerDay    float64
}

// At returns the line's value at t.
func (l Line) At(t time.Time) float64 {
	return l.Intercept + l.PerDay*t.Sub(l.Origin).Hours()/24
}

// Fit returns the least-squares line through points, with time in days. It returns
// false for fewer than two points, or points all at one time.
func Fit(points []Point) (Line, bool) {
	if len(points) < 2 {
		return Line{}, false
	}
	origin := points[0].Date
	var sx, sy float64
	for _, p := range points {
		sx += days(origin, p.Date)
		sy += p.Value
	}
	n := float64(len(points))
	mx, my := sx/n, sy/n
	var sxx, sxy float64
	for _, p := range points {
		dx := days(origin, p.Date) - mx
		sxx += dx * dx
		sxy += dx * (p.Value - my)
	}
	if sxx == 0 {
		return Line{}, false
	}
	slope := sxy / sxx
	return Line{Origin: origin, Intercept: my - slope*mx, PerDay: slope}, true
}

func days(from, to time.Time) float64 { return to.Sub(from).Hours() / 24 }

// trendOf returns the trend of metric's points, oldest first, or nil when they are
// too few or too close together for one (see MinReadings and MinSpan).
func trendOf(metric string, points []Point) *Trend {
	if len(points) < MinReadings || points[len(points)-1].Date.Sub(points[0].Date) < MinSpan {
		return nil
	}
	line, ok := Fit(points)
	if !ok {
		return nil
	}
	band := deadBand(metric, points)
	slope := line.PerDay * month.Hours() / 24
	direction := Stable
	switch {
	case slope > band:
		direction = Rising
	case slope < -band:
		direction = Falling
	}
	return &Trend{SlopePer30Days: Round(slope, 4), Direction: direction, DeadBand: Round(band, 4)}
}

// deadBand returns metric's dead band: its own for a known vital sign, otherwise 1%
// of the mean of the points' absolute values.
func deadBand(metric string, points []Point) float64 {
	if v, ok := known[metric]; ok {
		return v.deadBand
	}
	var sum float64
	for _, p := range points {
		sum += math.Abs(p.Value)
	}
	return sum / float64(len(points)) / 100
}

// Round returns v rounded to the given number of decimal places; a value that rounds
// to zero is 0, never -0.
func Round(v float64, places int) float64 {
	scale := math.Pow(10, float64(places))
	return math.Round(v*scale)/scale + 0
}
