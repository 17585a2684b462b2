package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clinic/interactions/loadtest"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

// runRaw runs a raw phase of mix: the API phase's store work, with the driver.
// Creates go to a scratch collection with the indexes of interactions, dropped at the
// end, so that the records get no document the API did not make. It records the
// phase in the audit trail, with its counts. It returns the errors of making the
// scratch collection and of the audit trail, and an error when the store does not
// hold the interactions the set-up made (it is not the server's).
func (b *bench) runRaw(ctx context.Context, phase loadtest.Phase, mix map[string]int, data benchData) (res loadtest.Result, err error) {
	interactions := b.conn.DB.Collection(repository.InteractionsCollection)
	if err := interactions.FindOne(ctx, bson.D{{Key: "_id", Value: data.interactions[0]}}).Err(); err != nil {
		return res, fmt.Errorf("the store the bench attached to (%s) does not hold the interaction the server just made: "+
			"run the bench with the server's configuration (MONGODB_URI, MONGODB_DATABASE, DATA_DIR, EMBEDDED_MONGO_ADDR): %w", b.conn.URI, err)
	}
	scratch := b.conn.DB.Collection("bench_scratch_" + b.run)
	defer func() {
		drop, cancel := context.WithTimeout(context.WithoutCancel(ctx), benchCleanupTimeout)
		defer cancel()
		if derr := scratch.Drop(drop); derr != nil {
			err = errors.Join(err, fmt.Errorf("drop the scratch collection %s: %w", scratch.Name(), derr))
		}
	}()
	if err := copyIndexes(ctx, interactions, scratch); err != nil {
		return res, err
	}
	res, err = loadtest.Run(ctx, phase, b.ops(mix, b.rawOps(interactions, scratch, data)))
	counts := map[string]int{}
	for _, o := range res.Ops {
		counts[o.Name] = o.Count()
	}
	return res, errors.Join(err, b.record(ctx, "bench.raw", "bench raw phase, creates into "+scratch.Name(), counts, err))
}

// rawOps returns the operations of the raw phase: what the API's store work is, in
// the driver's terms (see benchOps).
func (b *bench) rawOps(interactions, scratch *mongo.Collection, data benchData) map[string]func(context.Context, *rand.Rand) loadtest.Outcome {
	timed := func(ctx context.Context, op func(context.Context) error) loadtest.Outcome {
		ctx, cancel := context.WithTimeout(ctx, benchRawTimeout)
		defer cancel()
		return loadtest.Outcome{Err: op(ctx)}
	}
	history := func(ctx context.Context, r *rand.Rand, label string) loadtest.Outcome {
		// The find the API's repository sends for a page.
		q := models.HistoryQuery{InsuranceNo: data.patients[r.IntN(len(data.patients))], Limit: benchPageSize}
		if label != "" {
			q.Labels = []string{label}
		}
		filter, opts := repository.HistoryFind(q)
		return timed(ctx, func(ctx context.Context) error {
			cur, err := interactions.Find(ctx, filter, opts)
			if err != nil {
				return err
			}
			var page []bson.Raw
			return cur.All(ctx, &page)
		})
	}
	return map[string]func(context.Context, *rand.Rand) loadtest.Outcome{
		"create": func(ctx context.Context, r *rand.Rand) loadtest.Outcome {
			now := time.Now()
			in, err := models.NewInteraction(data.anyVisit(r, now), now)
			if err != nil {
				return loadtest.Outcome{Err: err}
			}
			id, err := uuid.NewV7()
			if err != nil {
				return loadtest.Outcome{Err: err}
			}
			in.ID, in.RecordedBy = id.String(), &models.Author{Key: b.keyName}
			return timed(ctx, func(ctx context.Context) error {
				_, err := scratch.InsertOne(ctx, in)
				return err
			})
		},
		"history": func(ctx context.Context, r *rand.Rand) loadtest.Outcome {
			return history(ctx, r, "")
		},
		"label": func(ctx context.Context, r *rand.Rand) loadtest.Outcome {
			return history(ctx, r, benchLabels[r.IntN(len(benchLabels))])
		},
		"get": func(ctx context.Context, r *rand.Rand) loadtest.Outcome {
			id := data.interactions[r.IntN(len(data.interactions))]
			return timed(ctx, func(ctx context.Context) error {
				_, err := interactions.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
				return err
			})
		},
	}
}

// copyIndexes gives to the indexes of from, but _id's, by name, keys and
// uniqueness. It returns the store's errors.
func copyIndexes(ctx context.Context, from, to *mongo.Collection) error {
	specs, err := from.Indexes().ListSpecifications(ctx)
	if err != nil {
		return fmt.Errorf("list the indexes of %s: %w", from.Name(), err)
	}
	for _, s := range specs {
		if s.Name == "_id_" {
			continue
		}
		opts := options.Index().SetName(s.Name)
		if s.Unique != nil && *s.Unique {
			opts.SetUnique(true)
		}
		if _, err := to.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: s.KeysDocument, Options: opts}); err != nil {
			return fmt.Errorf("index %s on %s: %w", s.Name, to.Name(), err)
		}
	}
	return nil
}
