package fhirapi

import (
	"context"
	"fmt"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/models"
)

// TestStoredPatients reads patients through storedPatients: a patient found is read
// once and then remembered with only its insurance number and source, still noted
// as the request's subject; one not found is read again each time, since it may be
// stored later.
func TestStoredPatients(t *testing.T) {
	reads := map[string]int{}
	read := func(_ context.Context, no string) (models.Patient, error) {
		reads[no]++
		if no == "P1" {
			return models.Patient{InsuranceNo: "P1", FName: "Ann", Source: bson.D{{Key: "patient", Value: "abc"}}}, nil
		}
		return models.Patient{}, fmt.Errorf("patient %w", models.ErrNotFound)
	}
	var s storedPatients
	for i := range 3 {
		ctx, subject := audit.WithSubject(context.Background())
		p, err := s.get(ctx, "P1", read)
		if err != nil {
			t.Fatal(err)
		}
		if no, _ := subject.Get(); no != "P1" && i > 0 {
			t.Errorf("read %d: the request's subject is %q, want P1", i+1, no)
		}
		if i > 0 && (p.InsuranceNo != "P1" || p.FName != "" || len(p.Source) != 1) {
			t.Errorf("read %d: remembered %+v, want its insurance number and source only", i+1, p)
		}
		if _, err := s.get(context.Background(), "P2", read); err == nil {
			t.Error("P2 was found")
		}
	}
	if reads["P1"] != 1 || reads["P2"] != 3 {
		t.Errorf("reads %v: want P1 read once and P2 each time", reads)
	}
}
