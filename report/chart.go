package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/clinic/interactions/vitals"
)

// The geometry of a chart, in the SVG's own units (about a pixel at 96 dpi; the SVG
// is scaled to the page's width).
const (
	chartWidth  = 680
	chartHeight = 200
	plotLeft    = 58
	plotRight   = chartWidth - 14
	plotTop     = 10
	plotBottom  = chartHeight - 26
	// inset keeps the first and last points off the axes.
	inset = 8
	// maxDots is the most points a chart marks with a dot; beyond, the line alone.
	maxDots = 150
	// maxXTicks and yTicks bound the ticks of the axes.
	maxXTicks = 7
	yTicks    = 5
)

// chart is a series drawn as an SVG line chart: everything the template places,
// computed here.
type chart struct {
	Title, Unit, Trend   string
	Readings             int
	Width, Height        int
	Left, Right          float64
	Top, Bottom          float64
	XTicks, YTicks       []tick
	Line                 string
	Dots                 []point
	TrendLine            *segment
	UnitX, UnitY, LabelY float64
}

type tick struct {
	Pos   float64
	Label string
}

// point is a reading's dot; Flag is abnormal or critical for a reading outside its
// reference range (see vitals.Interpret), "" otherwise.
type point struct {
	X, Y float64
	Flag string
}

type segment struct{ X1, Y1, X2, Y2 float64 }

// flag names the mark of a reading interpreted so: critical (LL, HH), abnormal (L,
// H), or "" (normal, or not interpreted).
func flag(interpretation string) string {
	switch {
	case interpretation == vitals.CriticalLow || interpretation == vitals.CriticalHigh:
		return "critical"
	case vitals.Abnormal(interpretation):
		return "abnormal"
	}
	return ""
}

// titles are the headings of the known metrics.
var titles = map[string]string{
	vitals.Temperature:   "Temperature",
	vitals.BloodPressure: "Blood pressure",
	vitals.Systolic:      "Blood pressure, systolic",
	vitals.Diastolic:     "Blood pressure, diastolic",
	vitals.HeartRate:     "Heart rate",
	vitals.SpO2:          "Oxygen saturation (SpO₂)",
	vitals.Weight:        "Weight",
	vitals.HealthStatus:  "Health status (1 to 10)",
	"ecg":                "ECG",
}

// title returns the heading of metric's chart.
func title(metric string) string {
	if t, ok := titles[metric]; ok {
		return t
	}
	return metric
}

// newChart draws s, which has at least one point.
func newChart(s vitals.Series) chart {
	c := chart{
		Title: title(s.Metric), Unit: s.Unit, Trend: trendText(s), Readings: len(s.Points),
		Width: chartWidth, Height: chartHeight, Left: plotLeft, Right: plotRight, Top: plotTop, Bottom: plotBottom,
	}
	from, to := s.Points[0].Date, s.Points[len(s.Points)-1].Date
	x := timeAxis(from, to, plotLeft+inset, plotRight-inset)
	c.XTicks = x.ticks

	lo, hi := s.Points[0].Value, s.Points[0].Value
	for _, p := range s.Points {
		lo, hi = math.Min(lo, p.Value), math.Max(hi, p.Value)
	}
	if s.Metric == vitals.HealthStatus {
		lo, hi = 1, 10
	}
	y := valueAxis(lo, hi, plotBottom, plotTop)
	c.YTicks = y.ticks

	var line strings.Builder
	for i, p := range s.Points {
		px, py := round1(x.at(p.Date)), round1(y.at(p.Value))
		if i > 0 {
			line.WriteByte(' ')
		}
		line.WriteString(strconv.FormatFloat(px, 'f', -1, 64) + "," + strconv.FormatFloat(py, 'f', -1, 64))
		if len(s.Points) <= maxDots {
			c.Dots = append(c.Dots, point{X: px, Y: py, Flag: flag(p.Interpretation)})
		}
	}
	c.Line = line.String()
	if s.Trend != nil {
		if fit, ok := vitals.Fit(s.Points); ok {
			c.TrendLine = &segment{
				X1: round1(x.at(from)), Y1: round1(y.clamp(fit.At(from))),
				X2: round1(x.at(to)), Y2: round1(y.clamp(fit.At(to))),
			}
		}
	}
	c.UnitX, c.UnitY, c.LabelY = 14, (plotTop+plotBottom)/2, plotBottom+17
	return c
}

// trendText says what s's trend is, in words.
func trendText(s vitals.Series) string {
	if s.Trend == nil {
		return fmt.Sprintf("no trend: it takes %d readings over %d days or more", vitals.MinReadings, int(vitals.MinSpan.Hours()/24))
	}
	unit := ""
	if s.Unit != "" {
		unit = " " + s.Unit
	}
	slope := math.Round(s.Trend.SlopePer30Days*100) / 100
	if slope == 0 {
		slope = 0 // not -0.00
	}
	return fmt.Sprintf("trend %s: %+.2f%s per 30 days (stable within ±%s)", s.Trend.Direction, slope, unit,
		strconv.FormatFloat(s.Trend.DeadBand, 'f', -1, 64))
}

// linear maps a range of values onto a range of SVG coordinates.
type linear struct {
	lo, hi   float64
	from, to float64
	ticks    []tick
}

func (l linear) scale(v float64) float64 {
	if l.hi == l.lo {
		return (l.from + l.to) / 2
	}
	return l.from + (v-l.lo)/(l.hi-l.lo)*(l.to-l.from)
}

// timeScale is the x axis: dates onto coordinates.
type timeScale struct {
	linear
}

func (t timeScale) at(d time.Time) float64 { return t.scale(float64(d.Unix())) }

// valueScale is the y axis: values onto coordinates.
type valueScale struct {
	linear
}

func (v valueScale) at(value float64) float64 { return v.scale(value) }

// clamp returns value's coordinate, kept within the axis (a trend line may run past
// the readings' range).
func (v valueScale) clamp(value float64) float64 {
	return v.scale(math.Max(v.lo, math.Min(v.hi, value)))
}

// timeAxis returns the x axis from from to to, drawn from x0 to x1, with ticks on
// calendar boundaries: days, weeks, months, quarters, half years or years, the
// finest that gives at most maxXTicks.
func timeAxis(from, to time.Time, x0, x1 float64) timeScale {
	if !to.After(from) {
		from, to = from.Add(-12*time.Hour), to.Add(12*time.Hour)
	}
	axis := timeScale{linear{lo: float64(from.Unix()), hi: float64(to.Unix()), from: x0, to: x1}}
	for _, step := range timeSteps {
		ticks := step.ticks(from, to)
		if len(ticks) <= maxXTicks {
			for _, t := range ticks {
				axis.ticks = append(axis.ticks, tick{Pos: round1(axis.at(t)), Label: t.Format(step.layout)})
			}
			return axis
		}
	}
	return axis
}

// timeStep is a spacing of the ticks of a time axis.
type timeStep struct {
	years, months, days int
	layout              string
}

var timeSteps = []timeStep{
	{days: 1, layout: "2 Jan 2006"}, {days: 7, layout: "2 Jan 2006"},
	{months: 1, layout: "Jan 2006"}, {months: 3, layout: "Jan 2006"}, {months: 6, layout: "Jan 2006"},
	{years: 1, layout: "2006"}, {years: 2, layout: "2006"}, {years: 5, layout: "2006"},
	{years: 10, layout: "2006"}, {years: 20, layout: "2006"}, {years: 50, layout: "2006"}, {years: 100, layout: "2006"},
}

// ticks returns the step's calendar boundaries from from to to, UTC.
func (s timeStep) ticks(from, to time.Time) []time.Time {
	from, to = from.UTC(), to.UTC()
	var t time.Time
	switch {
	case s.years > 0:
		t = time.Date(from.Year()-from.Year()%s.years, 1, 1, 0, 0, 0, 0, time.UTC)
	case s.months > 0:
		m := int(from.Month()) - 1
		t = time.Date(from.Year(), time.Month(m-m%s.months+1), 1, 0, 0, 0, 0, time.UTC)
	default:
		t = time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
		if s.days == 7 { // Mondays
			t = t.AddDate(0, 0, -(int(t.Weekday())+6)%7)
		}
	}
	var out []time.Time
	for ; !t.After(to); t = t.AddDate(s.years, s.months, s.days) {
		if !t.Before(from) {
			out = append(out, t)
		}
		if len(out) > maxXTicks {
			break
		}
	}
	return out
}

// valueAxis returns the y axis over lo to hi, widened to round ticks (1, 2 or 5
// times a power of ten apart), drawn from y0 (lo) to y1 (hi).
func valueAxis(lo, hi, y0, y1 float64) valueScale {
	if hi == lo {
		pad := math.Max(math.Abs(lo)*0.05, 1)
		lo, hi = lo-pad, hi+pad
	}
	step := niceStep((hi - lo) / (yTicks - 1))
	lo, hi = math.Floor(lo/step)*step, math.Ceil(hi/step)*step
	axis := valueScale{linear{lo: lo, hi: hi, from: y0, to: y1}}
	decimals := max(0, -int(math.Floor(math.Log10(step))))
	// Counted, not added up: with values beyond the precision of a step, lo + step
	// can be lo.
	for i := range int(math.Min(math.Round((hi-lo)/step), 2*yTicks)) + 1 {
		v := lo + float64(i)*step
		axis.ticks = append(axis.ticks, tick{Pos: round1(axis.at(v)), Label: strconv.FormatFloat(v, 'f', decimals, 64)})
	}
	return axis
}

// niceStep returns the smallest of 1, 2, 5 and 10 times a power of ten that is at
// least x.
func niceStep(x float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, f := range []float64{1, 2, 5} {
		if f*p >= x {
			return f * p
		}
	}
	return 10 * p
}

// timeline is the strip of every visit along time.
type timeline struct {
	Width, Height int
	Left, Right   float64
	Base          float64
	Ticks         []tick
	Visits        []float64
}

// newTimeline draws visits (any order) along time; it is empty without visits.
func newTimeline(dates []time.Time) timeline {
	tl := timeline{Width: chartWidth, Height: 46, Left: plotLeft, Right: plotRight, Base: 26}
	if len(dates) == 0 {
		return tl
	}
	from, to := dates[0], dates[0]
	for _, d := range dates {
		if d.Before(from) {
			from = d
		}
		if d.After(to) {
			to = d
		}
	}
	x := timeAxis(from, to, plotLeft+inset, plotRight-inset)
	tl.Ticks = x.ticks
	for _, d := range dates {
		tl.Visits = append(tl.Visits, round1(x.at(d)))
	}
	return tl
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }
