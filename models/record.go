package models

import (
	"context"
	"fmt"
	"time"
)

// StatusEnteredInError marks a record that was recorded in error. It stays stored,
// with its history, and is left out of lists unless asked for.
const StatusEnteredInError = "entered-in-error"

// Author is who made a version of a record: the name of the API key (or of the
// command, for an import) and the id of the request.
type Author struct {
	Key       string `json:"key" bson:"key" validate:"required" example:"dr-house"`
	RequestID string `json:"request_id,omitempty" bson:"request_id,omitempty"`
}

type authorKey struct{}

// WithAuthor returns ctx naming a as the author of the versions made with it.
func WithAuthor(ctx context.Context, a Author) context.Context {
	return context.WithValue(ctx, authorKey{}, a)
}

// AuthorFrom returns the author ctx names, or nil.
func AuthorFrom(ctx context.Context) *Author {
	a, ok := ctx.Value(authorKey{}).(Author)
	if !ok {
		return nil
	}
	return &a
}

// RecordKey identifies a versioned record: a patient by its insurance number, an
// interaction by its id and its patient's insurance number.
type RecordKey struct {
	InsuranceNo   string
	InteractionID string
}

// Record is a versioned record: a Patient or an Interaction.
type Record interface {
	// Key identifies the record.
	Key() RecordKey
	// VersionNumber is the record's version: 1 on create, one more per amendment.
	VersionNumber() int
}

// Key identifies the interaction.
func (in Interaction) Key() RecordKey {
	return RecordKey{InsuranceNo: in.InsuranceNo, InteractionID: in.ID}
}

// VersionNumber returns in.Version.
func (in Interaction) VersionNumber() int { return in.Version }

// Key identifies the patient.
func (p Patient) Key() RecordKey { return RecordKey{InsuranceNo: p.InsuranceNo} }

// VersionNumber returns p.Version.
func (p Patient) VersionNumber() int { return p.Version }

// Version is an archived version of a record: a full copy of the record as it was
// or, for the newest, as it is or is about to be.
type Version[T Record] struct {
	// ID is VersionID of the record and the version.
	ID            string    `bson:"_id"`
	InsuranceNo   string    `bson:"insurance_no"`
	InteractionID string    `bson:"interaction_id,omitempty"`
	Version       int       `bson:"version"`
	ArchivedAt    time.Time `bson:"archived_at"`
	// Committed is set once the record has moved to this version: until then the
	// version is an intent that the next writer completes.
	Committed bool `bson:"committed,omitempty"`
	Document  T    `bson:"document"`
}

// VersionID returns the id of version v of the record key in the archive: the record
// ("i/<interaction id>" or "p/<insurance number>") and the version, zero-padded, so
// that each version is found by its id alone. Identifiers hold no '/'.
func VersionID(key RecordKey, v int) string {
	if key.InteractionID != "" {
		return fmt.Sprintf("i/%s/%010d", key.InteractionID, v)
	}
	return fmt.Sprintf("p/%s/%010d", key.InsuranceNo, v)
}

// NewVersion returns doc archived as version v of its record at time at.
func NewVersion[T Record](doc T, v int, at time.Time) Version[T] {
	key := doc.Key()
	return Version[T]{ID: VersionID(key, v), InsuranceNo: key.InsuranceNo, InteractionID: key.InteractionID,
		Version: v, ArchivedAt: at, Document: doc}
}

// InsertResult counts what a bulk insert did.
type InsertResult struct {
	Inserted int
	// Existing counts documents left untouched because their identity was already stored.
	Existing int
	// ExistingAt holds the positions, in the batch given to the insert, of the
	// documents Existing counts, in ascending order. It describes one batch: Add
	// leaves it alone.
	ExistingAt []int
}

// Add adds other's counts to r.
func (r *InsertResult) Add(other InsertResult) {
	r.Inserted += other.Inserted
	r.Existing += other.Existing
}
