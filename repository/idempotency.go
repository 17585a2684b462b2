package repository

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/clinic/interactions/models"
)

// IdempotencyKeysCollection holds the remembered Idempotency-Key requests.
const IdempotencyKeysCollection = "idempotency_keys"

// ClaimIdempotencyKey records rec as pending unless a record with its ID exists. It
// returns the record now in force and whether the caller holds it: true for a new
// record, and for a pending one whose lease ended before now (taken over, keeping its
// ReservedID). It returns the store's error otherwise.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, rec models.IdempotencyRecord, now time.Time) (models.IdempotencyRecord, bool, error) {
	for {
		_, err := s.idempotencyKeys.InsertOne(ctx, rec)
		if err == nil {
			return rec, true, nil
		}
		if !mongo.IsDuplicateKeyError(err) {
			return models.IdempotencyRecord{}, false, fmt.Errorf("claim idempotency key: %w", storeError(err))
		}
		existing, err := s.IdempotencyRecord(ctx, rec.ID)
		if errors.Is(err, models.ErrNotFound) { // released after a failure: claim it anew
			continue
		}
		if err != nil {
			return models.IdempotencyRecord{}, false, err
		}
		if existing.State != models.IdempotencyPending || existing.LeaseUntil.After(now) || existing.RequestHash != rec.RequestHash {
			return existing, false, nil
		}
		res, err := s.idempotencyKeys.UpdateOne(ctx,
			bson.D{{Key: "_id", Value: rec.ID}, {Key: "token", Value: existing.Token}, {Key: "state", Value: models.IdempotencyPending}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "token", Value: rec.Token}, {Key: "lease_until", Value: rec.LeaseUntil}}}})
		if err != nil {
			return models.IdempotencyRecord{}, false, fmt.Errorf("take over idempotency key: %w", storeError(err))
		}
		if res.MatchedCount == 0 { // another retry took it, or it was released: look again
			continue
		}
		existing.Token, existing.LeaseUntil = rec.Token, rec.LeaseUntil
		return existing, true, nil
	}
}

// IdempotencyRecord returns the record with the given ID, or models.ErrNotFound.
func (s *Store) IdempotencyRecord(ctx context.Context, id string) (models.IdempotencyRecord, error) {
	var rec models.IdempotencyRecord
	err := s.idempotencyKeys.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&rec)
	if err != nil {
		return models.IdempotencyRecord{}, fmt.Errorf("find idempotency key: %w", storeError(err))
	}
	return rec, nil
}

// CompleteIdempotencyKey stores the answer to the request holding record id with
// token. It returns models.ErrNotFound when that request no longer holds it.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, id, token string, status int, headers map[string]string, body string) error {
	res, err := s.idempotencyKeys.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: id}, {Key: "token", Value: token}},
		bson.D{{Key: "$set", Value: bson.D{
			{Key: "state", Value: models.IdempotencyDone},
			{Key: "status", Value: status},
			{Key: "headers", Value: headers},
			{Key: "body", Value: body},
		}}})
	if err != nil {
		return fmt.Errorf("complete idempotency key: %w", storeError(err))
	}
	if res.MatchedCount == 0 {
		return models.ErrNotFound
	}
	return nil
}

// ReleaseIdempotencyKey forgets the pending record id held with token, so that a
// retry runs the request anew. It returns the store's error.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, id, token string) error {
	_, err := s.idempotencyKeys.DeleteOne(ctx, bson.D{
		{Key: "_id", Value: id}, {Key: "token", Value: token}, {Key: "state", Value: models.IdempotencyPending},
	})
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("release idempotency key: %w", storeError(err))
	}
	return nil
}

// PurgeIdempotencyKeys deletes the records created before cutoff and returns how many
// it deleted. It returns the store's error.
func (s *Store) PurgeIdempotencyKeys(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.idempotencyKeys.DeleteMany(ctx, bson.D{{Key: "created_at", Value: bson.D{{Key: "$lt", Value: cutoff}}}})
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", storeError(err))
	}
	return res.DeletedCount, nil
}
