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

// listing is a list read a page at a time (see page): by the DB's side index, when
// it has one, the ids of the page and then each document by _id; otherwise with one
// find the store filters and sorts.
type listing[T any] struct {
	// what names what is listed, for errors.
	what string
	coll *mongo.Collection
	// limit is the most items a page holds.
	limit int
	// ids returns the ids of the first n documents of the list, in its order, by side.
	ids func(ctx context.Context, side SideIndex, n int) ([]string, error)
	// find returns the find of the page: its filter, and options sorting in the
	// list's order and asking for limit+1 documents.
	find func() (bson.D, *options.FindOptionsBuilder)
	// keep reports whether a document read by _id is one the list selects.
	keep func(T) bool
	// cursor returns the cursor of the page after the one ending at last.
	cursor func(last T) string
}

// page reads one page of l from s and returns its items and the cursor of the next
// page, nil on the last. A document found by the side index that changed since so
// that l no longer selects it is left out (see readByID); the find is admitted by
// the scan gate first. It returns the store's errors.
func (l listing[T]) page(ctx context.Context, s *DB) (items []T, next *string, err error) {
	var last T
	var more bool
	if s.side != nil {
		ids, err := l.ids(ctx, s.side, l.limit+1)
		if err != nil {
			return nil, nil, fmt.Errorf("find %s: %w", l.what, storeError(err))
		}
		items, last, more, err = readByID(ctx, l.coll, ids, l.limit, l.keep)
		if err != nil {
			return nil, nil, err
		}
	} else {
		if items, more, err = l.query(ctx, s); err != nil {
			return nil, nil, err
		}
		if len(items) > 0 {
			last = items[len(items)-1]
		}
	}
	if !more {
		return items, nil, nil
	}
	cursor := l.cursor(last)
	return items, &cursor, nil
}

// query reads the page of l with one find the store filters and sorts, once the scan
// gate admits it. more reports whether the list goes on past the page.
func (l listing[T]) query(ctx context.Context, s *DB) (items []T, more bool, err error) {
	leave, err := s.scans.Enter(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("find %s: %w", l.what, err)
	}
	defer leave()
	filter, opts := l.find()
	cur, err := l.coll.Find(ctx, filter, opts)
	if err != nil {
		return nil, false, fmt.Errorf("find %s: %w", l.what, storeError(err))
	}
	items, more, err = readPage[T](ctx, cur, l.limit, models.MaxPageBytes)
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", l.what, err)
	}
	return items, more, nil
}
