package repository

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/clinic/interactions/models"
)

// readPage reads the documents of cur, which was asked for at most limit+1, into a
// page of at most limit items and at most maxBytes of stored documents (but always
// the first, whatever its size): a page of large records is cut short rather than
// held in memory whole. more reports whether the results go on past the page. It
// closes cur and returns the store's errors.
func readPage[T any](ctx context.Context, cur *mongo.Cursor, limit, maxBytes int) (items []T, more bool, err error) {
	defer cur.Close(ctx)
	size := 0
	for cur.Next(ctx) {
		if len(items) == limit || len(items) > 0 && size+len(cur.Current) > maxBytes {
			return items, true, nil
		}
		var item T
		if err := cur.Decode(&item); err != nil {
			return nil, false, fmt.Errorf("decode: %w", err)
		}
		items = append(items, item)
		size += len(cur.Current)
	}
	if err := cur.Err(); err != nil {
		return nil, false, storeError(err)
	}
	return items, false, nil
}

// readByID reads the documents of ids from coll, each by _id alone, into a page of
// at most limit items and models.MaxPageBytes of stored documents (but always the
// first, whatever its size), keeping those keep accepts; a document gone meanwhile is
// left out. more reports whether ids go on past the page, and last is the last
// document read, kept or not, where the next page starts after. It returns the
// store's errors.
func readByID[T any](ctx context.Context, coll *mongo.Collection, ids []string, limit int, keep func(T) bool) (items []T, last T, more bool, err error) {
	size := 0
	for i, id := range ids {
		if i == limit {
			return items, last, true, nil
		}
		raw, err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
		if errors.Is(err, mongo.ErrNoDocuments) {
			continue
		}
		if err != nil {
			return nil, last, false, fmt.Errorf("find %s: %w", coll.Name(), storeError(err))
		}
		if len(items) > 0 && size+len(raw) > models.MaxPageBytes {
			return items, last, true, nil
		}
		var item T
		if err := bson.Unmarshal(raw, &item); err != nil {
			return nil, last, false, fmt.Errorf("decode: %w", err)
		}
		last = item
		if keep(item) {
			items = append(items, item)
			size += len(raw)
		}
	}
	return items, last, false, nil
}
