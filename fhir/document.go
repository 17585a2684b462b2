package fhir

import (
	"fmt"
	"html"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/summary"
	vitalsigns "github.com/clinic/interactions/vitals"
)

// The LOINC codes of the patient summary document and of its sections, as the
// International Patient Summary (HL7 FHIR IPS) codes them.
const (
	summaryDocument    = "60591-5" // Patient summary Document
	problemsSection    = "11450-4" // Problem list - Reported
	medicationsSection = "10160-0" // History of Medication use Narrative
	vitalSignsSection  = "8716-3"  // Vital signs
	planOfCareSection  = "18776-5" // Plan of care note
)

// Code systems of the summary's resources.
const (
	conditionClinical = "http://terminology.hl7.org/CodeSystem/condition-clinical"
	listEmptyReason   = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
	rfc3986           = "urn:ietf:rfc:3986"
)

// Document is a FHIR R4 Bundle of type document.
type Document struct {
	ResourceType string          `json:"resourceType"`
	Meta         *meta           `json:"meta,omitempty"`
	Identifier   identifier      `json:"identifier"`
	Type         string          `json:"type"`
	Timestamp    string          `json:"timestamp"`
	Entry        []documentEntry `json:"entry"`
}

type documentEntry struct {
	FullURL  string `json:"fullUrl"`
	Resource any    `json:"resource"`
}

type narrative struct {
	Status string `json:"status"`
	Div    string `json:"div"`
}

type annotation struct {
	Text string `json:"text"`
}

type composition struct {
	base
	Type    codeableConcept `json:"type"`
	Subject reference       `json:"subject"`
	Date    string          `json:"date"`
	Author  []authorRef     `json:"author"`
	Title   string          `json:"title"`
	Section []section       `json:"section"`
}

// authorRef is a reference by its display alone: the service, which no resource
// describes.
type authorRef struct {
	Display string `json:"display"`
}

type section struct {
	Title       string          `json:"title"`
	Code        codeableConcept `json:"code"`
	Text        narrative       `json:"text"`
	Entry       []reference     `json:"entry,omitempty"`
	EmptyReason codeableConcept `json:"emptyReason,omitzero"`
}

type problem struct {
	base
	ClinicalStatus codeableConcept   `json:"clinicalStatus,omitzero"`
	Category       []codeableConcept `json:"category"`
	Code           codeableConcept   `json:"code"`
	Subject        reference         `json:"subject"`
	RecordedDate   string            `json:"recordedDate,omitempty"`
	Note           []annotation      `json:"note,omitempty"`
}

type medicationStatement struct {
	base
	MedicationCodeableConcept codeableConcept `json:"medicationCodeableConcept"`
	Subject                   reference       `json:"subject"`
	EffectivePeriod           *period         `json:"effectivePeriod,omitempty"`
	DateAsserted              string          `json:"dateAsserted,omitempty"`
	Note                      []annotation    `json:"note,omitempty"`
}

type carePlan struct {
	base
	Intent      string    `json:"intent"`
	Subject     reference `json:"subject"`
	Period      *period   `json:"period,omitempty"`
	Description string    `json:"description,omitempty"`
}

// SummaryDocument maps s, the summary of patient p's chart, to a document shaped
// like the International Patient Summary: a Composition (LOINC 60591-5) whose
// sections list the problems (11450-4: each ailment of the chart, and the
// pre-existing conditions), the medications (10160-0: the current ones, and the
// pre-existing ones), the latest vital signs (8716-3: an Observation each, with its
// interpretation) and the plan of care (18776-5: the next visit and the tests
// ordered and not yet followed by a visit), then the Patient and every resource the
// sections refer to. Each entry's fullUrl is a urn:uuid, the same for the same
// patient and summary. The document is stamped s.AsOf.
func SummaryDocument(p models.Patient, s summary.Summary) Document {
	d := &document{patient: patientID(p), asOf: s.AsOf.UTC().Format(time.RFC3339Nano)}
	d.subject = reference{Reference: d.urn("Patient", d.patient)}
	comp := &composition{
		base:    base{ResourceType: "Composition", Meta: &meta{Source: Source}, Status: "final"},
		Type:    codeableConcept{Coding: []coding{{System: loinc, Code: summaryDocument, Display: "Patient summary Document"}}},
		Subject: d.subject,
		Date:    d.asOf,
		Author:  []authorRef{{Display: "Clinical interactions record service"}},
		Title:   "Patient summary",
	}
	comp.ID = d.id("Composition", "summary")
	d.add(comp)
	patientEntry := patientResource(p, d.patient)
	d.entries = append(d.entries, documentEntry{FullURL: d.subject.Reference, Resource: patientEntry})
	comp.Section = []section{d.problems(s), d.medications(s), d.vitals(s), d.plan(s)}
	return Document{
		ResourceType: "Bundle",
		Meta:         &meta{Source: Source},
		Identifier:   identifier{System: rfc3986, Value: "urn:uuid:" + uuid.NewSHA1(urnSpace, []byte("summary/"+d.patient+"/"+d.asOf)).String()},
		Type:         "document",
		Timestamp:    d.asOf,
		Entry:        d.entries,
	}
}

// document collects the entries of a summary document.
type document struct {
	patient, asOf string
	subject       reference
	entries       []documentEntry
	// n counts the resources of each type, to name them.
	n map[string]int
}

// id returns the id of the document's next resource of type typ: a UUID named by the
// patient, the summary's time, the type and name.
func (d *document) id(typ, name string) string {
	return uuid.NewSHA1(urnSpace, []byte("summary/"+d.patient+"/"+d.asOf+"/"+typ+"/"+name)).String()
}

func (d *document) urn(typ, id string) string {
	if typ == "Patient" {
		return "urn:uuid:" + uuid.NewSHA1(urnSpace, []byte("summary/"+d.patient+"/"+d.asOf+"/Patient")).String()
	}
	return "urn:uuid:" + id
}

// add adds r to the entries and returns a reference to it.
func (d *document) add(r resource) reference {
	h := r.header()
	if h.ID == "" {
		if d.n == nil {
			d.n = map[string]int{}
		}
		d.n[h.ResourceType]++
		h.ID = d.id(h.ResourceType, strconv.Itoa(d.n[h.ResourceType]))
	}
	ref := reference{Reference: d.urn(h.ResourceType, h.ID)}
	d.entries = append(d.entries, documentEntry{FullURL: ref.Reference, Resource: r})
	return ref
}

// newSection returns the section titled title of LOINC code, its narrative the
// lines given (HTML-escaped), or "None recorded." and the empty reason nil known when
// it has no entries.
func newSection(title, code, display string, entries []reference, lines []string) section {
	sec := section{Title: title, Code: codeableConcept{Coding: []coding{{System: loinc, Code: code, Display: display}}}, Entry: entries}
	if len(lines) == 0 {
		lines = []string{"None recorded."}
	}
	var div strings.Builder
	div.WriteString(`<div xmlns="http://www.w3.org/1999/xhtml"><ul>`)
	for _, l := range lines {
		div.WriteString("<li>" + html.EscapeString(l) + "</li>")
	}
	div.WriteString("</ul></div>")
	sec.Text = narrative{Status: "generated", Div: div.String()}
	if len(entries) == 0 {
		sec.EmptyReason = codeableConcept{Coding: []coding{{System: listEmptyReason, Code: "nilknown", Display: "Nil Known"}}}
	}
	return sec
}

func (d *document) base(typ, status string) base {
	return base{ResourceType: typ, Meta: &meta{Source: Source}, Status: status}
}

func day(t time.Time) string { return t.UTC().Format("2 Jan 2006") }

// problems is the problem list: each ailment of the chart, with its count of visits,
// then each pre-existing condition of the patient record.
func (d *document) problems(s summary.Summary) section {
	var refs []reference
	var lines []string
	for _, a := range s.Ailments {
		note := fmt.Sprintf("%d visit(s)", a.Count)
		refs = append(refs, d.add(&problem{
			base:     d.base("Condition", ""),
			Category: []codeableConcept{{Coding: []coding{{System: conditionCategory, Code: "encounter-diagnosis", Display: "Encounter Diagnosis"}}}},
			Code:     codeableConcept{Text: a.Name}, Subject: d.subject, Note: []annotation{{Text: note}},
		}))
		lines = append(lines, a.Name+": "+note)
	}
	for _, c := range s.PreExistingConditions {
		refs = append(refs, d.add(&problem{
			base:           d.base("Condition", ""),
			ClinicalStatus: codeableConcept{Coding: []coding{{System: conditionClinical, Code: "active", Display: "Active"}}},
			Category:       []codeableConcept{{Coding: []coding{{System: conditionCategory, Code: "problem-list-item", Display: "Problem List Item"}}}},
			Code:           codeableConcept{Text: c}, Subject: d.subject, Note: []annotation{{Text: "pre-existing, from the patient record"}},
		}))
		lines = append(lines, c+" (pre-existing)")
	}
	return newSection("Problems", problemsSection, "Problem list - Reported", refs, lines)
}

// medications are the current medications, then the pre-existing ones.
func (d *document) medications(s summary.Summary) section {
	var refs []reference
	var lines []string
	for _, m := range s.CurrentMedications {
		refs = append(refs, d.add(&medicationStatement{
			base:                      d.base("MedicationStatement", "active"),
			MedicationCodeableConcept: codeableConcept{Text: m.Name}, Subject: d.subject,
			EffectivePeriod: &period{Start: m.FirstPrescribed.UTC().Format(time.RFC3339Nano)},
			DateAsserted:    m.LastPrescribed.UTC().Format(time.RFC3339Nano),
			Note:            []annotation{{Text: fmt.Sprintf("prescribed at %d visit(s), last on %s", m.TimesPrescribed, day(m.LastPrescribed))}},
		}))
		lines = append(lines, fmt.Sprintf("%s: prescribed at %d visit(s), %s to %s", m.Name, m.TimesPrescribed, day(m.FirstPrescribed), day(m.LastPrescribed)))
	}
	for _, m := range s.PreExistingMedications {
		refs = append(refs, d.add(&medicationStatement{
			base:                      d.base("MedicationStatement", "unknown"),
			MedicationCodeableConcept: codeableConcept{Text: m}, Subject: d.subject,
			Note: []annotation{{Text: "pre-existing, from the patient record"}},
		}))
		lines = append(lines, m+" (pre-existing)")
	}
	return newSection("Medications", medicationsSection, "History of Medication use Narrative", refs, lines)
}

// vitals are the latest reading of each vital sign, with its interpretation.
func (d *document) vitals(s summary.Summary) section {
	var refs []reference
	var lines []string
	for _, l := range s.Vitals.Latest {
		vs, ok := vitalOf(l.Metric)
		if !ok {
			continue
		}
		m := &mapping{subject: d.subject, date: l.Date.UTC().Format(time.RFC3339Nano)}
		o := m.vital(vs, "latest", l.Value, ucumUnit(l.Unit))
		if o == nil {
			continue
		}
		o.ID, o.Meta = "", &meta{Source: Source}
		refs = append(refs, d.add(o))
		line := fmt.Sprintf("%s: %v %s on %s", vs.display, l.Value, l.Unit, day(l.Date))
		if l.Interpretation != "" {
			line += " (" + vitalsigns.InterpretationDisplay(l.Interpretation) + ")"
		}
		lines = append(lines, line)
	}
	return newSection("Vital signs", vitalSignsSection, "Vital signs", refs, lines)
}

// ucumUnit returns the UCUM code of a unit as the summary writes it ("°C" is "Cel"),
// or the unit itself.
func ucumUnit(unit string) string {
	switch vitalsigns.Unit(unit) {
	case "°C":
		return "Cel"
	case "°F":
		return "[degF]"
	case "mmHg":
		return "mm[Hg]"
	case "lb":
		return "[lb_av]"
	}
	return unit
}

// plan is the next visit and the tests ordered and not yet followed by a visit.
func (d *document) plan(s summary.Summary) section {
	var refs []reference
	var lines []string
	if nv := s.NextVisit; nv != nil {
		desc := fmt.Sprintf("Next visit on %s (%s), set at the visit of %s", day(nv.Date), nv.Status, day(nv.SetAt))
		refs = append(refs, d.add(&carePlan{
			base: d.base("CarePlan", "active"), Intent: "plan", Subject: d.subject,
			Period: &period{Start: nv.Date.UTC().Format(time.RFC3339Nano)}, Description: desc,
		}))
		lines = append(lines, desc)
	}
	for _, t := range s.PendingTests {
		refs = append(refs, d.add(&procedure{
			base: d.base("ServiceRequest", "active"), Intent: "order",
			Code: codeableConcept{Text: t.Name}, Subject: d.subject, AuthoredOn: t.OrderedAt.UTC().Format(time.RFC3339Nano),
		}))
		lines = append(lines, fmt.Sprintf("%s, ordered on %s", t.Name, day(t.OrderedAt)))
	}
	return newSection("Plan of care", planOfCareSection, "Plan of care note", refs, lines)
}
