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

// IdempotencyAnswersCollection holds, on a DB that groups its inserts (see
// WithOneWriter), the answers of the requests of IdempotencyKeysCollection: each
// under the _id of its request's record and the token of the request that answered
// it (see answerID). There, an answer inserted with those of concurrent requests
// costs no commit of its own, where setting it in the record would; on MongoDB the
// answer is set in the record, in one atomic update.
const IdempotencyAnswersCollection = "idempotency_answers"

// idempotencyAnswer is the answer of a keyed request, kept apart from its record.
type idempotencyAnswer struct {
	// ID is answerID of the record and the token of the request that answered.
	ID                      string `bson:"_id"`
	models.IdempotentAnswer `bson:",inline"`
	// CreatedAt is the record's, so that both are purged together.
	CreatedAt time.Time `bson:"created_at"`
}

// answerID is the _id of the answer that the request holding the record id with
// token stored: a request that took the record over answers under its own token, so
// that the answer of one whose lease ended is never taken for its.
func answerID(id, token string) string { return token + " " + id }

// InsertIdempotencyRecord stores rec. It returns models.ErrConflict when a record
// with its ID exists, and the store's error otherwise.
func (s *DB) InsertIdempotencyRecord(ctx context.Context, rec models.IdempotencyRecord) error {
	if err := s.insertOne(ctx, s.idempotencyInserts, rec); err != nil {
		return fmt.Errorf("insert idempotency key: %w", storeError(err))
	}
	return nil
}

// IdempotencyRecord returns the record with the given ID, done with its answer
// once its holder has stored one, or models.ErrNotFound.
func (s *DB) IdempotencyRecord(ctx context.Context, id string) (models.IdempotencyRecord, error) {
	var rec models.IdempotencyRecord
	err := s.idempotencyKeys.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&rec)
	if err != nil {
		return models.IdempotencyRecord{}, fmt.Errorf("find idempotency key: %w", storeError(err))
	}
	if rec.State != models.IdempotencyPending || !s.oneWriter {
		return rec, nil
	}
	var answer idempotencyAnswer
	err = s.idempotencyAnswers.FindOne(ctx, bson.D{{Key: "_id", Value: answerID(id, rec.Token)}}).Decode(&answer)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return rec, nil
	case err != nil:
		return models.IdempotencyRecord{}, fmt.Errorf("find idempotent answer: %w", storeError(err))
	}
	rec.State, rec.IdempotentAnswer = models.IdempotencyDone, answer.IdempotentAnswer
	return rec, nil
}

// TakeOverIdempotencyRecord gives the pending record id, held with token, to a new
// holder with newToken and a lease until leaseUntil. It reports false when the
// record is no longer pending with token, and returns the store's error.
func (s *DB) TakeOverIdempotencyRecord(ctx context.Context, id, token, newToken string, leaseUntil time.Time) (bool, error) {
	if done, err := s.answered(ctx, id, token); err != nil || done {
		return false, err
	}
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

// CompleteIdempotencyRecord stores the answer to the request holding the record
// held with its token: in the record, when the request still holds it, or, on a DB
// that groups its inserts, beside it, under that token (see
// IdempotencyAnswersCollection). It returns models.ErrNotFound when it stores the
// answer in the record and the request no longer holds it; beside the record, the
// answer of a request that no longer holds it is read by no one (the record reads
// with the answer of its holder's token), and purged with the rest.
func (s *DB) CompleteIdempotencyRecord(ctx context.Context, held models.IdempotencyRecord, answer models.IdempotentAnswer) error {
	if s.oneWriter {
		err := s.insertOne(ctx, s.answerInserts, idempotencyAnswer{ID: answerID(held.ID, held.Token), IdempotentAnswer: answer, CreatedAt: held.CreatedAt})
		if err != nil {
			return fmt.Errorf("complete idempotency key: %w", storeError(err))
		}
		return nil
	}
	completed, err := s.updateIf(ctx, s.idempotencyKeys, held.ID, bson.D{{Key: "token", Value: held.Token}},
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

// answered reports whether the request holding the record id with token has
// stored its answer beside it (see CompleteIdempotencyRecord): a record so answered
// is no longer pending, though it says so. It returns the store's errors.
func (s *DB) answered(ctx context.Context, id, token string) (bool, error) {
	if !s.oneWriter {
		return false, nil
	}
	err := s.idempotencyAnswers.FindOne(ctx, bson.D{{Key: "_id", Value: answerID(id, token)}}).Err()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("find idempotent answer: %w", storeError(err))
	}
	return true, nil
}

// ReleaseIdempotencyRecord forgets the pending record id held with token, so that a
// retry runs the request anew. It returns the store's error.
func (s *DB) ReleaseIdempotencyRecord(ctx context.Context, id, token string) error {
	if done, err := s.answered(ctx, id, token); err != nil || done {
		return err
	}
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
	expired := bson.D{{Key: "created_at", Value: bson.D{{Key: "$lt", Value: cutoff}}}}
	res, err := s.idempotencyKeys.DeleteMany(ctx, expired)
	if err != nil {
		return 0, fmt.Errorf("purge idempotency keys: %w", storeError(err))
	}
	if s.oneWriter {
		if _, err := s.idempotencyAnswers.DeleteMany(ctx, expired); err != nil {
			return res.DeletedCount, fmt.Errorf("purge idempotent answers: %w", storeError(err))
		}
	}
	return res.DeletedCount, nil
}
