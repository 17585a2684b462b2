package fhir

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

// System is the value of source.system on every imported record.
const System = "fhir"

// identifierTypes is the code system of identifier types (HL7 v2 table 0203).
const identifierTypes = "http://terminology.hl7.org/CodeSystem/v2-0203"

// insuranceNo returns the insurance number of a patient: the value of its first
// identifier typed as a health insurance member number (HL7 v2-0203 code "MB") that
// is a valid identifier; otherwise SourceID of the patient's id. Synthea gives no
// member numbers, so its patients get "fhir-<id>".
func insuranceNo(p *patient) string {
	for _, id := range p.Identifier {
		if id.Type.has(identifierTypes, "MB") && models.ValidIdentifier(id.Value) {
			return id.Value
		}
	}
	return SourceID(p.ID)
}

// SourceID returns the record id derived from a FHIR resource id: "fhir-" and the id
// when that is a valid identifier (the usual case: FHIR ids are at most 64 letters,
// digits, '-' and '.'), and otherwise "fhir_" and the first 40 hex digits of the
// SHA-256 of the id. A FHIR id never holds '_', so the two forms cannot meet. The same
// resource always gets the same id, which is how a re-import finds what it stored.
func SourceID(resourceID string) string {
	if id := "fhir-" + resourceID; models.ValidIdentifier(id) {
		return id
	}
	sum := sha256.Sum256([]byte(resourceID))
	return "fhir_" + hex.EncodeToString(sum[:20])
}

// patientDocument maps p to the request document a client would send to create the
// patient, all but its source, which no client can send (see patientSource). Ages
// are counted at now, or at death for a deceased patient.
func patientDocument(p *patient, now time.Time) bson.D {
	doc := bson.D{{Key: "insurance_no", Value: insuranceNo(p)}}
	add := func(key, value string) {
		if value = strings.TrimSpace(value); value != "" {
			doc = append(doc, bson.E{Key: key, Value: value})
		}
	}
	if n := pickName(p.Name); n != nil {
		add("fname", strings.Join(n.Given, " "))
		add("lname", n.Family)
		if n.Family == "" && len(n.Given) == 0 {
			add("lname", n.Text)
		}
	}
	add("addr", formatAddress(p.Address))
	born, bornOK := parsePartialDate(p.BirthDate)
	died, diedOK := parsePartialDate(datePart(p.DeceasedDateTime))
	if bornOK {
		at := now.UTC()
		if diedOK {
			at = died
		}
		doc = append(doc, bson.E{Key: "age", Value: int32(age(born, at))})
	} else if a, ok := statedAge(p.Extension); ok {
		doc = append(doc, bson.E{Key: "age", Value: a})
	}
	add("sex", sexes[p.Gender])
	add("ph_no", telecom(p.Telecom, "phone"))
	add("email", telecom(p.Telecom, "email"))
	if bornOK {
		add("birth_date", p.BirthDate)
	}
	if diedOK {
		add("deceased_date", datePart(p.DeceasedDateTime))
	}
	return doc
}

// statedAge returns the age of the AgeExtension among extensions, as the API stores
// the number, for a patient recorded with an age but no birth date.
func statedAge(extensions []extension) (any, bool) {
	for _, e := range extensions {
		if e.URL != AgeExtension || e.ValueAge == nil || e.ValueAge.Value == nil {
			continue
		}
		if n, err := models.ParseNumber(*e.ValueAge.Value); err == nil {
			return n, true
		}
	}
	return nil, false
}

// patientSource is the source of the patient made from p, which the import sets.
func patientSource(p *patient) bson.D {
	return bson.D{{Key: "system", Value: System}, {Key: "patient", Value: p.ID}}
}

// sexes maps FHIR administrative gender to the service's sex; "unknown" is left out.
var sexes = map[string]string{"male": "M", "female": "F", "other": "O"}

// pickName returns the official name, else the usual one, else the first, or nil.
func pickName(names []humanName) *humanName {
	for _, use := range []string{"official", "usual"} {
		for i := range names {
			if names[i].Use == use {
				return &names[i]
			}
		}
	}
	if len(names) > 0 {
		return &names[0]
	}
	return nil
}

// formatAddress writes the home address (else the first) on one line:
// "633 Abernathy Landing, Emporia, KS 66801, US".
func formatAddress(addrs []address) string {
	if len(addrs) == 0 {
		return ""
	}
	a := addrs[0]
	for _, cand := range addrs {
		if cand.Use == "home" {
			a = cand
			break
		}
	}
	if a.Text != "" {
		return a.Text
	}
	var parts []string
	for _, p := range append(append([]string{}, a.Line...), a.City,
		strings.TrimSpace(a.State+" "+a.PostalCode), a.Country) {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}

// telecom returns the first contact of the given system ("phone", "email").
func telecom(cps []contactPoint, system string) string {
	for _, cp := range cps {
		if cp.System == system && strings.TrimSpace(cp.Value) != "" {
			return cp.Value
		}
	}
	return ""
}

// datePart returns the date of a FHIR dateTime ("1989-05-09T20:35:22-04:00" gives
// "1989-05-09"), as written, so that no time zone moves it to another day.
func datePart(s string) string {
	d, _, _ := strings.Cut(s, "T")
	return d
}

// parsePartialDate reads a FHIR date: "2006-01-02", "2006-01" or "2006" (the missing
// parts taken as the first month or day).
func parsePartialDate(s string) (time.Time, bool) {
	for _, layout := range []string{time.DateOnly, "2006-01", "2006"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// age returns the completed years from born to at, both read as calendar dates.
func age(born, at time.Time) int {
	years := at.Year() - born.Year()
	if at.Month() < born.Month() || at.Month() == born.Month() && at.Day() < born.Day() {
		years--
	}
	return years
}
