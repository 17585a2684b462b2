package models

import (
	"reflect"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Patient is the record of one patient, identified by insurance number. Besides the
// fields below it keeps any further top-level fields a client sends, in Extra.
type Patient struct {
	InsuranceNo            string   `json:"insurance_no" bson:"insurance_no" validate:"required" minLength:"1" maxLength:"64" example:"A11"`
	FName                  string   `json:"fname,omitempty" bson:"fname,omitempty" example:"Vernon"`
	LName                  string   `json:"lname,omitempty" bson:"lname,omitempty" example:"Lopez"`
	Addr                   string   `json:"addr,omitempty" bson:"addr,omitempty" example:"Berliner Straße 123"`
	Age                    *int     `json:"age,omitempty" bson:"age,omitempty" minimum:"0" maximum:"150" example:"30"`
	Sex                    string   `json:"sex,omitempty" bson:"sex,omitempty" example:"M"`
	PhNo                   string   `json:"ph_no,omitempty" bson:"ph_no,omitempty" example:"0171 234567"`
	Email                  string   `json:"email,omitempty" bson:"email,omitempty" example:"vernon@example.com"`
	RelatedDocs            []string `json:"related_docs,omitempty" bson:"related_docs,omitempty"`
	Habits                 []string `json:"habits,omitempty" bson:"habits,omitempty" example:"smoking,drinking"`
	PreExistingConditions  []string `json:"pre_existing_conditions,omitempty" bson:"pre_existing_conditions,omitempty" example:"Asthma"`
	PreExistingMedications []string `json:"pre_existing_medications,omitempty" bson:"pre_existing_medications,omitempty" example:"GTH 30mg"`
	// BloodType is one of A+, A-, B+, B-, AB+, AB-, O+, O-.
	BloodType         string `json:"blood_type,omitempty" bson:"blood_type,omitempty" enums:"A+,A-,B+,B-,AB+,AB-,O+,O-" example:"B+"`
	InsuranceProvider string `json:"insurance_provider,omitempty" bson:"insurance_provider,omitempty" example:"ABC"`
	// Version counts the record's versions: 1 on create, one more per amendment.
	Version int `json:"version" bson:"version" validate:"required" example:"1" readonly:"true"`
	// AmendmentReason is the reason given for the change that made this version.
	AmendmentReason string    `json:"amendment_reason,omitempty" bson:"amendment_reason,omitempty" readonly:"true"`
	CreatedAt       time.Time `json:"created_at" bson:"created_at" validate:"required" format:"date-time" readonly:"true"`
	UpdatedAt       time.Time `json:"updated_at" bson:"updated_at" validate:"required" format:"date-time" readonly:"true"`
	// Source names where an imported record came from (an import sets it; the API
	// keeps it and never takes it from a client).
	Source bson.D `json:"source,omitempty" bson:"source,omitempty" swaggertype:"object" readonly:"true"`
	// RecordedBy names who made this version: an API key, or a command.
	RecordedBy *Author `json:"recorded_by,omitempty" bson:"recorded_by,omitempty" readonly:"true"`

	// Extra holds the further top-level fields, in the order given.
	Extra bson.D `json:"-" bson:"-" swaggerignore:"true"`
}

// The known fields of a patient, as stored and as sent.
var (
	// A patient's _id is its insurance number: it is no extra field.
	patientBSONFields = withName(fieldNames(reflect.TypeFor[Patient](), "bson"), "_id", FieldSearchKeys, FieldSortKey)
	patientJSONFields = fieldNames(reflect.TypeFor[Patient](), "json")
	// patientReadOnly are the fields the server sets, which a client cannot send.
	patientReadOnly = withName(readOnlyFields(reflect.TypeFor[Patient]()), FieldSearchKeys, FieldSortKey)
)

// NewPatient builds version 1 of a patient from a parsed request document, with both
// timestamps set to now. A null known field counts as left out. It returns a
// *LimitError when doc is past a cap on what a record may hold (see
// CheckPatientLimits), and otherwise a *ValidationError listing every field that
// does not fit.
func NewPatient(doc bson.D, now time.Time) (Patient, error) {
	if err := CheckPatientLimits(doc); err != nil {
		return Patient{}, err
	}
	now = StoreTime(now)
	p := Patient{CreatedAt: now, UpdatedAt: now, Version: 1}
	r := &fieldReader{}
	for _, e := range doc {
		if e.Value == nil && e.Key != "insurance_no" && patientJSONFields[e.Key] {
			continue
		}
		if patientReadOnly[e.Key] {
			r.readOnly(e.Key)
			continue
		}
		switch e.Key {
		case "insurance_no":
			p.InsuranceNo = r.identifier(e.Key, e.Value)
		case "fname":
			p.FName = r.str(e.Key, e.Value)
		case "lname":
			p.LName = r.str(e.Key, e.Value)
		case "addr":
			p.Addr = r.str(e.Key, e.Value)
		case "age":
			p.Age = r.intRange(e.Key, e.Value, 0, 150)
		case "sex":
			p.Sex = r.str(e.Key, e.Value)
		case "ph_no":
			p.PhNo = r.str(e.Key, e.Value)
		case "email":
			p.Email = r.str(e.Key, e.Value)
			if p.Email != "" && !plausibleEmail(p.Email) {
				r.errs.Add(e.Key, "must be an email address")
			}
		case "related_docs":
			p.RelatedDocs = r.stringList(e.Key, e.Value)
		case "habits":
			p.Habits = r.stringList(e.Key, e.Value)
		case "pre_existing_conditions":
			p.PreExistingConditions = r.stringList(e.Key, e.Value)
		case "pre_existing_medications":
			p.PreExistingMedications = r.stringList(e.Key, e.Value)
		case "blood_type":
			p.BloodType = r.str(e.Key, e.Value)
			if !validBloodType(p.BloodType) {
				r.errs.Add(e.Key, "must be one of A+, A-, B+, B-, AB+, AB-, O+, O-")
			}
		case "insurance_provider":
			p.InsuranceProvider = r.str(e.Key, e.Value)
		default:
			p.Extra = append(p.Extra, e)
		}
	}
	if p.InsuranceNo == "" {
		r.errs.Add("insurance_no", "is required")
	}
	if err := r.errs.Err(); err != nil {
		return Patient{}, err
	}
	return p, nil
}

func plausibleEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	return at > 0 && at < len(s)-1 && !strings.ContainsAny(s, " \t\r\n")
}

func validBloodType(s string) bool {
	switch s {
	case "A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-":
		return true
	}
	return false
}

type plainPatient Patient

// The fields the server derives from a patient, for searching and listing it,
// stored with it and never sent or taken through the API (a client that names one
// gets a 400): its search keys and sort key (see storedPatient).
const (
	FieldSearchKeys = "search_keys"
	FieldSortKey    = "sort_key"
)

// storedPatient is a patient as stored: its insurance number is its _id too, so that
// it is found by a lookup of _id alone (see "Storage and indexes" in the operations guide).
type storedPatient struct {
	ID     string       `bson:"_id"`
	Fields plainPatient `bson:",inline"`
	// SearchKeys and SortKey serve the search of patients (see Patient.SearchKeys).
	SearchKeys []string `bson:"search_keys"`
	SortKey    string   `bson:"sort_key"`
}

// MarshalBSON stores the known fields, the insurance number first as _id, and the
// keys of its search, followed by the extra ones.
func (p Patient) MarshalBSON() ([]byte, error) {
	return marshalBSONWithExtra(storedPatient{ID: p.InsuranceNo, Fields: plainPatient(p),
		SearchKeys: p.SearchKeys(), SortKey: p.SortKey()}, p.Extra)
}

// UnmarshalBSON reads the known fields and collects the rest, except _id, into Extra.
func (p *Patient) UnmarshalBSON(data []byte) error {
	*p = Patient{}
	extra, err := unmarshalBSONWithExtra(data, (*plainPatient)(p), patientBSONFields)
	p.Extra = extra
	if p.Version == 0 { // stored before records had versions
		p.Version = 1
	}
	return err
}

// MarshalJSON writes the known fields followed by the extra ones.
func (p Patient) MarshalJSON() ([]byte, error) {
	return marshalJSONWithExtra(plainPatient(p), p.Extra)
}
