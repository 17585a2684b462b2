package fhir

import (
	"encoding/json"
	"strings"
	"time"
)

// The parts of FHIR R4 resources the import reads. Everything else in a resource is
// ignored when it is decoded.

// base holds the elements every imported resource type is read for.
type base struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	Status       string `json:"status"`
}

type coding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display"`
}

type codeableConcept struct {
	Coding []coding `json:"coding"`
	Text   string   `json:"text"`
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
	Reference string `json:"reference"`
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
	Start string `json:"start"`
	End   string `json:"end"`
}

type quantity struct {
	// Value is kept as written, to be stored as the API stores the same JSON number.
	Value *json.Number `json:"value"`
	Unit  string       `json:"unit"`
	Code  string       `json:"code"`
}

// unitName returns the quantity's unit as written, or else its coded unit.
func (q quantity) unitName() string {
	if q.Unit != "" {
		return q.Unit
	}
	return q.Code
}

type identifier struct {
	Type   codeableConcept `json:"type"`
	System string          `json:"system"`
	Value  string          `json:"value"`
}

type humanName struct {
	Use    string   `json:"use"`
	Text   string   `json:"text"`
	Family string   `json:"family"`
	Given  []string `json:"given"`
}

type contactPoint struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

type address struct {
	Use        string   `json:"use"`
	Text       string   `json:"text"`
	Line       []string `json:"line"`
	City       string   `json:"city"`
	State      string   `json:"state"`
	PostalCode string   `json:"postalCode"`
	Country    string   `json:"country"`
}

type patient struct {
	base
	Identifier       []identifier   `json:"identifier"`
	Name             []humanName    `json:"name"`
	Telecom          []contactPoint `json:"telecom"`
	Gender           string         `json:"gender"`
	BirthDate        string         `json:"birthDate"`
	DeceasedDateTime string         `json:"deceasedDateTime"`
	Address          []address      `json:"address"`
}

type encounter struct {
	base
	Class      coding            `json:"class"`
	Type       []codeableConcept `json:"type"`
	Subject    reference         `json:"subject"`
	Period     period            `json:"period"`
	ReasonCode []codeableConcept `json:"reasonCode"`
}

type condition struct {
	base
	VerificationStatus codeableConcept `json:"verificationStatus"`
	Code               codeableConcept `json:"code"`
	Encounter          reference       `json:"encounter"`
}

type medicationRequest struct {
	base
	MedicationCodeableConcept codeableConcept `json:"medicationCodeableConcept"`
	MedicationReference       struct {
		Display string `json:"display"`
	} `json:"medicationReference"`
	Encounter reference `json:"encounter"`
}

// procedure is read for Procedure and ServiceRequest resources alike.
type procedure struct {
	base
	Code      codeableConcept `json:"code"`
	Encounter reference       `json:"encounter"`
}

type observation struct {
	base
	Code              codeableConcept `json:"code"`
	Encounter         reference       `json:"encounter"`
	EffectiveDateTime string          `json:"effectiveDateTime"`
	EffectiveInstant  string          `json:"effectiveInstant"`
	ValueQuantity     *quantity       `json:"valueQuantity"`
	Component         []struct {
		Code          codeableConcept `json:"code"`
		ValueQuantity *quantity       `json:"valueQuantity"`
	} `json:"component"`
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
	Context struct {
		Encounter []reference `json:"encounter"`
	} `json:"context"`
	Content []struct {
		Attachment struct {
			ContentType string `json:"contentType"`
			Data        string `json:"data"`
		} `json:"attachment"`
	} `json:"content"`
}
