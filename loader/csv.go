package loader

import (
	"context"
	"io/fs"
	"time"

	"github.com/clinic/interactions/csvimport"
	"github.com/clinic/interactions/models"
)

// CSVReport says what a CSV load did.
type CSVReport struct {
	PatientRows, InteractionRows int
	Patients, Interactions       models.InsertResult
	// Problems are the rows left out, and why; Notes are remarks about whole files.
	Problems []csvimport.Problem
	Notes    []string
}

// CSV loads Patient.csv and Interaction.csv from fsys into store, as csvimport.Read
// reads them (dir names the files in problems; start is the import's one timestamp).
// Interactions whose patient is neither in the files nor in the store are reported
// and left out. Documents go in as opts says, every patient before any interaction;
// those already present, by insurance number or id, are left unchanged and counted,
// so loading the same files again changes nothing.
//
// It returns the errors of csvimport.Read and the store's errors, with a report of
// what was stored before the store failed, and when ctx ends, once the calls under
// way have finished, an error saying how many documents were inserted, with that
// report.
func CSV(ctx context.Context, store RecordStore, fsys fs.FS, dir string, start time.Time, opts WriteOptions) (CSVReport, error) {
	ds, err := csvimport.Read(fsys, dir, start)
	if err != nil {
		return CSVReport{}, err
	}
	rep := CSVReport{PatientRows: ds.PatientRows, InteractionRows: ds.InteractionRows, Problems: ds.Problems, Notes: ds.Notes}

	known := map[string]bool{}
	for _, p := range ds.Patients {
		known[p.InsuranceNo] = true
	}
	interactions := make([]models.Interaction, 0, len(ds.Interactions))
	for _, ci := range ds.Interactions {
		no := ci.Record.InsuranceNo
		ok, checked := known[no]
		if !checked {
			if ok, err = store.PatientExists(ctx, no); err != nil {
				return CSVReport{}, err
			}
			known[no] = ok
		}
		if !ok {
			rep.Problems = append(rep.Problems, csvimport.Problem{File: ci.File, Line: ci.Line,
				Reason: "insurance_no: no patient has this insurance number, in " + csvimport.PatientFile + " or in the store"})
			continue
		}
		interactions = append(interactions, ci.Record)
	}
	csvimport.SortProblems(rep.Problems)

	w := newWriter(ctx, opts.Inflight)
	insertBatches(w, ds.Patients, opts.Batch, store.InsertPatients, &rep.Patients, nil)
	if err := w.wait(); err != nil {
		return rep, interrupted(ctx, rep.Patients.Inserted, err)
	}
	w = newWriter(ctx, opts.Inflight)
	insertBatches(w, interactions, opts.Batch, store.InsertInteractions, &rep.Interactions, nil)
	if err := w.wait(); err != nil {
		return rep, interrupted(ctx, rep.Patients.Inserted+rep.Interactions.Inserted, err)
	}
	return rep, nil
}

// Counts are the report's numbers as a run's audit event records them.
func (r CSVReport) Counts() map[string]int {
	return map[string]int{
		"patient_rows": r.PatientRows, "interaction_rows": r.InteractionRows, "rows_skipped": len(r.Problems),
		"patients_inserted": r.Patients.Inserted, "patients_present": r.Patients.Existing,
		"interactions_inserted": r.Interactions.Inserted, "interactions_present": r.Interactions.Existing,
	}
}
