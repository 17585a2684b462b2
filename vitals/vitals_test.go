package vitals

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestName(t *testing.T) {
	tests := []struct{ key, want string }{
		{"temp", Temperature},
		{"Temperature", Temperature},
		{"body temperature", Temperature},
		{"BP", BloodPressure},
		{"blood-pressure", BloodPressure},
		{"HR", HeartRate},
		{"heart_rate", HeartRate},
		{"Heart Rate", HeartRate},
		{"pulse", HeartRate},
		{"SpO2", SpO2},
		{"spo2", SpO2},
		{"oxygen saturation", SpO2},
		{"weight", Weight},
		{"Systolic", Systolic},
		{"dbp", Diastolic},
		{"ECG", "ecg"},
		{"glucose_mg_dl", "glucose_mg_dl"},
		{"  Glucose -- fasting ", "glucose_fasting"},
		{`"><img src=x>`, `"><img_src=x>`},
	}
	for _, tt := range tests {
		if got := Name(tt.key); got != tt.want {
			t.Errorf("Name(%q) = %q, want %q", tt.key, got, tt.want)
		}
	}
}

func TestUnit(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Cel", "°C"}, {"C", "°C"}, {" °c ", "°C"}, {"[degF]", "°F"}, {"F", "°F"},
		{"mm[Hg]", "mmHg"}, {"bpm", "/min"}, {"/min", "/min"}, {"%", "%"},
		{"kg", "kg"}, {"[lb_av]", "lb"}, {"lbs", "lb"}, {"mg/dL", "mg/dL"}, {"", ""},
	}
	for _, tt := range tests {
		if got := Unit(tt.in); got != tt.want {
			t.Errorf("Unit(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNumber(t *testing.T) {
	tests := []struct {
		in    any
		want  float64
		unit  string
		valid bool
	}{
		{int32(37), 37, "", true},
		{int64(120), 120, "", true},
		{38.5, 38.5, "", true},
		{"38.5", 38.5, "", true},
		{" 38.5 ", 38.5, "", true},
		{"38.5 C", 38.5, "C", true},
		{"38.5°C", 38.5, "°C", true},
		{"72 bpm", 72, "bpm", true},
		{"98 %", 98, "%", true},
		{"-1.5", -1.5, "", true},
		{".5", 0.5, "", true},
		{"110 mg/dL", 110, "mg/dL", true},
		{"38,5", 0, "", false},
		{"120/80", 0, "", false},
		{"1/min", 1, "/min", true},
		{"high", 0, "", false},
		{"", 0, "", false},
		{"NaN", 0, "", false},
		{"Inf", 0, "", false},
		{"38.5.1", 0, "", false},
		{true, 0, "", false},
		{nil, 0, "", false},
		{math.NaN(), 0, "", false},
		{bson.D{{Key: "v", Value: 1}}, 0, "", false},
		{bson.A{1, 2}, 0, "", false},
		{int64(1e9), 1e9, "", true},
		{-1e9, -1e9, "", true},
		{int64(100000000000000000), 0, "", false},
		{1e308, 0, "", false},
		{"1e400", 0, "", false},
		{"1" + strings.Repeat("0", 400), 0, "", false},
	}
	for _, tt := range tests {
		got, unit, err := Number(tt.in)
		if (err == nil) != tt.valid || got != tt.want || unit != tt.unit {
			t.Errorf("Number(%#v) = %v, %q, %v; want %v, %q, valid %v", tt.in, got, unit, err, tt.want, tt.unit, tt.valid)
		}
	}
}

func TestPressure(t *testing.T) {
	tests := []struct {
		in        any
		sys, dia  float64
		unit      string
		wantError error
	}{
		{"120/80", 120, 80, "", nil},
		{" 120 / 80 ", 120, 80, "", nil},
		{"120/80 mmHg", 120, 80, "mmHg", nil},
		{"120/80mm[Hg]", 120, 80, "mm[Hg]", nil},
		{"90/80", 90, 80, "", nil},
		{"121.5/79.5", 121.5, 79.5, "", nil},
		{"80/120", 0, 0, "", errInverted},
		{"120/120", 0, 0, "", errInverted},
		{"120", 0, 0, "", errNotPressure},
		{"120/", 0, 0, "", errNotPressure},
		{"120/80/60", 0, 0, "", errNotPressure},
		{"high", 0, 0, "", errNotPressure},
		{int32(120), 0, 0, "", errNotPressure},
		{bson.D{{Key: "systolic", Value: 120}}, 0, 0, "", errNotPressure},
		{strings.Repeat("9", 400) + "/80", 0, 0, "", errOutOfRange},
		{"2000000000/80", 0, 0, "", errOutOfRange},
	}
	for _, tt := range tests {
		sys, dia, unit, err := Pressure(tt.in)
		if err != tt.wantError || sys != tt.sys || dia != tt.dia || unit != tt.unit {
			t.Errorf("Pressure(%#v) = %v, %v, %q, %v; want %v, %v, %q, %v", tt.in, sys, dia, unit, err, tt.sys, tt.dia, tt.unit, tt.wantError)
		}
	}
}

// day returns midnight UTC n days after 2024-01-01.
func day(n int) time.Time { return time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n) }

// points returns points on days 0, step, 2·step, ... with the given values.
func points(step int, values ...float64) []Point {
	out := make([]Point, len(values))
	for i, v := range values {
		out[i] = Point{Date: day(i * step), Value: v, InteractionID: string(rune('a' + i))}
	}
	return out
}

func TestFit(t *testing.T) {
	line, ok := Fit(points(10, 1, 2, 3))
	if !ok || math.Abs(line.PerDay-0.1) > 1e-12 || math.Abs(line.At(day(40))-5) > 1e-9 {
		t.Errorf("Fit through (0,1) (10,2) (20,3) = %+v, %v; want 0.1 a day, 5 at day 40", line, ok)
	}
	// Least squares, not the end points: (0,0) (1,2) (2,1) has slope 0.5.
	line, ok = Fit(points(1, 0, 2, 1))
	if !ok || math.Abs(line.PerDay-0.5) > 1e-12 {
		t.Errorf("Fit = %+v, want slope 0.5", line)
	}
	if _, ok := Fit(points(0, 1, 2, 3)); ok {
		t.Error("Fit of points all at one time succeeded")
	}
	if _, ok := Fit(points(1, 1)); ok {
		t.Error("Fit of one point succeeded")
	}
}

func TestTrend(t *testing.T) {
	tests := []struct {
		name   string
		metric string
		points []Point
		want   *Trend
	}{
		{"rising temperature", Temperature, points(30, 37, 37.5, 38), &Trend{SlopePer30Days: 0.5, Direction: Rising, DeadBand: 0.1}},
		{"falling weight", Weight, points(15, 80, 79.5, 79), &Trend{SlopePer30Days: -1, Direction: Falling, DeadBand: 0.2}},
		{"within the dead band", Temperature, points(30, 37, 37.05, 37.1), &Trend{SlopePer30Days: 0.05, Direction: Stable, DeadBand: 0.1}},
		{"at the dead band's edge", HeartRate, points(30, 70, 71, 72), &Trend{SlopePer30Days: 1, Direction: Stable, DeadBand: 1}},
		{"health status", HealthStatus, points(30, 3, 5, 7), &Trend{SlopePer30Days: 2, Direction: Rising, DeadBand: 0.1}},
		{"other metric: 1% of the mean", "glucose", points(30, 100, 102, 104), &Trend{SlopePer30Days: 2, Direction: Rising, DeadBand: 1.02}},
		{"two readings", Temperature, points(30, 37, 39), nil},
		{"three readings within a week", Temperature, points(3, 37, 38, 39), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NewSeries(tt.metric, "", tt.points).Trend
			if (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want {
				t.Errorf("trend = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// visit is one interaction's metrics for TestChart.
type visit struct {
	day     int
	id      string
	metrics bson.D
}

func TestChart(t *testing.T) {
	visits := []visit{
		// Given newest first, as a history reads them: the chart sorts.
		{40, "v5", bson.D{{Key: "temp", Value: "101.3 F"}, {Key: "HR", Value: int32(90)}, {Key: "ECG", Value: "Sinus tachycardia"},
			{Key: "units", Value: bson.D{{Key: "HR", Value: "bpm"}}}}},
		{30, "v4", bson.D{{Key: "temp", Value: "38,5"}, {Key: "BP", Value: "80/120"}, {Key: "glucose", Value: "high"}}},
		{20, "v3", bson.D{{Key: "Temperature", Value: 37.5}, {Key: "BP", Value: "130/85 mmHg"}, {Key: "heart_rate", Value: "80"},
			{Key: "glucose", Value: "110 mg/dL"}, {Key: "weight", Value: "176 lbs"}}},
		{10, "v2", bson.D{{Key: "temp", Value: int32(37)}, {Key: "BP", Value: "120/80"}, {Key: "SpO2", Value: 97.0},
			{Key: "weight", Value: "80 stone"}, {Key: "glucose", Value: "6.1 mmol/L"}}},
		{0, "v1", bson.D{{Key: "temp", Value: "36.8 °C"}, {Key: "BP", Value: int32(120)}, {Key: "ECG", Value: "Normal"},
			{Key: "glucose", Value: "105 mg/dL"}, {Key: "units", Value: "metric"}}},
	}
	var c Chart
	for _, v := range visits {
		c.Add(day(v.day), v.id, v.metrics)
	}
	got := c.Vitals()

	series := map[string]string{}
	for _, s := range got.Series {
		series[s.Metric] = s.Unit + " " + compact(t, s.Points)
	}
	want := map[string]string{
		Temperature: `°C [[0,36.8],[10,37],[20,37.5],[40,38.5]]`,
		Systolic:    `mmHg [[10,120],[20,130]]`,
		Diastolic:   `mmHg [[10,80],[20,85]]`,
		HeartRate:   `/min [[20,80],[40,90]]`,
		SpO2:        `% [[10,97]]`,
		Weight:      `kg [[20,79.83]]`,
		"glucose":   `mg/dL [[0,105],[20,110]]`,
	}
	if len(series) != len(want) {
		t.Errorf("series of %v, want %d", keys(series), len(want))
	}
	for name, w := range want {
		if series[name] != w {
			t.Errorf("series %s = %s, want %s", name, series[name], w)
		}
	}
	var order []string
	for _, s := range got.Series {
		order = append(order, s.Metric)
	}
	if jsonOf(t, order) != `["temperature","systolic_bp","diastolic_bp","heart_rate","spo2","weight","glucose"]` {
		t.Errorf("series order %v", order)
	}

	var problems []string
	for _, p := range got.Unparseable {
		problems = append(problems, p.InteractionID+" "+p.Metric+" "+jsonOf(t, p.Value))
	}
	wantProblems := `["v4 BP \"80/120\"","v4 glucose \"high\"","v4 temp \"38,5\"","v2 glucose \"6.1 mmol/L\"","v2 weight \"80 stone\"","v1 BP 120","v1 units \"metric\""]`
	if jsonOf(t, problems) != wantProblems {
		t.Errorf("unparseable = %s\nwant          %s", jsonOf(t, problems), wantProblems)
	}
	for _, p := range got.Unparseable {
		if p.Reason == "" {
			t.Errorf("%+v has no reason", p)
		}
	}

	latest := map[string]string{}
	for _, l := range got.Latest {
		latest[l.Metric] = l.InteractionID + " " + jsonOf(t, l.Value) + " " + l.Unit
	}
	wantLatest := map[string]string{
		Temperature:   `v5 "101.3 F" °F`,
		BloodPressure: `v4 "80/120" mmHg`,
		HeartRate:     `v5 90 /min`,
		SpO2:          `v2 97 %`,
		Weight:        `v3 "176 lbs" lb`,
		"glucose":     `v4 "high" `,
		"ecg":         `v5 "Sinus tachycardia" `,
	}
	if len(latest) != len(wantLatest) {
		t.Errorf("latest of %v, want %d", keys(latest), len(wantLatest))
	}
	for name, w := range wantLatest {
		if latest[name] != w {
			t.Errorf("latest %s = %s, want %s", name, latest[name], w)
		}
	}
}

func TestChartEmpty(t *testing.T) {
	var c Chart
	got := jsonOf(t, c.Vitals())
	if got != `{"latest":[],"series":[],"unparseable":[],"left_out":{"metrics":0,"unread":0,"unparseable":0}}` {
		t.Errorf("Vitals of nothing = %s", got)
	}
}

// compact writes points as [[day, value], ...].
func compact(t *testing.T, points []Point) string {
	t.Helper()
	var out [][2]float64
	for _, p := range points {
		out = append(out, [2]float64{p.Date.Sub(day(0)).Hours() / 24, p.Value})
	}
	return jsonOf(t, out)
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestRound(t *testing.T) {
	for _, tt := range []struct {
		v      float64
		places int
		want   string
	}{
		{1.23456, 2, "1.23"}, {-1.235, 1, "-1.2"}, {0.004, 2, "0"},
		// A small negative value rounds to 0, not to -0, which JSON would show as -0.
		{-0.004, 2, "0"}, {-0.00001, 4, "0"},
	} {
		got, err := json.Marshal(Round(tt.v, tt.places))
		if err != nil || string(got) != tt.want {
			t.Errorf("Round(%v, %d) = %s, %v; want %s", tt.v, tt.places, got, err, tt.want)
		}
	}
}

// numbered returns metrics of n keys, <prefix>0 on, each holding value; first comes
// before them.
func numbered(prefix string, n int, value any, first ...bson.E) bson.D {
	d := append(bson.D{}, first...)
	for i := range n {
		d = append(d, bson.E{Key: fmt.Sprintf("%s%d", prefix, i), Value: value})
	}
	return d
}

// TestChartBounds checks that a chart keeps the known vital signs and
// MaxOtherMetrics other metrics, reads at most models.MaxMetrics metrics of a
// record, lists the newest MaxUnparseable values it could not read, and counts
// everything else, whatever the records hold.
func TestChartBounds(t *testing.T) {
	t.Run("a record of 20,000 metrics", func(t *testing.T) {
		var c Chart
		c.Add(day(0), "v1", numbered("k", 20_000, 1.5, bson.E{Key: "temp", Value: 38.5},
			bson.E{Key: "units", Value: numbered("k", 20_000, "mg")}))
		got := c.Vitals()
		// Read: temp, units and k0 to k61; kept: temperature and the first 16 of
		// k0 to k61 by name.
		var names []string
		for _, s := range got.Series {
			names = append(names, s.Metric)
		}
		want := `["temperature","k0","k1","k10","k11","k12","k13","k14","k15","k16","k17","k18","k19","k2","k20","k21","k22"]`
		if jsonOf(t, names) != want {
			t.Errorf("series %s\nwant   %s", jsonOf(t, names), want)
		}
		if len(got.Latest) != 1+MaxOtherMetrics {
			t.Errorf("%d latest values, want %d", len(got.Latest), 1+MaxOtherMetrics)
		}
		if unit := got.Series[1].Unit; unit != "mg" {
			t.Errorf("k0's unit = %q, want mg from the units read", unit)
		}
		if want := (LeftOut{Metrics: 62 - MaxOtherMetrics, Unread: 20_002 - 64}); got.LeftOut != want {
			t.Errorf("left out %+v, want %+v", got.LeftOut, want)
		}
	})
	t.Run("many records of other metrics, in any order", func(t *testing.T) {
		var visits []visit
		for i := range 40 {
			visits = append(visits, visit{i, fmt.Sprintf("v%02d", i), numbered(fmt.Sprintf("m%02d_", i), 3, float64(i),
				bson.E{Key: "HR", Value: 60 + i})})
		}
		var first string
		for round := range 4 {
			rand.New(rand.NewPCG(uint64(round), 2)).Shuffle(len(visits), func(i, j int) { visits[i], visits[j] = visits[j], visits[i] })
			var c Chart
			for _, v := range visits {
				c.Add(day(v.day), v.id, v.metrics)
			}
			got := c.Vitals()
			if len(got.Series) != 1+MaxOtherMetrics || got.Series[0].Metric != HeartRate || got.Series[1].Metric != "m00_0" ||
				got.Series[MaxOtherMetrics].Metric != "m05_0" || len(got.Series[0].Points) != 40 {
				t.Fatalf("order %d: series %s", round, jsonOf(t, got.Series))
			}
			if want := (LeftOut{Metrics: 120 - MaxOtherMetrics}); got.LeftOut != want {
				t.Errorf("order %d: left out %+v, want %+v", round, got.LeftOut, want)
			}
			if round == 0 {
				first = jsonOf(t, got)
			} else if jsonOf(t, got) != first {
				t.Errorf("order %d gives another chart", round)
			}
		}
	})
	t.Run("many values that cannot be read", func(t *testing.T) {
		var c Chart
		for i := range 3 * MaxUnparseable {
			c.Add(day(i), fmt.Sprintf("v%03d", i), bson.D{{Key: "temp", Value: "warm"}})
		}
		got := c.Vitals()
		if len(got.Unparseable) != MaxUnparseable || got.Unparseable[0].InteractionID != "v299" ||
			got.LeftOut.Unparseable != 2*MaxUnparseable {
			t.Errorf("%d unparseable, the first of %s, %d left out; want the newest %d, %d left out",
				len(got.Unparseable), got.Unparseable[0].InteractionID, got.LeftOut.Unparseable, MaxUnparseable, 2*MaxUnparseable)
		}
	})
}
