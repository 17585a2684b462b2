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

// Audit collections.
const (
	AuditEventsCollection = "audit_events"
	AuditChainsCollection = "audit_chains"
)

// StartAuditChain records a new chain's head. It returns the store's error.
func (s *DB) StartAuditChain(ctx context.Context, head models.AuditChainHead) error {
	if _, err := s.auditChains.InsertOne(ctx, head); err != nil {
		return fmt.Errorf("insert audit chain: %w", storeError(err))
	}
	return nil
}

// AppendAuditEvent stores e, then records it as its chain's head. An event already
// stored with the same hash (a write that succeeded but was not acknowledged) counts
// as stored. It returns the store's error otherwise.
func (s *DB) AppendAuditEvent(ctx context.Context, e models.AuditEvent) error {
	if _, err := s.auditEvents.InsertOne(ctx, e); err != nil {
		if !mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("insert audit event: %w", storeError(err))
		}
		var stored models.AuditEvent
		if err := s.auditEvents.FindOne(ctx, bson.D{{Key: "_id", Value: e.ID}}).Decode(&stored); err != nil || stored.Hash != e.Hash {
			return fmt.Errorf("audit event %s exists with other content", e.ID)
		}
	}
	_, err := s.auditChains.UpdateOne(ctx, bson.D{{Key: "_id", Value: e.Chain}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "last_seq", Value: e.Seq}, {Key: "last_hash", Value: e.Hash}}}})
	if err != nil {
		return fmt.Errorf("update audit chain head: %w", storeError(err))
	}
	return nil
}

// AuditEvents returns one page of audit events matching q, newest first.
func (s *DB) AuditEvents(ctx context.Context, q models.AuditQuery) (models.AuditPage, error) {
	filter := bson.D{}
	for _, f := range []struct{ key, value string }{
		{"insurance_no", q.InsuranceNo}, {"key_name", q.KeyName}, {"action", q.Action},
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
		filter = append(filter, bson.E{Key: "time", Value: span})
	}
	if q.After != nil {
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "time", Value: bson.D{{Key: "$lt", Value: q.After.Date}}}},
			bson.D{{Key: "time", Value: q.After.Date}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: q.After.ID}}}},
		}})
	}
	cur, err := s.auditEvents.Find(ctx, filter, options.Find().
		SetSort(bson.D{{Key: "time", Value: -1}, {Key: "_id", Value: -1}}).
		SetLimit(int64(q.Limit)+1))
	if err != nil {
		return models.AuditPage{}, fmt.Errorf("find audit events: %w", storeError(err))
	}
	items, more, err := readPage[models.AuditEvent](ctx, cur, q.Limit, models.MaxPageBytes)
	if err != nil {
		return models.AuditPage{}, fmt.Errorf("read audit events: %w", err)
	}
	page := models.AuditPage{Items: items}
	if page.Items == nil {
		page.Items = []models.AuditEvent{}
	}
	if more {
		last := items[len(items)-1]
		next := models.Cursor{Date: last.Time, ID: last.ID, Query: q.Key()}.Encode()
		page.NextCursor = &next
	}
	return page, nil
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

// EachAuditEvent calls f with every audit event in chain and sequence order, one at a
// time, until f returns false. It returns the store's error.
func (s *DB) EachAuditEvent(ctx context.Context, f func(models.AuditEvent) bool) error {
	cur, err := s.auditEvents.Find(ctx, bson.D{}, options.Find().
		SetSort(bson.D{{Key: "chain", Value: 1}, {Key: "seq", Value: 1}}))
	if err != nil {
		return fmt.Errorf("find audit events: %w", storeError(err))
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		var e models.AuditEvent
		if err := cur.Decode(&e); err != nil {
			return fmt.Errorf("decode audit event: %w", err)
		}
		if !f(e) {
			return nil
		}
	}
	if err := cur.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("read audit events: %w", storeError(err))
	}
	return nil
}
