// Package idempotency makes a create safe to retry: the first request made with an
// Idempotency-Key runs and its answer is kept; a retry with the same key and the
// same request gets that answer again and creates nothing; the same key with another
// request is refused. While the first request runs, retries wait for its answer. A
// request that dies before answering holds its key for a lease; after that a retry
// takes it over, with the id reserved for the first, so that it cannot create a
// second record.
package idempotency

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/deadline"
	"github.com/clinic/interactions/models"
)

// Store keeps the records of keyed requests.
type Store interface {
	// InsertIdempotencyRecord stores rec. It returns models.ErrConflict when a record
	// with its ID exists.
	InsertIdempotencyRecord(ctx context.Context, rec models.IdempotencyRecord) error
	// IdempotencyRecord returns the record id, or models.ErrNotFound.
	IdempotencyRecord(ctx context.Context, id string) (models.IdempotencyRecord, error)
	// TakeOverIdempotencyRecord gives the pending record id, held with token, to a
	// new holder with newToken and a lease until leaseUntil. It reports false when the
	// record is no longer pending with token.
	TakeOverIdempotencyRecord(ctx context.Context, id, token, newToken string, leaseUntil time.Time) (bool, error)
	// CompleteIdempotencyRecord stores the answer of the request holding the record
	// held (its ID, with its Token, made at its CreatedAt). It returns
	// models.ErrNotFound when the store finds that request no longer holds it (a
	// store may instead keep such an answer where no one reads it).
	CompleteIdempotencyRecord(ctx context.Context, held models.IdempotencyRecord, answer models.IdempotentAnswer) error
	// ReleaseIdempotencyRecord deletes the pending record id held with token.
	ReleaseIdempotencyRecord(ctx context.Context, id, token string) error
}

// Request is a keyed request.
type Request struct {
	// ID names the key in its scope: no two clients or routes share one.
	ID string
	// Fingerprint identifies what the request asks for, so that a key cannot be
	// reused for another request.
	Fingerprint string
}

// Options adjust a Keeper. Zero fields take their defaults.
type Options struct {
	// Lease is how long a request that dies before answering holds its key before a
	// retry may take it over.
	Lease time.Duration
	// Poll is how long a retry waits between looks at a key held by a running request
	// (default 25ms).
	Poll time.Duration
	// Now reads the time (default time.Now); Sleep waits d or until ctx ends, and
	// returns ctx's error then (default: a timer). Tests set both.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	// Logger takes the failures to keep or release an answer, which do not change
	// the answer (default: discarded).
	Logger *slog.Logger
}

// Keeper runs keyed requests once.
type Keeper struct {
	store Store
	opts  Options
}

// margin is the time a waiting retry keeps in hand before its deadline, to answer.
const margin = 100 * time.Millisecond

// New returns a Keeper over store.
func New(store Store, opts Options) *Keeper {
	if opts.Poll <= 0 {
		opts.Poll = 25 * time.Millisecond
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Keeper{store: store, opts: opts}
}

// Do runs req once. The first time, it calls run with the id reserved for the record
// the request creates (the same on every retry of the request) and keeps run's
// answer, unless it is a 5xx, which lets a retry run anew. Later, it returns the
// kept answer, with replayed true; while the first run goes on, it waits for it.
//
// It returns models.ErrIdempotencyKeyReused when req.ID was used with another
// fingerprint, models.ErrIdempotencyInProgress when ctx ends before the first run
// answers, and the store's errors.
func (k *Keeper) Do(ctx context.Context, req Request, run func(ctx context.Context, reservedID string) models.IdempotentAnswer) (answer models.IdempotentAnswer, replayed bool, err error) {
	waited := false
	for {
		held, claimed, err := k.claim(ctx, req)
		switch {
		case err != nil && waited && (ctx.Err() != nil || errors.Is(err, models.ErrUnavailable)):
			return models.IdempotentAnswer{}, false, models.ErrIdempotencyInProgress // the deadline came while waiting
		case err != nil:
			return models.IdempotentAnswer{}, false, err
		case held.RequestHash != req.Fingerprint:
			return models.IdempotentAnswer{}, false, models.ErrIdempotencyKeyReused
		case claimed:
			return k.runOnce(ctx, held, run), false, nil
		case held.State == models.IdempotencyDone:
			return held.IdempotentAnswer, true, nil
		}
		// The first request is still running: wait for its answer, while there is
		// time left to ask the store again.
		if deadline, ok := ctx.Deadline(); ok && deadline.Sub(k.opts.Now()) < margin {
			return models.IdempotentAnswer{}, false, models.ErrIdempotencyInProgress
		}
		waited = true
		if err := k.opts.Sleep(ctx, k.opts.Poll); err != nil {
			return models.IdempotentAnswer{}, false, models.ErrIdempotencyInProgress
		}
	}
}

// claim records req as pending unless a record of its ID exists. It returns the
// record now in force and whether the caller holds it: true for a new record, and
// for a pending one of the same request whose lease has ended (taken over, keeping
// its reserved id).
func (k *Keeper) claim(ctx context.Context, req Request) (models.IdempotencyRecord, bool, error) {
	for {
		token, err := randomToken()
		if err != nil {
			return models.IdempotencyRecord{}, false, err
		}
		reserved, err := uuid.NewV7()
		if err != nil {
			return models.IdempotencyRecord{}, false, fmt.Errorf("reserve an id: %w", err)
		}
		now := k.opts.Now()
		rec := models.IdempotencyRecord{
			ID: req.ID, RequestHash: req.Fingerprint, Token: token, ReservedID: reserved.String(),
			State: models.IdempotencyPending, CreatedAt: now, LeaseUntil: now.Add(k.opts.Lease),
		}
		err = k.store.InsertIdempotencyRecord(ctx, rec)
		if err == nil {
			return rec, true, nil
		}
		if !errors.Is(err, models.ErrConflict) {
			return models.IdempotencyRecord{}, false, fmt.Errorf("claim idempotency key: %w", err)
		}
		existing, err := k.store.IdempotencyRecord(ctx, req.ID)
		if errors.Is(err, models.ErrNotFound) { // released after a failure: claim it anew
			continue
		}
		if err != nil {
			return models.IdempotencyRecord{}, false, err
		}
		if existing.State != models.IdempotencyPending || existing.LeaseUntil.After(now) || existing.RequestHash != req.Fingerprint {
			return existing, false, nil
		}
		took, err := k.store.TakeOverIdempotencyRecord(ctx, req.ID, existing.Token, rec.Token, rec.LeaseUntil)
		if err != nil {
			return models.IdempotencyRecord{}, false, fmt.Errorf("take over idempotency key: %w", err)
		}
		if !took { // another retry took it, or it was released: look again
			continue
		}
		existing.Token, existing.LeaseUntil = rec.Token, rec.LeaseUntil
		return existing, true, nil
	}
}

// runOnce runs the request under the claimed record held and keeps its answer, or
// releases the key when the answer is a 5xx, all within ctx's deadline: the run ends
// earlier to leave time for that. A failure to keep the answer does not change it: a
// retry then waits for the lease and finds the record made.
func (k *Keeper) runOnce(ctx context.Context, held models.IdempotencyRecord, run func(context.Context, string) models.IdempotentAnswer) models.IdempotentAnswer {
	work, cancel := deadline.Reserve(ctx)
	answer := run(work, held.ReservedID)
	cancel()
	if answer.Status >= 500 {
		if err := k.store.ReleaseIdempotencyRecord(ctx, held.ID, held.Token); err != nil {
			k.opts.Logger.WarnContext(ctx, "release idempotency key", "error", err.Error())
		}
		return answer
	}
	if err := k.store.CompleteIdempotencyRecord(ctx, held, answer); err != nil {
		k.opts.Logger.WarnContext(ctx, "keep idempotent answer", "error", err.Error())
	}
	return answer
}

func randomToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// sleep waits d or until ctx ends, and returns ctx's error then.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Fingerprint identifies a request made to route with method and body, as a retry
// sends it again. A body that is a JSON object is compared as the document it
// parses to, not as bytes: a client may re-serialise it, with other whitespace or
// its fields in another order, and it is the same request. Values keep their types
// (1 and 1.0 differ, as they are stored differently). Any other body is compared as
// bytes.
func Fingerprint(method, route string, body []byte) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n", method, route)
	doc, err := models.ParseDocument(body)
	if err != nil {
		h.Write([]byte{0})
		h.Write(body)
		return hex.EncodeToString(h.Sum(nil))
	}
	canonical, err := bson.Marshal(sorted(doc))
	if err != nil { // a parsed document always encodes
		h.Write([]byte{0})
		h.Write(body)
		return hex.EncodeToString(h.Sum(nil))
	}
	h.Write([]byte{1})
	h.Write(canonical)
	return hex.EncodeToString(h.Sum(nil))
}

// sorted returns v with the fields of every object in it sorted by name.
func sorted(v any) any {
	switch t := v.(type) {
	case bson.D:
		out := make(bson.D, len(t))
		for i, e := range t {
			out[i] = bson.E{Key: e.Key, Value: sorted(e.Value)}
		}
		slices.SortFunc(out, func(a, b bson.E) int { return strings.Compare(a.Key, b.Key) })
		return out
	case bson.A:
		out := make(bson.A, len(t))
		for i, e := range t {
			out[i] = sorted(e)
		}
		return out
	}
	return v
}
