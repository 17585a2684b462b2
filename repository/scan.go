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

// EachVisit calls fn with every interaction q selects, as stored, in no particular
// order, reading them with one query through a cursor, or by the side index when
// the DB has one (which reads the fields the analytics need straight from the
// embedded store's file, instead of the store's decoding of every document): one read
// of the collection, admitted by the scan gate, however many patients there are.
// It notes no audit subject: it reads many patients' visits. It stops at fn's
// first error and returns it, and returns the store's errors.
func (s *DB) EachVisit(ctx context.Context, q models.ScanQuery, fn func(models.Interaction) error) error {
	if s.side != nil {
		return sideScan(ctx, s, "interactions", func(ctx context.Context) error { return s.side.Visits(ctx, q, fn) })
	}
	// The query narrows what is read; the records are then judged whole, as the
	// side index judges them.
	keep := func(in models.Interaction) error {
		if !q.Matches(in) {
			return nil
		}
		if q.ProfileFields {
			in.QA, in.Symptoms, in.Remarks = nil, "", ""
		}
		return fn(in)
	}
	filter := bson.D{{Key: models.FieldStatus, Value: bson.D{{Key: "$ne", Value: models.StatusEnteredInError}}}}
	if span := between(q.From, q.To); len(span) > 0 {
		filter = append(filter, bson.E{Key: models.FieldInteractionDate, Value: span})
	}
	if q.WithQA {
		filter = append(filter, bson.E{Key: models.FieldQA, Value: bson.D{{Key: "$exists", Value: true}}})
	}
	var anyOf bson.A
	if q.AilmentKey != "" {
		anyOf = append(anyOf, bson.D{{Key: models.FieldAilmentKey, Value: q.AilmentKey}})
	}
	if len(q.Labels) > 0 {
		anyOf = append(anyOf, bson.D{{Key: models.FieldLabel, Value: bson.D{{Key: "$in", Value: q.Labels}}}})
	}
	if len(q.Words) > 0 {
		anyOf = append(anyOf, bson.D{{Key: models.FieldSearchTokens, Value: bson.D{{Key: "$in", Value: q.Words}}}})
	}
	if len(anyOf) > 0 {
		filter = append(filter, bson.E{Key: "$or", Value: anyOf})
	}
	var opts []options.Lister[options.FindOptions]
	if q.ProfileFields {
		fields := bson.D{}
		for _, f := range []string{"_id", models.FieldInsuranceNo, "ailment", models.FieldInteractionDate, "metrics",
			models.FieldHealthStatus, models.FieldLabel, models.FieldStatus} {
			fields = append(fields, bson.E{Key: f, Value: 1})
		}
		// What the query judges them by (see models.Interaction.SearchTokens).
		if q.WithQA || len(q.Words) > 0 {
			fields = append(fields, bson.E{Key: models.FieldQA, Value: 1})
		}
		if len(q.Words) > 0 {
			fields = append(fields, bson.E{Key: "symptoms", Value: 1}, bson.E{Key: "remarks", Value: 1})
		}
		opts = append(opts, options.Find().SetProjection(fields))
	}
	return each(ctx, s, s.interactions, filter, keep, opts...)
}

// EachPatient calls fn with every patient record, in no particular order, reading
// them with one query through a cursor (see EachVisit); by the side index, when the
// DB has one, the records hold their insurance number, age and sex alone. It stops
// at fn's first error and returns it, and returns the store's errors.
func (s *DB) EachPatient(ctx context.Context, fn func(models.Patient) error) error {
	if s.side != nil {
		return sideScan(ctx, s, "patients", func(ctx context.Context) error { return s.side.Patients(ctx, fn) })
	}
	return each(ctx, s, s.patients, bson.D{}, fn)
}

// sideScan runs read, a read of a whole collection by the side index, once the scan
// gate admits it.
func sideScan(ctx context.Context, s *DB, collection string, read func(context.Context) error) error {
	leave, err := s.scans.Enter(ctx)
	if err != nil {
		return fmt.Errorf("read %s: %w", collection, err)
	}
	defer leave()
	if err := read(ctx); err != nil {
		return fmt.Errorf("read %s: %w", collection, storeError(err))
	}
	return nil
}

// each decodes every document of coll that filter selects and calls fn with it.
func each[T any](ctx context.Context, s *DB, coll *mongo.Collection, filter bson.D, fn func(T) error,
	opts ...options.Lister[options.FindOptions]) error {
	leave, err := s.scans.Enter(ctx)
	if err != nil {
		return fmt.Errorf("read %s: %w", coll.Name(), err)
	}
	defer leave()
	cur, err := coll.Find(ctx, filter, opts...)
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

// EachChart calls patient with the record of each of the patients nos that exists,
// then visit with each of their interactions not entered in error, as EachPatient
// and EachVisit hand them over and in the order EachVisit does: what the analytics
// read again of the charts ChangedSince names. Only the side index reads them (only
// it tells the charts changed); without it EachChart returns an error. It stops at
// the first error of patient or visit and returns it, and returns the store's
// errors.
func (s *DB) EachChart(ctx context.Context, nos []string, patient func(models.Patient) error, visit func(models.Interaction) error) error {
	if s.side == nil {
		return errors.New("read charts: only the side index reads the charts that changed")
	}
	if err := s.side.PatientsOf(ctx, nos, patient); err != nil {
		return fmt.Errorf("read patients: %w", storeError(err))
	}
	if err := s.side.VisitsOf(ctx, nos, models.ScanQuery{ProfileFields: true}, visit); err != nil {
		return fmt.Errorf("read interactions: %w", storeError(err))
	}
	return nil
}
