package repository

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clinic/interactions/models"
)

// MigrationsCollection records the migrations a database has had.
const MigrationsCollection = "migrations"

// migration brings what an earlier version of the service stored to what this one
// reads. Each is idempotent and resumes where an interrupted run stopped.
type migration struct {
	name string
	// dropIndexes names the indexes it replaces, dropped before the indexes are made.
	dropIndexes map[string][]string
	run         func(ctx context.Context, s *DB) error
	// on limits the migration to one kind of store: elsewhere it is skipped, not
	// recorded, and its record removed, so that it runs when the database is next
	// served from a store of that kind.
	on storeKind
}

// storeKind is the kind of store a migration is for.
type storeKind int

const (
	// anyStore is every store.
	anyStore storeKind = iota
	// mongoDBStore is MongoDB, which keeps what the embedded store does not (see
	// InteractionIDsCollection).
	mongoDBStore
	// loneIDStore is a store that finds a document fast only by a filter of _id
	// alone (see WithLoneIDFilters), as the embedded store does.
	loneIDStore
)

// appliesTo reports whether m is for the store of s.
func (m migration) appliesTo(s *DB) bool {
	switch m.on {
	case mongoDBStore:
		return !s.loneID
	case loneIDStore:
		return s.loneID
	}
	return true
}

// migrations are the migrations, in the order they run.
var migrations = []migration{
	{
		// Patients were stored with a generated _id under a unique index on their
		// insurance number; the insurance number is now their _id, so that a patient
		// is found by a lookup of _id alone. It runs first: the migrations after it
		// find patients by _id.
		name:        "patient-ids",
		dropIndexes: map[string][]string{PatientsCollection: {"insurance_no_unique"}},
		run:         migratePatientIDs,
	},
	{
		// Archived versions were found by (insurance_no, interaction_id, version) under a
		// unique index; they are now found by an _id naming both (models.VersionID), and
		// marked committed once the record has moved to them.
		name: "archive-version-ids",
		dropIndexes: map[string][]string{
			InteractionVersionsCollection: {"insurance_no_interaction_version_unique"},
			PatientVersionsCollection:     {"insurance_no_version_unique"},
		},
		run: migrateArchiveIDs,
	},
	{
		// Patients gained search keys and a sort key, interactions search tokens and
		// an ailment key, which every write now stores (see models/search.go).
		name: "search-keys",
		run:  migrateSearchKeys,
	},
	{
		// The indexes of visits by ailment and of a patient's audit events end with
		// the _id that breaks ties in their lists' order, so that MongoDB reads a page
		// in order from the index instead of sorting what it finds.
		name: "list-index-ids",
		dropIndexes: map[string][]string{
			InteractionsCollection: {"ailment_key_interaction_date"},
			AuditEventsCollection:  {"insurance_no_time"},
		},
		run: func(context.Context, *DB) error { return nil },
	},
	{
		// A patient's audit events were found by the events' insurance_no alone; the
		// index of audit events by patient adds those that disclosed the data of
		// patients other than their subject. The rows of the events stored before
		// are made from the patients they list.
		name:        "audit-disclosures",
		dropIndexes: map[string][]string{AuditEventsCollection: {"insurance_no_time_id"}},
		run:         migrateAuditDisclosures,
	},
	{
		// Interactions gained a registry of their ids on MongoDB, where a route that
		// names an interaction by id finds its patient there (see
		// InteractionIDsCollection).
		name: "interaction-ids",
		run:  migrateInteractionIDs,
		on:   mongoDBStore,
	},
	{
		// The embedded store uses no index for its queries but _id's (its side
		// index serves them), and kept every other index up to date all the same:
		// only the unique ones are left there (see EnsureIndexes).
		name: "lone-id-query-indexes",
		run:  dropQueryIndexes,
		on:   loneIDStore,
	},
}

// Prepare makes the database ready for this version of the service: it drops the
// indexes that migrations replace, creates the indexes (EnsureIndexes) and runs the
// migrations not yet recorded as done. It is safe to run on every start, and again
// after an interruption. It returns the store's errors.
func (s *DB) Prepare(ctx context.Context) error {
	done := map[string]bool{}
	cur, err := s.db.Collection(MigrationsCollection).Find(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("read migrations: %w", storeError(err))
	}
	var recorded []struct {
		Name string `bson:"_id"`
	}
	if err := cur.All(ctx, &recorded); err != nil {
		return fmt.Errorf("read migrations: %w", storeError(err))
	}
	for _, m := range recorded {
		done[m.Name] = true
	}
	if err := s.forgetOtherStoresMigrations(ctx, done); err != nil {
		return err
	}
	for _, m := range migrations {
		if done[m.name] || !m.appliesTo(s) {
			continue
		}
		for coll, names := range m.dropIndexes {
			for _, name := range names {
				if err := dropIndex(ctx, s.db.Collection(coll), name); err != nil {
					return fmt.Errorf("migration %s: %w", m.name, err)
				}
			}
		}
	}
	if err := s.EnsureIndexes(ctx); err != nil {
		return err
	}
	for _, m := range migrations {
		if done[m.name] || !m.appliesTo(s) {
			continue
		}
		err := m.run(ctx, s)
		s.announce(ctx) // a migration may rewrite records
		if err != nil {
			return fmt.Errorf("migration %s: %w", m.name, err)
		}
		_, err = s.db.Collection(MigrationsCollection).InsertOne(ctx, bson.D{
			{Key: "_id", Value: m.name}, {Key: "done_at", Value: models.StoreTime(time.Now())},
		})
		if err != nil && !mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("record migration %s: %w", m.name, storeError(err))
		}
	}
	return nil
}

// forgetOtherStoresMigrations removes from done, and from the store's record, the
// migrations for another kind of store than s's: the embedded store writes without
// keeping what only MongoDB keeps (interactions without the registry of their ids),
// and MongoDB makes the indexes the embedded store goes without, so such a
// migration must run again when the database is next served from its kind of store.
func (s *DB) forgetOtherStoresMigrations(ctx context.Context, done map[string]bool) error {
	for _, m := range migrations {
		if m.appliesTo(s) || !done[m.name] {
			continue
		}
		if _, err := s.db.Collection(MigrationsCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: m.name}}); err != nil {
			return fmt.Errorf("forget migration %s: %w", m.name, storeError(err))
		}
		delete(done, m.name)
	}
	return nil
}

// dropIndex drops the index name of coll, if it exists.
func dropIndex(ctx context.Context, coll *mongo.Collection, name string) error {
	specs, err := coll.Indexes().ListSpecifications(ctx)
	if err != nil {
		return fmt.Errorf("list indexes of %s: %w", coll.Name(), storeError(err))
	}
	if !slices.ContainsFunc(specs, func(s mongo.IndexSpecification) bool { return s.Name == name }) {
		return nil
	}
	if err := coll.Indexes().DropOne(ctx, name); err != nil {
		return fmt.Errorf("drop index %s of %s: %w", name, coll.Name(), storeError(err))
	}
	return nil
}

// migrateArchiveIDs gives every archived version stored with a generated _id its
// natural one, marked committed when the record has reached that version. The copy
// is inserted before the original is deleted, so an interruption loses nothing; a
// run after one finds the copy stored and deletes the original.
func migrateArchiveIDs(ctx context.Context, s *DB) error {
	var differing []any
	for _, kind := range []struct {
		archive, records *mongo.Collection
	}{{s.interactionVersions, s.interactions}, {s.patientVersions, s.patients}} {
		cur, err := kind.archive.Find(ctx, bson.D{})
		if err != nil {
			return fmt.Errorf("find versions: %w", storeError(err))
		}
		var old []bson.D
		for cur.Next(ctx) {
			var doc bson.D
			if err := cur.Decode(&doc); err != nil {
				return fmt.Errorf("decode version: %w", err)
			}
			if _, natural := field(doc, "_id").(string); !natural {
				old = append(old, doc)
			}
		}
		if err := cur.Err(); err != nil {
			return fmt.Errorf("read versions: %w", storeError(err))
		}
		cur.Close(ctx)
		for _, doc := range old {
			moved, err := migrateArchived(ctx, kind.archive, kind.records, doc)
			if err != nil {
				return err
			}
			if !moved {
				differing = append(differing, field(doc, "_id"))
			}
		}
	}
	return differingError("archived versions", differing)
}

// migrateArchived stores doc, an archived version with a generated _id, under its
// natural one, and deletes the original (see moveRecord). It returns false, and
// keeps the original, when another version is stored under that id already.
func migrateArchived(ctx context.Context, archive, records *mongo.Collection, doc bson.D) (bool, error) {
	key := models.RecordKey{}
	key.InsuranceNo, _ = field(doc, models.FieldInsuranceNo).(string)
	key.InteractionID, _ = field(doc, "interaction_id").(string)
	version, ok := asInt(field(doc, "version"))
	if key.InsuranceNo == "" || !ok {
		return false, fmt.Errorf("an archived version without insurance_no or version")
	}
	var record bson.D
	err := records.FindOne(ctx, bson.D{{Key: "_id", Value: recordID(key)}}).Decode(&record)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return false, fmt.Errorf("find record: %w", storeError(err))
	}
	current, hasVersion := asInt(field(record, "version"))
	if !hasVersion && record != nil {
		current = 1 // stored before records had versions
	}
	copied := bson.D{{Key: "_id", Value: models.VersionID(key, version)}}
	for _, e := range doc {
		if e.Key != "_id" && e.Key != "committed" {
			copied = append(copied, e)
		}
	}
	if version <= current {
		copied = append(copied, bson.E{Key: "committed", Value: true})
	}
	// Whether a version is committed is the record's to say, not the version's content.
	return moveRecord(ctx, archive, field(doc, "_id"), copied, "committed")
}

// migratePatientIDs gives every patient stored with a generated _id its insurance
// number as _id. The copy is inserted before the original is deleted, so an
// interruption loses nothing; a run after one finds the copy stored and deletes the
// original. Versions are untouched: the archive names patients by insurance number.
func migratePatientIDs(ctx context.Context, s *DB) error {
	cur, err := s.patients.Find(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("find patients: %w", storeError(err))
	}
	var old []bson.D
	for cur.Next(ctx) {
		var doc bson.D
		if err := cur.Decode(&doc); err != nil {
			return fmt.Errorf("decode patient: %w", err)
		}
		if id, ok := field(doc, "_id").(string); !ok || id != field(doc, models.FieldInsuranceNo) {
			old = append(old, doc)
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("read patients: %w", storeError(err))
	}
	cur.Close(ctx)
	var differing []any
	for _, doc := range old {
		no, ok := field(doc, models.FieldInsuranceNo).(string)
		if !ok || no == "" {
			return fmt.Errorf("a patient without an insurance number")
		}
		copied := bson.D{{Key: "_id", Value: no}}
		for _, e := range doc {
			if e.Key != "_id" {
				copied = append(copied, e)
			}
		}
		// The search keys are derived from the record (the search-keys migration
		// stores them), so a copy with them holds the same content as one without.
		moved, err := moveRecord(ctx, s.patients, field(doc, "_id"), copied, models.FieldSearchKeys, models.FieldSortKey)
		if err != nil {
			return err
		}
		if !moved {
			differing = append(differing, field(doc, "_id"))
		}
	}
	return differingError("patients", differing)
}

// moveRecord stores copied, a record's content under its natural _id, in coll and
// then deletes the original, stored under originalID: the copy is inserted before
// the original is deleted, so an interruption loses nothing. When a record is stored
// under the natural _id already (the copy of an interrupted run, or a record written
// since), the original is deleted only when that record holds the same content (see
// sameContent), ignoring the fields named ignore; otherwise both are kept, and it
// returns false. It returns the store's errors.
func moveRecord(ctx context.Context, coll *mongo.Collection, originalID any, copied bson.D, ignore ...string) (bool, error) {
	_, err := coll.InsertOne(ctx, copied)
	if err != nil && !mongo.IsDuplicateKeyError(err) {
		return false, fmt.Errorf("copy into %s: %w", coll.Name(), storeError(err))
	}
	if err != nil {
		var stored bson.D
		if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: field(copied, "_id")}}).Decode(&stored); err != nil {
			return false, fmt.Errorf("read the record of %s stored under the same id: %w", coll.Name(), storeError(err))
		}
		if !sameContent(stored, copied, ignore...) {
			return false, nil
		}
	}
	if _, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: originalID}}); err != nil {
		return false, fmt.Errorf("delete from %s: %w", coll.Name(), storeError(err))
	}
	return true, nil
}

// sameContent reports whether a and b hold the same content but for their _id and
// the top-level fields named ignore: the same fields, whatever their order in each
// document (nested ones too), with values of the same BSON type and value, and
// arrays of the same elements in the same order.
func sameContent(a, b bson.D, ignore ...string) bool {
	ignore = append(ignore, "_id")
	ca, errA := bson.Marshal(canonical(a, ignore))
	cb, errB := bson.Marshal(canonical(b, ignore))
	return errA == nil && errB == nil && bytes.Equal(ca, cb)
}

// canonical returns v with the fields of every document in it sorted by name, and
// without the top-level fields named drop.
func canonical(v any, drop []string) any {
	switch v := v.(type) {
	case bson.D:
		out := make(bson.D, 0, len(v))
		for _, e := range v {
			if !slices.Contains(drop, e.Key) {
				out = append(out, bson.E{Key: e.Key, Value: canonical(e.Value, nil)})
			}
		}
		slices.SortStableFunc(out, func(x, y bson.E) int { return strings.Compare(x.Key, y.Key) })
		return out
	case bson.A:
		out := make(bson.A, len(v))
		for i, e := range v {
			out[i] = canonical(e, nil)
		}
		return out
	}
	return v
}

// maxDifferingNamed is how many generated ids differingError names.
const maxDifferingNamed = 20

// differingError returns nil when ids is empty, and otherwise an error saying that
// the records of kind stored under the generated ids ids differ from those stored
// under their natural ids, and what to do. It names the generated ids alone, never
// a record's content.
func differingError(kind string, ids []any) error {
	if len(ids) == 0 {
		return nil
	}
	named := make([]string, 0, min(len(ids), maxDifferingNamed))
	for _, id := range ids[:min(len(ids), maxDifferingNamed)] {
		if oid, ok := id.(bson.ObjectID); ok {
			named = append(named, `ObjectId("`+oid.Hex()+`")`)
			continue
		}
		named = append(named, fmt.Sprintf("%v", id))
	}
	more := ""
	if len(ids) > len(named) {
		more = fmt.Sprintf(" and %d more", len(ids)-len(named))
	}
	return fmt.Errorf("%d %s stored under a generated _id hold other content than the record stored under the same natural _id; "+
		"both of each pair are kept, and the migration runs again at the next start: compare each pair, delete the wrong one, "+
		"and start again (generated _ids: %s%s)", len(ids), kind, strings.Join(named, ", "), more)
}

// migrateSearchKeys stores the keys of the search of every patient and interaction
// stored without them, in batches; the records are otherwise left as they are. A run
// after an interruption finds those done.
func migrateSearchKeys(ctx context.Context, s *DB) error {
	err := setDerived(ctx, s.patients, models.FieldSearchKeys, func(p models.Patient) bson.D {
		return bson.D{{Key: models.FieldSearchKeys, Value: p.SearchKeys()}, {Key: models.FieldSortKey, Value: p.SortKey()}}
	})
	if err != nil {
		return err
	}
	return setDerived(ctx, s.interactions, models.FieldSearchTokens, func(in models.Interaction) bson.D {
		return bson.D{{Key: models.FieldSearchTokens, Value: in.SearchTokens()}, {Key: models.FieldAilmentKey, Value: in.AilmentKey()}}
	})
}

// setDerived sets, on every document of coll without the field marker, the fields
// derive gives from it.
func setDerived[T any](ctx context.Context, coll *mongo.Collection, marker string, derive func(T) bson.D) error {
	cur, err := coll.Find(ctx, bson.D{{Key: marker, Value: bson.D{{Key: "$exists", Value: false}}}})
	if err != nil {
		return fmt.Errorf("find %s: %w", coll.Name(), storeError(err))
	}
	defer cur.Close(ctx)
	var batch []mongo.WriteModel
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if _, err := coll.BulkWrite(ctx, batch, options.BulkWrite().SetOrdered(false)); err != nil {
			return fmt.Errorf("update %s: %w", coll.Name(), storeError(err))
		}
		batch = batch[:0]
		return nil
	}
	for cur.Next(ctx) {
		var doc T
		if err := cur.Decode(&doc); err != nil {
			return fmt.Errorf("decode %s: %w", coll.Name(), err)
		}
		batch = append(batch, mongo.NewUpdateOneModel().
			SetFilter(bson.D{{Key: "_id", Value: cur.Current.Lookup("_id")}}).
			SetUpdate(bson.D{{Key: "$set", Value: derive(doc)}}))
		if len(batch) == 500 {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("read %s: %w", coll.Name(), storeError(err))
	}
	return flush()
}

// asInt returns v as an int when it is a BSON integer or an integral double.
func asInt(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int32:
		return int(n), true
	case int64:
		return int(n), true
	case float64:
		return int(n), n == float64(int(n))
	}
	return 0, false
}
