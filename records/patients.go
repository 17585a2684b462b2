package records

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

// PatientStore keeps patients.
type PatientStore interface {
	// CreatePatient stores p. It returns models.ErrConflict when its insurance number
	// is taken.
	CreatePatient(ctx context.Context, p models.Patient) error
	// Patient returns the patient with insurance number no, or models.ErrNotFound.
	Patient(ctx context.Context, no string) (models.Patient, error)
	// Patients returns one page of the patients q selects, by name, and the cursor
	// of the next page, nil on the last.
	Patients(ctx context.Context, q models.PatientQuery) ([]models.Patient, *string, error)
	// LastVisit returns the date of patient no's latest interaction, nil when none.
	LastVisit(ctx context.Context, no string) (*time.Time, error)
}

// Patients applies the rules of a record's life to patients.
type Patients struct {
	store    PatientStore
	versions Versions[models.Patient]
	now      func() time.Time
}

// NewPatients returns the rules over store and versions, reading the time from now
// (time.Now when nil).
func NewPatients(store PatientStore, versions Versions[models.Patient], now func() time.Time) *Patients {
	return &Patients{store: store, versions: versions, now: clock(now)}
}

// Create stores p. It returns the errors of the store.
func (s *Patients) Create(ctx context.Context, p models.Patient) (models.Patient, error) {
	p.RecordedBy = models.AuthorFrom(ctx)
	if err := checkSize(p); err != nil {
		return models.Patient{}, err
	}
	if err := s.store.CreatePatient(ctx, p); err != nil {
		return models.Patient{}, err
	}
	return p, nil
}

// Get returns the patient with insurance number no, at its newest committed version
// (see latest). It returns the errors of the store.
func (s *Patients) Get(ctx context.Context, no string) (models.Patient, error) {
	p, err := s.store.Patient(ctx, no)
	if err != nil {
		return models.Patient{}, err
	}
	return latest(ctx, s.versions, p)
}

// Stored returns patient no as stored, without looking for a later version being
// moved into place (see latest): for what no version changes, as the patient's
// insurance number and source (which the server sets and no patch changes). It
// returns models.ErrNotFound when there is none, and the errors of the store.
func (s *Patients) Stored(ctx context.Context, no string) (models.Patient, error) {
	return s.store.Patient(ctx, no)
}

// Amend applies the merge patch to patient no as its next version, with reason,
// when match accepts its current version. It returns the version stored,
// models.ErrPreconditionFailed when match refuses the current version or another
// change took the next one, a *models.ValidationError for a patch that cannot be
// accepted, and the errors of the store.
func (s *Patients) Amend(ctx context.Context, no string, match Match, patch bson.D, reason string) (models.Patient, error) {
	current, err := s.Get(ctx, no)
	if err != nil {
		return models.Patient{}, err
	}
	if !match(current.Version) {
		return models.Patient{}, models.ErrPreconditionFailed
	}
	return s.Apply(ctx, current, patch, reason)
}

// Apply applies the merge patch to current, which the caller has read, as its next
// version, with reason. It returns what Amend returns.
func (s *Patients) Apply(ctx context.Context, current models.Patient, patch bson.D, reason string) (models.Patient, error) {
	next, err := nextPatient(current, patch, reason, s.now())
	if err != nil {
		return models.Patient{}, err
	}
	next.RecordedBy = models.AuthorFrom(ctx)
	return commit(ctx, s.versions, current, next, next.UpdatedAt)
}

// Versions returns one page of patient no's versions, newest first, below version
// before (0: from the current one). It returns the errors of the store.
func (s *Patients) Versions(ctx context.Context, no string, before, limit int) (Page[models.Patient], error) {
	current, err := s.Get(ctx, no)
	if err != nil {
		return Page[models.Patient]{}, err
	}
	return page(ctx, s.versions, current, before, limit)
}

// Version returns version v of patient no. It returns models.ErrNotFound for a
// version the patient has not reached, and the errors of the store.
func (s *Patients) Version(ctx context.Context, no string, v int) (models.Patient, error) {
	current, err := s.Get(ctx, no)
	if err != nil {
		return models.Patient{}, err
	}
	return version(ctx, s.versions, current, v)
}

// Find returns one page of the patient directory: the patients q selects, by last
// name, first name and insurance number, with what a picker shows of each, their
// last visit included. It returns the errors of the store.
func (s *Patients) Find(ctx context.Context, q models.PatientQuery) (models.PatientList, error) {
	found, next, err := s.store.Patients(ctx, q)
	if err != nil {
		return models.PatientList{}, err
	}
	list := models.PatientList{Items: make([]models.PatientListItem, 0, len(found)), NextCursor: next}
	for _, p := range found {
		last, err := s.store.LastVisit(ctx, p.InsuranceNo)
		if err != nil {
			return models.PatientList{}, err
		}
		list.Items = append(list.Items, models.PatientListItem{
			InsuranceNo: p.InsuranceNo, FName: p.FName, LName: p.LName, Age: p.Age, Sex: p.Sex, LastVisit: last,
		})
	}
	return list, nil
}
