package handlers

// The types below document the request bodies in the OpenAPI document, where they
// differ from what the API answers: no server fields, dates as dates or date-times,
// and every field of a merge patch nullable. Requests are read by
// models.ParseDocument and validated by models.NewPatient and models.NewInteraction;
// fields beyond these are kept as sent.

// PatientFields are the fields of a patient a client sends. A null counts as left
// out on a create and removes the field in a merge patch.
type PatientFields struct {
	FName string `json:"fname,omitempty" extensions:"x-nullable" example:"Vernon"`
	LName string `json:"lname,omitempty" extensions:"x-nullable" example:"Lopez"`
	Addr  string `json:"addr,omitempty" extensions:"x-nullable" example:"Berliner Straße 123"`
	Age   int    `json:"age,omitempty" extensions:"x-nullable" minimum:"0" maximum:"150" example:"30"`
	Sex   string `json:"sex,omitempty" extensions:"x-nullable" example:"M"`
	PhNo  string `json:"ph_no,omitempty" extensions:"x-nullable" example:"0171 234567"`
	Email string `json:"email,omitempty" extensions:"x-nullable" example:"vernon@example.com"`
	// RelatedDocs, Habits, PreExistingConditions and PreExistingMedications are lists
	// of strings.
	RelatedDocs            []string `json:"related_docs,omitempty" extensions:"x-nullable"`
	Habits                 []string `json:"habits,omitempty" extensions:"x-nullable" example:"smoking,drinking"`
	PreExistingConditions  []string `json:"pre_existing_conditions,omitempty" extensions:"x-nullable" example:"Asthma"`
	PreExistingMedications []string `json:"pre_existing_medications,omitempty" extensions:"x-nullable" example:"GTH 30mg"`
	BloodType              string   `json:"blood_type,omitempty" extensions:"x-nullable" enums:"A+,A-,B+,B-,AB+,AB-,O+,O-" example:"B+"`
	InsuranceProvider      string   `json:"insurance_provider,omitempty" extensions:"x-nullable" example:"ABC"`
}

// PatientInput is the body of a patient's create.
type PatientInput struct {
	// InsuranceNo identifies the patient: 1-64 letters, digits, '.', '_', ':' or '-'.
	InsuranceNo string `json:"insurance_no" validate:"required" minLength:"1" maxLength:"64" example:"A11"`
	PatientFields
}

// PatientPatch is a JSON merge patch of a patient: the fields to change, null to
// remove one. insurance_no cannot change.
type PatientPatch struct {
	// InsuranceNo, when given, must be the patient's own.
	InsuranceNo string `json:"insurance_no,omitempty" minLength:"1" maxLength:"64" example:"A11"`
	PatientFields
}

// InteractionFields are the fields of an interaction a client sends. A null counts
// as left out on a create and removes the field in a merge patch.
type InteractionFields struct {
	Ailment  string `json:"ailment,omitempty" extensions:"x-nullable" example:"Influenza"`
	Symptoms string `json:"symptoms,omitempty" extensions:"x-nullable" example:"fever above 38°C, dry cough"`
	// InteractionDate is an RFC 3339 date (midnight UTC) or date-time; the time of
	// creation when left out. It cannot be removed.
	InteractionDate string `json:"interaction_date,omitempty" extensions:"x-nullable" example:"2024-10-01T09:30:00Z"`
	// Metrics holds vitals such as temp, BP ("120/80") and ECG, any JSON values; in a
	// merge patch, null removes one.
	Metrics map[string]any `json:"metrics,omitempty" extensions:"x-nullable" swaggertype:"object"`
	Remarks string         `json:"remarks,omitempty" extensions:"x-nullable" example:"visited other specialists"`
	// HealthStatus rates the patient's health from 1 to 10.
	HealthStatus int `json:"health_status,omitempty" extensions:"x-nullable" minimum:"1" maximum:"10" example:"4"`
	// QA maps each question asked to its answer, a string; in a merge patch, null
	// removes a question.
	QA        map[string]string `json:"qa,omitempty" extensions:"x-nullable" swaggertype:"object"`
	NextSteps *NextStepsInput   `json:"next_steps,omitempty" extensions:"x-nullable"`
	// Label tags the interaction, as an array of strings. A string, or a
	// comma-separated string, is accepted as well. Labels are stored trimmed,
	// lower-case and without repeats, 64 characters at most each.
	Label []string `json:"label,omitempty" extensions:"x-nullable" example:"fever,respiratory"`
}

// NextStepsInput is what follows a visit, as a client sends it.
type NextStepsInput struct {
	// NextVisit is an RFC 3339 date or date-time.
	NextVisit            string   `json:"next_visit,omitempty" extensions:"x-nullable" example:"2024-10-12"`
	PrescribedMeds       []string `json:"prescribed_meds,omitempty" extensions:"x-nullable" example:"Oseltamivir 75mg"`
	PrescribedTests      []string `json:"prescribed_tests,omitempty" extensions:"x-nullable" example:"CRP"`
	PrescribedSpecialist string   `json:"prescribed_specialist,omitempty" extensions:"x-nullable" example:"pulmonologist"`
}

// InteractionInput is the body of an interaction's create.
type InteractionInput struct {
	// ID is optional: the server assigns a time-ordered UUID when it is left out.
	ID string `json:"id,omitempty" minLength:"1" maxLength:"64" example:"visit-1"`
	// InsuranceNo names the patient, who must exist.
	InsuranceNo string `json:"insurance_no" validate:"required" minLength:"1" maxLength:"64" example:"A11"`
	InteractionFields
}

// InteractionPatch is a JSON merge patch of an interaction: the fields to change,
// null to remove one. id and insurance_no cannot change.
type InteractionPatch struct {
	// ID, when given, must be the interaction's own.
	ID string `json:"id,omitempty" minLength:"1" maxLength:"64" example:"visit-1"`
	// InsuranceNo, when given, must be the interaction's own.
	InsuranceNo string `json:"insurance_no,omitempty" minLength:"1" maxLength:"64" example:"A11"`
	InteractionFields
}

// ReasonRequest carries the reason for marking a record entered-in-error.
type ReasonRequest struct {
	Reason string `json:"reason" validate:"required" example:"recorded for the wrong patient"`
}
