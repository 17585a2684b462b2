package repository_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

// TestConditionalWritesInBothModes runs the conditional writes as on MongoDB (one
// filtered command) and as on the embedded store (a lookup by _id, then a write by
// _id): each writes when its condition holds and only then.
func TestConditionalWritesInBothModes(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts []repository.Option
	}{{"filtered", nil}, {"by _id alone", []repository.Option{repository.WithLoneIDFilters()}}} {
		t.Run(mode.name, func(t *testing.T) {
			ctx := context.Background()
			repo := repository.New(testStore.Database(t), mode.opts...)
			if err := repo.Prepare(ctx); err != nil {
				t.Fatal(err)
			}
			at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

			// A record never goes back a version.
			versions := repo.PatientVersions()
			p := models.Patient{InsuranceNo: "A11", Version: 1, CreatedAt: at, UpdatedAt: at}
			if err := repo.CreatePatient(ctx, p); err != nil {
				t.Fatal(err)
			}
			for _, v := range []int{3, 2} {
				next := p
				next.Version, next.FName = v, "v"+string(rune('0'+v))
				if err := versions.Commit(ctx, next); err != nil {
					t.Fatal(err)
				}
			}
			if got, err := repo.Patient(ctx, "A11"); err != nil || got.Version != 3 {
				t.Errorf("after commits of 3, then 2: version %d, %v; want 3", got.Version, err)
			}

			// Only the holder of an idempotency record takes it over, completes or
			// releases it.
			rec := models.IdempotencyRecord{ID: "k", Token: "t1", State: models.IdempotencyPending, CreatedAt: at, LeaseUntil: at}
			if err := repo.InsertIdempotencyRecord(ctx, rec); err != nil {
				t.Fatal(err)
			}
			if ok, err := repo.TakeOverIdempotencyRecord(ctx, "k", "other", "t2", at); err != nil || ok {
				t.Errorf("a take-over with the wrong token: %v, %v", ok, err)
			}
			if ok, err := repo.TakeOverIdempotencyRecord(ctx, "k", "t1", "t2", at); err != nil || !ok {
				t.Errorf("a take-over with the token: %v, %v", ok, err)
			}
			if err := repo.CompleteIdempotencyRecord(ctx, models.IdempotencyRecord{ID: "k", Token: "t1"}, models.IdempotentAnswer{Status: 201}); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("completing with the old token: %v", err)
			}
			if err := repo.ReleaseIdempotencyRecord(ctx, "k", "t1"); err != nil {
				t.Fatal(err)
			}
			if got, err := repo.IdempotencyRecord(ctx, "k"); err != nil || got.Token != "t2" {
				t.Errorf("after a release with the old token: %+v, %v; want it held with t2", got, err)
			}
			if err := repo.CompleteIdempotencyRecord(ctx, models.IdempotencyRecord{ID: "k", Token: "t2"}, models.IdempotentAnswer{Status: 201}); err != nil {
				t.Fatal(err)
			}
			if err := repo.ReleaseIdempotencyRecord(ctx, "k", "t2"); err != nil {
				t.Fatal(err)
			}
			if got, err := repo.IdempotencyRecord(ctx, "k"); err != nil || got.State != models.IdempotencyDone || got.Status != 201 {
				t.Errorf("a completed record after a release: %+v, %v; want it kept", got, err)
			}

			// A chain's head never goes back.
			head := models.AuditChainHead{Chain: "c", LastSeq: 5, StartedAt: at}
			if err := repo.StartAuditChain(ctx, head); err != nil {
				t.Fatal(err)
			}
			head.LastSeq = 4
			if err := repo.UpdateAuditChainHead(ctx, head); err != nil {
				t.Fatal(err)
			}
			heads, err := repo.AuditChainHeads(ctx)
			if err != nil || len(heads) != 1 || heads[0].LastSeq != 5 {
				t.Errorf("heads after moving back = %+v, %v; want 5 kept", heads, err)
			}
		})
	}
}
