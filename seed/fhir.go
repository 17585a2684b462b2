package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/fhir"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

// fhirStore is what a FHIR import needs from the repository.
type fhirStore interface {
	PatientsByInsuranceNo(ctx context.Context, nos []string) ([]models.Patient, error)
	InteractionsByID(ctx context.Context, ids []string) ([]models.Interaction, error)
	InsertPatients(ctx context.Context, patients []models.Patient) (repository.InsertResult, error)
	InsertInteractions(ctx context.Context, interactions []models.Interaction) (repository.InsertResult, error)
	AmendPatient(ctx context.Context, current, next models.Patient) (models.Patient, error)
	AmendInteraction(ctx context.Context, current, next models.Interaction) (models.Interaction, error)
}

// reimportReason is the amendment_reason of the versions a re-import makes.
const reimportReason = "FHIR re-import"

// The fields a FHIR import writes, and so compares and amends on a re-import; a dot
// names a field inside an object. Fields it never writes (habits, blood_type,
// health_status, qa, next_visit, metrics such as ECG, fields of a clinic's own) keep
// what was stored.
var (
	fhirPatientFields = []string{
		"fname", "lname", "addr", "age", "sex", "ph_no", "email", "birth_date", "deceased_date", "source",
	}
	fhirInteractionFields = []string{
		"interaction_date", "ailment", "symptoms", "remarks", "label", "source",
		"metrics.temp", "metrics.BP", "metrics.HR", "metrics.SpO2", "metrics.weight", "metrics.units",
		"next_steps.prescribed_meds", "next_steps.prescribed_tests",
	}
)

// upserts counts what happened to the records of one kind.
type upserts struct {
	inserted, updated, unchanged int
}

// fhirReport says what a FHIR import did.
type fhirReport struct {
	read                   fhir.Report
	patients, interactions upserts
	elapsed                time.Duration
}

// importFHIR imports the FHIR bulk data in dir into store, as fhir.Read reads it,
// with a progress bar on progress. Records are written in batches of at most batch,
// patients first: one not stored yet is inserted; one stored from the same FHIR
// resource is left alone when the fields the import writes are unchanged, and
// otherwise amended (a new version, the old one kept). A stored record that did not
// come from the same resource is never touched: the resource is skipped, with the
// interactions of a patient so skipped. So importing the same data again changes
// nothing.
//
// It returns the errors of fhir.Read and of the store; the store's are wrapped with
// the file and line being imported.
func importFHIR(ctx context.Context, store fhirStore, dir string, now time.Time, batch int, progress io.Writer) (fhirReport, error) {
	started := time.Now()
	bar := progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(progress),
		progressbar.OptionSetDescription("reading"),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(progress) }),
	)
	im := &fhirImporter{store: store, batch: batch, now: now, rejected: map[string]bool{}}
	read, err := fhir.Read(ctx, dir, fhir.Options{Now: now, Progress: func(done, total int64) {
		if bar.GetMax64() != total {
			bar.ChangeMax64(total)
		}
		_ = bar.Set64(done)
	}}, im)
	if err == nil {
		err = im.flush(ctx)
	}
	if err != nil {
		_ = bar.Exit()
		return fhirReport{}, err
	}
	_ = bar.Finish()
	read.Skipped = append(read.Skipped, im.skips.Skipped...)
	return fhirReport{read: read, patients: im.patients, interactions: im.interactions, elapsed: time.Since(started)}, nil
}

// fhirImporter is the fhir.Sink that writes what a FHIR import reads.
type fhirImporter struct {
	store fhirStore
	batch int
	now   time.Time

	patients, interactions upserts
	// skips holds the resources left out when compared with the store.
	skips fhir.Report
	// rejected holds the insurance numbers of the patients left out so, whose
	// interactions are left out too.
	rejected map[string]bool

	pendingPatients     []pending[models.Patient]
	pendingInteractions []pending[models.Interaction]
}

// pending is a record waiting to be written, with where it was read.
type pending[T any] struct {
	rec T
	at  fhir.Origin
}

// Patient queues p, writing the queue when it is full.
func (im *fhirImporter) Patient(ctx context.Context, p models.Patient, at fhir.Origin) error {
	im.pendingPatients = append(im.pendingPatients, pending[models.Patient]{p, at})
	if len(im.pendingPatients) < im.batch {
		return nil
	}
	return im.flushPatients(ctx)
}

// Interaction queues in, writing the patients first and the queue when it is full.
func (im *fhirImporter) Interaction(ctx context.Context, in models.Interaction, at fhir.Origin) error {
	if len(im.pendingPatients) > 0 {
		if err := im.flushPatients(ctx); err != nil {
			return err
		}
	}
	im.pendingInteractions = append(im.pendingInteractions, pending[models.Interaction]{in, at})
	if len(im.pendingInteractions) < im.batch {
		return nil
	}
	return im.flushInteractions(ctx)
}

// flush writes what is queued.
func (im *fhirImporter) flush(ctx context.Context) error {
	if err := im.flushPatients(ctx); err != nil {
		return err
	}
	return im.flushInteractions(ctx)
}

func (im *fhirImporter) flushPatients(ctx context.Context) error {
	queued := im.pendingPatients
	im.pendingPatients = im.pendingPatients[:0]
	if len(queued) == 0 {
		return nil
	}
	nos := make([]string, len(queued))
	for i, q := range queued {
		nos[i] = q.rec.InsuranceNo
	}
	stored, err := im.store.PatientsByInsuranceNo(ctx, nos)
	if err != nil {
		return fmt.Errorf("look up patients of %s to %s: %w", queued[0].at, queued[len(queued)-1].at, err)
	}
	current := map[string]models.Patient{}
	for _, p := range stored {
		current[p.InsuranceNo] = p
	}
	var fresh []models.Patient
	for _, q := range queued {
		cur, ok := current[q.rec.InsuranceNo]
		if !ok {
			fresh = append(fresh, q.rec)
			continue
		}
		if err := im.updatePatient(ctx, cur, q); err != nil {
			return err
		}
	}
	res, err := im.store.InsertPatients(ctx, fresh)
	if err != nil {
		return fmt.Errorf("insert patients of %s to %s: %w", queued[0].at, queued[len(queued)-1].at, err)
	}
	im.patients.inserted += res.Inserted
	im.patients.unchanged += res.Existing // stored meanwhile, by another import of the same data
	return nil
}

// updatePatient compares the stored patient cur with the one read, q, and amends
// cur when they differ.
func (im *fhirImporter) updatePatient(ctx context.Context, cur models.Patient, q pending[models.Patient]) error {
	patch, same, err := ownedPatch(cur, q.rec, fhirPatientFields)
	switch {
	case err != nil:
		return fmt.Errorf("compare patient of %s: %w", q.at, err)
	case !same:
		im.rejected[cur.InsuranceNo] = true
		im.skips.Skip(q.at, "a stored patient not imported from this Patient has its insurance number; it and its interactions are left out")
		return nil
	case patch == nil:
		im.patients.unchanged++
		return nil
	}
	next, err := models.AmendPatient(cur, patch, reimportReason, im.now)
	if err != nil {
		im.skips.Skip(q.at, "re-import would make the stored patient invalid: "+reason(err))
		return nil
	}
	if _, err := im.store.AmendPatient(ctx, cur, next); err != nil {
		if errors.Is(err, models.ErrPreconditionFailed) {
			im.skips.Skip(q.at, "the stored patient changed during the import; import again")
			return nil
		}
		return fmt.Errorf("amend patient of %s: %w", q.at, err)
	}
	im.patients.updated++
	return nil
}

func (im *fhirImporter) flushInteractions(ctx context.Context) error {
	queued := im.pendingInteractions
	im.pendingInteractions = im.pendingInteractions[:0]
	if len(queued) == 0 {
		return nil
	}
	ids := make([]string, len(queued))
	for i, q := range queued {
		ids[i] = q.rec.ID
	}
	stored, err := im.store.InteractionsByID(ctx, ids)
	if err != nil {
		return fmt.Errorf("look up interactions of %s to %s: %w", queued[0].at, queued[len(queued)-1].at, err)
	}
	current := map[string]models.Interaction{}
	for _, in := range stored {
		current[in.ID] = in
	}
	var fresh []models.Interaction
	for _, q := range queued {
		cur, ok := current[q.rec.ID]
		switch {
		case im.rejected[q.rec.InsuranceNo]:
			im.skips.Skip(q.at, "its patient was left out")
		case !ok:
			fresh = append(fresh, q.rec)
		default:
			if err := im.updateInteraction(ctx, cur, q); err != nil {
				return err
			}
		}
	}
	res, err := im.store.InsertInteractions(ctx, fresh)
	if err != nil {
		return fmt.Errorf("insert interactions of %s to %s: %w", queued[0].at, queued[len(queued)-1].at, err)
	}
	im.interactions.inserted += res.Inserted
	im.interactions.unchanged += res.Existing // stored meanwhile, by another import of the same data
	return nil
}

// updateInteraction compares the stored interaction cur with the one read, q, and
// amends cur when they differ.
func (im *fhirImporter) updateInteraction(ctx context.Context, cur models.Interaction, q pending[models.Interaction]) error {
	patch, same, err := ownedPatch(cur, q.rec, fhirInteractionFields)
	switch {
	case err != nil:
		return fmt.Errorf("compare interaction of %s: %w", q.at, err)
	case !same || cur.InsuranceNo != q.rec.InsuranceNo:
		im.skips.Skip(q.at, "a stored interaction with this id was not imported from this Encounter of this patient; left out")
		return nil
	case patch == nil:
		im.interactions.unchanged++
		return nil
	}
	next, err := models.AmendInteraction(cur, patch, reimportReason, im.now)
	if err != nil {
		im.skips.Skip(q.at, "re-import would make the stored interaction invalid: "+reason(err))
		return nil
	}
	if _, err := im.store.AmendInteraction(ctx, cur, next); err != nil {
		if errors.Is(err, models.ErrPreconditionFailed) {
			im.skips.Skip(q.at, "the stored interaction changed during the import; import again")
			return nil
		}
		return fmt.Errorf("amend interaction of %s: %w", q.at, err)
	}
	im.interactions.updated++
	return nil
}

// ownedPatch compares a stored record with the one read from the same source, in the
// form a client sends. same is false when the stored one did not come from the same
// resource (its source differs). Otherwise patch is the merge patch that gives the
// stored record the read one's value at each of paths (removing those the read one
// lacks), or nil when they already agree. It returns an error when a record cannot be
// encoded.
func ownedPatch(stored, read any, paths []string) (patch bson.D, same bool, err error) {
	cur, err := clientForm(stored)
	if err != nil {
		return nil, false, err
	}
	next, err := clientForm(read)
	if err != nil {
		return nil, false, err
	}
	if !equalValues(valueAt(cur, "source"), valueAt(next, "source")) {
		return nil, false, nil
	}
	for _, path := range paths {
		c, n := valueAt(cur, path), valueAt(next, path)
		if equalValues(c, n) {
			continue
		}
		patch = setAt(patch, path, replacement(c, n))
	}
	return patch, true, nil
}

// clientForm returns a record as a client would send it: its JSON, parsed as the API
// parses a request.
func clientForm(v any) (bson.D, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode record: %w", err)
	}
	return models.ParseDocument(data)
}

// valueAt returns the value at a path of at most two keys ("metrics.BP"), or nil.
func valueAt(doc bson.D, path string) any {
	first, rest, nested := strings.Cut(path, ".")
	for _, e := range doc {
		if e.Key != first {
			continue
		}
		if !nested {
			return e.Value
		}
		inner, _ := e.Value.(bson.D)
		return valueAt(inner, rest)
	}
	return nil
}

// setAt returns patch with value at a path of at most two keys.
func setAt(patch bson.D, path string, value any) bson.D {
	first, rest, nested := strings.Cut(path, ".")
	if !nested {
		return append(patch, bson.E{Key: first, Value: value})
	}
	for i, e := range patch {
		if e.Key == first {
			inner, _ := e.Value.(bson.D)
			patch[i].Value = setAt(inner, rest, value)
			return patch
		}
	}
	return append(patch, bson.E{Key: first, Value: bson.D{{Key: rest, Value: value}}})
}

// replacement returns the merge patch value that turns cur into next: next itself,
// except that where both are objects, fields of cur that next lacks are set to null
// (a merge patch would keep them otherwise).
func replacement(cur, next any) any {
	cd, curIsDoc := cur.(bson.D)
	nd, nextIsDoc := next.(bson.D)
	if !curIsDoc || !nextIsDoc {
		return next
	}
	out := bson.D{}
	for _, e := range nd {
		out = append(out, bson.E{Key: e.Key, Value: replacement(valueAt(cd, e.Key), e.Value)})
	}
	for _, e := range cd {
		if valueAt(nd, e.Key) == nil {
			out = append(out, bson.E{Key: e.Key, Value: nil})
		}
	}
	return out
}

// equalValues reports whether two values of client documents are the same, types
// included.
func equalValues(a, b any) bool {
	ea, errA := bson.Marshal(bson.D{{Key: "v", Value: a}})
	eb, errB := bson.Marshal(bson.D{{Key: "v", Value: b}})
	return errA == nil && errB == nil && bytes.Equal(ea, eb)
}

// print writes the report: what was read, what happened to the records, what was
// ignored and what was skipped, with where.
func (r fhirReport) print(w io.Writer, dir string) {
	var read []string
	types := slices.Sorted(maps.Keys(r.read.Read))
	slices.SortStableFunc(types, func(a, b string) int { return typeRank(a) - typeRank(b) })
	for _, t := range types {
		read = append(read, fmt.Sprintf("%d %s", r.read.Read[t], t))
	}
	fmt.Fprintf(w, "%s: read %s (%.1f MB) in %s\n", dir, strings.Join(read, ", "),
		float64(r.read.Bytes)/1e6, r.elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "patients:     %d inserted, %d updated, %d unchanged\n", r.patients.inserted, r.patients.updated, r.patients.unchanged)
	fmt.Fprintf(w, "interactions: %d inserted, %d updated, %d unchanged\n", r.interactions.inserted, r.interactions.updated, r.interactions.unchanged)
	if len(r.read.Ignored) > 0 {
		fmt.Fprintln(w, "ignored:")
		for _, what := range slices.Sorted(maps.Keys(r.read.Ignored)) {
			fmt.Fprintf(w, "  %s: %d\n", what, r.read.Ignored[what])
		}
	}
	if len(r.read.Skipped) == 0 {
		fmt.Fprintln(w, "skipped: none")
		return
	}
	fmt.Fprintf(w, "skipped: %d\n", r.read.SkippedCount())
	for _, s := range r.read.Skipped {
		fmt.Fprintf(w, "  %s: %d\n", s.Reason, s.Count)
		for _, at := range s.At {
			fmt.Fprintf(w, "    %s\n", at)
		}
		if more := s.Count - len(s.At); more > 0 {
			fmt.Fprintf(w, "    … and %d more\n", more)
		}
	}
}

// typeRank orders resource types as the import reads them: patients, encounters,
// then the rest.
func typeRank(t string) int {
	switch t {
	case "Patient":
		return 0
	case "Encounter":
		return 1
	}
	return 2
}
