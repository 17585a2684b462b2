package repository

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/models"
)

// History returns one page of a patient's interactions, newest first. It returns
// models.ErrPatientNotFound when the patient does not exist.
func (s *DB) History(ctx context.Context, q models.HistoryQuery) (models.Page, error) {
	if q.InsuranceNo != "" {
		audit.Touch(ctx, q.InsuranceNo, "")
		ok, err := s.PatientExists(ctx, q.InsuranceNo)
		if err != nil {
			return models.Page{}, err
		}
		if !ok {
			return models.Page{}, models.ErrPatientNotFound
		}
	}
	items, next, err := s.history(q).page(ctx, s)
	if err != nil {
		return models.Page{}, err
	}
	if items == nil {
		items = []models.Interaction{}
	}
	return models.Page{Items: items, NextCursor: next}, nil
}

// CountHistory counts the interactions q selects, its cursor and limit aside: by
// the side index when the DB has one, else with a count the history's indexes serve
// (q names a patient, or none). It returns the store's errors.
func (s *DB) CountHistory(ctx context.Context, q models.HistoryQuery) (int64, error) {
	q.After = nil
	if s.side != nil {
		n, err := s.side.HistoryCount(ctx, q)
		if err != nil {
			return 0, fmt.Errorf("count interactions: %w", storeError(err))
		}
		return n, nil
	}
	filter, _ := HistoryFind(q)
	n, err := s.interactions.CountDocuments(ctx, filter)
	if err != nil {
		return 0, fmt.Errorf("count interactions: %w", storeError(err))
	}
	return n, nil
}

// LastVisit returns the date of the latest interaction of patient no, entered-in-
// error ones left out; nil when there is none. It notes no audit subject: a listing
// of patients calls it for each. It returns the store's errors.
func (s *DB) LastVisit(ctx context.Context, no string) (*time.Time, error) {
	items, _, err := s.history(models.HistoryQuery{InsuranceNo: no, Limit: 1}).page(ctx, s)
	if err != nil || len(items) == 0 {
		return nil, err
	}
	return &items[0].InteractionDate, nil
}

// history is the listing of the interactions q selects: by the side index when the
// DB has one, else with HistoryFind.
func (s *DB) history(q models.HistoryQuery) listing[models.Interaction] {
	return listing[models.Interaction]{
		what:  "interactions",
		coll:  s.interactions,
		limit: q.Limit,
		docs: func(ctx context.Context, side SideIndex, n int, each func(bson.Raw) bool) error {
			return side.HistoryDocuments(ctx, q, n, each)
		},
		find:   func() (bson.D, *options.FindOptionsBuilder) { return HistoryFind(q) },
		keep:   q.Matches,
		cursor: func(last models.Interaction) string { return models.CursorAt(last, q.Key()).Encode() },
	}
}

// HistoryFind returns the find of the page of a history q asks for, as the DB sends
// it to a store without a side index: the filter, and the options sorting newest
// first (oldest first with q.Ascending), ties by id, and asking for q.Limit+1
// interactions, one more than the page, to tell whether the history goes on past it.
// A load test sends it to the interactions collection as the DB does:
//
//	filter, opts := repository.HistoryFind(q)
//	cur, err := interactions.Find(ctx, filter, opts)
func HistoryFind(q models.HistoryQuery) (bson.D, *options.FindOptionsBuilder) {
	filter := bson.D{}
	if q.InsuranceNo != "" {
		filter = append(filter, bson.E{Key: models.FieldInsuranceNo, Value: q.InsuranceNo})
	}
	if len(q.Labels) > 0 {
		op := "$in"
		if q.MatchAll {
			op = "$all"
		}
		filter = append(filter, bson.E{Key: models.FieldLabel, Value: bson.D{{Key: op, Value: q.Labels}}})
	}
	if q.Ailment != "" {
		filter = append(filter, bson.E{Key: models.FieldAilmentKey, Value: q.Ailment})
	}
	if span := between(q.From, q.To); len(span) > 0 {
		filter = append(filter, bson.E{Key: models.FieldInteractionDate, Value: span})
	}
	if health := within(q.HealthMin, q.HealthMax); len(health) > 0 {
		filter = append(filter, bson.E{Key: models.FieldHealthStatus, Value: health})
	}
	var words bson.A
	for _, w := range q.Words {
		words = append(words, bson.D{{Key: models.FieldSearchTokens, Value: bson.Regex{Pattern: "^" + regexp.QuoteMeta(w)}}})
	}
	if len(words) > 0 {
		filter = append(filter, bson.E{Key: "$and", Value: words})
	}
	if !q.IncludeEnteredInError {
		filter = append(filter, bson.E{Key: models.FieldStatus, Value: bson.D{{Key: "$ne", Value: models.StatusEnteredInError}}})
	}
	order, beyond := -1, "$lt"
	if q.Ascending {
		order, beyond = 1, "$gt"
	}
	if q.After != nil {
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: models.FieldInteractionDate, Value: bson.D{{Key: beyond, Value: q.After.Date}}}},
			bson.D{
				{Key: models.FieldInteractionDate, Value: q.After.Date},
				{Key: "_id", Value: bson.D{{Key: beyond, Value: q.After.ID}}},
			},
		}})
	}
	return filter, options.Find().
		SetSort(bson.D{{Key: models.FieldInteractionDate, Value: order}, {Key: "_id", Value: order}}).
		SetLimit(int64(q.Limit) + 1)
}

// between is the condition of a date from from to to, both included; either may be
// zero, for no bound.
func between(from, to time.Time) bson.D {
	span := bson.D{}
	if !from.IsZero() {
		span = append(span, bson.E{Key: "$gte", Value: from})
	}
	if !to.IsZero() {
		span = append(span, bson.E{Key: "$lte", Value: to})
	}
	return span
}

// within is the condition of a number from lo to hi, both included; either may be
// nil, for no bound.
func within(lo, hi *int) bson.D {
	span := bson.D{}
	if lo != nil {
		span = append(span, bson.E{Key: "$gte", Value: *lo})
	}
	if hi != nil {
		span = append(span, bson.E{Key: "$lte", Value: *hi})
	}
	return span
}
