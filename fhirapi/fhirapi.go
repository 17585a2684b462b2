// Package fhirapi answers the read-only FHIR R4 API: reads and version reads of the
// resources the export writes, searches (searchset Bundles with their total and a
// paging cursor that stays stable under inserts), Patient/$everything,
// Observation/$lastn, Patient/$summary (an International Patient Summary document)
// and the CapabilityStatement. It maps records with package fhir, the export's own
// mapping, so that an id and a resource are the same in the export, the import and
// this API. It needs no HTTP: handlers read a request into a Request, call it, and
// write the JSON it returns.
//
// Every answer notes in the request's audit subject the patients whose data it
// disclosed, through one function, disclosed.
package fhirapi

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/fhir"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/records"
)

// Patients reads patient records (records.Patients).
type Patients interface {
	// Get returns the patient no at its current version, or models.ErrNotFound.
	Get(ctx context.Context, no string) (models.Patient, error)
	// Stored returns the patient no as stored, or models.ErrNotFound: what no
	// version changes (its insurance number, its source) is that of Get.
	Stored(ctx context.Context, no string) (models.Patient, error)
	// Version returns version v of patient no, or models.ErrNotFound.
	Version(ctx context.Context, no string, v int) (models.Patient, error)
}

// Directory lists patients by name (repository.DB).
type Directory interface {
	// Patients returns one page of the patients q selects, by name, and the cursor of
	// the next page, nil on the last.
	Patients(ctx context.Context, q models.PatientQuery) ([]models.Patient, *string, error)
}

// Interactions reads interaction records (records.Interactions).
type Interactions interface {
	// Versions returns one page of interaction id's versions, newest first, whatever
	// their status, or models.ErrNotFound.
	Versions(ctx context.Context, id string, before, limit int) (records.Page[models.Interaction], error)
	// Version returns version v of interaction id, or models.ErrNotFound.
	Version(ctx context.Context, id string, v int) (models.Interaction, error)
	// History returns one page of the interactions q selects, in its order.
	History(ctx context.Context, q models.HistoryQuery) (models.Page, error)
	// Each calls fn with every interaction q selects, a page at a time, newest first.
	Each(ctx context.Context, q models.HistoryQuery, fn func(models.Interaction) error) error
}

// Counter counts what a query of interactions selects, from an index
// (repository.DB).
type Counter interface {
	CountHistory(ctx context.Context, q models.HistoryQuery) (int64, error)
}

// API answers the FHIR API's requests over the stores.
type API struct {
	patients     Patients
	directory    Directory
	interactions Interactions
	counter      Counter
	now          func() time.Time
	stored       storedPatients
}

// New returns the API over the stores, reading the time from now (time.Now when
// nil).
func New(patients Patients, directory Directory, interactions Interactions, counter Counter, now func() time.Time) *API {
	if now == nil {
		now = time.Now
	}
	return &API{patients: patients, directory: directory, interactions: interactions, counter: counter, now: now}
}

// maxStoredPatients bounds how many patients an API remembers (see storedPatients).
const maxStoredPatients = 1 << 14

// storedPatients remembers the patients Patients.Stored found, by insurance number,
// as it gave them: patients are never deleted, and what a search needs of them (their
// insurance number and source) no version changes, so what it holds stays true. It
// holds at most maxStoredPatients; past that it starts afresh. It is safe for
// concurrent use.
type storedPatients struct {
	mu   sync.Mutex
	byNo map[string]models.Patient
}

// get returns patient no, remembered or else read with read (and then remembered
// when found), noting them as the request's subject as the store's read does: with
// their insurance number and source only.
func (s *storedPatients) get(ctx context.Context, no string, read func(context.Context, string) (models.Patient, error)) (models.Patient, error) {
	s.mu.Lock()
	p, ok := s.byNo[no]
	s.mu.Unlock()
	if ok {
		audit.Touch(ctx, p.InsuranceNo, "")
		return p, nil
	}
	p, err := read(ctx, no)
	if err != nil {
		return p, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byNo == nil || len(s.byNo) >= maxStoredPatients {
		s.byNo = map[string]models.Patient{}
	}
	// Only what no version changes: the rest may be of an older version later.
	p = models.Patient{InsuranceNo: p.InsuranceNo, Source: p.Source}
	s.byNo[no] = p
	return p, nil
}

// disclosed notes in ctx's audit subject the patients (by insurance number) whose
// data the answer discloses. Every route of the API notes them here, and only here.
func disclosed(ctx context.Context, insuranceNos ...string) {
	for _, no := range insuranceNos {
		audit.Touch(ctx, no, "")
	}
	audit.Disclose(ctx, insuranceNos...)
}

// ErrUnknownType is the error of a resource type the API does not serve.
var ErrUnknownType = fmt.Errorf("this server serves no such resource type: %w", models.ErrNotFound)

// readTypes are the resource types the API reads by id: those the export writes.
var readTypes = []string{"Patient", "Encounter", "Observation", "Condition", "MedicationRequest",
	"ServiceRequest", "QuestionnaireResponse", "DocumentReference"}

// patient returns the patient whose Patient has the id id: the record under that
// insurance number, or under the one an import gives it, or else one imported under
// an insurance number of its own, found by its search keys. It returns
// models.ErrNotFound when none has it, and the errors of the store.
func (a *API) patient(ctx context.Context, id string) (models.Patient, error) {
	return a.findPatient(ctx, id, a.patients.Get)
}

// subject returns what patient returns, as stored (see Patients.Stored): a
// Patient's id and the patient's insurance number are all a search of the
// patient's resources needs of them.
func (a *API) subject(ctx context.Context, id string) (models.Patient, error) {
	return a.findPatient(ctx, id, func(ctx context.Context, no string) (models.Patient, error) {
		return a.stored.get(ctx, no, a.patients.Stored)
	})
}

// findPatient finds the patient as patient describes, reading each with get.
func (a *API) findPatient(ctx context.Context, id string, get func(context.Context, string) (models.Patient, error)) (models.Patient, error) {
	for _, key := range fhir.RecordKeys(id) {
		p, err := get(ctx, key)
		switch {
		case err == nil && fhir.PatientID(p) == id:
			return p, nil
		case err != nil && !errors.Is(err, models.ErrNotFound):
			return models.Patient{}, err
		}
	}
	if len(fhir.RecordKeys(id)) > 0 {
		found, _, err := a.directory.Patients(ctx, models.PatientQuery{Words: []string{models.Fold(id)}, Limit: 10})
		if err != nil {
			return models.Patient{}, err
		}
		for _, p := range found {
			if fhir.PatientID(p) == id {
				return get(ctx, p.InsuranceNo)
			}
		}
	}
	return models.Patient{}, fmt.Errorf("patient %w", models.ErrNotFound)
}

// current returns interaction id at its current version, whatever its status, or
// models.ErrNotFound.
func (a *API) current(ctx context.Context, id string) (models.Interaction, error) {
	p, err := a.interactions.Versions(ctx, id, 0, 1)
	if err != nil {
		return models.Interaction{}, err
	}
	if len(p.Items) == 0 {
		return models.Interaction{}, fmt.Errorf("interaction %w", models.ErrNotFound)
	}
	return p.Items[0], nil
}

// encounter returns the interaction whose Encounter has the id id, at its current
// version, whatever its status. It returns models.ErrNotFound when none has it.
func (a *API) encounter(ctx context.Context, id string) (models.Interaction, error) {
	for _, key := range fhir.RecordKeys(id) {
		in, err := a.current(ctx, key)
		switch {
		case err == nil && fhir.EncounterID(in) == id:
			return in, nil
		case err != nil && !errors.Is(err, models.ErrNotFound):
			return models.Interaction{}, err
		}
	}
	return models.Interaction{}, fmt.Errorf("encounter %w", models.ErrNotFound)
}

// subjects names each patient's Patient by insurance number, reading each patient
// once per request.
type subjects struct {
	a   *API
	ids map[string]string
}

// of returns the id of the Patient of the patient insuranceNo.
func (s *subjects) of(ctx context.Context, insuranceNo string) (string, error) {
	if id, ok := s.ids[insuranceNo]; ok {
		return id, nil
	}
	p, err := s.a.patients.Get(ctx, insuranceNo)
	if err != nil {
		return "", err
	}
	if s.ids == nil {
		s.ids = map[string]string{}
	}
	s.ids[insuranceNo] = fhir.PatientID(p)
	return s.ids[insuranceNo], nil
}

// Read returns the resource typ/id, as its record is now. It returns
// models.ErrNotFound (or ErrUnknownType) when there is none, and the errors of the
// store.
func (a *API) Read(ctx context.Context, typ, id string) ([]byte, error) {
	return a.read(ctx, typ, id, 0)
}

// VRead returns the resource typ/id as version vid of its record made it: the
// patient's version for a Patient, the interaction's for the others. It returns
// models.ErrNotFound for a version the record has not reached.
func (a *API) VRead(ctx context.Context, typ, id string, vid int) ([]byte, error) {
	if vid < 1 {
		return nil, fmt.Errorf("version %w", models.ErrNotFound)
	}
	return a.read(ctx, typ, id, vid)
}

func (a *API) read(ctx context.Context, typ, id string, vid int) ([]byte, error) {
	if !slices.Contains(readTypes, typ) {
		return nil, ErrUnknownType
	}
	if typ == "Patient" {
		p, err := a.patient(ctx, id)
		if err != nil {
			return nil, err
		}
		if vid > 0 {
			if p, err = a.patients.Version(ctx, p.InsuranceNo, vid); err != nil {
				return nil, err
			}
		}
		disclosed(ctx, p.InsuranceNo)
		return encode(fhir.PatientOf(p))
	}
	encID := id
	if typ != "Encounter" {
		encID = fhir.EncounterOf(id)
	}
	in, err := a.encounter(ctx, encID)
	if err != nil {
		return nil, err
	}
	if vid > 0 {
		if in, err = a.interactions.Version(ctx, in.ID, vid); err != nil {
			return nil, err
		}
	}
	s := subjects{a: a}
	patient, err := s.of(ctx, in.InsuranceNo)
	if err != nil {
		return nil, err
	}
	for _, r := range fhir.InteractionOf(patient, in) {
		if r.Type == typ && r.ID == id {
			disclosed(ctx, in.InsuranceNo)
			return encode(r)
		}
	}
	return nil, fmt.Errorf("%s %w", typ, models.ErrNotFound)
}
