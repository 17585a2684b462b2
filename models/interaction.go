package models

import (
	"reflect"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Interaction is one patient visit. Besides the fields below it keeps any further
// top-level fields a client sends, in Extra, stored and returned as given.
type Interaction struct {
	// ID identifies the interaction; the server assigns one when the client does not.
	ID string `json:"id" bson:"_id" validate:"required" minLength:"1" maxLength:"64" example:"1"`
	// InsuranceNo is the patient's insurance number.
	InsuranceNo string `json:"insurance_no" bson:"insurance_no" validate:"required" minLength:"1" maxLength:"64" example:"A11"`
	Ailment     string `json:"ailment,omitempty" bson:"ailment,omitempty" example:"Influenza"`
	Symptoms    string `json:"symptoms,omitempty" bson:"symptoms,omitempty" example:"Elevated body temperature, often above 38°C"`
	// InteractionDate is when the visit happened; it defaults to the time of creation.
	InteractionDate time.Time `json:"interaction_date" bson:"interaction_date" validate:"required" format:"date-time" example:"2024-10-01T09:30:00Z"`
	// Metrics holds vitals such as temp, BP ("120/80") and ECG.
	Metrics bson.D `json:"metrics,omitempty" bson:"metrics,omitempty" swaggertype:"object"`
	Remarks string `json:"remarks,omitempty" bson:"remarks,omitempty" example:"visited other specialists"`
	// HealthStatus rates the patient's health from 1 to 10.
	HealthStatus *int `json:"health_status,omitempty" bson:"health_status,omitempty" minimum:"1" maximum:"10" example:"4"`
	// QA maps each question asked to its answer.
	QA        bson.D     `json:"qa,omitempty" bson:"qa,omitempty" swaggertype:"object,string" example:"since:4 weeks"`
	NextSteps *NextSteps `json:"next_steps,omitempty" bson:"next_steps,omitempty"`
	// Label holds trimmed, lower-case tags.
	Label []string `json:"label" bson:"label" validate:"required" example:"fever,skin"`
	// Status is absent for a valid record and "entered-in-error" for one marked so.
	Status string `json:"status,omitempty" bson:"status,omitempty" enums:"entered-in-error" readonly:"true"`
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

// The stored names of the fields of an interaction that queries filter and sort on,
// as its bson tags spell them. FieldInsuranceNo names the insurance number in
// patients, audit events and archived versions too, and FieldStatus an audit event's
// status as well.
const (
	FieldInsuranceNo     = "insurance_no"
	FieldInteractionDate = "interaction_date"
	FieldHealthStatus    = "health_status"
	FieldQA              = "qa"
	FieldLabel           = "label"
	FieldStatus          = "status"
)

// NextSteps is what follows a visit.
type NextSteps struct {
	NextVisit            *time.Time `json:"next_visit,omitempty" bson:"next_visit,omitempty" format:"date-time" example:"2024-10-12T00:00:00Z"`
	PrescribedMeds       []string   `json:"prescribed_meds,omitempty" bson:"prescribed_meds,omitempty" example:"ABC 20mg,DEF 4mg"`
	PrescribedTests      []string   `json:"prescribed_tests,omitempty" bson:"prescribed_tests,omitempty" example:"MNO-A,EMC-12"`
	PrescribedSpecialist string     `json:"prescribed_specialist,omitempty" bson:"prescribed_specialist,omitempty" example:"dermatologist"`
}

// The known fields of an interaction, as stored and as sent.
var (
	interactionBSONFields = withName(fieldNames(reflect.TypeFor[Interaction](), "bson"), FieldSearchTokens, FieldAilmentKey)
	interactionJSONFields = fieldNames(reflect.TypeFor[Interaction](), "json")
	// interactionReadOnly are the fields the server sets, which a client cannot send.
	interactionReadOnly = withName(readOnlyFields(reflect.TypeFor[Interaction]()), FieldSearchTokens, FieldAilmentKey)
)

// NewInteraction builds version 1 of an interaction from a parsed request document.
// Fields the client leaves out get their defaults: interaction_date and both
// timestamps are now, label is empty. The id stays empty when not given, for the caller to assign.
// A null known field counts as left out. It returns a *LimitError when doc is past
// a cap on what a record may hold (see CheckInteractionLimits), and otherwise a
// *ValidationError listing every field that does not fit.
func NewInteraction(doc bson.D, now time.Time) (Interaction, error) {
	if err := CheckInteractionLimits(doc); err != nil {
		return Interaction{}, err
	}
	now = StoreTime(now)
	in := Interaction{InteractionDate: now, CreatedAt: now, UpdatedAt: now, Label: []string{}, Version: 1}
	r := &fieldReader{}
	for _, e := range doc {
		if e.Value == nil && e.Key != "insurance_no" && interactionJSONFields[e.Key] {
			continue
		}
		if interactionReadOnly[e.Key] {
			r.readOnly(e.Key)
			continue
		}
		switch e.Key {
		case "id":
			in.ID = r.identifier("id", e.Value)
		case "insurance_no":
			in.InsuranceNo = r.identifier("insurance_no", e.Value)
		case "ailment":
			in.Ailment = r.str(e.Key, e.Value)
		case "symptoms":
			in.Symptoms = r.str(e.Key, e.Value)
		case "remarks":
			in.Remarks = r.str(e.Key, e.Value)
		case "interaction_date":
			if t := r.date(e.Key, e.Value); t != nil {
				in.InteractionDate = *t
			}
		case "metrics":
			in.Metrics = r.object(e.Key, e.Value)
		case "health_status":
			in.HealthStatus = r.intRange(e.Key, e.Value, 1, 10)
		case "qa":
			in.QA = r.qa(e.Value)
		case "next_steps":
			in.NextSteps = r.nextSteps(e.Value)
		case "label":
			in.Label = r.labels(e.Value)
		default:
			in.Extra = append(in.Extra, e)
		}
	}
	if in.InsuranceNo == "" {
		r.errs.Add("insurance_no", "is required")
	}
	if err := r.errs.Err(); err != nil {
		return Interaction{}, err
	}
	return in, nil
}

func (r *fieldReader) qa(v any) bson.D {
	d := r.object("qa", v)
	for _, e := range d {
		if _, ok := e.Value.(string); !ok {
			r.errs.Add(joinPath("qa", e.Key), "answers must be strings")
		}
	}
	return d
}

func (r *fieldReader) nextSteps(v any) *NextSteps {
	d := r.object("next_steps", v)
	if d == nil {
		return nil
	}
	ns := &NextSteps{}
	for _, e := range d {
		field := joinPath("next_steps", e.Key)
		if e.Value == nil {
			continue
		}
		switch e.Key {
		case "next_visit":
			ns.NextVisit = r.date(field, e.Value)
		case "prescribed_meds":
			ns.PrescribedMeds = r.stringList(field, e.Value)
		case "prescribed_tests":
			ns.PrescribedTests = r.stringList(field, e.Value)
		case "prescribed_specialist":
			ns.PrescribedSpecialist = r.str(field, e.Value)
		default:
			r.errs.Add(field, "unknown field; next_steps holds next_visit, prescribed_meds, prescribed_tests and prescribed_specialist")
		}
	}
	return ns
}

// labels accepts a string (possibly comma-separated) or an array of strings.
func (r *fieldReader) labels(v any) []string {
	raw, ok := stringList(v)
	if s, isString := v.(string); isString {
		raw, ok = []string{s}, true
	}
	if !ok {
		r.errs.Add("label", "must be a string, a comma-separated string or an array of strings")
		return nil
	}
	labels := NormalizeLabels(raw)
	for _, l := range labels {
		if len(l) > 64 {
			r.errs.Add("label", "each label must be at most 64 characters")
		}
	}
	return labels
}

type plainInteraction Interaction

// The fields the server derives from an interaction, for searching it, stored with
// it and never sent or taken through the API (a client that names one gets a 400):
// its search tokens and ailment key (see storedInteraction).
const (
	FieldSearchTokens = "search_tokens"
	FieldAilmentKey   = "ailment_key"
)

// storedInteraction is an interaction as stored: with the keys of its search.
type storedInteraction struct {
	Fields plainInteraction `bson:",inline"`
	// SearchTokens and AilmentKey serve the search of visits (see
	// Interaction.SearchTokens).
	SearchTokens []string `bson:"search_tokens"`
	AilmentKey   string   `bson:"ailment_key"`
}

// MarshalBSON stores the known fields and the keys of its search, followed by the
// extra ones.
func (in Interaction) MarshalBSON() ([]byte, error) {
	return marshalBSONWithExtra(storedInteraction{Fields: plainInteraction(in),
		SearchTokens: in.SearchTokens(), AilmentKey: in.AilmentKey()}, in.Extra)
}

// UnmarshalBSON reads the known fields and collects the rest into Extra.
func (in *Interaction) UnmarshalBSON(data []byte) error {
	*in = Interaction{}
	extra, err := unmarshalBSONWithExtra(data, (*plainInteraction)(in), interactionBSONFields)
	in.Extra = extra
	if in.Version == 0 { // stored before records had versions
		in.Version = 1
	}
	return err
}

// MarshalJSON writes the known fields followed by the extra ones.
func (in Interaction) MarshalJSON() ([]byte, error) {
	return marshalJSONWithExtra(plainInteraction(in), in.Extra)
}
