package repository

import (
	"context"
	"errors"
	"fmt"
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

// The steps of an amendment, in order: the current version is archived, then the
// record moves to the next version only if it is still at the version read.
const (
	StepBeforeArchive Step = "before-archive"
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

// versionRecord is an archived version: a full copy of the record as it was.
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

// amendment is one move of a record from its current version to the next.
type amendment struct {
	records, versions *mongo.Collection
	// filter selects the record; the version condition is added to it.
	filter  bson.D
	archive versionRecord
	current any
	next    any
	version int
}

// amend archives the current version, then moves the record to the next version if
// and only if it is still at the version read. The order makes every interruption
// safe: an archived copy of a version that is still current is simply the current
// version again, and the record never reaches a version whose predecessor is not
// archived. Archiving is idempotent, so concurrent and repeated attempts agree.
func (s *Store) amend(ctx context.Context, a amendment) error {
	if err := s.step(StepBeforeArchive); err != nil {
		return err
	}
	if _, err := a.versions.InsertOne(ctx, a.archive); err != nil && !mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("archive version %d: %w", a.version, storeError(err))
	}
	if err := s.step(StepBeforeCommit); err != nil {
		return err
	}
	update, err := changeSet(a.current, a.next)
	if err != nil {
		return err
	}
	filter := append(bson.D{}, a.filter...)
	filter = append(filter, versionCondition(a.version))
	res, err := a.records.UpdateOne(ctx, filter, update)
	if err != nil {
		return fmt.Errorf("commit version %d: %w", a.version+1, storeError(err))
	}
	if res.MatchedCount == 0 {
		return models.ErrPreconditionFailed
	}
	return s.step(StepAfterCommit)
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

// changeSet returns the update that turns the stored form of current into that of
// next: $set for every field of next, $unset for the fields next no longer has.
func changeSet(current, next any) (bson.D, error) {
	cur, err := toDoc(current)
	if err != nil {
		return nil, err
	}
	nxt, err := toDoc(next)
	if err != nil {
		return nil, err
	}
	set := bson.D{}
	keep := map[string]bool{}
	for _, e := range nxt {
		keep[e.Key] = true
		if e.Key != "_id" {
			set = append(set, e)
		}
	}
	unset := bson.D{}
	for _, e := range cur {
		if !keep[e.Key] && e.Key != "_id" {
			unset = append(unset, bson.E{Key: e.Key, Value: ""})
		}
	}
	update := bson.D{{Key: "$set", Value: set}}
	if len(unset) > 0 {
		update = append(update, bson.E{Key: "$unset", Value: unset})
	}
	return update, nil
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
// keeping current as an earlier version. It returns models.ErrPreconditionFailed when
// the interaction is no longer at current.Version, and the store's error otherwise.
func (s *Store) AmendInteraction(ctx context.Context, current, next models.Interaction) error {
	return s.amend(ctx, amendment{
		records:  s.interactions,
		versions: s.interactionVersions,
		filter:   bson.D{{Key: "_id", Value: current.ID}},
		archive: versionRecord{InsuranceNo: current.InsuranceNo, InteractionID: current.ID,
			Version: current.Version, ArchivedAt: next.UpdatedAt, Document: current},
		current: current,
		next:    next,
		version: current.Version,
	})
}

// AmendPatient moves a patient from current to next (current.Version+1), keeping
// current as an earlier version. It returns models.ErrPreconditionFailed when the
// patient is no longer at current.Version, and the store's error otherwise.
func (s *Store) AmendPatient(ctx context.Context, current, next models.Patient) error {
	return s.amend(ctx, amendment{
		records:  s.patients,
		versions: s.patientVersions,
		filter:   bson.D{{Key: "insurance_no", Value: current.InsuranceNo}},
		archive: versionRecord{InsuranceNo: current.InsuranceNo, Version: current.Version,
			ArchivedAt: next.UpdatedAt, Document: current},
		current: current,
		next:    next,
		version: current.Version,
	})
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
