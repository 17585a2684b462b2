package loader

import (
	"context"
	"time"

	"github.com/clinic/interactions/fhir"
	"github.com/clinic/interactions/reconcile"
)

// FHIRReport says what a FHIR import did.
type FHIRReport struct {
	Read                   fhir.Report
	Patients, Interactions reconcile.Counts
	Elapsed                time.Duration
}

// FHIR imports the FHIR bulk data in dir, as fhir.Read reads it, through im (see
// package reconcile); progress counts the bytes read. now is when the records are
// created. It returns the errors of fhir.Read and of im, with what im did before
// them.
func FHIR(ctx context.Context, im *reconcile.Importer, dir string, now time.Time, progress Progress) (FHIRReport, error) {
	started := time.Now()
	progress = followed(progress)
	progress.Start(-1)
	read, err := fhir.Read(ctx, dir, fhir.Options{Now: now, Progress: progress.Set}, im)
	if err == nil {
		err = im.Flush(ctx)
	}
	// What was read and skipped before an error too, which the run's audit event counts.
	read.Skipped = append(read.Skipped, im.Skipped()...)
	rep := FHIRReport{Read: read, Patients: im.Patients(), Interactions: im.Interactions()}
	if err != nil {
		return rep, err
	}
	progress.Finish()
	rep.Elapsed = time.Since(started)
	return rep, nil
}

// Counts are the report's numbers as a run's audit event records them.
func (r FHIRReport) Counts() map[string]int {
	return map[string]int{
		"patients_inserted": r.Patients.Inserted, "patients_updated": r.Patients.Updated,
		"patients_unchanged":    r.Patients.Unchanged,
		"interactions_inserted": r.Interactions.Inserted, "interactions_updated": r.Interactions.Updated,
		"interactions_unchanged": r.Interactions.Unchanged, "resources_skipped": r.Read.SkippedCount(),
	}
}
