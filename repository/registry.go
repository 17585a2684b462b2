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

// InteractionIDsCollection maps the id of every interaction to its patient's
// insurance number, on MongoDB: {_id: <interaction id>, insurance_no}.
//
// The interactions and their versions are placed by insurance number (the shard key
// of a sharded cluster, see "Scaling out" in docs/guides/operations.md), but the routes of one
// interaction name it by its id alone. The registry, sharded on its _id, turns such
// an id into the insurance number with one targeted lookup, so that every later
// command names the shard key; and its unique _id keeps interaction ids unique
// across shards, which the interactions' own _id index does only within each shard.
//
// An entry is written before its interaction. One whose interaction insert never
// happened (an interrupted create) is treated as absent: lookups of the id find no
// interaction, a retry of the same create takes it up, and only a create of the same
// id for another patient is refused as a conflict.
//
// The embedded store needs none of this (one node, where a lookup by _id alone is
// its fast path): a DB made WithLoneIDFilters neither writes nor reads the registry.
const InteractionIDsCollection = "interaction_ids"

// interactionID is an entry of the registry.
type interactionID struct {
	ID          string `bson:"_id"`
	InsuranceNo string `bson:"insurance_no"`
}

// registers reports whether the DB keeps the registry of interaction ids.
func (s *DB) registers() bool { return !s.loneID }

// scoped returns filter with insuranceNo's equality in front on MongoDB, where it is
// the shard key of the patient-scoped collections and the prefix of their indexes;
// on the embedded store it returns filter alone, which stays a filter of _id alone
// when filter is one.
func (s *DB) scoped(insuranceNo string, filter bson.D) bson.D {
	if s.loneID {
		return filter
	}
	return append(bson.D{{Key: models.FieldInsuranceNo, Value: insuranceNo}}, filter...)
}

// claimInteractionID records that the interaction id is patient insuranceNo's. An
// entry for the same patient, a retry's, is taken as it is. It returns
// models.ErrConflict when the id is another patient's, and the store's errors.
func (s *DB) claimInteractionID(ctx context.Context, id, insuranceNo string) error {
	_, err := s.interactionIDs.InsertOne(ctx, interactionID{ID: id, InsuranceNo: insuranceNo})
	if err == nil {
		return nil
	}
	if !mongo.IsDuplicateKeyError(err) {
		return fmt.Errorf("register interaction id: %w", storeError(err))
	}
	owner, err := s.interactionOwner(ctx, id)
	if err != nil {
		return err
	}
	if owner != insuranceNo {
		return fmt.Errorf("interaction id of another patient: %w", models.ErrConflict)
	}
	return nil
}

// interactionOwner returns the insurance number the registry holds for the
// interaction id. It returns models.ErrNotFound when it holds none, and the store's
// errors.
func (s *DB) interactionOwner(ctx context.Context, id string) (string, error) {
	var entry interactionID
	if err := s.interactionIDs.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&entry); err != nil {
		return "", fmt.Errorf("find interaction id: %w", storeError(err))
	}
	return entry.InsuranceNo, nil
}

// interactionFilter returns the filter of the interaction id: on MongoDB with its
// patient's insurance number from the registry, on the embedded store _id alone. It
// returns models.ErrNotFound when the registry holds no such id.
func (s *DB) interactionFilter(ctx context.Context, id string) (bson.D, error) {
	filter := bson.D{{Key: "_id", Value: id}}
	if !s.registers() {
		return filter, nil
	}
	owner, err := s.interactionOwner(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.scoped(owner, filter), nil
}

// registerInteractions claims the ids of interactions for their patients in one
// unordered batch, and returns the positions of those it may store, in order: the
// ones whose id is theirs, newly or already (a retry). The positions of those whose
// id is another patient's are in taken. It returns the store's errors.
func (s *DB) registerInteractions(ctx context.Context, interactions []models.Interaction) (mine, taken []int, err error) {
	if len(interactions) == 0 {
		return nil, nil, nil
	}
	docs := make([]any, len(interactions))
	for i, in := range interactions {
		docs[i] = interactionID{ID: in.ID, InsuranceNo: in.InsuranceNo}
	}
	_, err = s.interactionIDs.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	var bulk mongo.BulkWriteException
	switch {
	case err == nil:
		return upTo(len(interactions)), nil, nil
	case !errors.As(err, &bulk) || bulk.WriteConcernError != nil:
		return nil, nil, fmt.Errorf("register interaction ids: %w", storeError(err))
	}
	held := make([]string, 0, len(bulk.WriteErrors))
	for _, we := range bulk.WriteErrors {
		if !mongo.IsDuplicateKeyError(we) {
			return nil, nil, fmt.Errorf("register interaction ids: %w", storeError(err))
		}
		held = append(held, interactions[we.Index].ID)
	}
	entries, err := s.registered(ctx, held)
	if err != nil {
		return nil, nil, err
	}
	owners := make(map[string]string, len(entries))
	for _, e := range entries {
		owners[e.ID] = e.InsuranceNo
	}
	for i, in := range interactions {
		if owner, ok := owners[in.ID]; ok && owner != in.InsuranceNo {
			taken = append(taken, i)
			continue
		}
		mine = append(mine, i)
	}
	return mine, taken, nil
}

// registered returns the registry's entries of ids. It returns the store's errors.
func (s *DB) registered(ctx context.Context, ids []string) ([]interactionID, error) {
	cur, err := s.interactionIDs.Find(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
	if err != nil {
		return nil, fmt.Errorf("find interaction ids: %w", storeError(err))
	}
	var out []interactionID
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("read interaction ids: %w", storeError(err))
	}
	return out, nil
}

// migrateInteractionIDs registers every stored interaction's id, in batches; those
// registered already are left as they are, so that an interrupted run resumes. It
// returns the store's errors.
func migrateInteractionIDs(ctx context.Context, s *DB) error {
	cur, err := s.interactions.Find(ctx, bson.D{}, options.Find().
		SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: models.FieldInsuranceNo, Value: 1}}))
	if err != nil {
		return fmt.Errorf("find interactions: %w", storeError(err))
	}
	defer cur.Close(ctx)
	var batch []models.Interaction
	flush := func() error {
		_, _, err := s.registerInteractions(ctx, batch)
		batch = batch[:0]
		return err
	}
	for cur.Next(ctx) {
		var in models.Interaction
		if err := cur.Decode(&in); err != nil {
			return fmt.Errorf("decode interaction: %w", err)
		}
		batch = append(batch, in)
		if len(batch) == 1000 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("read interactions: %w", storeError(err))
	}
	return flush()
}
