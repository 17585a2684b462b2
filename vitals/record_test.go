package vitals

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// chartReadings returns the last point of each known vital sign's series in a
// Chart of one record's metrics: what RecordReadings must give.
func chartReadings(metrics bson.D) map[string]float64 {
	var c Chart
	c.Add(time.Date(2024, 1, 1, 9, 0, 0, 0, time.UTC), "x", metrics)
	out := map[string]float64{}
	for _, s := range c.Vitals().Series {
		if Known(s.Metric) && len(s.Points) > 0 {
			out[s.Metric] = s.Points[len(s.Points)-1].Value
		}
	}
	return out
}

// TestRecordReadingsAreTheChart reads records of every kind both ways: the known
// vital signs of one record alone give what a Chart of that record gives them.
func TestRecordReadingsAreTheChart(t *testing.T) {
	many := bson.D{}
	for i := range maxRead {
		many = append(many, bson.E{Key: fmt.Sprintf("m%02d", i), Value: i})
	}
	records := []bson.D{
		{{Key: "temp", Value: 38.6}, {Key: "BP", Value: "126/75"}, {Key: "heart_rate", Value: int32(94)}, {Key: "spo2", Value: int64(96)},
			{Key: "ECG", Value: "Normal"}, {Key: "weight", Value: "150 lb"}},
		{{Key: "Temperature", Value: "100.4 F"}, {Key: "blood-pressure", Value: "120 / 80 mmHg"}, {Key: "Pulse", Value: "72 bpm"}},
		{{Key: "units", Value: bson.D{{Key: "HR", Value: "/min"}, {Key: "wt", Value: "lb"}, {Key: "temp", Value: "F"}}},
			{Key: "HR", Value: 60.0}, {Key: "wt", Value: 200}, {Key: "temp", Value: "99"}},
		{{Key: "units", Value: "bad"}, {Key: "temp", Value: "38,5"}, {Key: "BP", Value: "80/120"}, {Key: "spo2", Value: true}},
		{{Key: "health_status", Value: 4}, {Key: "Health Status", Value: "5 points"}},
		{{Key: "health status", Value: 6}},
		{{Key: "weight", Value: "70 stone"}, {Key: "glucose", Value: 5.5}, {Key: "sbp", Value: 140}},
		{{Key: "temp", Value: 37.0}, {Key: "temperature", Value: 38.0}},
		{{Key: "systolic", Value: 130}, {Key: "BP", Value: "120/80"}},
		append(many, bson.E{Key: "temp", Value: 39.0}),
		{},
	}
	r := rand.New(rand.NewPCG(1, 2))
	keys := []string{"temp", "Temp", "temperature", "body_temp", "BP", "bp", "blood pressure", "systolic", "dbp", "HR", "pulse",
		"SpO2", "o2_sat", "weight", "wt", "health_status", "ECG", "glucose", "units"}
	values := []any{38.5, "38.5 C", "101 F", "120/80", "120/80 mmHg", "80/120", int32(72), int64(98), "72 bpm", "150 lb", "70 kg",
		"high", true, nil, 1e12, "95 %", bson.D{{Key: "temp", Value: "F"}, {Key: "wt", Value: "lb"}}, bson.D{{Key: "HR", Value: 1}}}
	for range 5000 {
		var metrics bson.D
		for range r.IntN(7) {
			metrics = append(metrics, bson.E{Key: keys[r.IntN(len(keys))], Value: values[r.IntN(len(values))]})
		}
		records = append(records, metrics)
	}
	read := 0
	for _, metrics := range records {
		got, ok := RecordReadings(metrics)
		if !ok {
			continue
		}
		read++
		if want := chartReadings(metrics); !reflect.DeepEqual(got, want) {
			t.Fatalf("%v:\n got %v\nwant %v", metrics, got, want)
		}
	}
	if _, ok := RecordReadings(records[7]); ok {
		t.Error("two temperatures in one record were read without a chart")
	}
	if read < len(records)/2 {
		t.Errorf("only %d of %d records read without a chart", read, len(records))
	}
}
