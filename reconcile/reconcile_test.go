package reconcile

import (
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

func TestOwnedPatch(t *testing.T) {
	base := func(extra ...bson.E) models.Interaction {
		in, err := models.NewInteraction(append(bson.D{
			{Key: "id", Value: "fhir-e1"}, {Key: "insurance_no", Value: "fhir-p1"},
			{Key: "interaction_date", Value: "2024-01-01T10:00:00Z"},
		}, extra...), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		in.Source = bson.D{{Key: "system", Value: "fhir"}, {Key: "encounter", Value: "e1"}}
		return in
	}
	metrics := func(kv ...any) bson.E {
		d := bson.D{}
		for i := 0; i < len(kv); i += 2 {
			d = append(d, bson.E{Key: kv[i].(string), Value: kv[i+1]})
		}
		return bson.E{Key: "metrics", Value: d}
	}
	tests := []struct {
		name         string
		stored, read models.Interaction
		same         bool
		patch        string
	}{
		{"identical", base(metrics("temp", 37.5)), base(metrics("temp", 37.5)), true, ""},
		{"timestamps and versions do not count", func() models.Interaction {
			in := base()
			in.Version, in.AmendmentReason, in.CreatedAt = 4, "x", in.CreatedAt.Add(-time.Hour)
			return in
		}(), base(), true, ""},
		{"fields it does not write do not count", base(bson.E{Key: "health_status", Value: int32(3)}, metrics("ECG", "ok")), base(), true, ""},
		{"a changed value", base(bson.E{Key: "ailment", Value: "Flu"}), base(bson.E{Key: "ailment", Value: "Cold"}), true,
			`{"ailment": "Cold"}`},
		{"a removed field", base(bson.E{Key: "remarks", Value: "note"}), base(), true, `{"remarks": null}`},
		{"a metric removed, others kept", base(metrics("temp", 37.5, "HR", int32(70), "ECG", "ok")), base(metrics("temp", 37.5)), true,
			`{"metrics": {"HR": null}}`},
		{"an object replaced, not merged", base(metrics("units", bson.D{{Key: "temp", Value: "Cel"}, {Key: "HR", Value: "/min"}})),
			base(metrics("units", bson.D{{Key: "temp", Value: "Cel"}})), true, `{"metrics": {"units": {"temp": "Cel", "HR": null}}}`},
		{"a changed number", base(metrics("HR", int32(70))), base(metrics("HR", 70.5)), true, `{"metrics": {"HR": 70.5}}`},
		{"another source", func() models.Interaction {
			in := base()
			in.Source = bson.D{{Key: "system", Value: "fhir"}, {Key: "encounter", Value: "e2"}}
			return in
		}(), base(), false, ""},
		{"no source: entered through the API", func() models.Interaction {
			in := base()
			in.Source = nil
			return in
		}(), base(), false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			patch, same, err := OwnedPatch(tt.stored, tt.read, InteractionFields)
			if err != nil {
				t.Fatal(err)
			}
			if same != tt.same {
				t.Fatalf("same = %v, want %v", same, tt.same)
			}
			if tt.patch == "" {
				if patch != nil {
					t.Errorf("patch = %v, want none", patch)
				}
				return
			}
			var want bson.D
			if err := bson.UnmarshalExtJSON([]byte(tt.patch), false, &want); err != nil {
				t.Fatal(err)
			}
			if !equalValues(patch, want) {
				t.Errorf("patch = %v, want %v", patch, want)
			}
		})
	}
}
