package fhir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/clinic/interactions/models"
)

// Resource is one FHIR R4 resource of a patient's record, as NewNDJSONWriter writes
// it (references relative: "Patient/P100"), with what a search of it compares.
type Resource struct {
	// Type is its resourceType, ID its id.
	Type, ID string
	r        resource
}

// Content returns what MarshalJSON encodes, for an encoder that writes the resource
// within a larger document (without escaping HTML): encoding it there spares the
// check and copy of what MarshalJSON returns.
func (r Resource) Content() any { return r.r }

// MarshalJSON writes the resource as Writer writes it, without escaping HTML.
func (r Resource) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r.r); err != nil {
		return nil, fmt.Errorf("encode %s: %w", r.Type, err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// Status returns the resource's status ("" for a Patient and a Condition, which
// have none; a Condition entered in error says so in its verificationStatus, which
// Status then gives).
func (r Resource) Status() string {
	if c, ok := r.r.(*condition); ok && c.VerificationStatus.has(conditionStatus, models.StatusEnteredInError) {
		return models.StatusEnteredInError
	}
	return r.r.header().Status
}

// HasCode reports whether the resource is an Observation coded code in system (any
// system when system is ""), or whose code's text is code when system is "" and the
// Observation has no coding (a clinic's own metric, named by its key).
func (r Resource) HasCode(system, code string) bool {
	o, ok := r.r.(*observation)
	if !ok {
		return false
	}
	for _, c := range o.Code.Coding {
		if c.Code == code && (system == "" || c.System == system) {
			return true
		}
	}
	return system == "" && len(o.Code.Coding) == 0 && o.Code.Text == code
}

// CodeKey names the code of an Observation, for grouping its readings: the system
// and code of its first coding ("http://loinc.org|8867-4"), else its code's text; ""
// for any other resource.
func (r Resource) CodeKey() string {
	o, ok := r.r.(*observation)
	if !ok {
		return ""
	}
	if len(o.Code.Coding) > 0 {
		return o.Code.Coding[0].System + "|" + o.Code.Coding[0].Code
	}
	return o.Code.Text
}

// HasCategory reports whether the resource is an Observation of the category code in
// system (any system when system is ""): vital-signs, of the HL7 observation
// categories, for a vital sign.
func (r Resource) HasCategory(system, code string) bool {
	o, ok := r.r.(*observation)
	if !ok {
		return false
	}
	for _, cat := range o.Category {
		for _, c := range cat.Coding {
			if c.Code == code && (system == "" || c.System == system) {
				return true
			}
		}
	}
	return false
}

// PatientID returns the id of p's Patient: the id of the Patient it was imported
// from, else its insurance number, made a valid FHIR id.
func PatientID(p models.Patient) string { return patientID(p) }

// EncounterID returns the id of the Encounter of in: the id of the Encounter it was
// imported from, else its own id, made a valid FHIR id.
func EncounterID(in models.Interaction) string { return encounterID(in) }

// PatientOf returns the Patient resource of p.
func PatientOf(p models.Patient) Resource {
	r := patientResource(p, patientID(p))
	return Resource{Type: r.ResourceType, ID: r.ID, r: r}
}

// InteractionOf returns the resources of in, as Writer writes them: its Encounter
// first, then what refers to it, their subject the Patient with id patient.
func InteractionOf(patient string, in models.Interaction) []Resource {
	return InteractionOfType(patient, in, "")
}

// InteractionOfType returns the resources of in of type typ, as InteractionOf gives
// them; all of them for "".
func InteractionOfType(patient string, in models.Interaction, typ string) []Resource {
	ref := func(typ, id string) string { return typ + "/" + id }
	rs := interactionResources(in, ref("Patient", patient), ref, typ)
	out := make([]Resource, len(rs))
	for i, r := range rs {
		h := r.header()
		out[i] = Resource{Type: h.ResourceType, ID: h.ID, r: r}
	}
	return out
}

// hashedID reports whether id is of the form resourceID gives an id it hashed: "x"
// and 40 hex digits.
func hashedID(id string) bool {
	if len(id) != 41 || id[0] != 'x' {
		return false
	}
	for _, c := range []byte(id[1:]) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// RecordKeys returns the keys of the records whose resource may have the id id (the
// insurance number of a Patient's patient, the id of an Encounter's interaction), in
// the order to try them: the id itself (a record entered through the API), then the
// id an import gives the resource (see SourceID). Patients imported under an
// insurance number of their own are found by their search keys instead. A hashed id
// (see resourceID) names no key: it returns none.
func RecordKeys(id string) []string {
	if hashedID(id) {
		return nil
	}
	var keys []string
	if models.ValidIdentifier(id) {
		keys = append(keys, id)
	}
	return append(keys, SourceID(id))
}

// EncounterOf returns the id of the Encounter a resource with the id id belongs to:
// the id of an Encounter itself, else the id less its suffix ("visit-1" for
// "visit-1-metric-3", "visit-1-ailment"). A hashed id (one too long to keep) names
// none: it returns "".
func EncounterOf(id string) string {
	if hashedID(id) {
		return ""
	}
	head, last, ok := cutLast(id)
	if !ok {
		return id
	}
	switch last {
	case "ailment", "qa", "note":
		return head
	}
	if _, err := strconv.Atoi(last); err != nil {
		return id
	}
	head, kind, ok := cutLast(head)
	if !ok {
		return id
	}
	switch kind {
	case "symptom", "metric", "med", "test":
		return head
	}
	return id
}

// cutLast cuts s around its last '-'.
func cutLast(s string) (head, last string, ok bool) {
	i := strings.LastIndexByte(s, '-')
	if i <= 0 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

// VitalSignCodes returns the LOINC code of each vital sign the export writes as an
// Observation (the blood pressure panel's for blood pressure), as tokens
// "http://loinc.org|8310-5".
func VitalSignCodes() []string {
	var out []string
	for _, vs := range []vitalSign{bodyTemperature, bloodPressure, heartRate, oxygenSaturation, bodyWeight} {
		out = append(out, loinc+"|"+vs.codes[0])
	}
	return out
}
