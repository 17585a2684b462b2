package repository

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/clinic/interactions/models"
)

// PatientsByInsuranceNo returns the stored patients whose insurance numbers are among
// nos, in no particular order; numbers no patient has are left out. It is one query,
// so callers looking up many patients should pass them in batches (a thousand or so)
// rather than call Patient for each. It returns the store's error, mapped to the
// errors of models.
func (s *DB) PatientsByInsuranceNo(ctx context.Context, nos []string) ([]models.Patient, error) {
	if len(nos) == 0 {
		return nil, nil
	}
	return findWhere[models.Patient](ctx, s, s.patients, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: nos}}}})
}

// InteractionsByID returns the stored interactions whose ids are among ids, in no
// particular order; ids no interaction has are left out. It is one query, so callers
// looking up many interactions should pass them in batches (a thousand or so) rather
// than call Interaction for each. It returns the store's error, mapped to the errors
// of models. On MongoDB it finds their insurance numbers in the registry of
// interaction ids first, so that the query names the shard key.
func (s *DB) InteractionsByID(ctx context.Context, ids []string) ([]models.Interaction, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if s.registers() {
		return s.interactionsByID(ctx, ids)
	}
	return findWhere[models.Interaction](ctx, s, s.interactions, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
}

// findWhere returns the documents of coll that filter selects.
func findWhere[T any](ctx context.Context, s *DB, coll *mongo.Collection, filter bson.D) ([]T, error) {
	leave, err := s.scans.Enter(ctx)
	if err != nil {
		return nil, fmt.Errorf("find in %s: %w", coll.Name(), err)
	}
	defer leave()
	cur, err := coll.Find(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("find in %s: %w", coll.Name(), storeError(err))
	}
	var out []T
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("read %s: %w", coll.Name(), storeError(err))
	}
	return out, nil
}
