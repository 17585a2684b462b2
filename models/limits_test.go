package models_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

// keys returns an object of n keys k0, k1, ..., each holding value.
func keys(n int, value any) bson.D {
	d := make(bson.D, n)
	for i := range d {
		d[i] = bson.E{Key: fmt.Sprintf("k%d", i), Value: value}
	}
	return d
}

// elements returns an array of n copies of value.
func elements(n int, value any) bson.A {
	a := make(bson.A, n)
	for i := range a {
		a[i] = value
	}
	return a
}

// interaction returns an interaction's document of patient A11 with more fields.
func interaction(more ...bson.E) bson.D {
	return append(bson.D{{Key: "insurance_no", Value: "A11"}}, more...)
}

func TestInteractionLimits(t *testing.T) {
	long := strings.Repeat("é", models.MaxMetricText+1) // characters, not bytes
	atCap := strings.Repeat("é", models.MaxMetricText)
	// Sixteen objects of 255 keys each hold 16 × 256 keys and elements in all, with
	// the record's own 17 keys: past MaxElements, though no object is past its cap.
	var many bson.D
	for i := range 16 {
		many = append(many, bson.E{Key: fmt.Sprintf("o%d", i), Value: keys(255, 1)})
	}
	tests := []struct {
		name string
		doc  bson.D
		// field is where the error is, "-" for none, and cap a word of its message.
		field, cap string
	}{
		{"metrics at the cap", interaction(bson.E{Key: "metrics", Value: keys(models.MaxMetrics, 1)}), "-", ""},
		{"metrics past the cap", interaction(bson.E{Key: "metrics", Value: keys(models.MaxMetrics+1, 1)}), "metrics", "64 keys in metrics"},
		{"80,000 metrics", interaction(bson.E{Key: "metrics", Value: keys(80_000, 1)}), "metrics", "64 keys in metrics"},
		{"another object at the cap", interaction(bson.E{Key: "ward", Value: keys(models.MaxObjectKeys, 1)}), "-", ""},
		{"another object past the cap", interaction(bson.E{Key: "ward", Value: keys(models.MaxObjectKeys+1, 1)}), "ward", "256 keys in an object"},
		{"qa past the cap", interaction(bson.E{Key: "qa", Value: keys(models.MaxObjectKeys+1, "yes")}), "qa", "256 keys"},
		{"a nested object past the cap", interaction(bson.E{Key: "a", Value: bson.D{{Key: "b", Value: bson.A{keys(300, 1)}}}}), "a.b[0]", "256 keys"},
		{"the record past the cap", append(keys(models.MaxObjectKeys, 1), bson.E{Key: "insurance_no", Value: "A11"}), "", "256 keys"},
		{"an array at the cap", interaction(bson.E{Key: "list", Value: elements(models.MaxArrayLength, 1)}), "-", ""},
		{"an array past the cap", interaction(bson.E{Key: "list", Value: elements(models.MaxArrayLength+1, 1)}), "list", "1000 elements"},
		{"labels past the cap", interaction(bson.E{Key: "label", Value: elements(models.MaxArrayLength+1, "x")}), "label", "1000 elements"},
		{"keys and elements past the cap in all", interaction(many...), "", "4096 keys and array elements"},
		{"a metric's text at the cap", interaction(bson.E{Key: "metrics", Value: bson.D{{Key: "ECG", Value: atCap}}}), "-", ""},
		{"a metric's text past the cap", interaction(bson.E{Key: "metrics", Value: bson.D{{Key: "ECG", Value: long}}}), "metrics.ECG", "256 characters"},
		{"a metric's name past the cap", interaction(bson.E{Key: "metrics", Value: bson.D{{Key: long, Value: 1}}}), "metrics", "256 characters"},
		{"text within a metric past the cap", interaction(bson.E{Key: "metrics",
			Value: bson.D{{Key: "units", Value: bson.D{{Key: "HR", Value: long}}}}}), "metrics.units.HR", "256 characters"},
		{"text in a list within metrics past the cap", interaction(bson.E{Key: "metrics",
			Value: bson.D{{Key: "notes", Value: bson.A{"a", long}}}}), "metrics.notes[1]", "256 characters"},
		{"long text elsewhere is no metric's", interaction(bson.E{Key: "remarks", Value: long}), "-", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := models.NewInteraction(tc.doc, time.Now())
			checkLimit(t, err, tc.field, tc.cap)
		})
	}
}

func TestPatientLimits(t *testing.T) {
	patient := func(more ...bson.E) bson.D { return append(bson.D{{Key: "insurance_no", Value: "A11"}}, more...) }
	long := strings.Repeat("x", models.MaxMetricText+1)
	tests := []struct {
		name, field, cap string
		doc              bson.D
	}{
		{"an object past the cap", "family", "256 keys in an object", patient(bson.E{Key: "family", Value: keys(300, "x")})},
		{"an array past the cap", "habits", "1000 elements", patient(bson.E{Key: "habits", Value: elements(1001, "x")})},
		{"a patient has no metrics of its own", "-", "", patient(bson.E{Key: "metrics", Value: keys(100, long)})},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := models.NewPatient(tc.doc, time.Now())
			checkLimit(t, err, tc.field, tc.cap)
		})
	}
}

// checkLimit fails t unless err is a *models.LimitError naming field with a message
// holding cap, or nil when field is "-".
func checkLimit(t *testing.T, err error, field, cap string) {
	t.Helper()
	var limit *models.LimitError
	if field == "-" {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		return
	}
	if !errors.As(err, &limit) {
		t.Fatalf("err = %v, want a *models.LimitError", err)
	}
	if msg, ok := limit.Fields[field]; !ok || !strings.Contains(msg, cap) {
		t.Errorf("fields %v, want %q naming %q", limit.Fields, field, cap)
	}
	// A record past a cap is invalid input too: the importers skip it as such.
	var invalid *models.ValidationError
	if !errors.As(err, &invalid) || invalid.Fields[field] != limit.Fields[field] {
		t.Errorf("not a *models.ValidationError with the same fields: %v", err)
	}
}

// TestLimitErrorIsBounded checks that a record past a cap in many places gets an
// error of a few places, not one per place.
func TestLimitErrorIsBounded(t *testing.T) {
	var doc bson.D
	for i := range 200 {
		doc = append(doc, bson.E{Key: fmt.Sprintf("list%d", i), Value: elements(models.MaxArrayLength+1, 1)})
	}
	_, err := models.NewInteraction(interaction(doc...), time.Now())
	var limit *models.LimitError
	if !errors.As(err, &limit) || len(limit.Fields) == 0 || len(limit.Fields) > 10 {
		t.Fatalf("err = %v, want a *models.LimitError naming 1 to 10 places", err)
	}
}
