package report

import (
	"strings"
	"testing"
	"time"

	"github.com/clinic/interactions/vitals"
)

func TestNiceStep(t *testing.T) {
	tests := []struct{ in, want float64 }{
		{0.3, 0.5}, {1, 1}, {1.2, 2}, {2.5, 5}, {7, 10}, {12, 20}, {0.04, 0.05}, {250, 500},
	}
	for _, tt := range tests {
		if got := niceStep(tt.in); got != tt.want {
			t.Errorf("niceStep(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func labels(ticks []tick) string {
	var out []string
	for _, t := range ticks {
		out = append(out, t.Label)
	}
	return strings.Join(out, " ")
}

func TestValueAxis(t *testing.T) {
	tests := []struct {
		lo, hi float64
		want   string
	}{
		{36.8, 38.5, "36.5 37.0 37.5 38.0 38.5"},
		{120, 120, "110 115 120 125 130"},
		{1, 10, "0 5 10"},
		{62, 131, "60 80 100 120 140"},
		{0.2, 0.9, "0.2 0.4 0.6 0.8 1.0"},
		{-3, 4, "-4 -2 0 2 4"},
	}
	for _, tt := range tests {
		axis := valueAxis(tt.lo, tt.hi, 100, 0)
		if got := labels(axis.ticks); got != tt.want {
			t.Errorf("valueAxis(%v, %v) ticks %q, want %q", tt.lo, tt.hi, got, tt.want)
		}
		if axis.at(axis.lo) != 100 || axis.at(axis.hi) != 0 {
			t.Errorf("valueAxis(%v, %v) maps %v..%v to %v..%v", tt.lo, tt.hi, axis.lo, axis.hi, axis.at(axis.lo), axis.at(axis.hi))
		}
	}
}

// TestValueAxisOfHugeValues draws the axis of values so large that a step between
// ticks is below their precision: the ticks are still counted, not added up.
func TestValueAxisOfHugeValues(t *testing.T) {
	done := make(chan valueScale, 1)
	go func() { done <- valueAxis(1e17, 1e17+16, 100, 0) }()
	select {
	case axis := <-done:
		if n := len(axis.ticks); n < 2 || n > 2*yTicks+1 {
			t.Errorf("%d ticks", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("valueAxis(1e17, 1e17+16) did not return")
	}
}

func TestTimeAxis(t *testing.T) {
	at := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	tests := []struct {
		from, to string
		want     string
	}{
		{"2024-10-01", "2024-10-04", "1 Oct 2024 2 Oct 2024 3 Oct 2024 4 Oct 2024"},
		{"2024-10-01", "2024-10-01", "1 Oct 2024"}, // one time, padded by half a day each way
		{"2024-09-03", "2024-10-20", "9 Sep 2024 16 Sep 2024 23 Sep 2024 30 Sep 2024 7 Oct 2024 14 Oct 2024"},
		{"2024-08-05", "2024-10-22", "Sep 2024 Oct 2024"},
		{"2024-01-15", "2024-11-05", "Apr 2024 Jul 2024 Oct 2024"},
		{"2021-11-10", "2024-11-05", "Jan 2022 Jul 2022 Jan 2023 Jul 2023 Jan 2024 Jul 2024"},
		{"2017-11-10", "2024-11-05", "2018 2019 2020 2021 2022 2023 2024"},
		{"1960-02-01", "2024-11-05", "1970 1980 1990 2000 2010 2020"},
	}
	for _, tt := range tests {
		axis := timeAxis(at(tt.from), at(tt.to), 0, 100)
		if got := labels(axis.ticks); got != tt.want {
			t.Errorf("timeAxis(%s, %s) ticks %q, want %q", tt.from, tt.to, labels(axis.ticks), tt.want)
		}
		if len(axis.ticks) > maxXTicks {
			t.Errorf("timeAxis(%s, %s): %d ticks", tt.from, tt.to, len(axis.ticks))
		}
	}
}

func TestChartGeometry(t *testing.T) {
	day := func(n int) time.Time { return time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n) }
	s := vitals.NewSeries(vitals.Temperature, "°C", []vitals.Point{
		{Date: day(0), Value: 37, InteractionID: "a"},
		{Date: day(30), Value: 38, InteractionID: "b"},
		{Date: day(60), Value: 39, InteractionID: "c"},
	})
	c := newChart(s)
	// The first point sits at the left inset and the lowest tick (37 on 37..39), the
	// last at the right inset and the highest.
	want := "66,174 362,92 658,10"
	if c.Line != want {
		t.Errorf("line %q, want %q", c.Line, want)
	}
	if c.TrendLine == nil || *c.TrendLine != (segment{X1: 66, Y1: 174, X2: 658, Y2: 10}) {
		t.Errorf("trend line %+v", c.TrendLine)
	}
	if len(c.Dots) != 3 || !strings.Contains(c.Trend, "trend rising: +1.00 °C per 30 days") {
		t.Errorf("dots %d, trend %q", len(c.Dots), c.Trend)
	}

	flat := vitals.NewSeries(vitals.Temperature, "°C", []vitals.Point{
		{Date: day(0), Value: 37, InteractionID: "a"},
		{Date: day(30), Value: 36.99, InteractionID: "b"},
		{Date: day(60), Value: 37, InteractionID: "c"},
	})
	if got := newChart(flat).Trend; !strings.HasPrefix(got, "trend stable: +0.00 °C per 30 days") {
		t.Errorf("a flat trend reads %q", got)
	}

	one := newChart(vitals.NewSeries(vitals.Weight, "kg", []vitals.Point{{Date: day(0), Value: 80, InteractionID: "a"}}))
	if one.Line != "362,92" || one.TrendLine != nil || !strings.HasPrefix(one.Trend, "no trend") {
		t.Errorf("a chart of one point: line %q, trend line %+v, %q", one.Line, one.TrendLine, one.Trend)
	}
}
