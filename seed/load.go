package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
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
// It returns the errors of readDataset and the store's errors.
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
		return importReport{}, err
	}
	if rep.interactions, err = insertBatches(ctx, interactions, batch, store.InsertInteractions, nil); err != nil {
		return importReport{}, err
	}
	return rep, nil
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

// perSecond returns the documents inserted per second.
func (r generateReport) perSecond() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.documents()) / r.elapsed.Seconds()
}

// loadGenerated generates opts.patients synthetic patients with their histories from
// the seed and stores them as it goes, in unordered insertMany calls of at most
// opts.batch documents, each batch's patients before their interactions. A progress
// bar counting documents goes to progress.
//
// The same seed gives the same insurance numbers; it returns an error, before writing
// anything, when the first of them is already stored, because loading a seed again
// would add a second history to its patients. It also returns the store's errors, and
// ctx's error when interrupted.
func loadGenerated(ctx context.Context, store recordStore, opts generateOptions, progress io.Writer) (generateReport, error) {
	started := time.Now()
	g := newGenerator(newRand(opts.seed), opts.now)
	lengths := g.historyLengths(opts.patients)
	total := opts.patients
	for _, n := range lengths {
		total += n
	}
	bar := progressbar.NewOptions(total,
		progressbar.OptionSetWriter(progress),
		progressbar.OptionSetDescription("inserting"),
		progressbar.OptionSetItsString("docs"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(progress) }),
	)
	advance := func(n int) { _ = bar.Add(n) }

	var rep generateReport
	var patients []models.Patient
	var interactions []models.Interaction
	// flush stores the buffered patients, then their interactions in full batches,
	// keeping the remainder for later unless all is set.
	flush := func(all bool) error {
		res, err := insertBatches(ctx, patients, opts.batch, store.InsertPatients, advance)
		rep.patients.Add(res)
		patients = patients[:0]
		if err != nil {
			return err
		}
		ready := len(interactions)
		if !all {
			ready -= ready % opts.batch
		}
		res, err = insertBatches(ctx, interactions[:ready], opts.batch, store.InsertInteractions, advance)
		rep.interactions.Add(res)
		interactions = append(interactions[:0], interactions[ready:]...)
		return err
	}
	for i, visits := range lengths {
		p, history, err := g.patient(visits)
		if err != nil {
			return rep, err
		}
		if i == 0 {
			exists, err := store.PatientExists(ctx, p.InsuranceNo)
			if err != nil {
				return rep, err
			}
			if exists {
				return rep, fmt.Errorf("seed %d was loaded into this database before; use another -seed, or none", opts.seed)
			}
		}
		patients = append(patients, p)
		interactions = append(interactions, history...)
		if len(interactions) >= opts.batch {
			if err := flush(false); err != nil {
				_ = bar.Exit()
				return rep, interrupted(ctx, rep, err)
			}
		}
	}
	if err := flush(true); err != nil {
		_ = bar.Exit()
		return rep, interrupted(ctx, rep, err)
	}
	_ = bar.Finish()
	rep.elapsed = time.Since(started)
	return rep, nil
}

// newRand returns the random source of a -generate run with the given seed.
func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// interrupted explains err as an interruption when ctx has ended.
func interrupted(ctx context.Context, rep generateReport, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted after %d documents: %w", rep.documents(), ctx.Err())
	}
	return err
}
