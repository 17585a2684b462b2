package repository

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/clinic/interactions/models"
)

// EachVisit calls fn with every interaction q selects, as stored, in no particular
// order, reading them with one query through a cursor: on the embedded store, one
// read of the collection, admitted by the scan gate, however many patients there
// are. It notes no audit subject: it reads many patients' visits. It stops at fn's
// first error and returns it, and returns the store's errors.
func (s *DB) EachVisit(ctx context.Context, q models.ScanQuery, fn func(models.Interaction) error) error {
	filter := bson.D{{Key: "status", Value: bson.D{{Key: "$ne", Value: models.StatusEnteredInError}}}}
	if span := between(q.From, q.To); len(span) > 0 {
		filter = append(filter, bson.E{Key: "interaction_date", Value: span})
	}
	if q.WithQA {
		filter = append(filter, bson.E{Key: "qa", Value: bson.D{{Key: "$exists", Value: true}}})
	}
	var anyOf bson.A
	if q.AilmentKey != "" {
		anyOf = append(anyOf, bson.D{{Key: "ailment_key", Value: q.AilmentKey}})
	}
	if len(q.Labels) > 0 {
		anyOf = append(anyOf, bson.D{{Key: "label", Value: bson.D{{Key: "$in", Value: q.Labels}}}})
	}
	if len(q.Words) > 0 {
		anyOf = append(anyOf, bson.D{{Key: "search_tokens", Value: bson.D{{Key: "$in", Value: q.Words}}}})
	}
	if len(anyOf) > 0 {
		filter = append(filter, bson.E{Key: "$or", Value: anyOf})
	}
	return each(ctx, s, s.interactions, filter, func(in models.Interaction) error {
		if !q.Matches(in) {
			return nil
		}
		return fn(in)
	})
}

// EachPatient calls fn with every patient record, in no particular order, reading
// them with one query through a cursor (see EachVisit). It stops at fn's first
// error and returns it, and returns the store's errors.
func (s *DB) EachPatient(ctx context.Context, fn func(models.Patient) error) error {
	return each(ctx, s, s.patients, bson.D{}, fn)
}

// each decodes every document of coll that filter selects and calls fn with it.
func each[T any](ctx context.Context, s *DB, coll *mongo.Collection, filter bson.D, fn func(T) error) error {
	leave, err := s.scans.Enter(ctx)
	if err != nil {
		return fmt.Errorf("read %s: %w", coll.Name(), err)
	}
	defer leave()
	cur, err := coll.Find(ctx, filter)
	if err != nil {
		return fmt.Errorf("read %s: %w", coll.Name(), storeError(err))
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var item T
		if err := cur.Decode(&item); err != nil {
			return fmt.Errorf("decode: %w", err)
		}
		if err := fn(item); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("read %s: %w", coll.Name(), storeError(err))
	}
	return nil
}
