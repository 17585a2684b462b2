package repository

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/mongo"
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
