package repository

import (
	"context"
	"errors"
	"fmt"

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

// Versions stores the records of one kind and the archive of their versions: the
// primitives of the version protocol of package records. Its reads note no audit
// subject: they follow a read of the record, which does.
//
// On MongoDB every command it sends names the record's insurance number, the shard
// key of the archives and of the interactions (a patient's _id is the insurance
// number already).
type Versions[T models.Record] struct {
	db               *DB
	records, archive *mongo.Collection
	// byPatient tells whether records are placed by insurance number besides their
	// _id, as interactions are.
	byPatient bool
}

// InteractionVersions returns the interactions and their archived versions.
func (s *DB) InteractionVersions() *Versions[models.Interaction] {
	return &Versions[models.Interaction]{db: s, records: s.interactions, archive: s.interactionVersions, byPatient: true}
}

// PatientVersions returns the patients and their archived versions.
func (s *DB) PatientVersions() *Versions[models.Patient] {
	return &Versions[models.Patient]{db: s, records: s.patients, archive: s.patientVersions}
}

// archiveKey selects the archived versions of the record key. The filter starts with
// insurance_no, the prefix of the archive's index.
func archiveKey(key models.RecordKey) bson.D {
	filter := bson.D{{Key: models.FieldInsuranceNo, Value: key.InsuranceNo}}
	if key.InteractionID != "" {
		filter = append(filter, bson.E{Key: "interaction_id", Value: key.InteractionID})
	}
	return filter
}

// versionFilter selects version n of the record key in the archive.
func (s *Versions[T]) versionFilter(key models.RecordKey, n int) bson.D {
	return s.db.scoped(key.InsuranceNo, bson.D{{Key: "_id", Value: models.VersionID(key, n)}})
}

// recordID is the _id of the record key: an interaction's id, a patient's insurance
// number.
func recordID(key models.RecordKey) string {
	if key.InteractionID != "" {
		return key.InteractionID
	}
	return key.InsuranceNo
}

// Archive stores v. It returns models.ErrConflict when the archive holds version
// v.Version of that record already, and the store's error otherwise.
func (s *Versions[T]) Archive(ctx context.Context, v models.Version[T]) error {
	err := s.db.write(ctx, func() error {
		_, err := s.archive.InsertOne(ctx, v)
		return err
	})
	if err != nil {
		return fmt.Errorf("archive version %d: %w", v.Version, storeError(err))
	}
	return nil
}

// Archived returns version n of the record key from the archive, or
// models.ErrNotFound. It finds it by its id, with the insurance number on MongoDB
// (see DB.scoped), by the side index when the DB has one.
func (s *Versions[T]) Archived(ctx context.Context, key models.RecordKey, n int) (models.Version[T], error) {
	v, err := decodeByID[models.Version[T]](ctx, s.db, s.archive, models.VersionID(key, n), s.versionFilter(key, n))
	if err != nil {
		return models.Version[T]{}, fmt.Errorf("find version %d: %w", n, err)
	}
	return v, nil
}

// Following returns, for each of current, the version after it in the archive
// (version n+1 of a record at version n), or the zero Version when the archive has
// none: by the side index, when the DB has one, with one read; otherwise each by
// Archived. It returns the store's errors.
func (s *Versions[T]) Following(ctx context.Context, current []T) ([]models.Version[T], error) {
	out := make([]models.Version[T], len(current))
	if s.db.side == nil {
		for i, c := range current {
			v, err := s.Archived(ctx, c.Key(), c.VersionNumber()+1)
			if errors.Is(err, models.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	ids := make([]string, len(current))
	at := make(map[string]int, len(current))
	for i, c := range current {
		ids[i] = models.VersionID(c.Key(), c.VersionNumber()+1)
		at[ids[i]] = i
	}
	var decodeErr error
	err := s.db.side.Documents(ctx, s.archive.Name(), ids, func(raw bson.Raw) bool {
		var v models.Version[T]
		if decodeErr = bson.Unmarshal(raw, &v); decodeErr != nil {
			return false
		}
		if i, ok := at[v.ID]; ok {
			out[i] = v
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("find versions: %w", storeError(err))
	}
	if decodeErr != nil {
		return nil, fmt.Errorf("find versions: decode: %w", decodeErr)
	}
	return out, nil
}

// Earlier returns up to limit archived versions of the record key below version
// before, newest first, fewer when they would pass maxBytes as stored (but at least
// one); more reports whether earlier ones remain.
func (s *Versions[T]) Earlier(ctx context.Context, key models.RecordKey, before, limit, maxBytes int) (versions []T, more bool, err error) {
	leave, err := s.db.scans.Enter(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("find versions: %w", err)
	}
	defer leave()
	filter := append(archiveKey(key), bson.E{Key: "version", Value: bson.D{{Key: "$lt", Value: before}}})
	cur, err := s.archive.Find(ctx, filter, options.Find().
		SetSort(bson.D{{Key: "version", Value: -1}}).
		SetLimit(int64(limit)+1))
	if err != nil {
		return nil, false, fmt.Errorf("find versions: %w", storeError(err))
	}
	found, more, err := readPage[models.Version[T]](ctx, cur, limit, maxBytes)
	if err != nil {
		return nil, false, fmt.Errorf("read versions: %w", err)
	}
	out := make([]T, len(found))
	for i, v := range found {
		out[i] = v.Document
	}
	return out, more, nil
}

// Commit replaces the record next.Key() with next unless it is at next's version or
// later already; a record stored before versions existed counts as version 1. It
// uses replaceOne, not $set: the embedded store's $set refuses field names such as
// "1" that inserts accept. On the embedded store the condition is checked before the
// write, not with it, so a stalled write may still land over a later version: the
// protocol of package records repairs that. It returns the store's error.
func (s *Versions[T]) Commit(ctx context.Context, next T) error {
	below := bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: "version", Value: bson.D{{Key: "$lt", Value: next.VersionNumber()}}}},
		bson.D{{Key: "version", Value: bson.D{{Key: "$exists", Value: false}}}},
	}}}
	if s.byPatient {
		below = s.db.scoped(next.Key().InsuranceNo, below)
	}
	defer s.db.announce(ctx)
	if _, err := s.db.replaceIf(ctx, s.records, recordID(next.Key()), below, next); err != nil {
		return fmt.Errorf("commit version %d: %w", next.VersionNumber(), err)
	}
	return nil
}

// MarkCommitted records in the archive that the record key has moved to version n.
// It returns the store's error.
func (s *Versions[T]) MarkCommitted(ctx context.Context, key models.RecordKey, n int) error {
	err := s.db.write(ctx, func() error {
		_, err := s.archive.UpdateOne(ctx, s.versionFilter(key, n),
			bson.D{{Key: "$set", Value: bson.D{{Key: "committed", Value: true}}}})
		return err
	})
	if err != nil {
		return fmt.Errorf("mark version %d committed: %w", n, storeError(err))
	}
	return nil
}
