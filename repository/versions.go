package repository

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clinic/interactions/models"
)

// Collections of earlier versions.
const (
	InteractionVersionsCollection = "interaction_versions"
	PatientVersionsCollection     = "patient_versions"
)

// Step names a point between the writes of an amendment. Tests inject failures there
// through SetFaults to check that no interruption loses or invents a version.
type Step string

// The steps of an amendment from version n to n+1, in order: version 1 is archived
// (on the first amendment), the next version is written to the archive as an intent,
// and the record moves to it.
const (
	StepBeforeArchive Step = "before-archive"
	StepBeforeIntent  Step = "before-intent"
	StepBeforeCommit  Step = "before-commit"
	StepAfterCommit   Step = "after-commit"
)

// SetFaults makes every amendment call f at each step and stop with f's error when it
// returns one, as a store failure or a crash would stop it there. Call it before the
// store is shared between goroutines.
func (s *Store) SetFaults(f func(Step) error) { s.faults = f }

func (s *Store) step(st Step) error {
	if s.faults == nil {
		return nil
	}
	if err := s.faults(st); err != nil {
		return fmt.Errorf("%s: %w", st, err)
	}
	return nil
}

// versionRecord is an archived version: a full copy of the record as it was, or, for
// the newest one, as it is or is about to be.
type versionRecord struct {
	InsuranceNo   string    `bson:"insurance_no"`
	InteractionID string    `bson:"interaction_id,omitempty"`
	Version       int       `bson:"version"`
	ArchivedAt    time.Time `bson:"archived_at"`
	Document      any       `bson:"document"`
}

// archivedDoc reads the copy out of a versionRecord.
type archivedDoc[T any] struct {
	Document T `bson:"document"`
}

// amendment is one move of a record from version n (current) to n+1 (next).
type amendment struct {
	records, versions *mongo.Collection
	// recordKey selects the record in records; versionKey, with a version, its
	// versions in versions.
	recordKey, versionKey bson.D
	current, next         any
	n                     int
	archive               func(version int, doc any) versionRecord
}

// amend moves a record from version n to n+1. Neither store offers transactions, and
// the embedded one not even an atomic conditional update, so the unique index on
// (record, version) of the archive decides: whoever inserts version n+1 there first
// owns it, and the record only ever moves to a version found in the archive. The
// order of the writes makes every interruption safe:
//
//  1. version 1 is copied into the archive (first amendment only; repeats are no-ops);
//  2. version n+1 is inserted into the archive, an intent only the record's move commits;
//  3. the record moves from n to n+1, on condition that it is still at n.
//
// Versions above the record's are never shown, so an interruption after 2 shows
// nothing new; the record never reaches a version the archive lacks. A later amendment
// of version n finds the intent and completes it (any writer of n+1 writes the same
// document), so nothing is left half done. It returns the document now at n+1 when an
// identical change (a retry) had already claimed it, models.ErrPreconditionFailed when
// another change did, and the store's error otherwise.
func (s *Store) amend(ctx context.Context, a amendment) (bson.Raw, error) {
	if err := s.step(StepBeforeArchive); err != nil {
		return nil, err
	}
	if a.n == 1 {
		if _, err := a.versions.InsertOne(ctx, a.archive(1, a.current)); err != nil && !mongo.IsDuplicateKeyError(err) {
			return nil, fmt.Errorf("archive version 1: %w", storeError(err))
		}
	}
	if err := s.step(StepBeforeIntent); err != nil {
		return nil, err
	}
	_, err := a.versions.InsertOne(ctx, a.archive(a.n+1, a.next))
	if mongo.IsDuplicateKeyError(err) {
		return s.completeClaimed(ctx, a)
	}
	if err != nil {
		return nil, fmt.Errorf("archive version %d: %w", a.n+1, storeError(err))
	}
	if err := s.step(StepBeforeCommit); err != nil {
		return nil, err
	}
	// No match means the record has moved on already: only to this version, which
	// another writer completed, since this one holds version n+1.
	if err := commit(ctx, a, a.next); err != nil {
		return nil, err
	}
	return nil, s.step(StepAfterCommit)
}

// completeClaimed finishes the move to version n+1 that another change claimed, and
// returns that version when it is the same change as a.next.
func (s *Store) completeClaimed(ctx context.Context, a amendment) (bson.Raw, error) {
	filter := append(append(bson.D{}, a.versionKey...), bson.E{Key: "version", Value: a.n + 1})
	var claimed struct {
		Document bson.Raw `bson:"document"`
	}
	if err := a.versions.FindOne(ctx, filter).Decode(&claimed); err != nil {
		return nil, fmt.Errorf("read version %d: %w", a.n+1, storeError(err))
	}
	if err := commit(ctx, a, claimed.Document); err != nil {
		return nil, err
	}
	same, err := sameChange(claimed.Document, a.next)
	if err != nil {
		return nil, err
	}
	if !same {
		return nil, models.ErrPreconditionFailed
	}
	return claimed.Document, nil
}

// commit moves the record from version a.n to the document next, if it is still at a.n.
func commit(ctx context.Context, a amendment, next any) error {
	filter := append(append(bson.D{}, a.recordKey...), versionCondition(a.n))
	if _, err := a.records.ReplaceOne(ctx, filter, next); err != nil {
		return fmt.Errorf("commit version %d: %w", a.n+1, storeError(err))
	}
	return nil
}

// sameChange reports whether two versions differ only in when they were made.
func sameChange(a, b any) (bool, error) {
	da, err := toDoc(a)
	if err != nil {
		return false, err
	}
	db, err := toDoc(b)
	if err != nil {
		return false, err
	}
	drop := func(e bson.E) bool { return e.Key == "updated_at" }
	ra, err := bson.Marshal(slices.DeleteFunc(da, drop))
	if err != nil {
		return false, err
	}
	rb, err := bson.Marshal(slices.DeleteFunc(db, drop))
	if err != nil {
		return false, err
	}
	return bytes.Equal(ra, rb), nil
}

// versionCondition selects a record at version v; records stored before versions
// existed count as version 1.
func versionCondition(v int) bson.E {
	if v == 1 {
		return bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "version", Value: 1}},
			bson.D{{Key: "version", Value: bson.D{{Key: "$exists", Value: false}}}},
		}}
	}
	return bson.E{Key: "version", Value: v}
}

func toDoc(v any) (bson.D, error) {
	data, err := bson.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	var d bson.D
	if err := bson.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("decode record: %w", err)
	}
	return d, nil
}

// AmendInteraction moves an interaction from current to next (current.Version+1),
// keeping current as an earlier version, and returns the version stored: next, or the
// identical change a retry finds already made. It returns
// models.ErrPreconditionFailed when another change took version current.Version+1,
// and the store's error otherwise.
func (s *Store) AmendInteraction(ctx context.Context, current, next models.Interaction) (models.Interaction, error) {
	raw, err := s.amend(ctx, amendment{
		records:   s.interactions,
		versions:  s.interactionVersions,
		recordKey: bson.D{{Key: "_id", Value: current.ID}},
		versionKey: bson.D{
			{Key: "insurance_no", Value: current.InsuranceNo},
			{Key: "interaction_id", Value: current.ID},
		},
		current: current,
		next:    next,
		n:       current.Version,
		archive: func(v int, doc any) versionRecord {
			return versionRecord{InsuranceNo: current.InsuranceNo, InteractionID: current.ID, Version: v,
				ArchivedAt: next.UpdatedAt, Document: doc}
		},
	})
	return stored(raw, next, err)
}

// AmendPatient moves a patient from current to next (current.Version+1), keeping
// current as an earlier version, and returns the version stored: next, or the
// identical change a retry finds already made. It returns
// models.ErrPreconditionFailed when another change took version current.Version+1,
// and the store's error otherwise.
func (s *Store) AmendPatient(ctx context.Context, current, next models.Patient) (models.Patient, error) {
	raw, err := s.amend(ctx, amendment{
		records:    s.patients,
		versions:   s.patientVersions,
		recordKey:  bson.D{{Key: "insurance_no", Value: current.InsuranceNo}},
		versionKey: bson.D{{Key: "insurance_no", Value: current.InsuranceNo}},
		current:    current,
		next:       next,
		n:          current.Version,
		archive: func(v int, doc any) versionRecord {
			return versionRecord{InsuranceNo: current.InsuranceNo, Version: v, ArchivedAt: next.UpdatedAt, Document: doc}
		},
	})
	return stored(raw, next, err)
}

// stored returns the version amend stored: the one it found, raw, or next.
func stored[T any](raw bson.Raw, next T, err error) (T, error) {
	var zero T
	if err != nil {
		return zero, err
	}
	if raw == nil {
		return next, nil
	}
	var found T
	if err := bson.Unmarshal(raw, &found); err != nil {
		return zero, fmt.Errorf("decode stored version: %w", err)
	}
	return found, nil
}

// InteractionVersions returns up to limit earlier versions of interaction current
// below version before, newest first.
func (s *Store) InteractionVersions(ctx context.Context, current models.Interaction, before, limit int) ([]models.Interaction, error) {
	return earlierVersions[models.Interaction](ctx, s.interactionVersions, bson.D{
		{Key: "insurance_no", Value: current.InsuranceNo},
		{Key: "interaction_id", Value: current.ID},
	}, before, limit)
}

// PatientVersions returns up to limit earlier versions of patient current below
// version before, newest first.
func (s *Store) PatientVersions(ctx context.Context, current models.Patient, before, limit int) ([]models.Patient, error) {
	return earlierVersions[models.Patient](ctx, s.patientVersions, bson.D{
		{Key: "insurance_no", Value: current.InsuranceNo},
	}, before, limit)
}

func earlierVersions[T any](ctx context.Context, coll *mongo.Collection, filter bson.D, before, limit int) ([]T, error) {
	filter = append(filter, bson.E{Key: "version", Value: bson.D{{Key: "$lt", Value: before}}})
	cur, err := coll.Find(ctx, filter, options.Find().
		SetSort(bson.D{{Key: "version", Value: -1}}).
		SetLimit(int64(limit)))
	if err != nil {
		return nil, fmt.Errorf("find versions: %w", storeError(err))
	}
	var recs []archivedDoc[T]
	if err := cur.All(ctx, &recs); err != nil {
		return nil, fmt.Errorf("read versions: %w", storeError(err))
	}
	out := make([]T, len(recs))
	for i, r := range recs {
		out[i] = r.Document
	}
	return out, nil
}

// InteractionVersion returns version v of interaction current, which must be below
// current.Version, or models.ErrNotFound.
func (s *Store) InteractionVersion(ctx context.Context, current models.Interaction, v int) (models.Interaction, error) {
	return archivedVersion[models.Interaction](ctx, s.interactionVersions, bson.D{
		{Key: "insurance_no", Value: current.InsuranceNo},
		{Key: "interaction_id", Value: current.ID},
		{Key: "version", Value: v},
	})
}

// PatientVersion returns version v of patient current, which must be below
// current.Version, or models.ErrNotFound.
func (s *Store) PatientVersion(ctx context.Context, current models.Patient, v int) (models.Patient, error) {
	return archivedVersion[models.Patient](ctx, s.patientVersions, bson.D{
		{Key: "insurance_no", Value: current.InsuranceNo},
		{Key: "version", Value: v},
	})
}

func archivedVersion[T any](ctx context.Context, coll *mongo.Collection, filter bson.D) (T, error) {
	var rec archivedDoc[T]
	err := coll.FindOne(ctx, filter).Decode(&rec)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return rec.Document, models.ErrNotFound
	}
	if err != nil {
		return rec.Document, fmt.Errorf("find version: %w", storeError(err))
	}
	return rec.Document, nil
}
