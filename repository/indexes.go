package repository

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clinic/interactions/models"
)

// EnsureIndexes creates the collections and the indexes the queries rely on; it is
// safe to call on every start-up. It returns the store's error when an index cannot be created.
func (s *DB) EnsureIndexes(ctx context.Context) error {
	indexes := []struct {
		coll  *mongo.Collection
		model mongo.IndexModel
	}{
		{s.interactions, mongo.IndexModel{
			Keys:    bson.D{{Key: models.FieldInsuranceNo, Value: 1}, {Key: models.FieldLabel, Value: 1}, {Key: models.FieldInteractionDate, Value: -1}},
			Options: options.Index().SetName("insurance_no_label_date"),
		}},
		{s.interactions, mongo.IndexModel{
			Keys:    bson.D{{Key: models.FieldInsuranceNo, Value: 1}, {Key: models.FieldInteractionDate, Value: -1}, {Key: "_id", Value: -1}},
			Options: options.Index().SetName("insurance_no_date_id"),
		}},
		// Visits across patients, newest first; by ailment; by the words of their text.
		{s.interactions, mongo.IndexModel{
			Keys:    bson.D{{Key: models.FieldInteractionDate, Value: -1}, {Key: "_id", Value: -1}},
			Options: options.Index().SetName("interaction_date_id"),
		}},
		{s.interactions, mongo.IndexModel{
			Keys:    bson.D{{Key: models.FieldAilmentKey, Value: 1}, {Key: models.FieldInteractionDate, Value: -1}, {Key: "_id", Value: -1}},
			Options: options.Index().SetName("ailment_key_date_id"),
		}},
		{s.interactions, mongo.IndexModel{
			Keys:    bson.D{{Key: models.FieldSearchTokens, Value: 1}},
			Options: options.Index().SetName("search_tokens"),
		}},
		// The patient directory: by name, and by the start of a search key.
		{s.patients, mongo.IndexModel{
			Keys:    bson.D{{Key: models.FieldSortKey, Value: 1}, {Key: "_id", Value: 1}},
			Options: options.Index().SetName("sort_key_id"),
		}},
		{s.patients, mongo.IndexModel{
			Keys:    bson.D{{Key: models.FieldSearchKeys, Value: 1}},
			Options: options.Index().SetName("search_keys"),
		}},
		// An archived version's _id names its record and version (models.VersionID),
		// which makes it unique; these serve the listing of a record's versions.
		{s.interactionVersions, mongo.IndexModel{
			Keys:    bson.D{{Key: models.FieldInsuranceNo, Value: 1}, {Key: "interaction_id", Value: 1}, {Key: "version", Value: -1}},
			Options: options.Index().SetName("insurance_no_interaction_version"),
		}},
		{s.patientVersions, mongo.IndexModel{
			Keys:    bson.D{{Key: models.FieldInsuranceNo, Value: 1}, {Key: "version", Value: -1}},
			Options: options.Index().SetName("insurance_no_version"),
		}},
		{s.idempotencyKeys, mongo.IndexModel{
			Keys:    bson.D{{Key: "created_at", Value: 1}},
			Options: options.Index().SetName("created_at"),
		}},
		{s.apiKeys, mongo.IndexModel{
			Keys:    bson.D{{Key: "name", Value: 1}},
			Options: options.Index().SetName("name_unique").SetUnique(true),
		}},
		{s.auditEvents, mongo.IndexModel{
			Keys:    bson.D{{Key: "chain", Value: 1}, {Key: "seq", Value: 1}},
			Options: options.Index().SetName("chain_seq_unique").SetUnique(true),
		}},
		{s.auditEvents, mongo.IndexModel{
			Keys:    bson.D{{Key: models.FieldTime, Value: -1}, {Key: "_id", Value: -1}},
			Options: options.Index().SetName("time_id"),
		}},
		// A patient's audit events, newest first, by the index of them.
		{s.auditDisclosures, mongo.IndexModel{
			Keys:    bson.D{{Key: models.FieldInsuranceNo, Value: 1}, {Key: models.FieldTime, Value: -1}, {Key: "_id", Value: -1}},
			Options: options.Index().SetName("insurance_no_time_id"),
		}},
	}
	// Every collection exists from the start, those without indexes of their own
	// too, so that the store's files hold them all (see sideindex.Files.CreateIndexes).
	colls := []*mongo.Collection{s.patients, s.auditChains, s.auditCheckpoints}
	if s.registers() {
		colls = append(colls, s.interactionIDs)
	}
	for _, coll := range colls {
		if err := s.db.CreateCollection(ctx, coll.Name()); err != nil && !namespaceExists(err) {
			return fmt.Errorf("create collection %s: %w", coll.Name(), storeError(err))
		}
	}
	// One index per command: the embedded store fails a createIndexes command that
	// repeats two or more existing indexes.
	for _, idx := range indexes {
		if _, err := idx.coll.Indexes().CreateOne(ctx, idx.model); err != nil {
			return fmt.Errorf("create index on %s: %w", idx.coll.Name(), err)
		}
	}
	return nil
}
