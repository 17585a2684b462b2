package repository_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

// TestIdempotentAnswers keeps the answers of keyed requests both ways: in their
// record (MongoDB), and beside it on a DB that groups its inserts (the embedded
// store). Either way the record reads back done with its answer; only the answer of
// the request holding it counts (in the record, another's is refused; beside it,
// another's is read by no one); a request that took it over answers in its stead;
// an answered record is neither taken over nor released; and the purge removes
// records and answers.
func TestIdempotentAnswers(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []repository.Option
		// refused is the error of an answer from a request that does not hold the record.
		refused error
	}{
		{"in the record", nil, models.ErrNotFound},
		{"beside the record", []repository.Option{repository.WithLoneIDFilters(), repository.WithOneWriter()}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := testStore.Database(t)
			repo := repository.New(db, tc.opts...)
			if err := repo.Prepare(ctx); err != nil {
				t.Fatal(err)
			}
			at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			complete := func(id, token string, a models.IdempotentAnswer) error {
				return repo.CompleteIdempotencyRecord(ctx, models.IdempotencyRecord{ID: id, Token: token, CreatedAt: at}, a)
			}
			pending := func(id, token string) models.IdempotencyRecord {
				return models.IdempotencyRecord{ID: id, RequestHash: "h", Token: token, ReservedID: "r-" + id,
					State: models.IdempotencyPending, CreatedAt: at, LeaseUntil: at.Add(time.Minute)}
			}
			answer := func(body string) models.IdempotentAnswer {
				return models.IdempotentAnswer{Status: 201, Headers: map[string]string{"Location": "/x"}, Body: body, InsuranceNo: "A11"}
			}
			read := func(id string) models.IdempotencyRecord {
				t.Helper()
				rec, err := repo.IdempotencyRecord(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				return rec
			}

			if err := repo.InsertIdempotencyRecord(ctx, pending("k1", "a")); err != nil {
				t.Fatal(err)
			}
			if err := repo.InsertIdempotencyRecord(ctx, pending("k1", "b")); !errors.Is(err, models.ErrConflict) {
				t.Errorf("a second record of k1: %v, want a conflict", err)
			}
			if rec := read("k1"); rec.State != models.IdempotencyPending || rec.Status != 0 {
				t.Errorf("before its answer: %+v", rec)
			}
			if err := complete("k1", "other", answer("no")); !errors.Is(err, tc.refused) || (err == nil) != (tc.refused == nil) {
				t.Errorf("an answer from a request that does not hold k1: %v, want %v", err, tc.refused)
			}
			if rec := read("k1"); rec.State != models.IdempotencyPending || rec.Status != 0 {
				t.Errorf("after the answer of a request that does not hold it: %+v", rec)
			}
			if err := complete("k1", "a", answer("first")); err != nil {
				t.Fatal(err)
			}
			if rec := read("k1"); rec.State != models.IdempotencyDone || rec.Body != "first" || rec.Headers["Location"] != "/x" ||
				rec.InsuranceNo != "A11" || rec.Token != "a" || rec.ReservedID != "r-k1" {
				t.Errorf("after its answer: %+v", rec)
			}
			if took, err := repo.TakeOverIdempotencyRecord(ctx, "k1", "a", "c", at.Add(time.Hour)); err != nil || took {
				t.Errorf("an answered record taken over: %v, %v", took, err)
			}
			if err := repo.ReleaseIdempotencyRecord(ctx, "k1", "a"); err != nil {
				t.Fatal(err)
			}
			if rec := read("k1"); rec.Body != "first" {
				t.Errorf("the answer changed to %q", rec.Body)
			}

			// A request whose lease ended is taken over: its answer no longer counts.
			if err := repo.InsertIdempotencyRecord(ctx, pending("k2", "dead")); err != nil {
				t.Fatal(err)
			}
			if took, err := repo.TakeOverIdempotencyRecord(ctx, "k2", "dead", "live", at.Add(time.Hour)); err != nil || !took {
				t.Fatalf("take over: %v, %v", took, err)
			}
			if err := complete("k2", "dead", answer("late")); !errors.Is(err, tc.refused) || (err == nil) != (tc.refused == nil) {
				t.Errorf("the answer of the request taken over: %v, want %v", err, tc.refused)
			}
			if rec := read("k2"); rec.State != models.IdempotencyPending {
				t.Errorf("after the answer of the request taken over: %+v", rec)
			}
			if err := complete("k2", "live", answer("retry")); err != nil {
				t.Fatal(err)
			}
			if rec := read("k2"); rec.State != models.IdempotencyDone || rec.Body != "retry" || rec.Token != "live" {
				t.Errorf("after the takeover and its answer: %+v", rec)
			}

			if n, err := repo.PurgeIdempotencyKeys(ctx, at.Add(time.Second)); err != nil || n != 2 {
				t.Errorf("purged %d, %v; want 2", n, err)
			}
			for _, coll := range []string{repository.IdempotencyKeysCollection, repository.IdempotencyAnswersCollection} {
				if n, err := db.Collection(coll).CountDocuments(ctx, bson.D{}); err != nil || n != 0 {
					t.Errorf("%s holds %d after the purge, %v", coll, n, err)
				}
			}
		})
	}
}
