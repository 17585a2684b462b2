package repository

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/clinic/interactions/models"
)

// The writes below change one document, found by its _id, when a condition on it
// holds. On MongoDB one command does each, atomically. On a store that finds a
// document fast only by a filter of _id alone (the embedded store: every other
// filter reads the whole collection), they read the document by _id, check the
// condition here and write by _id: as much of a check-then-write as that store's own
// conditional writes are, at the cost of a lookup instead of a scan (read from the
// store's file, when the DB has a side index; the write goes through the store).

// replaceIf replaces the document id of coll with doc when cond holds of it, and
// reports whether it did.
func (s *DB) replaceIf(ctx context.Context, coll *mongo.Collection, id string, cond bson.D, doc any) (bool, error) {
	if s.loneID {
		if ok, err := s.holds(ctx, coll, id, cond); err != nil || !ok {
			return false, err
		}
		cond = nil
	}
	var matched bool
	err := s.write(ctx, func() error {
		res, err := coll.ReplaceOne(ctx, byID(id, cond), doc)
		matched = err == nil && res.MatchedCount > 0
		return err
	})
	if err != nil {
		return false, storeError(err)
	}
	return matched, nil
}

// updateIf applies update to the document id of coll when cond holds of it, and
// reports whether it did.
func (s *DB) updateIf(ctx context.Context, coll *mongo.Collection, id string, cond, update bson.D) (bool, error) {
	if s.loneID {
		if ok, err := s.holds(ctx, coll, id, cond); err != nil || !ok {
			return false, err
		}
		cond = nil
	}
	var matched bool
	err := s.write(ctx, func() error {
		res, err := coll.UpdateOne(ctx, byID(id, cond), update)
		matched = err == nil && res.MatchedCount > 0
		return err
	})
	if err != nil {
		return false, storeError(err)
	}
	return matched, nil
}

// deleteIf deletes the document id of coll when cond holds of it, and reports
// whether it did.
func (s *DB) deleteIf(ctx context.Context, coll *mongo.Collection, id string, cond bson.D) (bool, error) {
	if s.loneID {
		if ok, err := s.holds(ctx, coll, id, cond); err != nil || !ok {
			return false, err
		}
		cond = nil
	}
	var deleted bool
	err := s.write(ctx, func() error {
		res, err := coll.DeleteOne(ctx, byID(id, cond))
		deleted = err == nil && res.DeletedCount > 0
		return err
	})
	if err != nil {
		return false, storeError(err)
	}
	return deleted, nil
}

// byID is the filter of the document id that cond holds of.
func byID(id string, cond bson.D) bson.D {
	return append(bson.D{{Key: "_id", Value: id}}, cond...)
}

// holds reads the document id of coll by its _id alone (by the side index when the
// DB has one, see findByID) and reports whether it exists and cond holds of it.
func (s *DB) holds(ctx context.Context, coll *mongo.Collection, id string, cond bson.D) (bool, error) {
	raw, err := s.findByID(ctx, coll, id, bson.D{{Key: "_id", Value: id}})
	if errors.Is(err, models.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var doc bson.D
	if err := bson.Unmarshal(raw, &doc); err != nil {
		return false, fmt.Errorf("decode: %w", err)
	}
	return matches(doc, cond)
}

// matches reports whether doc satisfies filter, a filter of the forms the
// conditional writes use: a field equal to a value, {$lt: n}, {$lte: n} or
// {$exists: false} on a field, and $or of such filters. It returns an error for any
// other form.
func matches(doc, filter bson.D) (bool, error) {
	for _, e := range filter {
		ok, err := matchesOne(doc, e)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func matchesOne(doc bson.D, e bson.E) (bool, error) {
	if e.Key == "$or" {
		alternatives, ok := e.Value.(bson.A)
		if !ok {
			return false, fmt.Errorf("$or takes an array, not %T", e.Value)
		}
		for _, a := range alternatives {
			d, ok := a.(bson.D)
			if !ok {
				return false, fmt.Errorf("$or takes filters, not %T", a)
			}
			if ok, err := matches(doc, d); err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	}
	value, present := lookup(doc, e.Key)
	op, isOp := e.Value.(bson.D)
	if !isOp || len(op) != 1 {
		same, err := equal(value, e.Value)
		return present && same, err
	}
	switch op[0].Key {
	case "$exists":
		want, ok := op[0].Value.(bool)
		if !ok {
			return false, fmt.Errorf("$exists takes a boolean, not %T", op[0].Value)
		}
		return present == want, nil
	case "$lt", "$lte":
		n, ok1 := asInt(value)
		limit, ok2 := asInt(op[0].Value)
		if !present || !ok1 || !ok2 {
			return false, nil
		}
		return n < limit || op[0].Key == "$lte" && n == limit, nil
	}
	return false, fmt.Errorf("unsupported filter operator %s", op[0].Key)
}

// field returns the value of key in doc, or nil.
func field(doc bson.D, key string) any {
	v, _ := lookup(doc, key)
	return v
}

// lookup returns the value of key in doc and whether it is there.
func lookup(doc bson.D, key string) (any, bool) {
	if i := models.FieldIndex(doc, key); i >= 0 {
		return doc[i].Value, true
	}
	return nil, false
}

// equal compares a stored value with want, a value of a kind the conditions name: a
// string, a boolean, or an integer however it is stored. It returns an error for
// other kinds of want.
func equal(stored, want any) (bool, error) {
	switch w := want.(type) {
	case string:
		s, ok := stored.(string)
		return ok && s == w, nil
	case bool:
		s, ok := stored.(bool)
		return ok && s == w, nil
	}
	w, ok := asInt(want)
	if !ok {
		return false, fmt.Errorf("unsupported value %T in a condition", want)
	}
	s, ok := asInt(stored)
	return ok && s == w, nil
}
