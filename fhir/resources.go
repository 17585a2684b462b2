package fhir

import (
	"encoding/json"
	"strings"
	"time"
)

// The parts of FHIR R4 resources the import reads and the export writes. Everything
// else in a resource is ignored when it is decoded; elements left empty are left out
// when it is encoded, as FHIR wants (no empty strings, arrays or objects).

// base holds the elements every imported resource type is read for.
type base struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id,omitempty"`
	Meta         *meta  `json:"meta,omitempty"`
	Status       string `json:"status,omitempty"`
}

// meta says where a resource comes from and tags it. The import reads it on
// Encounters the export wrote (see Source).
type meta struct {
	// VersionID is the version of the record the resource was written from, and
	// LastUpdated when that version was made.
	VersionID   string   `json:"versionId,omitempty"`
	LastUpdated string   `json:"lastUpdated,omitempty"`
	Source      string   `json:"source,omitempty"`
	Tag         []coding `json:"tag,omitempty"`
}

type coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

type codeableConcept struct {
	Coding []coding `json:"coding,omitempty"`
	Text   string   `json:"text,omitempty"`
}

// name returns the concept's text, or else the display of its first coding that has one.
func (c codeableConcept) name() string {
	if t := strings.TrimSpace(c.Text); t != "" {
		return t
	}
	for _, cd := range c.Coding {
		if d := strings.TrimSpace(cd.Display); d != "" {
			return d
		}
	}
	return ""
}

// has reports whether c holds a coding of system with one of codes.
func (c codeableConcept) has(system string, codes ...string) bool {
	for _, cd := range c.Coding {
		if cd.System != system {
			continue
		}
		for _, code := range codes {
			if cd.Code == code {
				return true
			}
		}
	}
	return false
}

type reference struct {
	Reference string `json:"reference,omitempty"`
}

// id returns the id of the resource of type typ that r points at, written as
// "Encounter/123", as an absolute URL ending so (a "/_history/n" suffix is allowed), or
// as "urn:uuid:123". It returns "" for anything else, such as a conditional reference
// ("Encounter?identifier=...").
func (r reference) id(typ string) string {
	ref := strings.TrimSpace(r.Reference)
	if uuid, ok := strings.CutPrefix(ref, "urn:uuid:"); ok {
		return uuid
	}
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	parts := strings.Split(ref, "/")
	if len(parts) < 2 || parts[len(parts)-2] != typ {
		return ""
	}
	return parts[len(parts)-1]
}

type period struct {
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

type quantity struct {
	// Value is kept as written, to be stored as the API stores the same JSON number.
	Value  *json.Number `json:"value,omitempty"`
	Unit   string       `json:"unit,omitempty"`
	System string       `json:"system,omitempty"`
	Code   string       `json:"code,omitempty"`
}

// unitName returns the quantity's unit as written, or else its coded unit.
func (q quantity) unitName() string {
	if q.Unit != "" {
		return q.Unit
	}
	return q.Code
}

type identifier struct {
	Type   codeableConcept `json:"type,omitzero"`
	System string          `json:"system,omitempty"`
	Value  string          `json:"value,omitempty"`
}

type humanName struct {
	Use    string   `json:"use,omitempty"`
	Text   string   `json:"text,omitempty"`
	Family string   `json:"family,omitempty"`
	Given  []string `json:"given,omitempty"`
}

type contactPoint struct {
	System string `json:"system,omitempty"`
	Value  string `json:"value,omitempty"`
}

type address struct {
	Use        string   `json:"use,omitempty"`
	Text       string   `json:"text,omitempty"`
	Line       []string `json:"line,omitempty"`
	City       string   `json:"city,omitempty"`
	State      string   `json:"state,omitempty"`
	PostalCode string   `json:"postalCode,omitempty"`
	Country    string   `json:"country,omitempty"`
}

// extension is an element FHIR does not define, named by its URL.
type extension struct {
	URL      string    `json:"url"`
	ValueAge *quantity `json:"valueAge,omitempty"`
}

type patient struct {
	base
	Extension        []extension    `json:"extension,omitempty"`
	Identifier       []identifier   `json:"identifier,omitempty"`
	Name             []humanName    `json:"name,omitempty"`
	Telecom          []contactPoint `json:"telecom,omitempty"`
	Gender           string         `json:"gender,omitempty"`
	BirthDate        string         `json:"birthDate,omitempty"`
	DeceasedDateTime string         `json:"deceasedDateTime,omitempty"`
	Address          []address      `json:"address,omitempty"`
}

type encounter struct {
	base
	Class      coding            `json:"class,omitzero"`
	Type       []codeableConcept `json:"type,omitempty"`
	Subject    reference         `json:"subject,omitzero"`
	Period     period            `json:"period,omitzero"`
	ReasonCode []codeableConcept `json:"reasonCode,omitempty"`
}

type condition struct {
	base
	VerificationStatus codeableConcept   `json:"verificationStatus,omitzero"`
	Category           []codeableConcept `json:"category,omitempty"`
	Code               codeableConcept   `json:"code,omitzero"`
	Subject            reference         `json:"subject,omitzero"`
	Encounter          reference         `json:"encounter,omitzero"`
	RecordedDate       string            `json:"recordedDate,omitempty"`
}

type medicationRequest struct {
	base
	Intent                    string          `json:"intent,omitempty"`
	MedicationCodeableConcept codeableConcept `json:"medicationCodeableConcept,omitzero"`
	MedicationReference       struct {
		Display string `json:"display,omitempty"`
	} `json:"medicationReference,omitzero"`
	Subject    reference `json:"subject,omitzero"`
	Encounter  reference `json:"encounter,omitzero"`
	AuthoredOn string    `json:"authoredOn,omitempty"`
}

// procedure is read for Procedure and ServiceRequest resources alike; the export
// writes ServiceRequests (intent and authoredOn belong to those).
type procedure struct {
	base
	Intent     string          `json:"intent,omitempty"`
	Code       codeableConcept `json:"code,omitzero"`
	Subject    reference       `json:"subject,omitzero"`
	Encounter  reference       `json:"encounter,omitzero"`
	AuthoredOn string          `json:"authoredOn,omitempty"`
}

type observation struct {
	base
	Category          []codeableConcept `json:"category,omitempty"`
	Code              codeableConcept   `json:"code,omitzero"`
	Subject           reference         `json:"subject,omitzero"`
	Encounter         reference         `json:"encounter,omitzero"`
	EffectiveDateTime string            `json:"effectiveDateTime,omitempty"`
	EffectiveInstant  string            `json:"effectiveInstant,omitempty"`
	ValueQuantity     *quantity         `json:"valueQuantity,omitempty"`
	ValueString       string            `json:"valueString,omitempty"`
	ValueBoolean      *bool             `json:"valueBoolean,omitempty"`
	Interpretation    []codeableConcept `json:"interpretation,omitempty"`
	Component         []component       `json:"component,omitempty"`
}

type component struct {
	Code           codeableConcept   `json:"code"`
	ValueQuantity  *quantity         `json:"valueQuantity,omitempty"`
	Interpretation []codeableConcept `json:"interpretation,omitempty"`
}

// effective returns when the observation was made, or the zero time when it does not say.
func (o *observation) effective() time.Time {
	for _, s := range []string{o.EffectiveDateTime, o.EffectiveInstant} {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

type documentReference struct {
	base
	Subject reference `json:"subject,omitzero"`
	Date    string    `json:"date,omitempty"`
	Content []content `json:"content,omitempty"`
	Context struct {
		Encounter []reference `json:"encounter,omitempty"`
	} `json:"context,omitzero"`
}

type content struct {
	Attachment attachment `json:"attachment"`
}

type attachment struct {
	ContentType string `json:"contentType,omitempty"`
	Data        string `json:"data,omitempty"`
}

// questionnaireResponse is written by the export only: the import does not read
// answers back (see Source).
type questionnaireResponse struct {
	base
	Subject   reference `json:"subject"`
	Encounter reference `json:"encounter"`
	Authored  string    `json:"authored,omitempty"`
	Item      []item    `json:"item,omitempty"`
}

type item struct {
	LinkID string   `json:"linkId"`
	Text   string   `json:"text,omitempty"`
	Answer []answer `json:"answer,omitempty"`
}

type answer struct {
	ValueString string `json:"valueString"`
}
