package fhir

import (
	"slices"
	"testing"
)

func TestEncounterOf(t *testing.T) {
	for id, want := range map[string]string{
		"visit-1":           "visit-1",
		"visit-1-ailment":   "visit-1",
		"visit-1-metric-12": "visit-1",
		"visit-1-symptom-2": "visit-1",
		"a-med-1-med-3":     "a-med-1",
		"a-med-1-test-1":    "a-med-1",
		"a-qa":              "a",
		"7-note":            "7",
		"x-2":               "x-2",
		"x0123456789abcdef0123456789abcdef01234567":          "",
		"x0123456789abcdef0123456789abcdef01234567-metric-1": "x0123456789abcdef0123456789abcdef01234567",
	} {
		if got := EncounterOf(id); got != want {
			t.Errorf("EncounterOf(%q) = %q, want %q", id, got, want)
		}
	}
	if got := RecordKeys("visit-1"); !slices.Equal(got, []string{"visit-1", "fhir-visit-1"}) {
		t.Errorf("RecordKeys = %v", got)
	}
	if got := RecordKeys(resourceID("a_1")); got != nil {
		t.Errorf("RecordKeys of a hashed id = %v", got)
	}
}
