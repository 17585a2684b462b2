package vitals

import (
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func TestInterpret(t *testing.T) {
	for _, tc := range []struct {
		metric string
		value  float64
		unit   string
		want   string
	}{
		{Temperature, 35.0, "", CriticalLow},
		{Temperature, 35.04, "°C", CriticalLow}, // rounded to 35.0
		{Temperature, 35.1, "", Low},
		{Temperature, 36.0, "Cel", Low},
		{Temperature, 36.1, "", Normal},
		{Temperature, 38.0, "", Normal},
		{Temperature, 38.1, "", High},
		{Temperature, 41.5, "", High},
		{Temperature, 98.6, "[degF]", Normal}, // 37.0 °C
		{Temperature, 102.2, "°F", High},      // 39.0 °C
		{Temperature, 37, "kg", ""},           // no such unit for a temperature
		{Systolic, 90, "", CriticalLow},
		{Systolic, 100, "", Low},
		{Systolic, 101, "", Normal},
		{Systolic, 119, "mm[Hg]", Normal},
		{Systolic, 120, "", High},
		{Systolic, 180, "", High},
		{Systolic, 181, "", CriticalHigh},
		{Diastolic, 59, "", Low},
		{Diastolic, 60, "", Normal},
		{Diastolic, 79, "", Normal},
		{Diastolic, 80, "", High},
		{Diastolic, 121, "", CriticalHigh},
		{HeartRate, 40, "", CriticalLow},
		{HeartRate, 50, "bpm", Low},
		{HeartRate, 51, "", Normal},
		{HeartRate, 90, "", Normal},
		{HeartRate, 91, "", High},
		{HeartRate, 130, "", High},
		{HeartRate, 131, "/min", CriticalHigh},
		{SpO2, 91, "", CriticalLow},
		{SpO2, 95, "%", Low},
		{SpO2, 96, "", Normal},
		{SpO2, 100, "", Normal},
		{Weight, 300, "kg", ""},
		{"ecg", 1, "", ""},
	} {
		if got := Interpret(tc.metric, tc.value, tc.unit); got != tc.want {
			t.Errorf("Interpret(%s, %v, %q) = %q, want %q", tc.metric, tc.value, tc.unit, got, tc.want)
		}
	}
}

func TestEveryRangeNamesItsSource(t *testing.T) {
	for _, b := range referenceRanges {
		if b.source == "" || Source(b.metric) != b.source {
			t.Errorf("%s: no source", b.metric)
		}
		if _, ok := known[b.metric]; !ok {
			t.Errorf("%s: not a known vital sign", b.metric)
		}
	}
	if Worst(Normal, High, "") != High || Worst(Low, CriticalHigh, High) != CriticalHigh || Worst() != "" {
		t.Error("Worst does not rank critical over high or low over normal")
	}
}

func TestChartInterpretsReadings(t *testing.T) {
	var c Chart
	at := time.Date(2024, 9, 1, 9, 0, 0, 0, time.UTC)
	c.Add(at, "1", bson.D{{Key: "temp", Value: 101.3}, {Key: "units", Value: bson.D{{Key: "temp", Value: "°F"}}},
		{Key: "BP", Value: "118/62"}, {Key: "HR", Value: "135 bpm"}, {Key: "weight", Value: 70}, {Key: "ECG", Value: "Normal"}})
	c.Add(at.Add(time.Hour), "2", bson.D{{Key: "BP", Value: "185/95"}})
	v := c.Vitals()
	latest := map[string]string{}
	for _, l := range v.Latest {
		latest[l.Metric] = l.Interpretation
	}
	want := map[string]string{Temperature: High, BloodPressure: CriticalHigh, HeartRate: CriticalHigh, Weight: "", "ecg": ""}
	for metric, code := range want {
		if got, ok := latest[metric]; !ok || got != code {
			t.Errorf("latest %s: interpretation %q, want %q", metric, got, code)
		}
	}
	points := map[string][]string{}
	for _, s := range v.Series {
		for _, p := range s.Points {
			points[s.Metric] = append(points[s.Metric], p.Interpretation)
		}
	}
	for metric, codes := range map[string][]string{
		Temperature: {High}, Systolic: {Normal, CriticalHigh}, Diastolic: {Normal, High}, HeartRate: {CriticalHigh}, Weight: {""},
	} {
		if !slices.Equal(points[metric], codes) {
			t.Errorf("%s points: %v, want %v", metric, points[metric], codes)
		}
	}
}
