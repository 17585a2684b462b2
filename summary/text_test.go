package summary

import (
	"encoding/json"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

func TestParagraph(t *testing.T) {
	patient := models.Patient{InsuranceNo: "A11", FName: "Vernon", LName: "Lopez", Age: ptr(30), Sex: "M",
		PhNo: "0171 234567", Email: "vernon@example.com", Addr: "Berliner Straße 123", Habits: []string{"smoking"}}
	tests := []struct {
		name    string
		patient models.Patient
		visits  []models.Interaction
		want    string
	}{
		{"no visit", models.Patient{InsuranceNo: "B2"}, nil,
			"The patient, insurance number B2. No visit is recorded."},
		{"one visit", patient, []models.Interaction{visit("1", 3, func(in *models.Interaction) {
			in.Ailment, in.Label = "Influenza", []string{"fever"}
			in.Metrics = bson.D{{Key: "temp", Value: 38.2}, {Key: "BP", Value: "130/85"}, {Key: "Lopez glucose", Value: 5.4}}
		})}, "Vernon Lopez, 30 years old, male, insurance number A11. One visit, on 2 Nov 2024. " +
			"Main problems: Influenza (1 visit). Most frequent labels: fever (1 visit). " +
			"Latest readings: temperature 38.2 °C, blood pressure 130/85 mmHg, lopez glucose 5.4. No current medication."},
		{"a chart", patient, []models.Interaction{
			visit("1", 40, func(in *models.Interaction) {
				in.Ailment, in.HealthStatus = "Asthma", ptr(4)
				steps(nil, []string{"Salbutamol"}, nil)(in)
			}),
			visit("2", 20, func(in *models.Interaction) { in.Ailment, in.HealthStatus = "asthma", ptr(6) }),
			visit("3", 1, func(in *models.Interaction) {
				in.Ailment, in.HealthStatus = "Cough", ptr(8)
				steps(ptr(day(-14)), []string{"Budesonide"}, []string{"Spirometry"})(in)
			}),
		}, "Vernon Lopez, 30 years old, male, insurance number A11. 3 visits from 26 Sep 2024 to 4 Nov 2024. " +
			"Main problems: asthma (2 visits), Cough (1 visit). Latest readings: health status 8/10 (rising). " +
			"Current medications: Budesonide, Salbutamol. Next steps: pending tests Spirometry; next visit 19 Nov 2024 (scheduled)."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBuilder(tc.patient, day(0))
			for _, in := range tc.visits {
				b.Add(in)
			}
			s := b.Summary()
			if got := s.Paragraph(); got != tc.want {
				t.Errorf("\n got %s\nwant %s", got, tc.want)
			}
			if s.Paragraph() != s.Paragraph() {
				t.Error("the paragraph changes")
			}
			facts, err := json.Marshal(s.Facts())
			if err != nil {
				t.Fatal(err)
			}
			for _, identifying := range []string{"A11", "B2", "Vernon", "Lopez", "0171", "example.com", "Berliner", "smoking", "2024", "lopez"} {
				if strings.Contains(string(facts), identifying) {
					t.Errorf("the facts hold %q: %s", identifying, facts)
				}
			}
		})
	}
}
