package fhir

import (
	"encoding/base64"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

// MaxNote is the most characters of clinical notes an interaction's remarks keep;
// longer notes are cut at a word boundary and end in "…".
const MaxNote = 2000

// visit is an encounter read from the files, with what the resources referring to it
// add. It holds only what the interaction needs, since one is kept per encounter
// until every file has been read.
type visit struct {
	at          Origin
	encounterID string
	insuranceNo string
	date        string
	class       string // label of the encounter class
	reason      string // name of the first reasonCode
	kind        string // name of the first type
	conditions  []string
	observed    []string // symptoms read from Observations
	meds        []string
	tests       []string
	note        string
	vitals      vitals
	// ownLabels is set for an encounter the export wrote: its labels are those it
	// was tagged with, none when tagged is empty, not the ones the import would derive.
	ownLabels bool
	tagged    []string
}

// newVisit starts the visit of encounter e of the patient with insuranceNo, read at
// at. It returns why it cannot when e has no period to date it by.
func newVisit(e *encounter, insuranceNo string, at Origin) (*visit, string) {
	date := e.Period.Start
	if date == "" {
		date = e.Period.End
	}
	if date == "" {
		return nil, "Encounter has no period to date the interaction by"
	}
	v := &visit{at: at, encounterID: e.ID, insuranceNo: insuranceNo, date: date, class: classLabel(e.Class)}
	if len(e.ReasonCode) > 0 {
		v.reason = e.ReasonCode[0].name()
	}
	if len(e.Type) > 0 {
		v.kind = e.Type[0].name()
	}
	if e.Meta != nil && e.Meta.Source == Source {
		v.ownLabels = true
		for _, tag := range e.Meta.Tag {
			if tag.System == LabelSystem {
				v.tagged = appendUnique(v.tagged, tag.Code)
			}
		}
	}
	return v, ""
}

// actCode is the code system of encounter classes (HL7 v3 ActCode).
const actCode = "http://terminology.hl7.org/CodeSystem/v3-ActCode"

// classLabels names the encounter classes of HL7 v3 ActCode as labels. The export
// gives an encounter the first class whose label the interaction carries.
var classLabels = []struct{ code, label string }{
	{"AMB", "ambulatory"}, {"EMER", "emergency"}, {"IMP", "inpatient"}, {"ACUTE", "inpatient"},
	{"NONAC", "inpatient"}, {"OBSENC", "observation"}, {"PRENC", "pre-admission"},
	{"SS", "short stay"}, {"VR", "virtual"}, {"HH", "home health"}, {"FLD", "field"},
}

// classLabel returns the label of an encounter class: its name from classLabels, else
// its display or code in lower case.
func classLabel(c coding) string {
	for _, cl := range classLabels {
		if strings.EqualFold(cl.code, c.Code) {
			return cl.label
		}
	}
	if c.Display != "" {
		return label(c.Display)
	}
	return label(c.Code)
}

// semanticTag matches the trailing SNOMED CT semantic tag of a display, such as
// " (disorder)" or " (regime/therapy)".
var semanticTag = regexp.MustCompile(`\s*\(([a-z][a-z /-]*)\)\s*$`)

// splitTag returns a display without its semantic tag, and the tag ("" when none).
func splitTag(s string) (name, tag string) {
	m := semanticTag.FindStringSubmatchIndex(s)
	if m == nil {
		return strings.TrimSpace(s), ""
	}
	return strings.TrimSpace(s[:m[0]]), s[m[2]:m[3]]
}

// stripTag returns a display without its semantic tag.
func stripTag(s string) string {
	name, _ := splitTag(s)
	return name
}

// isDiagnosis reports whether a condition names a disorder, rather than a finding
// ("Stress (finding)") or a situation ("Suspected lung cancer (situation)").
// Untagged conditions count as disorders.
func isDiagnosis(display string) bool {
	_, tag := splitTag(display)
	return tag == "" || tag == "disorder"
}

// label turns a display into a label: no semantic tag, only the part before any comma
// or semicolon, single spaces, lower case, at most 64 bytes (cut at a word boundary).
func label(s string) string {
	s = stripTag(s)
	if i := strings.IndexAny(s, ",;"); i >= 0 {
		s = s[:i]
	}
	s = strings.ToLower(strings.Join(strings.Fields(s), " "))
	if len(s) <= 64 {
		return s
	}
	cut := strings.LastIndexByte(s[:65], ' ')
	if cut <= 0 {
		cut = 64
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
	}
	return strings.TrimSpace(s[:cut])
}

// ailment returns what the visit was for: the encounter's reason, else its first
// diagnosed condition, else its type; without semantic tags.
func (v *visit) ailment() string {
	if v.reason != "" {
		return stripTag(v.reason)
	}
	for _, c := range v.conditions {
		if isDiagnosis(c) {
			return stripTag(c)
		}
	}
	return stripTag(v.kind)
}

// symptoms lists the visit's conditions other than the ailment, then the symptoms
// observed, separated by "; ".
func (v *visit) symptoms(ailment string) string {
	var out []string
	for _, c := range v.conditions {
		if name := stripTag(c); !strings.EqualFold(name, ailment) {
			out = appendUnique(out, name)
		}
	}
	for _, s := range v.observed {
		out = appendUnique(out, s)
	}
	return strings.Join(out, "; ")
}

// labels returns the labels of the visit: for an encounter the export wrote, the
// labels it carries; otherwise the class label, the ailment's label and those of the
// diagnosed conditions.
func (v *visit) labels(ailment string) []string {
	if v.ownLabels {
		return append([]string{}, v.tagged...)
	}
	var out []string
	out = appendUnique(out, v.class)
	out = appendUnique(out, label(ailment))
	for _, c := range v.conditions {
		if isDiagnosis(c) {
			out = appendUnique(out, label(c))
		}
	}
	return out
}

// document returns the request document a client would send to create the visit's
// interaction, all but its source, which no client can send (see source).
func (v *visit) document() bson.D {
	doc := bson.D{
		{Key: "id", Value: SourceID(v.encounterID)},
		{Key: "insurance_no", Value: v.insuranceNo},
		{Key: "interaction_date", Value: v.date},
	}
	ailment := v.ailment()
	if ailment != "" {
		doc = append(doc, bson.E{Key: "ailment", Value: ailment})
	}
	if s := v.symptoms(ailment); s != "" {
		doc = append(doc, bson.E{Key: "symptoms", Value: s})
	}
	if m := v.vitals.metrics(); len(m) > 0 {
		doc = append(doc, bson.E{Key: "metrics", Value: m})
	}
	if v.note != "" {
		doc = append(doc, bson.E{Key: "remarks", Value: v.note})
	}
	var next bson.D
	if len(v.meds) > 0 {
		next = append(next, bson.E{Key: "prescribed_meds", Value: v.meds})
	}
	if len(v.tests) > 0 {
		next = append(next, bson.E{Key: "prescribed_tests", Value: v.tests})
	}
	if next != nil {
		doc = append(doc, bson.E{Key: "next_steps", Value: next})
	}
	return append(doc, bson.E{Key: "label", Value: v.labels(ailment)})
}

// source is the source of the visit's interaction, which the import sets.
func (v *visit) source() bson.D {
	return bson.D{{Key: "system", Value: System}, {Key: "encounter", Value: v.encounterID}}
}

// appendUnique appends s to list unless it is empty or already there.
func appendUnique(list []string, s string) []string {
	if s == "" {
		return list
	}
	for _, have := range list {
		if have == s {
			return list
		}
	}
	return append(list, s)
}

// finding is a resource that adds to the interaction of the encounter it refers to.
type finding interface {
	header() *base
	encounterID() string
	// addTo adds what the resource says to v, or returns why it cannot.
	addTo(v *visit) string
}

func (b *base) header() *base { return b }

// newFinding returns an empty resource of the given type, to decode into, or nil
// when the import does not read that type for encounters.
func newFinding(resourceType string) finding {
	switch resourceType {
	case "Condition":
		return &condition{}
	case "MedicationRequest":
		return &medicationRequest{}
	case "Procedure", "ServiceRequest":
		return &procedure{}
	case "Observation":
		return &observation{}
	case "DocumentReference":
		return &documentReference{}
	}
	return nil
}

// findingTypes are the types newFinding reads, in the order their files are read.
var findingTypes = []string{"Condition", "MedicationRequest", "Procedure", "ServiceRequest", "Observation", "DocumentReference"}

func (c *condition) encounterID() string { return c.Encounter.id("Encounter") }

func (c *condition) addTo(v *visit) string {
	if c.VerificationStatus.has(conditionStatus, "refuted") {
		return "Condition is refuted"
	}
	name := c.Code.name()
	if name == "" {
		return "Condition has no code to name it by"
	}
	v.conditions = appendUnique(v.conditions, name)
	return ""
}

func (m *medicationRequest) encounterID() string { return m.Encounter.id("Encounter") }

func (m *medicationRequest) addTo(v *visit) string {
	name := m.MedicationCodeableConcept.name()
	if name == "" {
		name = strings.TrimSpace(m.MedicationReference.Display)
	}
	if name == "" {
		return "MedicationRequest names no medication"
	}
	v.meds = appendUnique(v.meds, name)
	return ""
}

func (p *procedure) encounterID() string { return p.Encounter.id("Encounter") }

func (p *procedure) addTo(v *visit) string {
	name := stripTag(p.Code.name())
	if name == "" {
		return p.ResourceType + " has no code to name it by"
	}
	v.tests = appendUnique(v.tests, name)
	return ""
}

func (d *documentReference) encounterID() string {
	if len(d.Context.Encounter) == 0 {
		return ""
	}
	return d.Context.Encounter[0].id("Encounter")
}

func (d *documentReference) addTo(v *visit) string {
	for _, c := range d.Content {
		a := c.Attachment
		if a.Data == "" || a.ContentType != "" && !strings.HasPrefix(a.ContentType, "text/") {
			continue
		}
		text, ok := decodeNote(a.Data)
		if !ok {
			return "DocumentReference attachment is not valid base64"
		}
		v.addNote(text)
		return ""
	}
	return "DocumentReference has no text attachment"
}

// decodeNote decodes base64 text, only as far as MaxNote characters can reach.
func decodeNote(data string) (string, bool) {
	// MaxNote characters take at most 4*MaxNote bytes, 3 bytes per 4 base64 digits.
	if limit := (4*MaxNote + 2) / 3 * 4; len(data) > limit {
		data = data[:limit]
	}
	b, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(data, "=")); err != nil {
			return "", false
		}
	}
	return strings.ToValidUTF8(string(b), ""), true
}

// addNote adds a clinical note to the visit's remarks, unless they already hold it,
// keeping them within MaxNote characters.
func (v *visit) addNote(text string) {
	text = trimNote(strings.TrimSpace(text))
	switch {
	case text == "" || strings.Contains(v.note, text):
	case v.note == "":
		v.note = text
	default:
		v.note = trimNote(v.note + "\n\n" + text)
	}
}

// trimNote cuts s to at most MaxNote characters, at a word boundary when one is near
// the end, marking the cut with "…".
func trimNote(s string) string {
	if utf8.RuneCountInString(s) <= MaxNote {
		return s
	}
	end, n := 0, 0
	for i := range s {
		if n == MaxNote-1 {
			end = i
			break
		}
		n++
	}
	cut := s[:end]
	if i := strings.LastIndexAny(cut, " \n\t"); i > len(cut)-100 && i > 0 {
		cut = cut[:i]
	}
	return strings.TrimRight(cut, " \n\t") + "…"
}

// loinc is the code system of the observations the import reads and the export writes.
const loinc = "http://loinc.org"

// vitalSign is a vital sign the import maps to a metric and the export writes back as
// an Observation.
type vitalSign struct {
	// metric is its key in an interaction's metrics ("" for a part of the BP panel).
	metric string
	// codes are the LOINC codes the import reads it from; the export writes the first.
	codes   []string
	display string
	// unit is the UCUM unit the export writes when the record states none.
	unit string
}

// The vital signs, in the order metrics lists them. Blood pressure is a panel whose
// systolic and diastolic components make the metric "120/80".
var (
	bodyTemperature  = vitalSign{"temp", []string{"8310-5", "8331-1"}, "Body temperature", "Cel"}
	bloodPressure    = vitalSign{"BP", []string{"85354-9", "55284-4"}, "Blood pressure panel with all children optional", "mm[Hg]"}
	systolic         = vitalSign{"", []string{"8480-6"}, "Systolic blood pressure", "mm[Hg]"}
	diastolic        = vitalSign{"", []string{"8462-4"}, "Diastolic blood pressure", "mm[Hg]"}
	heartRate        = vitalSign{"HR", []string{"8867-4"}, "Heart rate", "/min"}
	oxygenSaturation = vitalSign{"SpO2", []string{"59408-5", "2708-6"}, "Oxygen saturation in Arterial blood by Pulse oximetry", "%"}
	bodyWeight       = vitalSign{"weight", []string{"29463-7", "3141-9"}, "Body weight", "kg"}
)

// is reports whether c codes the vital sign.
func (s vitalSign) is(c codeableConcept) bool { return c.has(loinc, s.codes...) }

// symptom is the LOINC code of an Observation naming a symptom in its valueString:
// the export writes an interaction's symptoms so, and the import reads them back.
var symptom = vitalSign{codes: []string{"75325-1"}, display: "Symptom"}

// reading is the latest value of one vital sign: the number as the API stores it,
// and as text.
type reading struct {
	value any
	text  string
	unit  string
	at    time.Time
	set   bool
}

// take keeps q, made at at, unless r holds a later reading: the latest wins, and
// among readings made at the same time, the last one read. It reports false when q
// holds no number the API would store.
func (r *reading) take(q *quantity, at time.Time) bool {
	if q == nil || q.Value == nil {
		return false
	}
	value, err := models.ParseNumber(*q.Value)
	if err != nil {
		return false
	}
	if !r.set || !at.Before(r.at) {
		*r = reading{value: value, text: q.Value.String(), unit: q.unitName(), at: at, set: true}
	}
	return true
}

// vitals are the latest vital signs of a visit.
type vitals struct {
	temp, systolic, diastolic, heartRate, spo2, weight reading
}

// ignored reports whether o is neither a vital sign the import maps nor a symptom;
// such observations (laboratory results, surveys) are counted, not imported.
func (o *observation) ignored() bool {
	for _, s := range []vitalSign{bodyTemperature, bloodPressure, systolic, diastolic, heartRate, oxygenSaturation, bodyWeight, symptom} {
		if s.is(o.Code) {
			return false
		}
	}
	return true
}

func (o *observation) encounterID() string { return o.Encounter.id("Encounter") }

func (o *observation) addTo(v *visit) string {
	at, c, vs := o.effective(), o.Code, &v.vitals
	var ok bool
	switch {
	case bloodPressure.is(c):
		for _, comp := range o.Component {
			switch {
			case systolic.is(comp.Code):
				ok = vs.systolic.take(comp.ValueQuantity, at) || ok
			case diastolic.is(comp.Code):
				ok = vs.diastolic.take(comp.ValueQuantity, at) || ok
			}
		}
	case systolic.is(c):
		ok = vs.systolic.take(o.ValueQuantity, at)
	case diastolic.is(c):
		ok = vs.diastolic.take(o.ValueQuantity, at)
	case bodyTemperature.is(c):
		ok = vs.temp.take(o.ValueQuantity, at)
	case heartRate.is(c):
		ok = vs.heartRate.take(o.ValueQuantity, at)
	case oxygenSaturation.is(c):
		ok = vs.spo2.take(o.ValueQuantity, at)
	case bodyWeight.is(c):
		ok = vs.weight.take(o.ValueQuantity, at)
	case symptom.is(c):
		if text := strings.TrimSpace(o.ValueString); text != "" {
			v.observed = appendUnique(v.observed, text)
			ok = true
		}
	}
	if !ok {
		return "Observation has no value"
	}
	return ""
}

// metrics returns the vitals as the metrics of an interaction: temp, BP ("120/80"),
// HR, SpO2 and weight as numbers, BP as a string, and their units under "units".
func (vs *vitals) metrics() bson.D {
	var m, units bson.D
	put := func(key string, value any, unit string) {
		m = append(m, bson.E{Key: key, Value: value})
		if unit != "" {
			units = append(units, bson.E{Key: key, Value: unit})
		}
	}
	if vs.temp.set {
		put(bodyTemperature.metric, vs.temp.value, vs.temp.unit)
	}
	if vs.systolic.set && vs.diastolic.set {
		put(bloodPressure.metric, decimal(vs.systolic.text)+"/"+decimal(vs.diastolic.text), vs.systolic.unit)
	}
	if vs.heartRate.set {
		put(heartRate.metric, vs.heartRate.value, vs.heartRate.unit)
	}
	if vs.spo2.set {
		put(oxygenSaturation.metric, vs.spo2.value, vs.spo2.unit)
	}
	if vs.weight.set {
		put(bodyWeight.metric, vs.weight.value, vs.weight.unit)
	}
	if units != nil {
		m = append(m, bson.E{Key: "units", Value: units})
	}
	return m
}

// decimal writes the number s without a needless fraction or exponent: 120 for
// 120.0, 0.5 for 5e-1.
func decimal(s string) string {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
