package summary

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/clinic/interactions/vitals"
)

// Facts are what a summary says about a patient's health, with nothing that
// identifies them: no name, insurance number, contact, address, habits, free text
// of the visits, dates or record ids. They are what may leave the service to have
// the summary written in other words (see package llm); the names of ailments,
// labels, conditions, medications and tests are the clinic's own words, and leave
// it only when allowed (see WithoutFreeText).
type Facts struct {
	Age *int `json:"age,omitempty"`
	// Sex is male or female when the record says so by a code (M, F, male,
	// female), and otherwise as the record writes it.
	Sex                    string      `json:"sex,omitempty"`
	BloodType              string      `json:"blood_type,omitempty"`
	Visits                 int         `json:"visits"`
	SpanDays               int         `json:"span_days"`
	Ailments               []Count     `json:"ailments,omitempty"`
	Labels                 []Count     `json:"labels,omitempty"`
	PreExistingConditions  []string    `json:"pre_existing_conditions,omitempty"`
	PreExistingMedications []string    `json:"pre_existing_medications,omitempty"`
	Vitals                 []VitalFact `json:"vitals"`
	CurrentMedications     []string    `json:"current_medications,omitempty"`
	PendingTests           []string    `json:"pending_tests,omitempty"`
	// NextVisit is scheduled, overdue, or empty when none is planned.
	NextVisit string `json:"next_visit,omitempty"`
}

// WithoutFreeText returns f with its coded facts alone: age, sex (male or female;
// none when the record writes it otherwise), blood type (one of eight, as
// validated), the counts of visits and days, the vital signs the service knows with
// their trends, and the next visit's status. The rest are words a clinic writes
// itself (ailments, labels, conditions, medications, tests), which may say more
// than they should.
func (f Facts) WithoutFreeText() Facts {
	sex := codedSex(f.Sex)
	if sex != "male" && sex != "female" {
		sex = ""
	}
	return Facts{Age: f.Age, Sex: sex, BloodType: f.BloodType, Visits: f.Visits, SpanDays: f.SpanDays,
		Vitals: f.Vitals, NextVisit: f.NextVisit}
}

// codedSex returns male or female for a sex written as a code (M, F, male,
// female, in any case), and sex as it is otherwise.
func codedSex(sex string) string {
	switch strings.ToLower(strings.TrimSpace(sex)) {
	case "m", "male":
		return "male"
	case "f", "female":
		return "female"
	}
	return sex
}

// VitalFact is a series' latest reading and its trend's direction ("" without one).
type VitalFact struct {
	Metric string  `json:"metric"`
	Latest float64 `json:"latest"`
	Unit   string  `json:"unit,omitempty"`
	Trend  string  `json:"trend,omitempty"`
}

// mostNamed is how many ailments, labels, medications and tests a text names.
const mostNamed = 5

// Facts returns what s says of the patient's health, de-identified (see Facts): of
// the vitals, only the vital signs vitals knows, since another metric's name is the
// clinic's own free text.
func (s Summary) Facts() Facts { return s.facts(vitals.Known) }

// facts returns what s says of the patient's health, with the series whose metric
// keep accepts.
func (s Summary) facts(keep func(metric string) bool) Facts {
	f := Facts{Age: s.Patient.Age, Sex: codedSex(s.Patient.Sex), BloodType: s.Patient.BloodType, Visits: s.Visits.Count,
		Ailments: s.Ailments[:min(mostNamed, len(s.Ailments))], Labels: s.Labels[:min(mostNamed, len(s.Labels))],
		PreExistingConditions: s.PreExistingConditions, PreExistingMedications: s.PreExistingMedications,
		Vitals: []VitalFact{}}
	if s.Visits.First != nil && s.Visits.Last != nil {
		f.SpanDays = int(s.Visits.Last.Sub(*s.Visits.First).Hours() / 24)
	}
	for _, series := range append(append([]vitals.Series{}, s.Vitals.Series...), s.HealthStatus) {
		if len(series.Points) == 0 || !keep(series.Metric) {
			continue
		}
		v := VitalFact{Metric: series.Metric, Latest: series.Points[len(series.Points)-1].Value, Unit: series.Unit}
		if series.Trend != nil {
			v.Trend = series.Trend.Direction
		}
		f.Vitals = append(f.Vitals, v)
	}
	for _, m := range s.CurrentMedications[:min(mostNamed, len(s.CurrentMedications))] {
		f.CurrentMedications = append(f.CurrentMedications, m.Name)
	}
	for _, t := range s.PendingTests[:min(mostNamed, len(s.PendingTests))] {
		f.PendingTests = append(f.PendingTests, t.Name)
	}
	if s.NextVisit != nil {
		f.NextVisit = s.NextVisit.Status
	}
	return f
}

// Paragraph returns the summary as a short clinical paragraph, always the same for the
// same summary: who the patient is, their visits, main problems, the latest vitals
// and their trends, current medications, and next steps.
func (s Summary) Paragraph() string {
	f := s.facts(func(string) bool { return true })
	var b strings.Builder
	b.WriteString(s.who(f))
	switch {
	case f.Visits == 0:
		b.WriteString(" No visit is recorded.")
	case f.Visits == 1:
		fmt.Fprintf(&b, " One visit, on %s.", s.Visits.First.Format("2 Jan 2006"))
	default:
		fmt.Fprintf(&b, " %d visits from %s to %s.", f.Visits, s.Visits.First.Format("2 Jan 2006"), s.Visits.Last.Format("2 Jan 2006"))
	}
	if len(f.Ailments) > 0 {
		fmt.Fprintf(&b, " Main problems: %s.", counted(f.Ailments, "visit"))
	}
	if len(f.Labels) > 0 {
		fmt.Fprintf(&b, " Most frequent labels: %s.", counted(f.Labels, "visit"))
	}
	if len(f.PreExistingConditions) > 0 {
		fmt.Fprintf(&b, " Pre-existing conditions: %s.", strings.Join(f.PreExistingConditions, ", "))
	}
	if vit := vitalsText(f.Vitals); vit != "" {
		fmt.Fprintf(&b, " Latest readings: %s.", vit)
	}
	if len(f.CurrentMedications) > 0 {
		fmt.Fprintf(&b, " Current medications: %s.", strings.Join(f.CurrentMedications, ", "))
	} else if f.Visits > 0 {
		b.WriteString(" No current medication.")
	}
	var next []string
	if len(f.PendingTests) > 0 {
		next = append(next, "pending tests "+strings.Join(f.PendingTests, ", "))
	}
	if s.NextVisit != nil {
		next = append(next, fmt.Sprintf("next visit %s (%s)", s.NextVisit.Date.Format("2 Jan 2006"), s.NextVisit.Status))
	}
	if len(next) > 0 {
		fmt.Fprintf(&b, " Next steps: %s.", strings.Join(next, "; "))
	}
	return b.String()
}

// who introduces the patient: name, age, sex, blood type and insurance number.
func (s Summary) who(f Facts) string {
	name := strings.TrimSpace(s.Patient.FName + " " + s.Patient.LName)
	if name == "" {
		name = "The patient"
	}
	var traits []string
	if f.Age != nil {
		traits = append(traits, strconv.Itoa(*f.Age)+" years old")
	}
	if f.Sex == "male" || f.Sex == "female" {
		traits = append(traits, f.Sex)
	}
	if f.BloodType != "" {
		traits = append(traits, "blood type "+f.BloodType)
	}
	traits = append(traits, "insurance number "+s.InsuranceNo)
	return name + ", " + strings.Join(traits, ", ") + "."
}

// counted lists counts as "name (n visits)".
func counted(counts []Count, unit string) string {
	parts := make([]string, len(counts))
	for i, c := range counts {
		u := unit
		if c.Count != 1 {
			u += "s"
		}
		parts[i] = fmt.Sprintf("%s (%d %s)", c.Name, c.Count, u)
	}
	return strings.Join(parts, ", ")
}

// vitalsText lists the vitals' latest readings with their trends, blood pressure as
// one "120/80 mmHg".
func vitalsText(vs []VitalFact) string {
	byName := map[string]VitalFact{}
	for _, v := range vs {
		byName[v.Metric] = v
	}
	var parts []string
	for _, v := range vs {
		var text string
		switch v.Metric {
		case vitals.Diastolic:
			continue
		case vitals.Systolic:
			text = fmt.Sprintf("blood pressure %g", v.Latest)
			if d, ok := byName[vitals.Diastolic]; ok {
				text += fmt.Sprintf("/%g", d.Latest)
			}
			text += " " + v.Unit
		case vitals.HealthStatus:
			text = fmt.Sprintf("health status %g/10", v.Latest)
		default:
			text = strings.TrimSpace(fmt.Sprintf("%s %g %s", strings.ReplaceAll(v.Metric, "_", " "), v.Latest, v.Unit))
		}
		if v.Trend != "" {
			text += " (" + v.Trend + ")"
		}
		parts = append(parts, text)
	}
	return strings.Join(parts, ", ")
}
