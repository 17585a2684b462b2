package fhir

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
	vitalsigns "github.com/clinic/interactions/vitals"
)

// Source is the meta.source of every resource Writer writes. Read takes an Encounter
// with this source as one the service wrote: its labels are its meta.tag codes of
// LabelSystem, none when it has none, rather than the labels Read would derive.
const Source = "https://github.com/clinic/interactions"

// LabelSystem is the code system of an interaction's labels, written as meta.tag of
// its Encounter.
const LabelSystem = Source + "/fhir/CodeSystem/label"

// AgeExtension is the URL of the extension holding the age of a patient recorded
// without a birth date; Read reads it when a Patient has no birthDate.
const AgeExtension = Source + "/fhir/StructureDefinition/age"

// Code systems and units the export writes, besides those the import reads.
const (
	ucum              = "http://unitsofmeasure.org"
	nullFlavor        = "http://terminology.hl7.org/CodeSystem/v3-NullFlavor"
	conditionCategory = "http://terminology.hl7.org/CodeSystem/condition-category"
	observationKinds  = "http://terminology.hl7.org/CodeSystem/observation-category"
	// noteType is the media type of the DocumentReference holding an interaction's remarks.
	noteType = "text/plain; charset=utf-8"
)

// Writer writes a patient and the interactions of their chart as FHIR R4 resources:
// the Patient, then for each interaction an Encounter with the resources that refer
// to it (see Interaction). NewBundleWriter writes them as one Bundle of type
// collection, NewNDJSONWriter one resource a line, as a bulk export does and as Read
// reads back. Memory does not grow with the number of interactions: each is written
// as it comes.
type Writer struct {
	w      io.Writer
	bundle bool
	now    time.Time
	// started is set once the Bundle's opening is written; entries counts its entries.
	started bool
	entries int
	// patient is the id of the Patient written.
	patient string
	buf     bytes.Buffer
	enc     *json.Encoder
}

// NewBundleWriter returns a Writer of one Bundle of type collection, stamped now.
// Every reference is the urn:uuid that is the fullUrl of the entry it points at.
func NewBundleWriter(w io.Writer, now time.Time) *Writer {
	return newWriter(w, true, now)
}

// NewNDJSONWriter returns a Writer of one resource a line. References are relative
// ("Patient/P100"), as in a bulk export.
func NewNDJSONWriter(w io.Writer) *Writer {
	return newWriter(w, false, time.Time{})
}

func newWriter(w io.Writer, bundle bool, now time.Time) *Writer {
	wr := &Writer{w: w, bundle: bundle, now: now}
	wr.enc = json.NewEncoder(&wr.buf)
	wr.enc.SetEscapeHTML(false)
	return wr
}

// resource is a FHIR resource as the package writes it.
type resource interface{ header() *base }

// errNoPatient is the error of an interaction written before its patient.
var errNoPatient = errors.New("write the patient before the interactions")

// Patient writes the Patient resource of p: the insurance number as an identifier of
// type MB (member number), the names, contacts, sex, birth and death dates that Read
// maps to a patient, and the age as an extension when there is no birth date. It
// must be called once, first. It returns the errors of writing.
func (w *Writer) Patient(p models.Patient) error {
	w.patient = patientID(p)
	return w.write(patientResource(p, w.patient))
}

// Interaction writes the resources of in: an Encounter (class, period, the ailment as
// reasonCode, the labels as tags), a Condition for the ailment, an Observation per
// symptom (LOINC 75325-1) and per vital sign (LOINC, UCUM) and other plain metric, a
// MedicationRequest per prescribed med, a ServiceRequest per prescribed test, a
// QuestionnaireResponse for the QA and a DocumentReference for the remarks. All of
// them carry status entered-in-error when the interaction was marked so. It returns
// the errors of writing, and an error when no patient was written first.
func (w *Writer) Interaction(in models.Interaction) error {
	if w.patient == "" {
		return errNoPatient
	}
	for _, r := range interactionResources(in, w.ref("Patient", w.patient), w.ref, "") {
		if err := w.write(r); err != nil {
			return err
		}
	}
	return nil
}

// Close ends what was written: the Bundle's closing, for a Bundle. It returns the
// errors of writing.
func (w *Writer) Close() error {
	if !w.bundle {
		return nil
	}
	if err := w.open(); err != nil {
		return err
	}
	_, err := io.WriteString(w.w, "]}\n")
	return err
}

// open writes the Bundle's opening, once.
func (w *Writer) open() error {
	if w.started {
		return nil
	}
	w.started = true
	_, err := fmt.Fprintf(w.w, `{"resourceType":"Bundle","meta":{"source":%q},"type":"collection","timestamp":%q,"entry":[`,
		Source, w.now.UTC().Format(time.RFC3339Nano))
	return err
}

// write writes one resource: a line, or an entry of the Bundle.
func (w *Writer) write(r resource) error {
	w.buf.Reset()
	if err := w.enc.Encode(r); err != nil {
		return fmt.Errorf("encode %s: %w", r.header().ResourceType, err)
	}
	if !w.bundle {
		_, err := w.w.Write(w.buf.Bytes())
		return err
	}
	if err := w.open(); err != nil {
		return err
	}
	sep := ","
	if w.entries == 0 {
		sep = ""
	}
	w.entries++
	h := r.header()
	resource := bytes.TrimRight(w.buf.Bytes(), "\n")
	if _, err := fmt.Fprintf(w.w, `%s{"fullUrl":%q,"resource":`, sep, w.ref(h.ResourceType, h.ID)); err != nil {
		return err
	}
	if _, err := w.w.Write(resource); err != nil {
		return err
	}
	_, err := io.WriteString(w.w, "}")
	return err
}

// ref returns the reference to the resource typ/id: its urn:uuid in a Bundle,
// "typ/id" in NDJSON.
func (w *Writer) ref(typ, id string) string {
	if !w.bundle {
		return typ + "/" + id
	}
	return "urn:uuid:" + uuid.NewSHA1(urnSpace, []byte(typ+"/"+id)).String()
}

// urnSpace is the name space of the urn:uuids of a Bundle's entries: the same
// resource always gets the same one.
var urnSpace = uuid.NewSHA1(uuid.NameSpaceURL, []byte(Source))

// resourceID returns s when it is a valid FHIR id (1-64 letters, digits, '-' and
// '.'), and otherwise "x" and the first 40 hex digits of its SHA-256.
func resourceID(s string) string {
	valid := len(s) > 0 && len(s) <= 64
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			valid = false
			break
		}
	}
	if valid {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return "x" + hex.EncodeToString(sum[:20])
}

// sourceID returns the id of the FHIR resource a record was imported from: the
// value of key in its source when the source system is System.
func sourceID(source bson.D, key string) string {
	if sys, _ := lookup(source, "system").(string); sys != System {
		return ""
	}
	id, _ := lookup(source, key).(string)
	return id
}

// lookup returns the value of key in d, or nil.
func lookup(d bson.D, key string) any {
	if i := models.FieldIndex(d, key); i >= 0 {
		return d[i].Value
	}
	return nil
}

// patientID returns the id of p's Patient: the id of the Patient it was imported
// from, else its insurance number, made a valid FHIR id (see resourceID).
func patientID(p models.Patient) string {
	if id := sourceID(p.Source, "patient"); id != "" {
		return resourceID(id)
	}
	return resourceID(p.InsuranceNo)
}

// encounterID returns the id of in's Encounter: the id of the Encounter it was
// imported from (so that importing it again finds the same record), else its own id,
// made a valid FHIR id (see resourceID).
func encounterID(in models.Interaction) string {
	if id := sourceID(in.Source, "encounter"); id != "" {
		return resourceID(id)
	}
	return resourceID(in.ID)
}

// patientResource maps p to the Patient with id, the reverse of patientDocument.
func patientResource(p models.Patient, id string) *patient {
	r := &patient{base: base{ResourceType: "Patient", ID: id, Meta: recordMeta(p.Version, p.UpdatedAt)}}
	r.Identifier = []identifier{{
		Type:  codeableConcept{Coding: []coding{{System: identifierTypes, Code: "MB", Display: "Member Number"}}},
		Value: p.InsuranceNo,
	}}
	if p.FName != "" || p.LName != "" {
		r.Name = []humanName{{Use: "official", Family: p.LName, Given: givenNames(p.FName)}}
	}
	for _, cp := range []contactPoint{{System: "phone", Value: p.PhNo}, {System: "email", Value: p.Email}} {
		if cp.Value != "" {
			r.Telecom = append(r.Telecom, cp)
		}
	}
	for gender, sex := range sexes {
		if sex == p.Sex {
			r.Gender = gender
		}
	}
	if born, _ := lookup(p.Extra, "birth_date").(string); born != "" {
		if _, ok := parsePartialDate(born); ok {
			r.BirthDate = born
		}
	}
	if died, _ := lookup(p.Extra, "deceased_date").(string); died != "" {
		if _, ok := parsePartialDate(died); ok {
			r.DeceasedDateTime = died
		}
	}
	if r.BirthDate == "" && p.Age != nil {
		age := json.Number(strconv.Itoa(*p.Age))
		r.Extension = []extension{{URL: AgeExtension, ValueAge: &quantity{Value: &age, Unit: "a", System: ucum, Code: "a"}}}
	}
	if p.Addr != "" {
		r.Address = []address{{Use: "home", Text: p.Addr}}
	}
	return r
}

// givenNames splits a first name into given names when joining them again gives it
// back, as Read joins them; otherwise it keeps it whole.
func givenNames(fname string) []string {
	if fname == "" {
		return nil
	}
	if names := strings.Fields(fname); strings.Join(names, " ") == fname {
		return names
	}
	return []string{fname}
}

// interactionResources maps in to its resources, the reverse of visit.document: the
// Encounter first, then what refers to it. patientRef refers to the patient, and ref
// makes the other references; only, when not "", keeps the resources of that type
// alone, without making the others.
func interactionResources(in models.Interaction, patientRef string, ref func(typ, id string) string, only string) []resource {
	encID := encounterID(in)
	voided := in.Status == models.StatusEnteredInError
	m := &mapping{
		encID: encID, voided: voided, date: in.InteractionDate.UTC().Format(time.RFC3339Nano),
		subject: reference{Reference: patientRef}, encounter: reference{Reference: ref("Encounter", encID)},
		version: in.Version, updated: in.UpdatedAt,
	}
	// want reports whether resources of type typ are asked for: all when only is "".
	want := func(typ string) bool { return only == "" || only == typ }
	var out []resource
	if want("Encounter") {
		out = append(out, m.encounterOf(in))
	}
	if in.Ailment != "" && want("Condition") {
		out = append(out, m.condition(in.Ailment))
	}
	if want("Observation") {
		for i, s := range splitSymptoms(in.Symptoms) {
			o := m.observation(fmt.Sprintf("symptom-%d", i+1), "final", codeableConcept{Coding: []coding{{System: loinc, Code: symptom.codes[0], Display: symptom.display}}})
			o.ValueString = s
			out = append(out, o)
		}
		out = append(out, m.metrics(in.Metrics)...)
	}
	if ns := in.NextSteps; ns != nil && want("MedicationRequest") {
		for i, med := range ns.PrescribedMeds {
			out = append(out, &medicationRequest{
				base: m.base("MedicationRequest", fmt.Sprintf("med-%d", i+1), "unknown"), Intent: "order",
				MedicationCodeableConcept: codeableConcept{Text: med}, Subject: m.subject, Encounter: m.encounter, AuthoredOn: m.date,
			})
		}
	}
	if ns := in.NextSteps; ns != nil && want("ServiceRequest") {
		for i, test := range ns.PrescribedTests {
			out = append(out, &procedure{
				base: m.base("ServiceRequest", fmt.Sprintf("test-%d", i+1), "unknown"), Intent: "order",
				Code: codeableConcept{Text: test}, Subject: m.subject, Encounter: m.encounter, AuthoredOn: m.date,
			})
		}
	}
	if len(in.QA) > 0 && want("QuestionnaireResponse") {
		qr := &questionnaireResponse{base: m.base("QuestionnaireResponse", "qa", "completed"), Subject: m.subject, Encounter: m.encounter, Authored: m.date}
		for i, e := range in.QA {
			it := item{LinkID: strconv.Itoa(i + 1), Text: e.Key}
			if text, _ := e.Value.(string); text != "" { // FHIR has no empty strings
				it.Answer = []answer{{ValueString: text}}
			}
			qr.Item = append(qr.Item, it)
		}
		out = append(out, qr)
	}
	if in.Remarks != "" && want("DocumentReference") {
		doc := &documentReference{
			base: m.base("DocumentReference", "note", "current"), Subject: m.subject, Date: m.date,
			Content: []content{{Attachment: attachment{ContentType: noteType, Data: base64.StdEncoding.EncodeToString([]byte(in.Remarks))}}},
		}
		doc.Context.Encounter = []reference{m.encounter}
		out = append(out, doc)
	}
	return out
}

// mapping holds what the resources of one interaction share.
type mapping struct {
	encID, date        string
	voided             bool
	subject, encounter reference
	// version and updated are the interaction's version and when it was made.
	version int
	updated time.Time
}

// recordMeta returns the meta of a resource written from version of a record, made
// at updated (none for a version 0 or a zero time, which no stored record has).
func recordMeta(version int, updated time.Time) *meta {
	m := &meta{Source: Source}
	if version > 0 {
		m.VersionID = strconv.Itoa(version)
	}
	if !updated.IsZero() {
		m.LastUpdated = updated.UTC().Format(time.RFC3339Nano)
	}
	return m
}

// base returns the base of the resource of type typ named by suffix, with status
// (or entered-in-error when the interaction was marked so; "" for none).
func (m *mapping) base(typ, suffix, status string) base {
	if m.voided && status != "" {
		status = models.StatusEnteredInError
	}
	return base{ResourceType: typ, ID: resourceID(m.encID + "-" + suffix), Meta: recordMeta(m.version, m.updated), Status: status}
}

// encounterOf returns the Encounter of in.
func (m *mapping) encounterOf(in models.Interaction) *encounter {
	status := "finished"
	if m.voided {
		status = models.StatusEnteredInError
	}
	e := &encounter{
		base:    base{ResourceType: "Encounter", ID: m.encID, Meta: recordMeta(m.version, m.updated), Status: status},
		Class:   encounterClass(in.Label),
		Subject: m.subject,
		Period:  period{Start: m.date},
	}
	for _, l := range in.Label {
		e.Meta.Tag = append(e.Meta.Tag, coding{System: LabelSystem, Code: l})
	}
	if in.Ailment != "" {
		e.ReasonCode = []codeableConcept{{Text: in.Ailment}}
	}
	return e
}

// encounterClass returns the class of the first label that names one (see
// classLabels), or "unknown" (HL7 NullFlavor UNK): FHIR requires a class, and the
// service records none.
func encounterClass(labels []string) coding {
	for _, l := range labels {
		for _, cl := range classLabels {
			if cl.label == l {
				return coding{System: actCode, Code: cl.code, Display: cl.label}
			}
		}
	}
	return coding{System: nullFlavor, Code: "UNK", Display: "unknown"}
}

// condition returns the Condition of the ailment, an encounter diagnosis.
func (m *mapping) condition(ailment string) *condition {
	c := &condition{
		base:         m.base("Condition", "ailment", ""),
		Category:     []codeableConcept{{Coding: []coding{{System: conditionCategory, Code: "encounter-diagnosis", Display: "Encounter Diagnosis"}}}},
		Code:         codeableConcept{Text: ailment},
		Subject:      m.subject,
		Encounter:    m.encounter,
		RecordedDate: m.date,
	}
	if m.voided {
		c.VerificationStatus = codeableConcept{Coding: []coding{{System: conditionStatus, Code: models.StatusEnteredInError}}}
	}
	return c
}

// observation returns an Observation named by suffix, of code, made at the visit.
func (m *mapping) observation(suffix, status string, code codeableConcept) *observation {
	return &observation{
		base: m.base("Observation", suffix, status), Code: code,
		Subject: m.subject, Encounter: m.encounter, EffectiveDateTime: m.date,
	}
}

// splitSymptoms splits symptoms at "; ", as Read joins the symptoms it reads, when
// joining the parts again gives them back; otherwise it keeps them whole.
func splitSymptoms(symptoms string) []string {
	if strings.TrimSpace(symptoms) == "" {
		return nil
	}
	parts := strings.Split(symptoms, "; ")
	seen := map[string]bool{}
	for _, p := range parts {
		if p == "" || p != strings.TrimSpace(p) || seen[p] {
			return []string{symptoms}
		}
		seen[p] = true
	}
	return parts
}

// metrics returns the Observations of an interaction's metrics: the vital signs Read
// maps (temp, BP, HR, SpO2, weight) with their LOINC codes and UCUM units, and any
// other metric holding a string, number or boolean, named by its key. units (the
// units of the vital signs) and objects are written as no Observation.
func (m *mapping) metrics(metrics bson.D) []resource {
	units, _ := lookup(metrics, "units").(bson.D)
	var out []resource
	for i, e := range metrics {
		if e.Key == "units" {
			continue
		}
		suffix := fmt.Sprintf("metric-%d", i+1)
		if vs, ok := vitalOf(e.Key); ok {
			unit, _ := lookup(units, e.Key).(string)
			if o := m.vital(vs, suffix, e.Value, unit); o != nil {
				out = append(out, o)
				continue
			}
		}
		o := m.observation(suffix, "final", codeableConcept{Text: e.Key})
		switch v := e.Value.(type) {
		case string:
			o.ValueString = v
		case bool:
			o.ValueBoolean = &v
		default:
			n, ok := number(v)
			if !ok {
				continue
			}
			o.ValueQuantity = &quantity{Value: &n}
		}
		out = append(out, o)
	}
	return out
}

// vitalOf returns the vital sign whose metric is key, by any of its names
// (vitals.Name: "HR", "heart_rate" and "pulse" are one).
func vitalOf(key string) (vitalSign, bool) {
	for _, vs := range []vitalSign{bodyTemperature, bloodPressure, heartRate, oxygenSaturation, bodyWeight} {
		if vitalsigns.Name(vs.metric) == vitalsigns.Name(key) {
			return vs, true
		}
	}
	return vitalSign{}, false
}

// vital returns the Observation of vital sign vs holding value, in unit (the
// vital sign's UCUM unit when ""), or nil when value is not a number (for BP, not
// two numbers as "120/80").
func (m *mapping) vital(vs vitalSign, suffix string, value any, unit string) *observation {
	o := m.observation(suffix, "final", codeableConcept{Coding: []coding{{System: loinc, Code: vs.codes[0], Display: vs.display}}, Text: vs.display})
	o.Category = []codeableConcept{{Coding: []coding{{System: observationKinds, Code: "vital-signs", Display: "Vital Signs"}}}}
	if unit == "" {
		unit = vs.unit
	}
	if vs.metric != bloodPressure.metric {
		n, ok := number(value)
		if !ok {
			return nil
		}
		o.ValueQuantity = ucumQuantity(n, unit)
		o.Interpretation = interpretation(interpret(vitalsigns.Name(vs.metric), n, unit))
		return o
	}
	text, _ := value.(string)
	sys, dia, found := strings.Cut(text, "/")
	s, sok := number(strings.TrimSpace(sys))
	d, dok := number(strings.TrimSpace(dia))
	if !found || !sok || !dok {
		return nil
	}
	var codes []string
	for _, part := range []struct {
		vs     vitalSign
		metric string
		n      json.Number
	}{{systolic, vitalsigns.Systolic, s}, {diastolic, vitalsigns.Diastolic, d}} {
		code := interpret(part.metric, part.n, unit)
		codes = append(codes, code)
		o.Component = append(o.Component, component{
			Code:           codeableConcept{Coding: []coding{{System: loinc, Code: part.vs.codes[0], Display: part.vs.display}}},
			ValueQuantity:  ucumQuantity(part.n, unit),
			Interpretation: interpretation(code),
		})
	}
	o.Interpretation = interpretation(vitalsigns.Worst(codes...))
	return o
}

// interpret returns the interpretation code of n, a reading of the vital sign
// metric in unit, by the reference ranges of package vitals ("" for none).
func interpret(metric string, n json.Number, unit string) string {
	f, err := n.Float64()
	if err != nil {
		return ""
	}
	return vitalsigns.Interpret(metric, f, unit)
}

// interpretation returns the Observation.interpretation of code (HL7 v3
// ObservationInterpretation), none for "".
func interpretation(code string) []codeableConcept {
	if code == "" {
		return nil
	}
	return []codeableConcept{{Coding: []coding{{System: vitalsigns.InterpretationSystem, Code: code, Display: vitalsigns.InterpretationDisplay(code)}}}}
}

// ucumUnits are the UCUM codes of the units the vital signs are stated in.
var ucumUnits = map[string]bool{"Cel": true, "[degF]": true, "mm[Hg]": true, "/min": true, "%": true, "kg": true, "g": true, "[lb_av]": true}

// ucumQuantity returns n in unit, coded in UCUM when unit is a UCUM code it knows.
func ucumQuantity(n json.Number, unit string) *quantity {
	q := &quantity{Value: &n, Unit: unit}
	if ucumUnits[unit] {
		q.System, q.Code = ucum, unit
	}
	return q
}

// number returns v as a JSON number that Read stores as v's type: an integer
// (int32, int64) without a fraction, a float64 with one ("38.0"), and a numeric
// string as a number without a needless fraction. It reports false for anything else.
func number(v any) (json.Number, bool) {
	switch n := v.(type) {
	case int32:
		return json.Number(strconv.FormatInt(int64(n), 10)), true
	case int64:
		return json.Number(strconv.FormatInt(n, 10)), true
	case float64:
		s := strconv.FormatFloat(n, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eE") {
			s += ".0"
		}
		return json.Number(s), !strings.ContainsAny(s, "IN") // not ±Inf or NaN
	case string:
		f, err := strconv.ParseFloat(n, 64)
		if err != nil || strings.ContainsAny(n, "xXpP_") {
			return "", false
		}
		return json.Number(decimal(strconv.FormatFloat(f, 'f', -1, 64))), !strings.ContainsAny(n, "IiNn")
	}
	return "", false
}
