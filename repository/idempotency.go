package repository

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

// IdempotencyKeysCollection holds the remembered Idempotency-Key requests.
const IdempotencyKeysCollection = "idempotency_keys"

// InsertIdempotencyRecord stores rec. It returns models.ErrConflict when a record
// with its ID exists, and the store's error otherwise.
func (s *DB) InsertIdempotencyRecord(ctx context.Context, rec models.IdempotencyRecord) error {
	if err := s.insertOne(ctx, s.idempotencyInserts, rec); err != nil {
		return fmt.Errorf("insert idempotency key: %w", storeError(err))
	}
	return nil
}

// IdempotencyRecord returns the record with the given ID, or models.ErrNotFound.
func (s *DB) IdempotencyRecord(ctx context.Context, id string) (models.IdempotencyRecord, error) {
	var rec models.IdempotencyRecord
	err := s.idempotencyKeys.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&rec)
	if err != nil {
		return models.IdempotencyRecord{}, fmt.Errorf("find idempotency key: %w", storeError(err))
	}
	return rec, nil
}

// TakeOverIdempotencyRecord gives the pending record id, held with token, to a new
// holder with newToken and a lease until leaseUntil. It reports false when the
// record is no longer pending with token, and returns the store's error.
func (s *DB) TakeOverIdempotencyRecord(ctx context.Context, id, token, newToken string, leaseUntil time.Time) (bool, error) {
	taken, err := s.updateIf(ctx, s.idempotencyKeys, id, heldBy(token),
		bson.D{{Key: "$set", Value: bson.D{{Key: "token", Value: newToken}, {Key: "lease_until", Value: leaseUntil}}}})
	if err != nil {
		return false, fmt.Errorf("take over idempotency key: %w", err)
	}
	return taken, nil
}

// heldBy is the condition of a pending record held with token.
func heldBy(token string) bson.D {
	return bson.D{{Key: "token", Value: token}, {Key: "state", Value: models.IdempotencyPending}}
}

// CompleteIdempotencyRecord stores the answer to the request holding record id with
// token. It returns models.ErrNotFound when that request no longer holds it.
func (s *DB) CompleteIdempotencyRecord(ctx context.Context, id, token string, answer models.IdempotentAnswer) error {
	completed, err := s.updateIf(ctx, s.idempotencyKeys, id, bson.D{{Key: "token", Value: token}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "state", Value: models.IdempotencyDone},
			{Key: "status", Value: answer.Status},
			{Key: "headers", Value: answer.Headers},
			{Key: "body", Value: answer.Body},
			{Key: "insurance_no", Value: answer.InsuranceNo},
			{Key: "interaction_id", Value: answer.InteractionID},
		}}})
	if err != nil {
		return fmt.Errorf("complete idempotency key: %w", err)
	}
	if !completed {
		return models.ErrNotFound
	}
	return nil
}

// ReleaseIdempotencyRecord forgets the pending record id held with token, so that a
// retry runs the request anew. It returns the store's error.
func (s *DB) ReleaseIdempotencyRecord(ctx context.Context, id, token string) error {
	if _, err := s.deleteIf(ctx, s.idempotencyKeys, id, heldBy(token)); err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}

// PurgeIdempotencyKeys deletes the records created before cutoff and returns how many
// it deleted. It returns the store's error.
func (s *DB) PurgeIdempotencyKeys(ctx context.Context, cutoff time.Time) (int64, error) {
	leave, err := s.scans.Enter(ctx)
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", err)
	}
	defer leave()
	res, err := s.idempotencyKeys.DeleteMany(ctx, bson.D{{Key: "created_at", Value: bson.D{{Key: "$lt", Value: cutoff}}}})
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", storeError(err))
	}
	return res.DeletedCount, nil
}
