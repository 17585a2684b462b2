package synthetic

import (
	"slices"
	"strings"
	"testing"

	"github.com/clinic/interactions/models"
)

// catalogueAilment returns the catalogue entry named name, or nil.
func catalogueAilment(name string) *ailment {
	for i := range ailments {
		if ailments[i].name == name {
			return &ailments[i]
		}
	}
	return nil
}

func TestCatalogue(t *testing.T) {
	for _, a := range ailments {
		t.Run(a.name, func(t *testing.T) {
			if len(a.labels) == 0 || !slices.Equal(models.NormalizeLabels(a.labels), a.labels) {
				t.Errorf("labels %q are not non-empty, trimmed, lower-case and distinct", a.labels)
			}
			for _, s := range a.symptoms {
				if strings.Contains(s, ",") {
					t.Errorf("symptom %q holds a comma; symptoms are joined with commas", s)
				}
			}
			for _, m := range a.meds {
				if !strings.ContainsAny(m, "0123456789") {
					t.Errorf("prescription %q has no dose", m)
				}
			}
			if a.chronic != (a.condition != "") {
				t.Errorf("chronic %v with condition %q", a.chronic, a.condition)
			}
			if len(a.symptoms) == 0 || len(a.questions) == 0 || len(a.meds) == 0 {
				t.Error("needs symptoms, questions and prescriptions")
			}
			for _, s := range []span{a.systolic, a.diastolic, a.heartRate, a.spo2, a.status, a.followUp} {
				if s.lo > s.hi {
					t.Errorf("range %v is empty", s)
				}
			}
			if a.systolic.lo-25 < a.diastolic.lo {
				t.Errorf("systolic %v and diastolic %v leave less than 25 mmHg between them", a.systolic, a.diastolic)
			}
			if a.temp.lo > a.temp.hi || a.temp.lo < 35.5 || a.temp.hi > 41 {
				t.Errorf("temperature %v", a.temp)
			}
			if a.status.lo < 1 || a.status.hi > 10 || a.followUp.lo < 1 || a.spo2.hi > 100 {
				t.Errorf("status %v, follow-up %v, spo2 %v", a.status, a.followUp, a.spo2)
			}
			if (a.specialist == "") != (a.referral == 0) {
				t.Errorf("specialist %q with referral chance %v", a.specialist, a.referral)
			}
		})
	}
}
