package sideindex_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/records"
	"github.com/clinic/interactions/repository"
	"github.com/clinic/interactions/storetest"
	"github.com/clinic/interactions/synthetic"
)

// shapes are documents holding values of every type the store keeps, at their
// edges, in objects and arrays of every depth (the store keeps no array directly in
// an array), under names of every kind, by _id.
func shapes() map[string]bson.D {
	oid := bson.ObjectID{0x65, 0x1f, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	at := time.Date(2025, 3, 4, 5, 6, 7, 891_000_000, time.UTC)
	return map[string]bson.D{
		"doubles": {
			{Key: "zero", Value: 0.0}, {Key: "negative zero", Value: math.Copysign(0, -1)},
			{Key: "half", Value: 1.5}, {Key: "tenth", Value: 0.1}, {Key: "third", Value: 1.0 / 3},
			{Key: "large", Value: 1e300}, {Key: "max", Value: math.MaxFloat64},
			{Key: "smallest", Value: math.SmallestNonzeroFloat64}, {Key: "e21", Value: 1e21},
			{Key: "whole", Value: 36.0}, {Key: "negative", Value: -2.5e-10}, {Key: "2^53+1", Value: float64(1<<53 + 1)},
		},
		"ints": {
			{Key: "int32 zero", Value: int32(0)}, {Key: "int32 -1", Value: int32(-1)},
			{Key: "int32 max", Value: int32(math.MaxInt32)}, {Key: "int32 min", Value: int32(math.MinInt32)},
			{Key: "int64 zero", Value: int64(0)}, {Key: "int64 max", Value: int64(math.MaxInt64)},
			{Key: "int64 min", Value: int64(math.MinInt64)}, {Key: "int64 2^53+1", Value: int64(1<<53 + 1)},
		},
		"strings": {
			{Key: "empty", Value: ""}, {Key: "plain", Value: "plain"}, {Key: "accents", Value: "Müller, Straße, José, Zoë"},
			{Key: "emoji", Value: "fever 🤒 and 😀"}, {Key: "quotes", Value: `a "quote", a \ backslash, a / slash`},
			{Key: "html", Value: "<b>&amp;</b>"}, {Key: "controls", Value: "tab\tnewline\nreturn\rbell\x07nul-free"},
			{Key: "separators", Value: "line\u2028paragraph\u2029"}, {Key: "replacement", Value: "\ufffd"},
			{Key: "long", Value: string(bytes.Repeat([]byte("long text "), 500))},
		},
		"dates": {
			{Key: "epoch", Value: time.Unix(0, 0).UTC()}, {Key: "before", Value: time.UnixMilli(-1).UTC()},
			{Key: "1900", Value: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)}, {Key: "ms", Value: at},
			{Key: "9999", Value: time.Date(9999, 12, 31, 23, 59, 59, 999_000_000, time.UTC)},
			{Key: "datetime", Value: bson.DateTime(1_700_000_000_123)},
		},
		"others": {
			{Key: "true", Value: true}, {Key: "false", Value: false}, {Key: "null", Value: nil},
			{Key: "oid", Value: oid},
			{Key: "binary", Value: bson.Binary{Subtype: 0, Data: []byte{0, 1, 2, 0xff}}},
			{Key: "empty binary", Value: bson.Binary{Subtype: 0, Data: []byte{}}},
			{Key: "old binary", Value: bson.Binary{Subtype: 2, Data: []byte("abc")}},
			{Key: "uuid", Value: bson.Binary{Subtype: 4, Data: bytes.Repeat([]byte{0xab}, 16)}},
			{Key: "user binary", Value: bson.Binary{Subtype: 0x80, Data: []byte("x")}},
			{Key: "regex", Value: bson.Regex{Pattern: `^a.*"b\d$`, Options: "i"}},
			{Key: "regex, options", Value: bson.Regex{Pattern: "x", Options: "imsx"}},
			{Key: "regex, none", Value: bson.Regex{Pattern: "y"}},
			{Key: "timestamp", Value: bson.Timestamp{T: 1_700_000_000, I: 7}},
			{Key: "timestamp max", Value: bson.Timestamp{T: math.MaxUint32, I: math.MaxUint32}},
		},
		"nested": {
			{Key: "empty object", Value: bson.D{}}, {Key: "empty array", Value: bson.A{}},
			{Key: "deep", Value: bson.D{{Key: "a", Value: bson.D{{Key: "b", Value: bson.D{
				{Key: "c", Value: bson.A{int32(1), bson.D{{Key: "d", Value: nil}, {Key: "e", Value: bson.A{bson.D{}, "f"}}}, bson.D{}}},
			}}}}}},
			{Key: "mixed", Value: bson.A{int32(1), "two", 3.5, nil, true, at, int64(6), oid, bson.D{{Key: "x", Value: int32(1)}}, bson.D{}}},
			{Key: "object order", Value: bson.D{{Key: "z", Value: int32(1)}, {Key: "a", Value: int32(2)}, {Key: "m", Value: int32(3)}}},
			{Key: "names", Value: bson.D{
				{Key: "with space", Value: int32(1)}, {Key: "ünï©ødé", Value: int32(2)}, {Key: "<>&", Value: int32(3)},
				{Key: `a "quoted" name`, Value: int32(4)}, {Key: `back\slash`, Value: int32(5)}, {Key: "1", Value: int32(6)},
				{Key: "tab\there", Value: int32(7)}, {Key: "p", Value: int32(9)}, {Key: "t", Value: int32(10)},
			}},
		},
		"names": {
			{Key: "1", Value: "one"}, {Key: "with space", Value: int32(2)}, {Key: "ünï©ødé", Value: int32(3)},
			{Key: "<>&", Value: int32(4)}, {Key: "s$", Value: int32(5)}, {Key: "p", Value: int32(6)}, {Key: "t", Value: int32(7)},
		},
		"empty": {},
		`an id "quoted", <escaped> & ünï©ødé`: {{Key: "x", Value: int32(1)}},
	}
}

// TestDocumentsAreTheStoresAnswer reads documents of every shape both ways: through
// the store, as the driver gets them, and by the side index. Each is the same bytes.
func TestDocumentsAreTheStoresAnswer(t *testing.T) {
	ctx := context.Background()
	conn, cfg := openEmbedded(t)
	side := conn.SideIndex(cfg.Database)
	coll := conn.DB.Collection("shapes")
	for id, doc := range shapes() {
		if _, err := coll.InsertOne(ctx, append(bson.D{{Key: "_id", Value: id}}, doc...)); err != nil {
			t.Fatalf("insert %q: %v", id, err)
		}
	}
	ids := []string{"absent"}
	for id := range shapes() {
		sameAsTheStore(t, side, coll, id)
		ids = append(ids, id)
	}
	// All at once, and one at a time.
	seen := map[string]bool{}
	if err := side.Documents(ctx, "shapes", ids, func(doc bson.Raw) bool {
		id := doc.Lookup("_id").StringValue()
		want, err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
		if err != nil || !bytes.Equal(doc, want) || seen[id] {
			t.Errorf("%q among many: %s, want %s (%v), seen before: %v", id, doc, want, err, seen[id])
		}
		seen[id] = true
		return true
	}); err != nil || len(seen) != len(shapes()) {
		t.Errorf("read %d of %d documents among many: %v", len(seen), len(shapes()), err)
	}
	n := 0
	if err := side.Documents(ctx, "shapes", ids, func(bson.Raw) bool { n++; return false }); err != nil || n != 1 {
		t.Errorf("a read of many stopped at its first went on to %d: %v", n, err)
	}
	if doc, err := side.Document(ctx, "shapes", "absent"); err != nil || doc != nil {
		t.Errorf("an absent document: %v, %v; want nil", doc, err)
	}
	if doc, err := side.Document(ctx, "never_created", "x"); err != nil || doc != nil {
		t.Errorf("a document of a collection never created: %v, %v; want nil", doc, err)
	}
}

// sameAsTheStore checks that the side index reads the document id of coll as the
// same bytes as the store's answer to a find of it.
func sameAsTheStore(t *testing.T, side repository.SideIndex, coll *mongo.Collection, id string) {
	t.Helper()
	ctx := context.Background()
	want, err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
	if err != nil {
		t.Fatalf("%s %q through the store: %v", coll.Name(), id, err)
	}
	got, err := side.Document(ctx, coll.Name(), id)
	if err != nil {
		t.Fatalf("%s %q by the side index: %v", coll.Name(), id, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s %q:\nby the side index %s\nthe store's answer %s", coll.Name(), id, got, want)
	}
}

// everyDocumentIsTheStoresAnswer checks every document of collection with
// sameAsTheStore, and returns how many there are.
func everyDocumentIsTheStoresAnswer(t *testing.T, side repository.SideIndex, db *mongo.Database, collection string) int {
	t.Helper()
	coll := db.Collection(collection)
	cur, err := coll.Find(context.Background(), bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(context.Background(), &docs); err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		sameAsTheStore(t, side, coll, d.ID)
	}
	return len(docs)
}

// TestRecordsAreTheStoresAnswer stores records of every shape the service writes:
// the generator's, the history tests', records with fields of clients' own, amended
// ones, ones marked entered-in-error, their archived versions, records left between
// the writes of an amendment at each of its steps, and an audit trail. The side index
// reads each of them, alone and in every page of a history, of the patients and of
// the audit trail, as the same bytes as the store's answer.
func TestRecordsAreTheStoresAnswer(t *testing.T) {
	ctx := context.Background()
	conn, cfg := openEmbedded(t)
	side := conn.SideIndex(cfg.Database)
	repo := repository.New(conn.DB, conn.RepositoryOptions(cfg.Database, app.AutoScanLimit)...)
	now := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)

	// The generator's.
	patients, visits, err := synthetic.Generate(7, now, 40)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.InsertPatients(ctx, patients); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.InsertInteractions(ctx, visits); err != nil {
		t.Fatal(err)
	}

	// The history tests': ties in date, labels, entries in error, health_status,
	// accents; a record stored before versions existed (no version field).
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	hs := 7
	plain := []models.Interaction{
		{ID: "H-1", InsuranceNo: "HIST", Version: 1, CreatedAt: at, UpdatedAt: at, InteractionDate: at,
			Label: []string{"a", "b"}, Ailment: "Type-2 Diabètes", Symptoms: "Fièvre, toux", HealthStatus: &hs},
		{ID: "H-2", InsuranceNo: "HIST", Version: 1, CreatedAt: at, UpdatedAt: at, InteractionDate: at,
			Status: models.StatusEnteredInError},
		{ID: "H-3", InsuranceNo: "HIST", Version: 1, CreatedAt: at, UpdatedAt: at, InteractionDate: at.Add(6 * time.Hour)},
	}
	if err := repo.CreatePatient(ctx, models.Patient{InsuranceNo: "HIST", Version: 1, CreatedAt: at, UpdatedAt: at}); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.InsertInteractions(ctx, plain); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.DB.Collection(repository.InteractionsCollection).InsertOne(ctx, bson.D{
		{Key: "_id", Value: "H-0"}, {Key: "insurance_no", Value: "HIST"}, {Key: "interaction_date", Value: at},
		{Key: "label", Value: bson.A{}}, {Key: "created_at", Value: at}, {Key: "updated_at", Value: at},
	}); err != nil {
		t.Fatal(err)
	}

	// Records as clients send them, with fields of their own, through the rules of
	// package records: created, amended, marked entered-in-error.
	author := models.WithAuthor(ctx, models.Author{Key: "dr-a", RequestID: "req-1"})
	interactions := records.NewInteractions(repo, repo.InteractionVersions(), func() time.Time { return now })
	people := records.NewPatients(repo, repo.PatientVersions(), func() time.Time { return now })
	patient, err := models.NewPatient(parse(t, `{"insurance_no":"OWN1","fname":"Zoë","lname":"O'Brien","age":41,
		"habits":["running"],"clinic_ref":{"b":1,"a":[1.5,"x",null,{"deep":true}]},"score":1e21,"big":9007199254740993}`), now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := people.Create(author, patient); err != nil {
		t.Fatal(err)
	}
	in, err := models.NewInteraction(parse(t, `{"id":"OWN-1","insurance_no":"OWN1","interaction_date":"2025-06-07T08:09:10.123Z",
		"ailment":"Migraine","metrics":{"BP":"120/80","temp":37.5,"weight":70,"nested":{"z":1,"a":[]}},"health_status":4,
		"qa":{"since":"4 weeks","how <bad>?":"\"very\""},"next_steps":{"next_visit":"2025-07-01T00:00:00Z","prescribed_meds":["ABC 20mg"]},
		"label":["Fever","skin"],"own":{"ratio":0.1,"count":3,"when":"not a date"},"list":[1,2.5,"three"],"empty":{},"none":null}`), now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := interactions.Create(author, in, "unused"); err != nil {
		t.Fatal(err)
	}
	if _, err := interactions.Amend(author, "OWN-1", func(int) bool { return true }, parse(t, `{"remarks":"amended","own":null}`), "fix"); err != nil {
		t.Fatal(err)
	}
	if _, err := interactions.MarkEnteredInError(author, "OWN-1", func(int) bool { return true }, "wrong patient"); err != nil {
		t.Fatal(err)
	}
	if _, err := people.Amend(author, "OWN1", func(int) bool { return true }, parse(t, `{"lname":"Müller","age":42}`), "married"); err != nil {
		t.Fatal(err)
	}

	// Records left between the writes of an amendment, at each step.
	for i, step := range []storetest.Step{storetest.BeforeArchive, storetest.BeforeIntent, storetest.BeforeCommit, storetest.AfterCommit} {
		id := fmt.Sprintf("STEP-%d", i)
		in, err := models.NewInteraction(parse(t, `{"id":"`+id+`","insurance_no":"OWN1","label":["x"]}`), now)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := interactions.Create(author, in, "unused"); err != nil {
			t.Fatal(err)
		}
		interrupted := records.NewInteractions(repo, storetest.Interrupt(repo.InteractionVersions(), step), func() time.Time { return now })
		if _, err := interrupted.Amend(author, id, func(int) bool { return true }, parse(t, `{"remarks":"interrupted"}`), ""); err == nil {
			t.Fatalf("the amendment at %s went through", step)
		}
	}

	// Audit events, with the patients they disclosed, counts and anchors.
	trail, err := audit.NewWriter(repo, audit.WriterOptions{Key: []byte("a key of 32 bytes, for the test."), Process: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		e := models.AuditEvent{Time: now.Add(time.Duration(i%7) * time.Second), KeyName: "dr-a", Role: models.RoleClinician,
			Action: "interactions.read", Method: "GET", Route: "/api/v1/interactions/:id", Status: 200,
			ClientIP: "127.0.0.1", RequestID: fmt.Sprintf("req-%d", i), InsuranceNo: "OWN1"}
		if i%3 == 0 {
			e.Counts = map[string]int{"read": i, "refused": 1}
		}
		e.SetPatients([]string{"OWN1", "HIST"}[:1+i%2])
		if _, err := trail.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := trail.Anchor(ctx, models.AuditEvent{Method: "-", Route: "-", Status: 200, ClientIP: "-", RequestID: "anchor"}); err != nil {
		t.Fatal(err)
	}
	if err := trail.Close(ctx, models.AuditEvent{Method: "-", Route: "-", Status: 200, ClientIP: "-", RequestID: "seal"}); err != nil {
		t.Fatal(err)
	}

	for _, collection := range []string{repository.PatientsCollection, repository.InteractionsCollection,
		repository.PatientVersionsCollection, repository.InteractionVersionsCollection, repository.AuditEventsCollection,
		repository.AuditChainsCollection, repository.AuditDisclosuresCollection} {
		if n := everyDocumentIsTheStoresAnswer(t, side, conn.DB, collection); n == 0 {
			t.Errorf("no %s stored", collection)
		}
	}

	// Every interaction at once, among as many ids without one: more than one query
	// reads them.
	var ids []string
	for _, in := range visits {
		ids = append(ids, in.ID, "absent-"+in.ID)
	}
	seen := map[string]int{}
	interactionsColl := conn.DB.Collection(repository.InteractionsCollection)
	if err := side.Documents(ctx, repository.InteractionsCollection, ids, func(doc bson.Raw) bool {
		id := doc.Lookup("_id").StringValue()
		seen[id]++
		if want, err := interactionsColl.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw(); err != nil || !bytes.Equal(doc, want) {
			t.Errorf("%q among many: %s, want %s (%v)", id, doc, want, err)
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
	for _, in := range visits {
		if seen[in.ID] != 1 {
			t.Errorf("interaction %s read %d times among many", in.ID, seen[in.ID])
		}
	}
	if len(ids) <= 500 || len(seen) != len(visits) {
		t.Errorf("%d ids, %d interactions read of %d", len(ids), len(seen), len(visits))
	}

	// Every page of every patient's history, and of the patients.
	histories := 0
	for _, p := range append(patients, models.Patient{InsuranceNo: "HIST"}, models.Patient{InsuranceNo: "OWN1"}) {
		for _, q := range []models.HistoryQuery{
			{InsuranceNo: p.InsuranceNo, IncludeEnteredInError: true},
			{InsuranceNo: p.InsuranceNo, Labels: []string{"fever", "x"}},
		} {
			histories += pagesAreTheStoresAnswer(t, conn.DB.Collection(repository.InteractionsCollection), []int{1, 2, 1000},
				func(n int, each func(bson.Raw) bool) error { return side.HistoryDocuments(ctx, q, n, each) })
		}
	}
	if histories < len(visits)+len(plain) {
		t.Errorf("the histories read %d interactions; %d are stored", histories, len(visits)+len(plain))
	}
	pagesAreTheStoresAnswer(t, conn.DB.Collection(repository.PatientsCollection), []int{1, 7, 1000},
		func(n int, each func(bson.Raw) bool) error {
			return side.PatientDocuments(ctx, models.PatientQuery{}, n, each)
		})
	if n := pagesAreTheStoresAnswer(t, conn.DB.Collection(repository.AuditEventsCollection), []int{1, 5, 1000},
		func(n int, each func(bson.Raw) bool) error {
			return side.AuditEventDocuments(ctx, models.AuditQuery{}, n, each)
		}); n < 30 {
		t.Errorf("the audit trail's page read %d events; 30 are stored, and more", n)
	}
}

// pagesAreTheStoresAnswer reads the first n documents read gives, for each of sizes,
// and checks that each is the same bytes as the store's answer to a find of it in
// coll, that there are at most n, and that the read stops when asked. It returns how
// many documents the last page held.
func pagesAreTheStoresAnswer(t *testing.T, coll *mongo.Collection, sizes []int, read func(n int, each func(bson.Raw) bool) error) int {
	t.Helper()
	got := 0
	for _, n := range sizes {
		got = 0
		if err := read(n, func(doc bson.Raw) bool {
			got++
			id, ok := doc.Lookup("_id").StringValueOK()
			if !ok {
				t.Fatalf("a document of %s without a string _id: %s", coll.Name(), doc)
			}
			want, err := coll.FindOne(context.Background(), bson.D{{Key: "_id", Value: id}}).Raw()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(doc, want) {
				t.Errorf("%s %q in a page:\nby the side index %s\nthe store's answer %s", coll.Name(), id, doc, want)
			}
			return true
		}); err != nil {
			t.Fatal(err)
		}
		if got > n {
			t.Fatalf("a page of %d held %d", n, got)
		}
		stopped := 0
		if err := read(n, func(bson.Raw) bool { stopped++; return false }); err != nil || stopped > 1 {
			t.Fatalf("a read stopped at its first document went on to %d: %v", stopped, err)
		}
	}
	return got
}

// parse parses a document as a client sends it.
func parse(t *testing.T, s string) bson.D {
	t.Helper()
	d, err := models.ParseDocument([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return d
}
