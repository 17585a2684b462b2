package repository_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/records"
	"github.com/clinic/interactions/repository"
	"github.com/clinic/interactions/storetest"
)

var testStore *storetest.Store

func TestMain(m *testing.M) { os.Exit(storetest.Main(m, &testStore)) }

// TestMigrateArchiveIDs writes an archive as the service stored it before versions
// had ids of their own (generated ids, a unique index on record and version), then
// prepares the database: every version is kept, under its natural id, marked
// committed up to the record's version; the old index is gone; a second run changes
// nothing; and the versions read back through the records' rules.
func TestMigrateArchiveIDs(t *testing.T) {
	ctx := context.Background()
	db := testStore.Database(t)
	archive := db.Collection(repository.InteractionVersionsCollection)
	_, err := archive.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "insurance_no", Value: 1}, {Key: "interaction_id", Value: 1}, {Key: "version", Value: -1}},
		Options: options.Index().SetName("insurance_no_interaction_version_unique").SetUnique(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	record := func(v int, remarks string) bson.D {
		return bson.D{
			{Key: "_id", Value: "1"}, {Key: "insurance_no", Value: "A11"}, {Key: "remarks", Value: remarks},
			{Key: "interaction_date", Value: at}, {Key: "label", Value: bson.A{}}, {Key: "version", Value: int32(v)},
			{Key: "created_at", Value: at}, {Key: "updated_at", Value: at},
		}
	}
	// Version 2 is the record's; version 3 an abandoned intent.
	if _, err := db.Collection(repository.InteractionsCollection).InsertOne(ctx, record(2, "second")); err != nil {
		t.Fatal(err)
	}
	for v, remarks := range map[int]string{1: "first", 2: "second", 3: "abandoned"} {
		_, err := archive.InsertOne(ctx, bson.D{
			{Key: "insurance_no", Value: "A11"}, {Key: "interaction_id", Value: "1"}, {Key: "version", Value: int32(v)},
			{Key: "archived_at", Value: at}, {Key: "document", Value: record(v, remarks)},
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	repo := repository.New(db)
	for run := 1; run <= 2; run++ {
		if err := repo.Prepare(ctx); err != nil {
			t.Fatalf("Prepare, run %d: %v", run, err)
		}
		var stored []struct {
			ID        any  `bson:"_id"`
			Version   int  `bson:"version"`
			Committed bool `bson:"committed"`
		}
		cur, err := archive.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "version", Value: 1}}))
		if err != nil {
			t.Fatal(err)
		}
		if err := cur.All(ctx, &stored); err != nil {
			t.Fatal(err)
		}
		if len(stored) != 3 {
			t.Fatalf("run %d: %d archived versions, want 3", run, len(stored))
		}
		for _, v := range stored {
			key := models.RecordKey{InsuranceNo: "A11", InteractionID: "1"}
			if v.ID != models.VersionID(key, v.Version) || v.Committed != (v.Version <= 2) {
				t.Errorf("run %d: version %d stored as %v, committed %v", run, v.Version, v.ID, v.Committed)
			}
		}
		specs, err := archive.Indexes().ListSpecifications(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(specs, func(s mongo.IndexSpecification) bool { return s.Name == "insurance_no_interaction_version_unique" }) {
			t.Errorf("run %d: the old unique index is still there", run)
		}
	}

	interactions := records.NewInteractions(repo, repo.InteractionVersions(), nil)
	page, err := interactions.Versions(ctx, "1", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, in := range page.Items {
		got = append(got, in.Remarks)
	}
	if !slices.Equal(got, []string{"second", "first"}) {
		t.Errorf("versions after the migration: %q", got)
	}
	// The abandoned intent is completed by the next amendment of version 2.
	_, err = interactions.Amend(ctx, "1", func(v int) bool { return v == 2 }, bson.D{{Key: "remarks", Value: "other"}}, "")
	if err == nil {
		t.Error("an amendment of version 2 won over the abandoned intent of version 3")
	}
	if cur, _ := interactions.Get(ctx, "1"); cur.Version != 3 || cur.Remarks != "abandoned" {
		t.Errorf("current = version %d %q, want the intent completed", cur.Version, cur.Remarks)
	}
}

// TestMigratePatientIDs writes patients as the service stored them before their
// insurance number was their _id (generated ids, a unique index on insurance_no,
// versions archived by record and version), one of them caught half-way by an
// interrupted run, then prepares the database twice: each patient is stored once,
// under its insurance number, unchanged; its versions are all there; the old index
// is gone; and the records read and amend as before.
func TestMigratePatientIDs(t *testing.T) {
	ctx := context.Background()
	db := testStore.Database(t)
	patients := db.Collection(repository.PatientsCollection)
	_, err := patients.Indexes().CreateOne(ctx, mongo.IndexModel{
		Keys:    bson.D{{Key: "insurance_no", Value: 1}},
		Options: options.Index().SetName("insurance_no_unique").SetUnique(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	// The archive-version-ids migration ran when this store was written.
	if _, err := db.Collection(repository.MigrationsCollection).InsertOne(ctx, bson.D{{Key: "_id", Value: "archive-version-ids"}}); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	patient := func(no string, v int, phone string) bson.D {
		return bson.D{
			{Key: "insurance_no", Value: no}, {Key: "fname", Value: "Ada"}, {Key: "ph_no", Value: phone},
			{Key: "clinic_ref", Value: "K-7"}, // a field of the clinic's own
			{Key: "version", Value: int32(v)}, {Key: "created_at", Value: at}, {Key: "updated_at", Value: at},
		}
	}
	old := func(doc bson.D) bson.D { return append(bson.D{{Key: "_id", Value: bson.NewObjectID()}}, doc...) }
	if _, err := patients.InsertMany(ctx, []any{old(patient("A11", 2, "0171 2")), old(patient("B11", 1, "0171 3"))}); err != nil {
		t.Fatal(err)
	}
	archive := db.Collection(repository.PatientVersionsCollection)
	for v, phone := range map[int]string{1: "0171 1", 2: "0171 2"} {
		key := models.RecordKey{InsuranceNo: "A11"}
		_, err := archive.InsertOne(ctx, bson.D{
			{Key: "_id", Value: models.VersionID(key, v)}, {Key: "insurance_no", Value: "A11"}, {Key: "version", Value: int32(v)},
			{Key: "archived_at", Value: at}, {Key: "committed", Value: true}, {Key: "document", Value: patient("A11", v, phone)},
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	repo := repository.New(db)
	for run := 1; run <= 2; run++ {
		if run == 2 {
			// As if the first run had stopped after copying B11: the original is back.
			if _, err := patients.InsertOne(ctx, old(patient("B11", 1, "0171 3"))); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Collection(repository.MigrationsCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: "patient-ids"}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := repo.Prepare(ctx); err != nil {
			t.Fatalf("Prepare, run %d: %v", run, err)
		}
		cur, err := patients.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "insurance_no", Value: 1}}))
		if err != nil {
			t.Fatal(err)
		}
		var stored []bson.D
		if err := cur.All(ctx, &stored); err != nil {
			t.Fatal(err)
		}
		if len(stored) != 2 {
			t.Fatalf("run %d: %d patients stored, want 2: %v", run, len(stored), stored)
		}
		for i, want := range []bson.D{patient("A11", 2, "0171 2"), patient("B11", 1, "0171 3")} {
			no := want[0].Value
			want = append(bson.D{{Key: "_id", Value: no}}, want...)
			// The search-keys migration, which runs after, adds its own fields.
			got := slices.DeleteFunc(stored[i], func(e bson.E) bool { return e.Key == "search_keys" || e.Key == "sort_key" })
			if got, _ := bson.MarshalExtJSON(got, false, false); string(got) != string(mustExtJSON(t, want)) {
				t.Errorf("run %d: stored\n%s\nwant\n%s", run, got, mustExtJSON(t, want))
			}
		}
		specs, err := patients.Indexes().ListSpecifications(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(specs, func(s mongo.IndexSpecification) bool { return s.Name == "insurance_no_unique" }) {
			t.Errorf("run %d: the old unique index is still there", run)
		}
	}

	ps := records.NewPatients(repo, repo.PatientVersions(), nil)
	page, err := ps.Versions(ctx, "A11", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 2 || page.Items[0].PhNo != "0171 2" || page.Items[1].PhNo != "0171 1" {
		t.Errorf("versions of A11 after the migration = %+v, want 2 and 1", page.Items)
	}
	amended, err := ps.Amend(ctx, "A11", func(v int) bool { return v == 2 }, bson.D{{Key: "ph_no", Value: "0171 9"}}, "moved")
	if err != nil || amended.Version != 3 {
		t.Fatalf("amend after the migration: version %d, %v", amended.Version, err)
	}
	if got, err := repo.Patient(ctx, "A11"); err != nil || got.PhNo != "0171 9" || lookupExtra(got.Extra, "clinic_ref") != "K-7" {
		t.Errorf("A11 after an amendment = %+v, %v", got, err)
	}
}

func mustExtJSON(t *testing.T, doc bson.D) []byte {
	t.Helper()
	data, err := bson.MarshalExtJSON(doc, false, false)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func lookupExtra(extra bson.D, key string) any {
	for _, e := range extra {
		if e.Key == key {
			return e.Value
		}
	}
	return nil
}

// TestMigrateSearchKeys writes a patient and an interaction as the service stored
// them before records had search keys, then prepares the database: both gain the
// keys every write now stores, and are found by a search.
func TestMigrateSearchKeys(t *testing.T) {
	ctx := context.Background()
	db := testStore.Database(t)
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err := db.Collection(repository.PatientsCollection).InsertOne(ctx, bson.D{
		{Key: "_id", Value: "A11"}, {Key: "insurance_no", Value: "A11"}, {Key: "fname", Value: "José"},
		{Key: "lname", Value: "Straße"}, {Key: "version", Value: int32(1)}, {Key: "created_at", Value: at}, {Key: "updated_at", Value: at},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Collection(repository.InteractionsCollection).InsertOne(ctx, bson.D{
		{Key: "_id", Value: "1"}, {Key: "insurance_no", Value: "A11"}, {Key: "ailment", Value: "Influenza"},
		{Key: "symptoms", Value: "Fièvre and cough"}, {Key: "interaction_date", Value: at}, {Key: "label", Value: bson.A{}},
		{Key: "version", Value: int32(1)}, {Key: "created_at", Value: at}, {Key: "updated_at", Value: at},
	})
	if err != nil {
		t.Fatal(err)
	}
	repo := repository.New(db)
	if err := repo.Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	var p bson.D
	if err := db.Collection(repository.PatientsCollection).FindOne(ctx, bson.D{{Key: "_id", Value: "A11"}}).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(lookupExtra(p, "search_keys")); got != "[a11 jose strasse]" {
		t.Errorf("search_keys = %s", got)
	}
	found, _, err := repo.Patients(ctx, models.PatientQuery{Words: []string{"stras"}, Limit: 10})
	if err != nil || len(found) != 1 {
		t.Errorf("patients found by a word of the name: %v, %v", found, err)
	}
	page, err := repo.History(ctx, models.HistoryQuery{Words: []string{"fievre"}, Ailment: "influenza", Limit: 10})
	if err != nil || len(page.Items) != 1 {
		t.Errorf("interactions found by a word and the ailment: %v, %v", page.Items, err)
	}
}

// TestMigrateListIndexIDs creates the list indexes as the service made them before
// they ended with _id, then prepares the database: they are replaced by the indexes
// that do, whose order MongoDB reads a page in; the audit events' by patient by the
// index of the rows of audit events by patient.
func TestMigrateListIndexIDs(t *testing.T) {
	ctx := context.Background()
	db := testStore.Database(t)
	for coll, keys := range map[string]bson.D{
		repository.InteractionsCollection: {{Key: "ailment_key", Value: 1}, {Key: "interaction_date", Value: -1}},
		repository.AuditEventsCollection:  {{Key: "insurance_no", Value: 1}, {Key: "time", Value: -1}},
	} {
		name := map[string]string{repository.InteractionsCollection: "ailment_key_interaction_date", repository.AuditEventsCollection: "insurance_no_time"}[coll]
		if _, err := db.Collection(coll).Indexes().CreateOne(ctx, mongo.IndexModel{Keys: keys, Options: options.Index().SetName(name)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := repository.New(db).Prepare(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		coll, gone, made string
	}{
		{repository.InteractionsCollection, "ailment_key_interaction_date", "ailment_key_date_id"},
		{repository.AuditEventsCollection, "insurance_no_time", "time_id"},
		{repository.AuditEventsCollection, "insurance_no_time_id", "time_id"},
		{repository.AuditDisclosuresCollection, "", "insurance_no_time_id"},
	} {
		specs, err := db.Collection(tc.coll).Indexes().ListSpecifications(ctx)
		if err != nil {
			t.Fatal(err)
		}
		has := func(name string) bool {
			return slices.ContainsFunc(specs, func(s mongo.IndexSpecification) bool { return s.Name == name })
		}
		if has(tc.gone) || !has(tc.made) {
			t.Errorf("%s: the indexes are %v; want %s and not %q", tc.coll, specs, tc.made, tc.gone)
		}
	}
}

// TestMigrationsKeepDifferingDuplicates stores, beside records stored under
// generated ids, records already stored under their natural ids: some the same
// content (a copy an interrupted run made, in another field order, without the
// search keys derived from it), some different. Preparing the database deletes only
// the originals whose copy holds the same content; it keeps both of every differing
// pair, fails naming the originals' generated ids (never a patient's data), and
// does so again at the next start, until one of each pair is deleted.
func TestMigrationsKeepDifferingDuplicates(t *testing.T) {
	ctx := context.Background()
	db := testStore.Database(t)
	patients := db.Collection(repository.PatientsCollection)
	archive := db.Collection(repository.PatientVersionsCollection)
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	patient := func(no, phone string) bson.D {
		return bson.D{
			{Key: "insurance_no", Value: no}, {Key: "fname", Value: "Ada"}, {Key: "ph_no", Value: phone},
			{Key: "emergency_contact", Value: bson.D{{Key: "name", Value: "Bo"}, {Key: "phone", Value: "1"}}},
			{Key: "version", Value: int32(1)}, {Key: "created_at", Value: at}, {Key: "updated_at", Value: at},
		}
	}
	with := func(id any, doc bson.D) bson.D { return append(bson.D{{Key: "_id", Value: id}}, doc...) }
	reordered := func(doc bson.D) bson.D {
		out := slices.Clone(doc)
		slices.Reverse(out)
		for i, e := range out {
			if nested, ok := e.Value.(bson.D); ok {
				nested = slices.Clone(nested)
				slices.Reverse(nested)
				out[i].Value = nested
			}
		}
		return out
	}
	same, differing := bson.NewObjectID(), bson.NewObjectID()
	_, err := patients.InsertMany(ctx, []any{
		with(same, patient("S11", "0171 1")),
		with("S11", append(reordered(patient("S11", "0171 1")), bson.E{Key: "search_keys", Value: bson.A{"ada", "s11"}})),
		with(differing, patient("D11", "0171 2")),
		with("D11", patient("D11", "0171 9")), // the same insurance number, another phone
		with(bson.NewObjectID(), patient("N11", "0171 3")),
	})
	if err != nil {
		t.Fatal(err)
	}
	version := func(no string, v int, phone string) bson.D {
		return bson.D{{Key: "insurance_no", Value: no}, {Key: "version", Value: int32(v)}, {Key: "archived_at", Value: at},
			{Key: "document", Value: patient(no, phone)}}
	}
	id := func(no string, v int) string { return models.VersionID(models.RecordKey{InsuranceNo: no}, v) }
	sameVersion, differingVersion := bson.NewObjectID(), bson.NewObjectID()
	_, err = archive.InsertMany(ctx, []any{
		with(sameVersion, version("S11", 1, "0171 1")),
		with(id("S11", 1), append(version("S11", 1, "0171 1"), bson.E{Key: "committed", Value: true})),
		with(differingVersion, version("D11", 1, "0171 2")),
		with(id("D11", 1), append(version("D11", 1, "0171 0"), bson.E{Key: "committed", Value: true})),
	})
	if err != nil {
		t.Fatal(err)
	}

	ids := func(coll *mongo.Collection) []string {
		t.Helper()
		cur, err := coll.Find(ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		var docs []struct {
			ID any `bson:"_id"`
		}
		if err := cur.All(ctx, &docs); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range docs {
			if oid, ok := d.ID.(bson.ObjectID); ok {
				out = append(out, "generated "+oid.Hex())
				continue
			}
			out = append(out, fmt.Sprint(d.ID))
		}
		slices.Sort(out)
		return out
	}
	repo := repository.New(db)
	// The migrations run in order, each only once those before it are done.
	for _, tc := range []struct {
		name     string
		coll     *mongo.Collection
		original bson.ObjectID
		want     []string
	}{
		{"patient-ids", patients, differing, []string{"D11", "N11", "S11", "generated " + differing.Hex()}},
		{"archive-version-ids", archive, differingVersion, []string{id("D11", 1), id("S11", 1), "generated " + differingVersion.Hex()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for run := 1; run <= 2; run++ {
				err := repo.Prepare(ctx)
				if err == nil || !strings.Contains(err.Error(), tc.name) || !strings.Contains(err.Error(), tc.original.Hex()) {
					t.Fatalf("Prepare, run %d = %v; want the migration %s to fail naming %s", run, err, tc.name, tc.original.Hex())
				}
				for _, private := range []string{"D11", "0171", "Ada"} {
					if strings.Contains(err.Error(), private) {
						t.Errorf("the error names %q, a patient's data: %v", private, err)
					}
				}
				if got := ids(tc.coll); !slices.Equal(got, slices.Sorted(slices.Values(tc.want))) {
					t.Errorf("run %d: stored %q, want %q: the exact duplicate deleted, both of the differing pair kept", run, got, tc.want)
				}
			}
			// Once one of the pair is deleted, the migration completes.
			if _, err := tc.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: tc.original}}); err != nil {
				t.Fatal(err)
			}
		})
	}
	if err := repo.Prepare(ctx); err != nil {
		t.Fatalf("Prepare once the differing records are resolved: %v", err)
	}
	var kept models.Patient
	if err := patients.FindOne(ctx, bson.D{{Key: "_id", Value: "D11"}}).Decode(&kept); err != nil || kept.PhNo != "0171 9" {
		t.Errorf("D11 = %+v, %v; want the record stored under its insurance number, untouched", kept, err)
	}
}
