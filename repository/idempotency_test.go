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
// store). Either way the record reads back done with its answer; only the request
// holding it answers; a request that took it over answers in its stead; an
// answered record is not taken over; and the purge removes records and answers.
func TestIdempotentAnswers(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []repository.Option
	}{
		{"in the record", nil},
		{"beside the record", []repository.Option{repository.WithLoneIDFilters(), repository.WithGroupInserts()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := testStore.Database(t)
			repo := repository.New(db, tc.opts...)
			if err := repo.Prepare(ctx); err != nil {
				t.Fatal(err)
			}
			at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
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
			if err := repo.CompleteIdempotencyRecord(ctx, "k1", "other", answer("no")); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("an answer from a request that does not hold k1: %v", err)
			}
			if err := repo.CompleteIdempotencyRecord(ctx, "k1", "a", answer("first")); err != nil {
				t.Fatal(err)
			}
			if rec := read("k1"); rec.State != models.IdempotencyDone || rec.Body != "first" || rec.Headers["Location"] != "/x" ||
				rec.InsuranceNo != "A11" || rec.Token != "a" || rec.ReservedID != "r-k1" {
				t.Errorf("after its answer: %+v", rec)
			}
			if took, err := repo.TakeOverIdempotencyRecord(ctx, "k1", "a", "c", at.Add(time.Hour)); err != nil || took {
				t.Errorf("an answered record taken over: %v, %v", took, err)
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
			if err := repo.CompleteIdempotencyRecord(ctx, "k2", "dead", answer("late")); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("the answer of the request taken over: %v", err)
			}
			if err := repo.CompleteIdempotencyRecord(ctx, "k2", "live", answer("retry")); err != nil {
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
