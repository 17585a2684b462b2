package fhirapi

import (
	"testing"
	"time"
)

func TestDates(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		values    []string
		in, out   []string
		wantError bool
	}{
		{values: []string{"2024-03"}, in: []string{"2024-03-01T00:00:00Z", "2024-03-31T23:59:59Z"}, out: []string{"2024-04-01T00:00:00Z", "2024-02-29T23:59:59Z"}},
		{values: []string{"ge2024-01-01", "lt2024-07-01"}, in: []string{"2024-01-01T00:00:00Z", "2024-06-30T23:00:00Z"}, out: []string{"2024-07-01T00:00:00Z"}},
		{values: []string{"gt2024"}, in: []string{"2025-01-01T00:00:00Z"}, out: []string{"2024-12-31T00:00:00Z"}},
		{values: []string{"le2024-05-05"}, in: []string{"2024-05-05T23:00:00Z"}, out: []string{"2024-05-06T00:00:00Z"}},
		{values: []string{"soon"}, wantError: true},
		{values: []string{"ne2024"}, wantError: true},
	} {
		q := readQuery(Request{Params: params("date", tc.values...)}, "date")
		s := q.dates("date")
		if (q.errs.Err() != nil) != tc.wantError {
			t.Errorf("%v: error %v", tc.values, q.errs.Err())
			continue
		}
		for _, v := range tc.in {
			if !s.contains(at(v)) {
				t.Errorf("%v leaves out %s", tc.values, v)
			}
		}
		for _, v := range tc.out {
			if s.contains(at(v)) {
				t.Errorf("%v keeps %s", tc.values, v)
			}
		}
	}
}

func params(name string, values ...string) []Param {
	var out []Param
	for _, v := range values {
		out = append(out, Param{Name: name, Value: v})
	}
	return out
}

func TestReadQuery(t *testing.T) {
	q := readQuery(Request{Params: []Param{{"patient", "P1"}, {"colour", "red"}, {"_format", "json"}}}, "patient")
	if q.errs.Err() == nil {
		t.Error("an unknown parameter passed")
	}
	q = readQuery(Request{Lenient: true, Params: []Param{{"patient", "P1"}, {"colour", "red"}, {"_format", "json"}}}, "patient")
	if err := q.errs.Err(); err != nil || len(q.used) != 1 || selfLink("b", "Encounter", q.used) != "b/Encounter?patient=P1" {
		t.Errorf("lenient: %v, used %v", err, q.used)
	}
	if NamesPatient([]Param{{"patient", " "}}) || !NamesPatient([]Param{{"family", "Byron"}}) || NamesPatient([]Param{{"birthdate", "1990"}}) {
		t.Error("NamesPatient")
	}
	for _, v := range []string{"Patient/P1", "http://x/fhir/R4/Patient/P1", "P1"} {
		if q := readQuery(Request{Params: []Param{{"patient", v}}}, "patient"); q.patient() != "P1" {
			t.Errorf("patient=%s", v)
		}
	}
}
