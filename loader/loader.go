// Package loader stores many records at once, as the seed command loads them: the
// original project's CSV export (see package csvimport), synthetic patients (see
// package synthetic) and FHIR bulk data (see package fhir). Each load returns a
// report of what it stored, read and skipped. The CSV and synthetic loads write
// unordered insertMany batches, several at once (see WriteOptions); when the load's
// context ends, no batch starts, those under way finish, and the report counts
// exactly what was stored. The FHIR load writes through package reconcile.
package loader

import (
	"context"
	"fmt"

	"github.com/clinic/interactions/models"
)

// RecordStore is what loading needs from the repository.
type RecordStore interface {
	PatientExists(ctx context.Context, insuranceNo string) (bool, error)
	InsertPatients(ctx context.Context, patients []models.Patient) (models.InsertResult, error)
	InsertInteractions(ctx context.Context, interactions []models.Interaction) (models.InsertResult, error)
}

// WriteOptions say how a load writes: unordered insertMany calls of at most Batch
// documents, at most Inflight of them at once.
type WriteOptions struct {
	Batch, Inflight int
}

// Progress follows a load, for a progress bar. A load calls Start once, with how many
// units it will count (-1 while it does not know), then Add or Set as it goes, one
// call at a time, and Finish once it has loaded everything; it calls none of them
// after it has returned. A nil Progress follows nothing.
type Progress interface {
	// Start begins the count at 0 of total.
	Start(total int64)
	// Add counts n more.
	Add(n int)
	// Set counts done of total.
	Set(done, total int64)
	// Finish says everything was loaded.
	Finish()
}

// noProgress is the Progress of a load that nothing follows.
type noProgress struct{}

func (noProgress) Start(int64)      {}
func (noProgress) Add(int)          {}
func (noProgress) Set(int64, int64) {}
func (noProgress) Finish()          {}

// followed returns p, or a Progress that follows nothing when p is nil.
func followed(p Progress) Progress {
	if p == nil {
		return noProgress{}
	}
	return p
}

// interrupted explains err as an interruption after the given number of documents
// were inserted, when ctx has ended.
func interrupted(ctx context.Context, inserted int, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted after %d documents inserted: %w", inserted, err)
	}
	return err
}
