package repository

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/models"
)

// CreatePatient stores p. It returns models.ErrConflict when a patient with the same
// insurance number exists.
func (s *DB) CreatePatient(ctx context.Context, p models.Patient) error {
	audit.Touch(ctx, p.InsuranceNo, "")
	defer s.announce(ctx)
	err := s.write(ctx, func() error {
		_, err := s.patients.InsertOne(ctx, p)
		return err
	})
	if err == nil || mongo.IsDuplicateKeyError(err) {
		s.patientsSeen.add(p.InsuranceNo)
	}
	if err != nil {
		return fmt.Errorf("insert patient: %w", storeError(err))
	}
	return nil
}

// Patient returns the patient with the given insurance number, or models.ErrNotFound.
// With a side index it reads it there.
func (s *DB) Patient(ctx context.Context, insuranceNo string) (models.Patient, error) {
	p, err := decodeByID[models.Patient](ctx, s, s.patients, insuranceNo, bson.D{{Key: "_id", Value: insuranceNo}})
	if err != nil {
		return models.Patient{}, fmt.Errorf("find patient: %w", err)
	}
	s.patientsSeen.add(p.InsuranceNo)
	audit.Touch(ctx, p.InsuranceNo, "")
	return p, nil
}

// PatientExists reports whether a patient with the given insurance number exists.
// A patient this DB has seen exist (stored, read or found by it: see
// maxKnownPatients) is answered for without the store, since patients are never
// deleted; any other is looked up (with a side index, there), so that one another
// process stored is found. It returns the store's errors.
func (s *DB) PatientExists(ctx context.Context, insuranceNo string) (bool, error) {
	if s.patientsSeen.has(insuranceNo) {
		return true, nil
	}
	if s.side != nil {
		doc, err := s.side.Document(ctx, PatientsCollection, insuranceNo)
		if err != nil {
			return false, fmt.Errorf("find patient: %w", storeError(err))
		}
		if doc != nil {
			s.patientsSeen.add(insuranceNo)
		}
		return doc != nil, nil
	}
	err := s.patients.FindOne(ctx, bson.D{{Key: "_id", Value: insuranceNo}},
		options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
	switch {
	case err == nil:
		s.patientsSeen.add(insuranceNo)
		return true, nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return false, nil
	default:
		return false, fmt.Errorf("find patient: %w", storeError(err))
	}
}

// Patients returns one page of the patients q selects, by last name, first name and
// insurance number, and the cursor of the next page, nil on the last: by the side
// index when the DB has one, else with patientsFind (see listing). It returns the
// store's errors.
func (s *DB) Patients(ctx context.Context, q models.PatientQuery) ([]models.Patient, *string, error) {
	return listing[models.Patient]{
		what:  "patients",
		coll:  s.patients,
		limit: q.Limit,
		docs: func(ctx context.Context, side SideIndex, n int, each func(bson.Raw) bool) error {
			return side.PatientDocuments(ctx, q, n, each)
		},
		find:   func() (bson.D, *options.FindOptionsBuilder) { return patientsFind(q) },
		keep:   q.Matches,
		cursor: func(last models.Patient) string { return models.NameCursorAt(last, q.Key()).Encode() },
	}.page(ctx, s)
}

// patientsFind returns the find of the page of patients q asks for: the filter, and
// the options sorting by sort key, ties by id, and asking for one patient more than
// the page, to tell whether the patients go on past it.
func patientsFind(q models.PatientQuery) (bson.D, *options.FindOptionsBuilder) {
	var conds bson.A
	for _, w := range q.Words {
		conds = append(conds, bson.D{{Key: models.FieldSearchKeys, Value: bson.Regex{Pattern: "^" + regexp.QuoteMeta(w)}}})
	}
	if q.After != nil {
		conds = append(conds, bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: models.FieldSortKey, Value: bson.D{{Key: "$gt", Value: q.After.Key}}}},
			bson.D{{Key: models.FieldSortKey, Value: q.After.Key}, {Key: "_id", Value: bson.D{{Key: "$gt", Value: q.After.ID}}}},
		}}})
	}
	filter := bson.D{}
	if len(conds) > 0 {
		filter = bson.D{{Key: "$and", Value: conds}}
	}
	return filter, options.Find().
		SetSort(bson.D{{Key: models.FieldSortKey, Value: 1}, {Key: "_id", Value: 1}}).
		SetLimit(int64(q.Limit) + 1)
}
