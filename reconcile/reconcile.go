// Package reconcile writes the records a FHIR import reads into the store, so that
// importing the same data again changes nothing and importing changed data changes
// only what the import owns. A record not stored yet is inserted. A record stored
// from the same FHIR resource is amended, as a new version that keeps the old one,
// when a field the import writes differs, and is left alone otherwise; the fields
// the import never writes keep what clinicians entered. A stored record that did not
// come from the same resource (another source, or entered through the API) is never
// touched: the resource is skipped, and for a patient its interactions too.
package reconcile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"golang.org/x/sync/errgroup"

	"github.com/clinic/interactions/fhir"
	"github.com/clinic/interactions/models"
)

// Reason is the amendment_reason of the versions a re-import makes.
const Reason = "FHIR re-import"

// The fields a FHIR import writes, and so compares and amends on a re-import; a dot
// names a field inside an object. Fields it never writes (habits, blood_type,
// health_status, qa, next_visit, metrics such as ECG, fields of a clinic's own) keep
// what was stored.
var (
	PatientFields = []string{
		"fname", "lname", "addr", "age", "sex", "ph_no", "email", "birth_date", "deceased_date",
	}
	InteractionFields = []string{
		"interaction_date", "ailment", "symptoms", "remarks", "label",
		"metrics.temp", "metrics.BP", "metrics.HR", "metrics.SpO2", "metrics.weight", "metrics.units",
		"next_steps.prescribed_meds", "next_steps.prescribed_tests",
	}
)

// Store inserts records in batches, saying which were stored already, and reads a
// record by its identity (cheap on both stores: the insurance number and the
// interaction id are the records' _id). The reads return models.ErrNotFound for a
// record not stored.
type Store interface {
	InsertPatients(ctx context.Context, patients []models.Patient) (models.InsertResult, error)
	InsertInteractions(ctx context.Context, interactions []models.Interaction) (models.InsertResult, error)
	Patient(ctx context.Context, insuranceNo string) (models.Patient, error)
	Interaction(ctx context.Context, id string) (models.Interaction, error)
}

// lookups is how many records a batch reads from the store at once.
const lookups = 8

// Amender amends a stored record, which the caller has read, with a merge patch as
// its next version (records.Patients, records.Interactions).
type Amender[T any] interface {
	Apply(ctx context.Context, current T, patch bson.D, reason string) (T, error)
}

// Counts say what an import did with the records of one kind.
type Counts struct {
	Inserted, Updated, Unchanged int
}

// Importer is the fhir.Sink that writes what an import reads, in batches.
type Importer struct {
	patients     *kind[models.Patient]
	interactions *kind[models.Interaction]
	// skips holds the resources left out when compared with the store.
	skips fhir.Report
	// rejected holds the insurance numbers of the patients left out so, whose
	// interactions are left out too.
	rejected map[string]bool
	// amended, when set, is told of every record amended.
	amended func(ctx context.Context, kind string, key models.RecordKey) error
	// begun is set once the first interaction has come.
	begun bool
}

// New returns an Importer writing to store in batches of at most batch records,
// patients first, and amending through patients and interactions.
func New(store Store, patients Amender[models.Patient], interactions Amender[models.Interaction], batch int) *Importer {
	im := &Importer{rejected: map[string]bool{}}
	im.patients = &kind[models.Patient]{
		name: "patient", batch: batch, owned: PatientFields,
		foreign: "a stored patient not imported from this Patient has its insurance number; it and its interactions are left out",
		id:      func(p models.Patient) string { return p.InsuranceNo },
		lookup:  store.Patient, insert: store.InsertPatients, amend: patients,
		rejectsPatient: true,
	}
	im.interactions = &kind[models.Interaction]{
		name: "interaction", batch: batch, owned: InteractionFields,
		foreign: "a stored interaction with this id was not imported from this Encounter of this patient; left out",
		id:      func(in models.Interaction) string { return in.ID },
		lookup:  store.Interaction, insert: store.InsertInteractions, amend: interactions,
	}
	return im
}

// OnAmend has f told of every record the import amends, once the new version is
// stored: kind is "patient" or "interaction". An error of f stops the import.
func (im *Importer) OnAmend(f func(ctx context.Context, kind string, key models.RecordKey) error) {
	im.amended = f
}

// Patient queues p, writing the queue when it is full.
func (im *Importer) Patient(ctx context.Context, p models.Patient, at fhir.Origin) error {
	return im.patients.add(ctx, im, p, at)
}

// Interaction queues in, writing the patients first and the queue when it is full.
func (im *Importer) Interaction(ctx context.Context, in models.Interaction, at fhir.Origin) error {
	if err := im.patients.flush(ctx, im); err != nil {
		return err
	}
	if !im.begun {
		// Patients stored already, a re-import: their interactions likely are too.
		im.begun = true
		im.interactions.reimport = im.patients.reimport
	}
	return im.interactions.add(ctx, im, in, at)
}

// Flush writes what is queued. It returns the store's errors, wrapped with the
// places in the files of the records being written.
func (im *Importer) Flush(ctx context.Context) error {
	if err := im.patients.flush(ctx, im); err != nil {
		return err
	}
	return im.interactions.flush(ctx, im)
}

// Patients returns what was done with the patients.
func (im *Importer) Patients() Counts { return im.patients.counts }

// Interactions returns what was done with the interactions.
func (im *Importer) Interactions() Counts { return im.interactions.counts }

// Skipped returns the resources left out when compared with the store, by reason.
func (im *Importer) Skipped() []fhir.Skipped { return im.skips.Skipped }

// kind is the writing of the records of one kind.
type kind[T models.Record] struct {
	name  string
	batch int
	// owned are the fields the import writes.
	owned []string
	// foreign is the reason a record is skipped whose stored namesake came from
	// elsewhere; when rejectsPatient is set, the patient's interactions are skipped too.
	foreign        string
	rejectsPatient bool
	id             func(T) string
	lookup         func(ctx context.Context, id string) (T, error)
	insert         func(ctx context.Context, recs []T) (models.InsertResult, error)
	amend          Amender[T]

	queue  []pending[T]
	counts Counts
	// reimport is set when most records of the last batch were stored already.
	reimport bool
}

// pending is a record waiting to be written, with where it was read.
type pending[T any] struct {
	rec T
	at  fhir.Origin
}

func (k *kind[T]) add(ctx context.Context, im *Importer, rec T, at fhir.Origin) error {
	k.queue = append(k.queue, pending[T]{rec, at})
	if len(k.queue) < k.batch {
		return nil
	}
	return k.flush(ctx, im)
}

// flush writes the queue: records whose patient was left out are skipped, the others
// are inserted in one unordered batch, and those the store holds already are read by
// _id, a few at once, compared and amended, in the order queued. A first import thus
// inserts and reads nothing. When most of the last batch was stored already (a
// re-import), the batch is read first and only what is missing inserted, which
// spares the store an insert of records it has.
func (k *kind[T]) flush(ctx context.Context, im *Importer) error {
	queued := k.queue
	k.queue = k.queue[:0]
	if len(queued) == 0 {
		return nil
	}
	span := fmt.Sprintf("%s to %s", queued[0].at, queued[len(queued)-1].at)
	var writes []pending[T]
	for _, q := range queued {
		if im.rejected[q.rec.Key().InsuranceNo] {
			im.skips.Skip(q.at, "its patient was left out")
			continue
		}
		writes = append(writes, q)
	}
	stored := make([]*T, len(writes))
	if k.reimport {
		if err := k.read(ctx, writes, upTo(len(writes)), stored, true); err != nil {
			return fmt.Errorf("look up %ss of %s: %w", k.name, span, err)
		}
	}
	var fresh []int
	var recs []T
	for i, w := range writes {
		if stored[i] == nil {
			fresh = append(fresh, i)
			recs = append(recs, w.rec)
		}
	}
	res, err := k.insert(ctx, recs)
	if err != nil {
		return fmt.Errorf("insert %ss of %s: %w", k.name, span, err)
	}
	k.counts.Inserted += res.Inserted
	found := make([]int, len(res.ExistingAt))
	for i, at := range res.ExistingAt {
		found[i] = fresh[at]
	}
	if err := k.read(ctx, writes, found, stored, false); err != nil {
		return fmt.Errorf("look up %ss of %s: %w", k.name, span, err)
	}
	held := 0
	for i, cur := range stored {
		if cur == nil {
			continue
		}
		held++
		if err := k.update(ctx, im, *cur, writes[i]); err != nil {
			return err
		}
	}
	k.reimport = held > len(writes)/2
	return nil
}

// upTo returns the positions 0 to n-1.
func upTo(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// read reads the stored records of writes at the given positions into stored, a few
// at once. A record not stored leaves its place nil if optional is set, and is an
// error otherwise. It returns the store's first error.
func (k *kind[T]) read(ctx context.Context, writes []pending[T], positions []int, stored []*T, optional bool) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(lookups)
	for _, at := range positions {
		g.Go(func() error {
			rec, err := k.lookup(gctx, k.id(writes[at].rec))
			switch {
			case optional && errors.Is(err, models.ErrNotFound):
				return nil
			case err != nil:
				return fmt.Errorf("%s of %s: %w", k.name, writes[at].at, err)
			}
			stored[at] = &rec
			return nil
		})
	}
	return g.Wait()
}

// update compares the stored record cur with the one read, q, and amends cur when
// the fields the import owns differ.
func (k *kind[T]) update(ctx context.Context, im *Importer, cur T, q pending[T]) error {
	patch, same, err := OwnedPatch(cur, q.rec, k.owned)
	switch {
	case err != nil:
		return fmt.Errorf("compare %s of %s: %w", k.name, q.at, err)
	case !same || cur.Key() != q.rec.Key():
		if k.rejectsPatient {
			im.rejected[cur.Key().InsuranceNo] = true
		}
		im.skips.Skip(q.at, k.foreign)
		return nil
	case patch == nil:
		k.counts.Unchanged++
		return nil
	}
	amended, err := k.amend.Apply(ctx, cur, patch, Reason)
	var invalid *models.ValidationError
	switch {
	case errors.As(err, &invalid):
		im.skips.Skip(q.at, "re-import would make the stored "+k.name+" invalid: "+invalid.Summary())
		return nil
	case errors.Is(err, models.ErrPreconditionFailed):
		im.skips.Skip(q.at, "the stored "+k.name+" changed during the import; import again")
		return nil
	case err != nil:
		return fmt.Errorf("amend %s of %s: %w", k.name, q.at, err)
	}
	k.counts.Updated++
	if im.amended != nil {
		if err := im.amended(ctx, k.name, amended.Key()); err != nil {
			return fmt.Errorf("record the amendment of %s of %s: %w", k.name, q.at, err)
		}
	}
	return nil
}

// OwnedPatch compares a stored record with the one read from the same source, in
// the form a client sends. same is false when the stored one did not come from the
// same resource (its source differs). Otherwise patch is the merge patch that gives
// the stored record the read one's value at each of paths (removing those the read
// one lacks), or nil when they already agree. It returns an error when a record
// cannot be encoded.
func OwnedPatch(stored, read any, paths []string) (patch bson.D, same bool, err error) {
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
	i := models.FieldIndex(doc, first)
	switch {
	case i < 0:
		return nil
	case !nested:
		return doc[i].Value
	}
	inner, _ := doc[i].Value.(bson.D)
	return valueAt(inner, rest)
}

// setAt returns patch with value at a path of at most two keys.
func setAt(patch bson.D, path string, value any) bson.D {
	first, rest, nested := strings.Cut(path, ".")
	if !nested {
		return append(patch, bson.E{Key: first, Value: value})
	}
	if i := models.FieldIndex(patch, first); i >= 0 {
		inner, _ := patch[i].Value.(bson.D)
		patch[i].Value = setAt(inner, rest, value)
		return patch
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
