package models_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

func TestNormalizeLabels(t *testing.T) {
	cases := []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"Fever"}, "fever"},
		{[]string{" fever , SKIN,,"}, "fever skin"},
		{[]string{"gut", "GUT", "skin,gut"}, "gut skin"},
		{[]string{" ", ","}, ""},
	}
	for _, tc := range cases {
		if got := strings.Join(models.NormalizeLabels(tc.in), " "); got != tc.want {
			t.Errorf("NormalizeLabels(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFieldIndex(t *testing.T) {
	d := bson.D{{Key: "a", Value: 1}, {Key: "b", Value: nil}, {Key: "a", Value: 2}}
	tests := []struct {
		name string
		d    bson.D
		key  string
		want int
	}{
		{"a field with a null value is there", d, "b", 1},
		{"the first of a repeated key", d, "a", 0},
		{"no such field", d, "c", -1},
		{"a field of a nested document is not one of d", bson.D{{Key: "x", Value: bson.D{{Key: "y", Value: 1}}}}, "y", -1},
		{"an empty document", nil, "a", -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := models.FieldIndex(tc.d, tc.key); got != tc.want {
				t.Errorf("FieldIndex(%v, %q) = %d, want %d", tc.d, tc.key, got, tc.want)
			}
		})
	}
}

func TestParseDate(t *testing.T) {
	cases := []struct {
		in   string
		want string // "" for an error
	}{
		{"2024-10-12", "2024-10-12T00:00:00Z"},
		{"2024-10-12T09:30:00+02:00", "2024-10-12T07:30:00Z"},
		{"2024-10-12T09:30:00.123456Z", "2024-10-12T09:30:00.123Z"},
		// The year is checked in UTC: JSON cannot carry the year 10000.
		{"9999-12-31T23:59:59+00:01", "9999-12-31T23:58:59Z"},
		{"9999-12-31T23:59:59-00:01", ""},
		{"0001-01-01T00:00:00-00:01", "0001-01-01T00:01:00Z"},
		{"0001-01-01T00:00:00+00:01", ""},
		{"12-10-2024", ""},
		{"2024-13-01", ""},
		{"", ""},
		{"yesterday", ""},
	}
	for _, tc := range cases {
		got, err := models.ParseDate(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("ParseDate(%q) = %v, want an error", tc.in, got)
		case tc.want != "" && (err != nil || got.Format(time.RFC3339Nano) != tc.want):
			t.Errorf("ParseDate(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestCursorRoundTrip(t *testing.T) {
	c := models.Cursor{Date: time.Date(2024, 10, 1, 9, 30, 0, 123e6, time.UTC), ID: "abc-1", Query: "q1"}
	got, err := models.ParseCursor(c.Encode())
	if err != nil || !got.Date.Equal(c.Date) || got.ID != c.ID || got.Query != c.Query {
		t.Fatalf("ParseCursor(Encode()) = %v, %v", got, err)
	}
	for _, bad := range []string{"", "!!", "e30", "eyJpIjoiYSJ9", "bm90IGpzb24"} {
		var ve *models.ValidationError
		if _, err := models.ParseCursor(bad); !errors.As(err, &ve) {
			t.Errorf("ParseCursor(%q) error = %v, want a validation error", bad, err)
		}
	}
}

func TestIdentifiers(t *testing.T) {
	for s, want := range map[string]bool{
		"A11": true, "1": true, "SYN-00af": true, "a.b_c:d-e": true, strings.Repeat("x", 64): true,
		"": false, "-a": false, "a/b": false, "a b": false, "$gt": false, "ä": false, strings.Repeat("x", 65): false,
	} {
		if got := models.ValidIdentifier(s); got != want {
			t.Errorf("ValidIdentifier(%q) = %v", s, got)
		}
	}
}

// TestInteractionStorageRoundTrip checks that what is stored reads back the same,
// extra fields included and in order.
func TestInteractionStorageRoundTrip(t *testing.T) {
	doc, err := models.ParseDocument([]byte(`{"id":"7","insurance_no":"A11","label":"a,b","health_status":3,
		"metrics":{"BP":"120/80","temp":37.2},"next_steps":{"next_visit":"2024-10-12","prescribed_meds":["x"]},
		"zeta":{"b":[1,{"c":null}],"a":true},"alpha":-5}`))
	if err != nil {
		t.Fatal(err)
	}
	in, err := models.NewInteraction(doc, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	data, err := bson.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var back models.Interaction
	if err := bson.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(in)
	got, _ := json.Marshal(back)
	if string(got) != string(want) {
		t.Errorf("round trip changed the document:\n got %s\nwant %s", got, want)
	}
	if !strings.HasSuffix(string(got), `"zeta":{"b":[1,{"c":null}],"a":true},"alpha":-5}`) {
		t.Errorf("extra fields not kept in order: %s", got)
	}
	// With their types: each as a bson.D decodes it.
	wantExtra, _ := bson.MarshalExtJSON(bson.D{{Key: "extra", Value: in.Extra}}, true, false)
	gotExtra, _ := bson.MarshalExtJSON(bson.D{{Key: "extra", Value: back.Extra}}, true, false)
	if string(gotExtra) != string(wantExtra) {
		t.Errorf("extra fields read back as\n%s\nwant\n%s", gotExtra, wantExtra)
	}
}

// FuzzParseInteraction feeds arbitrary bodies to the request parsing: it must never
// panic, and what it accepts must store and serve without error.
func FuzzParseInteraction(f *testing.F) {
	for _, seed := range []string{
		`{"insurance_no":"A11"}`,
		`{"insurance_no":"A11","label":["a","B"],"metrics":{"t":1.5},"qa":{"q":"a"},"x":[{"y":null}]}`,
		`{"insurance_no":"A11","next_steps":{"next_visit":"2024-01-01"},"interaction_date":"2024-01-01T00:00:00Z"}`,
		`{"$gt":1}`, `[]`, `{"a":{"b.c":1}}`, `{"a":1e999}`, `{"a":` + strings.Repeat("[", 40),
		// The last and the first dates there are, with offsets.
		`{"insurance_no":"A11","interaction_date":"9999-12-31T23:59:59+00:01","next_steps":{"next_visit":"0001-01-01T00:00:00-00:01"}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		doc, err := models.ParseDocument(body)
		if err != nil {
			var ve *models.ValidationError
			var me *models.MalformedError
			if !errors.As(err, &ve) && !errors.As(err, &me) {
				t.Fatalf("unexpected error type %T: %v", err, err)
			}
			return
		}
		in, err := models.NewInteraction(doc, time.Now())
		if err != nil {
			return
		}
		if _, err := bson.Marshal(in); err != nil {
			t.Fatalf("accepted document does not store: %v", err)
		}
		if _, err := json.Marshal(in); err != nil {
			t.Fatalf("accepted document does not serve: %v", err)
		}
	})
}

// TestFieldNamesAreStored stores a record of each kind the queries filter and sort
// on: every field name the queries use is a field of the stored document.
func TestFieldNamesAreStored(t *testing.T) {
	at := time.Date(2024, 10, 1, 9, 30, 0, 0, time.UTC)
	health, age := 4, 30
	for _, tc := range []struct {
		name   string
		record any
		fields []string
	}{
		{"interaction", models.Interaction{ID: "1", InsuranceNo: "A11", Ailment: "Influenza", InteractionDate: at,
			HealthStatus: &health, QA: bson.D{{Key: "since", Value: "4 weeks"}}, Label: []string{"fever"},
			Status: models.StatusEnteredInError},
			[]string{models.FieldInsuranceNo, models.FieldInteractionDate, models.FieldHealthStatus, models.FieldQA,
				models.FieldLabel, models.FieldStatus, models.FieldSearchTokens, models.FieldAilmentKey}},
		{"patient", models.Patient{InsuranceNo: "A11", FName: "Vernon", LName: "Lopez", Age: &age},
			[]string{models.FieldInsuranceNo, models.FieldSearchKeys, models.FieldSortKey}},
		{"audit event", models.AuditEvent{ID: "c:1", Time: at, KeyName: "desk", Action: "interactions.read",
			InsuranceNo: "A11", Status: 200},
			[]string{models.FieldInsuranceNo, models.FieldTime, models.FieldKeyName, models.FieldAction, models.FieldStatus}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := bson.Marshal(tc.record)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range tc.fields {
				if _, err := bson.Raw(data).LookupErr(f); err != nil {
					t.Errorf("no field %q in the stored %s %s: %v", f, tc.name, bson.Raw(data), err)
				}
			}
		})
	}
}
