package repository

import (
	"context"
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

// readDocuments reads the documents read gives, each by a call of its each, into a
// page of at most limit items and models.MaxPageBytes of stored documents (but always
// the first, whatever its size), keeping those keep accepts. more reports whether
// documents go on past the page, and last is the last document read, kept or not,
// where the next page starts after. It returns the errors of read and of decoding.
func readDocuments[T any](read func(each func(bson.Raw) bool) error, limit int, keep func(T) bool) (items []T, last T, more bool, err error) {
	size, n := 0, 0
	var decodeErr error
	err = read(func(raw bson.Raw) bool {
		if n == limit || len(items) > 0 && size+len(raw) > models.MaxPageBytes {
			more = true
			return false
		}
		n++
		var item T
		if decodeErr = bson.Unmarshal(raw, &item); decodeErr != nil {
			return false
		}
		last = item
		if keep(item) {
			items = append(items, item)
			size += len(raw)
		}
		return true
	})
	if err != nil {
		return nil, last, false, err
	}
	if decodeErr != nil {
		return nil, last, false, fmt.Errorf("decode: %w", decodeErr)
	}
	return items, last, more, nil
}

// findByID returns the document id of coll, which filter selects, as the store
// answers a find of it: by the DB's side index when it has one (by _id alone), else
// with findOne. It returns models.ErrNotFound when there is none, and the store's
// errors.
func (s *DB) findByID(ctx context.Context, coll *mongo.Collection, id string, filter bson.D) (bson.Raw, error) {
	if s.side == nil {
		raw, err := coll.FindOne(ctx, filter).Raw()
		if err != nil {
			return nil, storeError(err)
		}
		return raw, nil
	}
	raw, err := s.side.Document(ctx, coll.Name(), id)
	if err != nil {
		return nil, storeError(err)
	}
	if raw == nil {
		return nil, models.ErrNotFound
	}
	return raw, nil
}

// decodeByID decodes the document id of coll, which filter selects, read by
// findByID, into a T. It returns findByID's errors and those of decoding.
func decodeByID[T any](ctx context.Context, s *DB, coll *mongo.Collection, id string, filter bson.D) (T, error) {
	var v T
	raw, err := s.findByID(ctx, coll, id, filter)
	if err != nil {
		return v, err
	}
	if err := bson.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("decode: %w", err)
	}
	return v, nil
}

// listing is a list read a page at a time (see page): by the DB's side index, when
// it has one, which reads the page's documents straight from the store's files;
// otherwise with one find the store filters and sorts.
type listing[T any] struct {
	// what names what is listed, for errors.
	what string
	coll *mongo.Collection
	// limit is the most items a page holds.
	limit int
	// docs calls each with the first n documents of the list, in its order, by side,
	// until each returns false.
	docs func(ctx context.Context, side SideIndex, n int, each func(bson.Raw) bool) error
	// find returns the find of the page: its filter, and options sorting in the
	// list's order and asking for limit+1 documents.
	find func() (bson.D, *options.FindOptionsBuilder)
	// keep reports whether a document read by side is one the list selects.
	keep func(T) bool
	// cursor returns the cursor of the page after the one ending at last.
	cursor func(last T) string
}

// page reads one page of l from s and returns its items and the cursor of the next
// page, nil on the last. A document the side index selects that l's keep does not is
// left out (see readDocuments); the find is admitted by the scan gate first. It
// returns the store's errors.
func (l listing[T]) page(ctx context.Context, s *DB) (items []T, next *string, err error) {
	var last T
	var more bool
	if s.side != nil {
		read := func(each func(bson.Raw) bool) error { return l.docs(ctx, s.side, l.limit+1, each) }
		items, last, more, err = readDocuments(read, l.limit, l.keep)
		if err != nil {
			return nil, nil, fmt.Errorf("find %s: %w", l.what, storeError(err))
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
