package loader

import (
	"context"
	"errors"
	"time"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/synthetic"
)

// GenerateOptions are the inputs of Generated.
type GenerateOptions struct {
	Patients int
	WriteOptions
	Seed uint64
	// Planted draws the planted patients (see synthetic.NewPlanted).
	Planted bool
	// Now is when the records are created; visits fall in the three years before.
	Now time.Time
}

// GenerateReport says what Generated stored.
type GenerateReport struct {
	Patients, Interactions models.InsertResult
	Elapsed                time.Duration
}

// Documents returns the number of documents inserted.
func (r GenerateReport) Documents() int { return r.Patients.Inserted + r.Interactions.Inserted }

// Counts are the report's numbers as a run's audit event records them.
func (r GenerateReport) Counts() map[string]int {
	return map[string]int{
		"patients_inserted": r.Patients.Inserted, "patients_present": r.Patients.Existing,
		"interactions_inserted": r.Interactions.Inserted, "interactions_present": r.Interactions.Existing,
	}
}

// PerSecond returns the documents inserted per second.
func (r GenerateReport) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Documents()) / r.Elapsed.Seconds()
}

// Generated stores the first opts.Patients synthetic patients of opts.Seed with
// their histories, generating them as it goes, as opts says: each insertMany call
// holds at most opts.Batch documents, and at most opts.Inflight jobs run at once,
// each storing a run of patients and then their interactions (about opts.Batch
// documents in all), so that no interaction is stored before its patient. Those
// already stored, by insurance number or id, are left unchanged and counted: the
// same seed gives the same insurance numbers and interaction ids at any time (see
// synthetic.Generator), so loading a seed again adds nothing, and loading more
// patients of a seed adds only the new ones. progress counts the documents.
//
// It returns the store's errors, and when ctx ends, once the jobs under way have
// finished, an error saying how many documents were inserted; the report says what
// was stored either way.
func Generated(ctx context.Context, store RecordStore, opts GenerateOptions, progress Progress) (GenerateReport, error) {
	started := time.Now()
	progress = followed(progress)
	g := synthetic.New(opts.Seed, opts.Now)
	if opts.Planted {
		g = synthetic.NewPlanted(opts.Seed, opts.Now)
	}
	total := opts.Patients
	for i := range opts.Patients {
		total += g.Visits(i)
	}
	progress.Start(int64(total))

	var rep GenerateReport
	w := newWriter(ctx, opts.Inflight)
	var patients []models.Patient
	var interactions []models.Interaction
	// send starts the job storing the patients gathered, then their interactions.
	send := func() bool {
		ps, ins := patients, interactions
		patients, interactions = nil, nil
		return w.start(func(ctx context.Context) error {
			if err := insertSequence(ctx, w, ps, opts.Batch, store.InsertPatients, &rep.Patients, progress.Add); err != nil {
				return err
			}
			return insertSequence(ctx, w, ins, opts.Batch, store.InsertInteractions, &rep.Interactions, progress.Add)
		})
	}
	var genErr error
	sending := true
	for i := 0; i < opts.Patients && sending; i++ {
		p, history, err := g.Patient(i)
		if err != nil {
			genErr = err
			break
		}
		if len(patients) > 0 && len(patients)+len(interactions)+1+len(history) > opts.Batch {
			sending = send()
		}
		patients = append(patients, p)
		interactions = append(interactions, history...)
	}
	if sending && genErr == nil {
		send()
	}
	if err := errors.Join(genErr, w.wait()); err != nil {
		return rep, interrupted(ctx, rep.Documents(), err)
	}
	progress.Finish()
	rep.Elapsed = time.Since(started)
	return rep, nil
}
