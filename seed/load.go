package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/clinic/interactions/models"
)

// recordStore is what loading needs from the repository.
type recordStore interface {
	PatientExists(ctx context.Context, insuranceNo string) (bool, error)
	InsertPatients(ctx context.Context, patients []models.Patient) (models.InsertResult, error)
	InsertInteractions(ctx context.Context, interactions []models.Interaction) (models.InsertResult, error)
}

// importReport says what an import did.
type importReport struct {
	patientRows, interactionRows int
	patients, interactions       models.InsertResult
	problems                     []problem
	notes                        []string
}

// importCSV loads Patient.csv and Interaction.csv from fsys into store, as readDataset
// reads them (dir names the files in problems; start is the import's one timestamp).
// Interactions whose patient is neither in the files nor in the store are reported
// and left out. Documents go in with unordered insertMany calls of at most batch
// documents, patients first; those already present, by insurance number or id, are
// left unchanged and counted, so loading the same files again changes nothing.
//
// It returns the errors of readDataset and the store's errors, with a report of what
// was stored before the store failed.
func importCSV(ctx context.Context, store recordStore, fsys fs.FS, dir string, start time.Time, batch int) (importReport, error) {
	ds, err := readDataset(fsys, dir, start)
	if err != nil {
		return importReport{}, err
	}
	rep := importReport{patientRows: ds.patientRows, interactionRows: ds.interactionRows, problems: ds.problems, notes: ds.notes}

	known := map[string]bool{}
	for _, p := range ds.patients {
		known[p.InsuranceNo] = true
	}
	interactions := make([]models.Interaction, 0, len(ds.interactions))
	for _, ci := range ds.interactions {
		no := ci.interaction.InsuranceNo
		ok, checked := known[no]
		if !checked {
			if ok, err = store.PatientExists(ctx, no); err != nil {
				return importReport{}, err
			}
			known[no] = ok
		}
		if !ok {
			rep.problems = append(rep.problems, problem{ci.file, ci.line,
				"insurance_no: no patient has this insurance number, in " + patientFile + " or in the store"})
			continue
		}
		interactions = append(interactions, ci.interaction)
	}
	sortProblems(rep.problems)

	if rep.patients, err = insertBatches(ctx, ds.patients, batch, store.InsertPatients, nil); err != nil {
		return rep, err
	}
	rep.interactions, err = insertBatches(ctx, interactions, batch, store.InsertInteractions, nil)
	return rep, err
}

// counts are the report's numbers as the run's audit event records them.
func (r importReport) counts() map[string]int {
	return map[string]int{
		"patient_rows": r.patientRows, "interaction_rows": r.interactionRows, "rows_skipped": len(r.problems),
		"patients_inserted": r.patients.Inserted, "patients_present": r.patients.Existing,
		"interactions_inserted": r.interactions.Inserted, "interactions_present": r.interactions.Existing,
	}
}

// print writes the report: rows read, documents inserted and already present, and
// each row left out with the reason.
func (r importReport) print(w io.Writer, source string) {
	fmt.Fprintf(w, "%s: %d patient rows, %d interaction rows\n", source, r.patientRows, r.interactionRows)
	for _, n := range r.notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	fmt.Fprintf(w, "patients:     %d inserted, %d already present\n", r.patients.Inserted, r.patients.Existing)
	fmt.Fprintf(w, "interactions: %d inserted, %d already present\n", r.interactions.Inserted, r.interactions.Existing)
	if len(r.problems) == 0 {
		fmt.Fprintln(w, "skipped rows: none")
		return
	}
	fmt.Fprintf(w, "skipped rows: %d\n", len(r.problems))
	for _, p := range r.problems {
		fmt.Fprintf(w, "  %s\n", p)
	}
}

// insertBatches inserts docs with insert, at most batch at a time, adding up the
// results and calling progress, when not nil, with the size of each batch done. It
// returns the first error, wrapped.
func insertBatches[T any](ctx context.Context, docs []T, batch int,
	insert func(context.Context, []T) (models.InsertResult, error), progress func(int)) (models.InsertResult, error) {
	var total models.InsertResult
	for len(docs) > 0 {
		n := min(batch, len(docs))
		res, err := insert(ctx, docs[:n])
		if err != nil {
			return total, fmt.Errorf("insert batch of %d: %w", n, err)
		}
		total.Add(res)
		if progress != nil {
			progress(n)
		}
		docs = docs[n:]
	}
	return total, nil
}

// generateOptions are the inputs of loadGenerated.
type generateOptions struct {
	patients int
	batch    int
	seed     uint64
	// planted draws the planted patients (see planted.go).
	planted bool
	// now is when the records are created; visits fall in the three years before.
	now time.Time
}

// generateReport says what loadGenerated stored.
type generateReport struct {
	patients, interactions models.InsertResult
	elapsed                time.Duration
}

// documents returns the number of documents inserted.
func (r generateReport) documents() int { return r.patients.Inserted + r.interactions.Inserted }

// counts are the report's numbers as the run's audit event records them.
func (r generateReport) counts() map[string]int {
	return map[string]int{
		"patients_inserted": r.patients.Inserted, "patients_present": r.patients.Existing,
		"interactions_inserted": r.interactions.Inserted, "interactions_present": r.interactions.Existing,
	}
}

// print writes the report: the documents inserted, how fast, and those already present.
func (r generateReport) print(w io.Writer) {
	fmt.Fprintf(w, "inserted %d documents (%d patients, %d interactions) in %s: %.0f documents/s\n",
		r.documents(), r.patients.Inserted, r.interactions.Inserted, r.elapsed.Round(time.Millisecond), r.perSecond())
	fmt.Fprintf(w, "already present, left unchanged: %d patients, %d interactions\n", r.patients.Existing, r.interactions.Existing)
}

// perSecond returns the documents inserted per second.
func (r generateReport) perSecond() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.documents()) / r.elapsed.Seconds()
}

// loadGenerated stores the first opts.patients synthetic patients of opts.seed with
// their histories, generating them as it goes, in unordered insertMany calls of at
// most opts.batch documents, each batch's patients before their interactions. Those
// already stored, by insurance number or id, are left unchanged and counted: the same
// seed gives the same insurance numbers and interaction ids at any time (see
// generator), so loading a seed again adds nothing, and loading more patients of a
// seed adds only the new ones. A progress bar counting documents goes to con, and its
// line is ended when loadGenerated returns.
//
// It returns the store's errors, and ctx's error when interrupted.
func loadGenerated(ctx context.Context, store recordStore, opts generateOptions, con *console) (generateReport, error) {
	started := time.Now()
	g := newGenerator(opts.seed, opts.now)
	g.planted = opts.planted
	total := opts.patients
	for i := range opts.patients {
		total += g.visits(i)
	}
	bar := con.newProgress(int64(total), "inserting",
		progressbar.OptionSetItsString("docs"),
		progressbar.OptionShowIts(),
	)
	defer bar.stop()

	var rep generateReport
	var patients []models.Patient
	var interactions []models.Interaction
	// flush stores the buffered patients, then their interactions in full batches,
	// keeping the remainder for later unless all is set.
	flush := func(all bool) error {
		res, err := insertBatches(ctx, patients, opts.batch, store.InsertPatients, bar.add)
		rep.patients.Add(res)
		patients = patients[:0]
		if err != nil {
			return err
		}
		ready := len(interactions)
		if !all {
			ready -= ready % opts.batch
		}
		res, err = insertBatches(ctx, interactions[:ready], opts.batch, store.InsertInteractions, bar.add)
		rep.interactions.Add(res)
		interactions = append(interactions[:0], interactions[ready:]...)
		return err
	}
	for i := range opts.patients {
		p, history, err := g.patient(i)
		if err != nil {
			return rep, err
		}
		patients = append(patients, p)
		interactions = append(interactions, history...)
		if len(interactions) >= opts.batch {
			if err := flush(false); err != nil {
				return rep, interrupted(ctx, rep, err)
			}
		}
	}
	if err := flush(true); err != nil {
		return rep, interrupted(ctx, rep, err)
	}
	bar.finish()
	rep.elapsed = time.Since(started)
	return rep, nil
}

// interrupted explains err as an interruption when ctx has ended.
func interrupted(ctx context.Context, rep generateReport, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted after %d documents: %w", rep.documents(), ctx.Err())
	}
	return err
}
