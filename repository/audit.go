package repository

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clinic/interactions/models"
)

// Audit collections.
const (
	AuditEventsCollection      = "audit_events"
	AuditChainsCollection      = "audit_chains"
	AuditCheckpointsCollection = "audit_checkpoints"
)

// StartAuditChain records a new chain's head. It returns models.ErrConflict when the
// chain has one already, and the store's error otherwise.
func (s *DB) StartAuditChain(ctx context.Context, head models.AuditChainHead) error {
	if _, err := s.auditChains.InsertOne(ctx, head); err != nil {
		return fmt.Errorf("insert audit chain: %w", storeError(err))
	}
	return nil
}

// UpdateAuditChainHead moves a chain's head to head, unless it records a later event
// already (a head written out of order never goes back). It returns the store's error.
func (s *DB) UpdateAuditChainHead(ctx context.Context, head models.AuditChainHead) error {
	notLater := bson.D{{Key: "last_seq", Value: bson.D{{Key: "$lte", Value: head.LastSeq}}}}
	if _, err := s.replaceIf(ctx, s.auditChains, head.Chain, notLater, head); err != nil {
		return fmt.Errorf("update audit chain head: %w", err)
	}
	return nil
}

// InsertAuditEvents stores events in order, stopping at the first that cannot be
// stored. It returns the store's error; the events before the one that failed may be
// stored then, and so may all of them when the error is a lost answer.
func (s *DB) InsertAuditEvents(ctx context.Context, events []models.AuditEvent) error {
	docs := make([]any, len(events))
	for i, e := range events {
		docs[i] = e
	}
	if _, err := s.auditEvents.InsertMany(ctx, docs, options.InsertMany().SetOrdered(true)); err != nil {
		return fmt.Errorf("insert audit events: %w", storeError(err))
	}
	return nil
}

// AuditEvent returns the event with the given id, or models.ErrNotFound.
func (s *DB) AuditEvent(ctx context.Context, id string) (models.AuditEvent, error) {
	var e models.AuditEvent
	if err := s.auditEvents.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&e); err != nil {
		return models.AuditEvent{}, fmt.Errorf("find audit event: %w", storeError(err))
	}
	return e, nil
}

// AuditCheckpoints returns how far each chain has been verified.
func (s *DB) AuditCheckpoints(ctx context.Context) ([]models.AuditCheckpoint, error) {
	cur, err := s.auditCheckpoints.Find(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("find audit checkpoints: %w", storeError(err))
	}
	var cps []models.AuditCheckpoint
	if err := cur.All(ctx, &cps); err != nil {
		return nil, fmt.Errorf("read audit checkpoints: %w", storeError(err))
	}
	return cps, nil
}

// SaveAuditCheckpoint stores cp as its chain's checkpoint. It returns the store's error.
func (s *DB) SaveAuditCheckpoint(ctx context.Context, cp models.AuditCheckpoint) error {
	_, err := s.auditCheckpoints.ReplaceOne(ctx, bson.D{{Key: "_id", Value: cp.Chain}}, cp, options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("save audit checkpoint: %w", storeError(err))
	}
	return nil
}

// CountAuditEvents returns how many audit events are stored, without reading them:
// with the DB's side index when it has one, else the store's estimate from its metadata
// (exact on MongoDB after a clean shutdown; on FerretDB it reads every event). It
// returns the store's error.
func (s *DB) CountAuditEvents(ctx context.Context) (int64, error) {
	if s.side != nil {
		return s.side.Count(ctx, AuditEventsCollection)
	}
	n, err := s.auditEvents.EstimatedDocumentCount(ctx)
	if err != nil {
		return 0, fmt.Errorf("count audit events: %w", storeError(err))
	}
	return n, nil
}

// AuditEventChains returns every chain that has events, with how many. It reads
// every event: it is for when the counts disagree.
func (s *DB) AuditEventChains(ctx context.Context) (map[string]int64, error) {
	leave, err := s.scans.Enter(ctx)
	if err != nil {
		return nil, fmt.Errorf("find audit events: %w", err)
	}
	defer leave()
	cur, err := s.auditEvents.Find(ctx, bson.D{}, options.Find().SetProjection(bson.D{{Key: "chain", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("find audit events: %w", storeError(err))
	}
	defer cur.Close(ctx)
	chains := map[string]int64{}
	for cur.Next(ctx) {
		var e struct {
			Chain string `bson:"chain"`
		}
		if err := cur.Decode(&e); err != nil {
			return nil, fmt.Errorf("decode audit event: %w", err)
		}
		chains[e.Chain]++
	}
	if err := cur.Err(); err != nil {
		return nil, fmt.Errorf("read audit events: %w", storeError(err))
	}
	return chains, nil
}

// AuditEvents returns one page of audit events matching q, newest first: by the side
// index when the DB has one, else with auditEventsFind (see listing). It returns the
// store's errors.
func (s *DB) AuditEvents(ctx context.Context, q models.AuditQuery) (models.AuditPage, error) {
	items, next, err := listing[models.AuditEvent]{
		what:  "audit events",
		coll:  s.auditEvents,
		limit: q.Limit,
		ids: func(ctx context.Context, side SideIndex, n int) ([]string, error) {
			return side.AuditEventIDs(ctx, q, n)
		},
		find: func() (bson.D, *options.FindOptionsBuilder) { return auditEventsFind(q) },
		keep: q.Matches,
		cursor: func(last models.AuditEvent) string {
			return models.Cursor{Date: last.Time, ID: last.ID, Query: q.Key()}.Encode()
		},
	}.page(ctx, s)
	if err != nil {
		return models.AuditPage{}, err
	}
	if items == nil {
		items = []models.AuditEvent{}
	}
	return models.AuditPage{Items: items, NextCursor: next}, nil
}

// auditEventsFind returns the find of the page of audit events q asks for: the
// filter, and the options sorting newest first, ties by id, and asking for one event
// more than the page, to tell whether the events go on past it.
func auditEventsFind(q models.AuditQuery) (bson.D, *options.FindOptionsBuilder) {
	filter := bson.D{}
	for _, f := range []struct{ key, value string }{
		{models.FieldInsuranceNo, q.InsuranceNo}, {models.FieldKeyName, q.KeyName}, {models.FieldAction, q.Action},
	} {
		if f.value != "" {
			filter = append(filter, bson.E{Key: f.key, Value: f.value})
		}
	}
	span := bson.D{}
	if !q.From.IsZero() {
		span = append(span, bson.E{Key: "$gte", Value: q.From})
	}
	if !q.To.IsZero() {
		span = append(span, bson.E{Key: "$lt", Value: q.To})
	}
	if len(span) > 0 {
		filter = append(filter, bson.E{Key: models.FieldTime, Value: span})
	}
	if q.After != nil {
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: models.FieldTime, Value: bson.D{{Key: "$lt", Value: q.After.Date}}}},
			bson.D{{Key: models.FieldTime, Value: q.After.Date}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: q.After.ID}}}},
		}})
	}
	return filter, options.Find().
		SetSort(bson.D{{Key: models.FieldTime, Value: -1}, {Key: "_id", Value: -1}}).
		SetLimit(int64(q.Limit) + 1)
}

// AuditChainHeads returns the head of every chain.
func (s *DB) AuditChainHeads(ctx context.Context) ([]models.AuditChainHead, error) {
	cur, err := s.auditChains.Find(ctx, bson.D{})
	if err != nil {
		return nil, fmt.Errorf("find audit chains: %w", storeError(err))
	}
	var heads []models.AuditChainHead
	if err := cur.All(ctx, &heads); err != nil {
		return nil, fmt.Errorf("read audit chains: %w", storeError(err))
	}
	return heads, nil
}
