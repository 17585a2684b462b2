// Package records holds the rules of a medical record's life: a record is created
// once, changed only by an amendment that makes a new version and keeps the one
// before, marked entered-in-error instead of being destroyed, and readable at every
// version it had. Each version names who made it (recorded_by): the author
// models.WithAuthor puts in the context of the call. Neither store gives this service multi-document transactions, so
// a change is a sequence of writes ordered so that no interruption loses or invents
// a version (see commit).
//
// Interactions and Patients apply the rules to the two kinds of record over a small
// store interface each; the repository implements them.
package records

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

// MaxReasonLength bounds the reason given for an amendment.
const MaxReasonLength = 1000

// Versions keeps the records of one kind and the archive of their versions.
type Versions[T models.Record] interface {
	// Archive stores v. It returns models.ErrConflict when the archive holds version
	// v.Version of that record already.
	Archive(ctx context.Context, v models.Version[T]) error
	// Archived returns version n of the record key from the archive, or
	// models.ErrNotFound.
	Archived(ctx context.Context, key models.RecordKey, n int) (models.Version[T], error)
	// Following returns, for each of current, the version after it in the archive
	// (version n+1 of a record at version n), or the zero Version when the archive
	// has none: the first read of latest, for many records at once.
	Following(ctx context.Context, current []T) ([]models.Version[T], error)
	// Earlier returns up to limit archived versions of the record key below version
	// before, newest first, fewer when they would pass maxBytes as stored (but at
	// least one); more reports whether earlier ones remain.
	Earlier(ctx context.Context, key models.RecordKey, before, limit, maxBytes int) (versions []T, more bool, err error)
	// Commit replaces the record next.Key() with next unless it is at next's version
	// or later (a record stored before versions existed counts as version 1). On the
	// embedded store a stalled Commit may still land over a later version: see latest.
	Commit(ctx context.Context, next T) error
	// MarkCommitted records in the archive that the record key has reached version n.
	MarkCommitted(ctx context.Context, key models.RecordKey, n int) error
}

// Page is one page of a record's versions, newest first.
type Page[T any] struct {
	Items []T
	// Next is the version the next page starts below; 0 on the last page.
	Next int
}

// Match reports whether the version a client holds, as it says in its request, is
// version v. Changes are made only to the version the client has seen.
type Match func(v int) bool

// checkSize returns a *models.TooLargeError when rec is larger than
// models.MaxDocumentBytes as stored.
func checkSize(rec any) error {
	data, err := bson.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode record: %w", err)
	}
	if len(data) > models.MaxDocumentBytes {
		return &models.TooLargeError{Size: len(data)}
	}
	return nil
}

// checkReason validates the reason given for an amendment.
func checkReason(reason string, errs *models.ValidationError) {
	if len(reason) > MaxReasonLength {
		errs.Add("reason", fmt.Sprintf("must be at most %d characters", MaxReasonLength))
	}
}

// page returns one page of the versions of current, newest first, starting below
// version before (0: from the current version), at most limit long. It returns the
// errors of store.
func page[T models.Record](ctx context.Context, store Versions[T], current T, before, limit int) (Page[T], error) {
	items := make([]T, 0, limit)
	upper, budget := current.VersionNumber(), models.MaxPageBytes
	if before == 0 || before > upper {
		items = append(items, current)
		data, err := bson.Marshal(current)
		if err != nil {
			return Page[T]{}, fmt.Errorf("encode record: %w", err)
		}
		budget -= len(data)
	} else {
		upper = before
	}
	more := len(items) == limit && upper > 1
	if len(items) < limit && budget <= 0 && upper > 1 {
		more = true // the current version filled the page
	} else if len(items) < limit {
		earlier, earlierMore, err := store.Earlier(ctx, current.Key(), upper, limit-len(items), budget)
		if err != nil {
			return Page[T]{}, err
		}
		items, more = append(items, earlier...), earlierMore
	}
	if !more {
		return Page[T]{Items: items}, nil
	}
	return Page[T]{Items: items, Next: items[len(items)-1].VersionNumber()}, nil
}

// version returns version v of current: current itself or an archived one. It
// returns models.ErrNotFound for a version the record has not reached, and the
// errors of store.
func version[T models.Record](ctx context.Context, store Versions[T], current T, v int) (T, error) {
	switch n := current.VersionNumber(); {
	case v > n:
		var zero T
		return zero, models.ErrNotFound
	case v < n:
		archived, err := store.Archived(ctx, current.Key(), v)
		return archived.Document, err
	}
	return current, nil
}

// latest returns the record whose stored version is current, at its newest
// committed version. The embedded store checks an update's condition before it
// writes, not with the write, so a writer that stalled between the two can land an
// older version over a newer one. A version the archive marks committed above
// current is then the record's, and latest returns it, and writes it back where the
// record is stored, so that a record read never goes back a version. It returns the
// store's errors.
func latest[T models.Record](ctx context.Context, store Versions[T], current T) (T, error) {
	for {
		next, err := store.Archived(ctx, current.Key(), current.VersionNumber()+1)
		if errors.Is(err, models.ErrNotFound) {
			return current, nil
		}
		if err != nil {
			var zero T
			return zero, err
		}
		if !next.Committed {
			return current, nil // an intent: the next writer of this version completes it
		}
		current = next.Document
		if err := store.Commit(ctx, current); err != nil {
			var zero T
			return zero, err
		}
	}
}

// clock returns now, or time.Now when now is nil.
func clock(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}
