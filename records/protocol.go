package records

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

// commit moves a record from version n (current) to n+1 (next), keeping current in
// the archive. Neither store offers transactions, and the embedded one not even an
// atomic conditional update, so the archive's _id, which names the record and the
// version (models.VersionID), decides: whoever archives version n+1 first owns it,
// and the record only ever moves to a version found in the archive. The order of the
// writes makes every interruption safe:
//
//  1. version 1 is archived (first amendment only; a repeat is a no-op);
//  2. version n+1 is archived, an intent that only the record's move commits;
//  3. the record moves to n+1, on condition that it is not at n+1 or later;
//  4. version n+1 is marked committed in the archive.
//
// Versions above the record's are shown only once committed, so an interruption
// after 2 shows nothing new; the record never reaches a version the archive lacks. A
// later amendment of version n finds the intent and completes it (any writer of n+1
// writes the same document), so nothing is left half done. A stalled write of step 3
// that lands over a later version (the embedded store checks the condition before
// the write, not with it) is undone by the next read (see latest).
//
// Both versions are archived with the time at.
//
// It returns the version now stored: next, or the identical change (a retry) that
// had claimed n+1 already. It returns a *models.TooLargeError for a next version
// over models.MaxDocumentBytes, models.ErrPreconditionFailed when another change
// claimed n+1, and the store's errors otherwise.
func commit[T models.Record](ctx context.Context, store Versions[T], current, next T, at time.Time) (T, error) {
	var zero T
	if err := checkSize(next); err != nil {
		return zero, err
	}
	n := current.VersionNumber()
	if n == 1 {
		first := models.NewVersion(current, 1, at)
		first.Committed = true
		err := store.Archive(ctx, first)
		if err != nil && !errors.Is(err, models.ErrConflict) {
			return zero, fmt.Errorf("archive version 1: %w", err)
		}
	}
	err := store.Archive(ctx, models.NewVersion(next, n+1, at))
	if errors.Is(err, models.ErrConflict) {
		return completeClaimed(ctx, store, current, next)
	}
	if err != nil {
		return zero, fmt.Errorf("archive version %d: %w", n+1, err)
	}
	if err := moveTo(ctx, store, next); err != nil {
		return zero, err
	}
	return next, nil
}

// moveTo moves the record to version, archived already, and marks that version
// committed. When the record is at version or later, it has moved on already: only
// a writer of version can have moved it there, and every writer of a version writes
// the same document.
func moveTo[T models.Record](ctx context.Context, store Versions[T], version T) error {
	n := version.VersionNumber()
	if err := store.Commit(ctx, version); err != nil {
		return fmt.Errorf("commit version %d: %w", n, err)
	}
	if err := store.MarkCommitted(ctx, version.Key(), n); err != nil {
		return fmt.Errorf("mark version %d committed: %w", n, err)
	}
	return nil
}

// completeClaimed finishes the move to version n+1 that another change claimed, and
// returns that version when it is the same change as next.
func completeClaimed[T models.Record](ctx context.Context, store Versions[T], current, next T) (T, error) {
	var zero T
	n := current.VersionNumber()
	archived, err := store.Archived(ctx, current.Key(), n+1)
	if err != nil {
		return zero, fmt.Errorf("read version %d: %w", n+1, err)
	}
	claimed := archived.Document
	if err := moveTo(ctx, store, claimed); err != nil {
		return zero, err
	}
	same, err := sameChange(claimed, next)
	if err != nil {
		return zero, err
	}
	if !same {
		return zero, models.ErrPreconditionFailed
	}
	return claimed, nil
}

// sameChange reports whether two versions are the same change by the same author:
// whether they differ only in when they were made and by which request (a retry is
// a request of its own).
func sameChange(a, b any) (bool, error) {
	ra, err := withoutUpdatedAt(a)
	if err != nil {
		return false, err
	}
	rb, err := withoutUpdatedAt(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(ra, rb), nil
}

// withoutUpdatedAt returns v encoded as BSON without its updated_at field and the
// request id of its author.
func withoutUpdatedAt(v any) ([]byte, error) {
	data, err := bson.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	var d bson.D
	if err := bson.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("decode record: %w", err)
	}
	d = slices.DeleteFunc(d, func(e bson.E) bool { return e.Key == "updated_at" })
	for i, e := range d {
		if author, ok := e.Value.(bson.D); ok && e.Key == "recorded_by" {
			d[i].Value = slices.DeleteFunc(slices.Clone(author), func(e bson.E) bool { return e.Key == "request_id" })
		}
	}
	return bson.Marshal(d)
}
