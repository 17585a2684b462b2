package repository

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clinic/interactions/models"
)

// index is one of the indexes of the service's collections.
type index struct {
	coll *mongo.Collection
	name string
	keys bson.D
	// unique marks an index that enforces uniqueness; the others serve queries.
	unique bool
}

// indexes returns the indexes of the service's collections beyond _id's.
func (s *DB) indexes() []index {
	return []index{
		{coll: s.interactions, name: "insurance_no_label_date",
			keys: bson.D{{Key: models.FieldInsuranceNo, Value: 1}, {Key: models.FieldLabel, Value: 1}, {Key: models.FieldInteractionDate, Value: -1}}},
		{coll: s.interactions, name: "insurance_no_date_id",
			keys: bson.D{{Key: models.FieldInsuranceNo, Value: 1}, {Key: models.FieldInteractionDate, Value: -1}, {Key: "_id", Value: -1}}},
		// Visits across patients, newest first; by ailment; by the words of their text.
		{coll: s.interactions, name: "interaction_date_id",
			keys: bson.D{{Key: models.FieldInteractionDate, Value: -1}, {Key: "_id", Value: -1}}},
		{coll: s.interactions, name: "ailment_key_date_id",
			keys: bson.D{{Key: models.FieldAilmentKey, Value: 1}, {Key: models.FieldInteractionDate, Value: -1}, {Key: "_id", Value: -1}}},
		{coll: s.interactions, name: "search_tokens", keys: bson.D{{Key: models.FieldSearchTokens, Value: 1}}},
		// The patient directory: by name, and by the start of a search key.
		{coll: s.patients, name: "sort_key_id", keys: bson.D{{Key: models.FieldSortKey, Value: 1}, {Key: "_id", Value: 1}}},
		{coll: s.patients, name: "search_keys", keys: bson.D{{Key: models.FieldSearchKeys, Value: 1}}},
		// An archived version's _id names its record and version (models.VersionID),
		// which makes it unique; these serve the listing of a record's versions.
		{coll: s.interactionVersions, name: "insurance_no_interaction_version",
			keys: bson.D{{Key: models.FieldInsuranceNo, Value: 1}, {Key: "interaction_id", Value: 1}, {Key: "version", Value: -1}}},
		{coll: s.patientVersions, name: "insurance_no_version",
			keys: bson.D{{Key: models.FieldInsuranceNo, Value: 1}, {Key: "version", Value: -1}}},
		{coll: s.idempotencyKeys, name: "created_at", keys: bson.D{{Key: "created_at", Value: 1}}},
		{coll: s.apiKeys, name: "name_unique", keys: bson.D{{Key: "name", Value: 1}}, unique: true},
		{coll: s.auditEvents, name: "chain_seq_unique", keys: bson.D{{Key: "chain", Value: 1}, {Key: "seq", Value: 1}}, unique: true},
		{coll: s.auditEvents, name: "time_id", keys: bson.D{{Key: models.FieldTime, Value: -1}, {Key: "_id", Value: -1}}},
		// A patient's audit events as their subject, newest first.
		{coll: s.auditEvents, name: "subject_time_id",
			keys: bson.D{{Key: models.FieldInsuranceNo, Value: 1}, {Key: models.FieldTime, Value: -1}, {Key: "_id", Value: -1}}},
		// The audit events that disclosed a patient other than their subject, newest
		// first, by the index of them.
		{coll: s.auditDisclosures, name: "insurance_no_time_id",
			keys: bson.D{{Key: models.FieldInsuranceNo, Value: 1}, {Key: models.FieldTime, Value: -1}, {Key: "_id", Value: -1}}},
	}
}

// queryIndexes reports whether the DB's store reads by the indexes of its queries.
// A store that finds a document fast only by a filter of _id alone (see
// WithLoneIDFilters) does not: the embedded store evaluates every other filter over
// the whole collection, whatever its indexes, which its side index serves instead,
// so that an index there costs every write and serves no read.
func (s *DB) queryIndexes() bool { return !s.loneID }

// EnsureIndexes creates the collections and their indexes: on MongoDB all of them,
// on a store that uses no index for its queries (see queryIndexes) only those that
// enforce uniqueness. It is safe to call on every start-up. It returns the store's
// error when an index cannot be created.
func (s *DB) EnsureIndexes(ctx context.Context) error {
	// Every collection exists from the start, those without indexes of their own
	// too, so that the store's files hold them all (see sideindex.Files.CreateIndexes).
	colls := []*mongo.Collection{s.patients, s.interactions, s.patientVersions, s.interactionVersions, s.idempotencyKeys,
		s.auditChains, s.auditCheckpoints, s.auditDisclosures}
	if s.registers() {
		colls = append(colls, s.interactionIDs)
	}
	if s.oneWriter {
		colls = append(colls, s.idempotencyAnswers)
	}
	for _, coll := range colls {
		if err := s.db.CreateCollection(ctx, coll.Name()); err != nil && !namespaceExists(err) {
			return fmt.Errorf("create collection %s: %w", coll.Name(), storeError(err))
		}
	}
	// One index per command: the embedded store fails a createIndexes command that
	// repeats two or more existing indexes.
	for _, idx := range s.indexes() {
		if !idx.unique && !s.queryIndexes() {
			continue
		}
		opts := options.Index().SetName(idx.name)
		if idx.unique {
			opts.SetUnique(true)
		}
		if _, err := idx.coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: idx.keys, Options: opts}); err != nil {
			return fmt.Errorf("create index on %s: %w", idx.coll.Name(), err)
		}
	}
	return nil
}

// dropQueryIndexes drops the indexes that serve queries from a store that uses
// none (see queryIndexes), where earlier versions of the service made them.
func dropQueryIndexes(ctx context.Context, s *DB) error {
	for _, idx := range s.indexes() {
		if idx.unique {
			continue
		}
		if err := dropIndex(ctx, idx.coll, idx.name); err != nil {
			return err
		}
	}
	return nil
}
