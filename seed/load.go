package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/clinic/interactions/csvimport"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/synthetic"
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
	problems                     []csvimport.Problem
	notes                        []string
}

// writeOptions say how a load writes: unordered insertMany calls of at most batch
// documents, at most inflight of them at once.
type writeOptions struct {
	batch, inflight int
}

// importCSV loads Patient.csv and Interaction.csv from fsys into store, as
// csvimport.Read reads them (dir names the files in problems; start is the import's one timestamp).
// Interactions whose patient is neither in the files nor in the store are reported
// and left out. Documents go in as opts says, every patient before any interaction;
// those already present, by insurance number or id, are left unchanged and counted,
// so loading the same files again changes nothing.
//
// It returns the errors of csvimport.Read and the store's errors, with a report of what
// was stored before the store failed, and when ctx ends, once the calls under way
// have finished, an error saying how many documents were inserted, with that report.
func importCSV(ctx context.Context, store recordStore, fsys fs.FS, dir string, start time.Time, opts writeOptions) (importReport, error) {
	ds, err := csvimport.Read(fsys, dir, start)
	if err != nil {
		return importReport{}, err
	}
	rep := importReport{patientRows: ds.PatientRows, interactionRows: ds.InteractionRows, problems: ds.Problems, notes: ds.Notes}

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
				return importReport{}, err
			}
			known[no] = ok
		}
		if !ok {
			rep.problems = append(rep.problems, csvimport.Problem{File: ci.File, Line: ci.Line,
				Reason: "insurance_no: no patient has this insurance number, in " + csvimport.PatientFile + " or in the store"})
			continue
		}
		interactions = append(interactions, ci.Record)
	}
	csvimport.SortProblems(rep.problems)

	w := newWriter(ctx, opts.inflight)
	insertBatches(w, ds.Patients, opts.batch, store.InsertPatients, &rep.patients, nil)
	if err := w.wait(); err != nil {
		return rep, interrupted(ctx, rep.patients.Inserted, err)
	}
	w = newWriter(ctx, opts.inflight)
	insertBatches(w, interactions, opts.batch, store.InsertInteractions, &rep.interactions, nil)
	if err := w.wait(); err != nil {
		return rep, interrupted(ctx, rep.patients.Inserted+rep.interactions.Inserted, err)
	}
	return rep, nil
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

// generateOptions are the inputs of loadGenerated.
type generateOptions struct {
	patients int
	writeOptions
	seed uint64
	// planted draws the planted patients (see synthetic.NewPlanted).
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
// their histories, generating them as it goes, as opts says: each insertMany call
// holds at most opts.batch documents, and at most opts.inflight jobs run at once,
// each storing a run of patients and then their interactions (about opts.batch
// documents in all), so that no interaction is stored before its patient. Those
// already stored, by insurance number or id, are left unchanged and counted: the same
// seed gives the same insurance numbers and interaction ids at any time (see
// synthetic.Generator), so loading a seed again adds nothing, and loading more patients of a
// seed adds only the new ones. A progress bar counting documents goes to con, and its
// line is ended when loadGenerated returns.
//
// It returns the store's errors, and when ctx ends, once the jobs under way have
// finished, an error saying how many documents were inserted; the report says what
// was stored either way.
func loadGenerated(ctx context.Context, store recordStore, opts generateOptions, con *console) (generateReport, error) {
	started := time.Now()
	g := synthetic.New(opts.seed, opts.now)
	if opts.planted {
		g = synthetic.NewPlanted(opts.seed, opts.now)
	}
	total := opts.patients
	for i := range opts.patients {
		total += g.Visits(i)
	}
	bar := con.newProgress(int64(total), "inserting",
		progressbar.OptionSetItsString("docs"),
		progressbar.OptionShowIts(),
	)
	defer bar.stop()

	var rep generateReport
	w := newWriter(ctx, opts.inflight)
	var patients []models.Patient
	var interactions []models.Interaction
	// send starts the job storing the patients gathered, then their interactions.
	send := func() bool {
		ps, ins := patients, interactions
		patients, interactions = nil, nil
		return w.start(func(ctx context.Context) error {
			if err := insertSequence(ctx, w, ps, opts.batch, store.InsertPatients, &rep.patients, bar.add); err != nil {
				return err
			}
			return insertSequence(ctx, w, ins, opts.batch, store.InsertInteractions, &rep.interactions, bar.add)
		})
	}
	var genErr error
	sending := true
	for i := 0; i < opts.patients && sending; i++ {
		p, history, err := g.Patient(i)
		if err != nil {
			genErr = err
			break
		}
		if len(patients) > 0 && len(patients)+len(interactions)+1+len(history) > opts.batch {
			sending = send()
		}
		patients = append(patients, p)
		interactions = append(interactions, history...)
	}
	if sending && genErr == nil {
		send()
	}
	if err := errors.Join(genErr, w.wait()); err != nil {
		return rep, interrupted(ctx, rep.documents(), err)
	}
	bar.finish()
	rep.elapsed = time.Since(started)
	return rep, nil
}

// interrupted explains err as an interruption after the given number of documents
// were inserted, when ctx has ended.
func interrupted(ctx context.Context, inserted int, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted after %d documents inserted: %w", inserted, err)
	}
	return err
}
