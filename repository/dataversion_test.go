package repository_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/dataversion"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
	"github.com/clinic/interactions/sideindex"
)

// versionWays are the two ways a DB reads the version of the records: the side
// index's count, kept by triggers in every write (the embedded store this process
// runs), and the count the DB's own writes keep in the store (MongoDB, or a store
// another process runs).
func versionWays(t *testing.T) map[string]func(t *testing.T) (*repository.DB, *testing.T) {
	ways := map[string]func(t *testing.T) (*repository.DB, *testing.T){
		"counted by the writes": func(t *testing.T) (*repository.DB, *testing.T) {
			_, db := testStore.DB(t)
			return repository.New(db), t
		},
	}
	if testStore.Embedded() {
		ways["counted by the side index"] = func(t *testing.T) (*repository.DB, *testing.T) {
			repo, _ := testStore.DB(t)
			return repo, t
		}
	}
	return ways
}

// TestDataVersionMovesWithEveryWrite writes records every way the service does and
// checks that the version of the records moves with each write, that the version of
// a chart moves with the writes of that chart alone, and that writes of anything else
// (the audit trail) move neither.
func TestDataVersionMovesWithEveryWrite(t *testing.T) {
	ctx := context.Background()
	at := time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)
	for name, open := range versionWays(t) {
		t.Run(name, func(t *testing.T) {
			repo, _ := open(t)
			read := versionReader(ctx, t, repo)
			chart := func(no string) dataversion.Version {
				t.Helper()
				v, err := repo.ChartVersion(ctx, no)
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
			seen := []dataversion.Version{read()}
			if again := read(); again != seen[0] {
				t.Fatalf("two reads without a write: %v, then %v", seen[0], again)
			}
			otherChart := chart("OTHER")
			// moved checks that the version differs from every one read before, and
			// that the chart of no moved while OTHER's did not.
			moved := func(step, no string, before dataversion.Version) {
				t.Helper()
				now := read()
				if slices.Contains(seen, now) {
					t.Errorf("%s: the version %v was read before", step, now)
				}
				seen = append(seen, now)
				if after := chart(no); after == before {
					t.Errorf("%s: the chart of %s is still at %v", step, no, after)
				}
				if after := chart("OTHER"); after != otherChart {
					t.Errorf("%s: the chart of OTHER moved from %v to %v", step, otherChart, after)
				}
			}
			before := chart("P1")
			patient := models.Patient{InsuranceNo: "P1", Version: 1, CreatedAt: at, UpdatedAt: at}
			if err := repo.CreatePatient(ctx, patient); err != nil {
				t.Fatal(err)
			}
			moved("create a patient", "P1", before)

			before = chart("P2")
			if _, err := repo.InsertPatients(ctx, []models.Patient{{InsuranceNo: "P2", Version: 1, CreatedAt: at, UpdatedAt: at}}); err != nil {
				t.Fatal(err)
			}
			moved("insert patients", "P2", before)

			before = chart("P1")
			visit := models.Interaction{ID: "v1", InsuranceNo: "P1", InteractionDate: at, Label: []string{}, Version: 1,
				CreatedAt: at, UpdatedAt: at}
			if err := repo.CreateInteraction(ctx, visit); err != nil {
				t.Fatal(err)
			}
			moved("create an interaction", "P1", before)

			before = chart("P2")
			batch := []models.Interaction{visit, visit}
			batch[0].ID, batch[0].InsuranceNo, batch[1].ID, batch[1].InsuranceNo = "v2", "P2", "v3", "P2"
			if _, err := repo.InsertInteractions(ctx, batch); err != nil {
				t.Fatal(err)
			}
			moved("insert interactions", "P2", before)

			before = chart("P1")
			amended := visit
			amended.Version, amended.Ailment, amended.UpdatedAt = 2, "Influenza", at.Add(time.Hour)
			if err := repo.InteractionVersions().Commit(ctx, amended); err != nil {
				t.Fatal(err)
			}
			moved("amend an interaction", "P1", before)

			before = chart("P2")
			gone := batch[0]
			gone.Version, gone.Status, gone.UpdatedAt = 2, models.StatusEnteredInError, at.Add(time.Hour)
			if err := repo.InteractionVersions().Commit(ctx, gone); err != nil {
				t.Fatal(err)
			}
			moved("mark an interaction entered-in-error", "P2", before)

			before = chart("P1")
			patient.Version, patient.Sex, patient.UpdatedAt = 2, "F", at.Add(time.Hour)
			if err := repo.PatientVersions().Commit(ctx, patient); err != nil {
				t.Fatal(err)
			}
			moved("amend a patient", "P1", before)

			last := read()
			event := models.AuditEvent{ID: "c:1", Chain: "c", Seq: 1, Time: at, Action: "patients.read", InsuranceNo: "P1"}
			if err := repo.InsertAuditEvents(ctx, []models.AuditEvent{event}); err != nil {
				t.Fatal(err)
			}
			if now := read(); now != last {
				t.Errorf("an audit event moved the version of the records from %v to %v", last, now)
			}
		})
	}
}

// TestDataVersionSeesOtherWriters writes records straight through the store, as
// another process does (the seed tool, mongosh), into a database whose collections
// the side index never saw at start-up: the version read through the side index,
// by this process or by another one over the same files, moves with every write, and
// the charts changed since a version are those written.
func TestDataVersionSeesOtherWriters(t *testing.T) {
	if !testStore.Embedded() {
		t.Skip("skipped: the side index's count is the embedded store's")
	}
	ctx := context.Background()
	db := testStore.Database(t)
	// The database exists, its records' collections not yet.
	if _, err := db.Collection(repository.AuditEventsCollection).InsertOne(ctx, bson.D{{Key: "_id", Value: "e"}}); err != nil {
		t.Fatal(err)
	}
	side := sideindex.New(testStore.DataDir()).Index(db.Name())
	other := sideindex.New(testStore.DataDir())
	t.Cleanup(func() { _ = other.Close() })
	read := func() dataversion.Version {
		t.Helper()
		v, err := side.DataVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if seen, err := other.Index(db.Name()).DataVersion(ctx); err != nil || seen != v {
			t.Errorf("another reader of the files reads %v, %v; this one %v", seen, err, v)
		}
		return v
	}
	empty := read()
	coll := db.Collection(repository.InteractionsCollection)
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "x1"}, {Key: models.FieldInsuranceNo, Value: "Q1"}}); err != nil {
		t.Fatal(err)
	}
	if v := read(); v == empty {
		t.Fatalf("a collection created by another writer left the version at %v", v)
	}
	before := read()
	if _, err := db.Collection(repository.PatientsCollection).InsertOne(ctx, bson.D{{Key: "_id", Value: "Q0"}}); err != nil {
		t.Fatal(err)
	}
	created := read()
	if created == before {
		t.Fatalf("a collection created by another writer left the version at %v", created)
	}
	for i, write := range []func() error{
		func() error {
			_, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "x2"}, {Key: models.FieldInsuranceNo, Value: "Q2"}})
			return err
		},
		func() error {
			_, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: "x1"}}, bson.D{{Key: "$set", Value: bson.D{{Key: "ailment", Value: "Flu"}}}})
			return err
		},
		func() error {
			_, err := db.Collection(repository.PatientsCollection).InsertOne(ctx, bson.D{{Key: "_id", Value: "Q3"}})
			return err
		},
		func() error {
			_, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: "x1"}})
			return err
		},
	} {
		write1(t, read, i, write)
	}
	changedSince := func(v dataversion.Version, want ...string) {
		t.Helper()
		changed, ok, err := side.ChangedSince(ctx, v)
		slices.Sort(changed)
		if err != nil || !ok || !slices.Equal(changed, want) {
			t.Errorf("changed since %v: %v, %v, %v; want %v", v, changed, ok, err, want)
		}
	}
	changedSince(created, "Q1", "Q2", "Q3")
	if _, ok, err := side.ChangedSince(ctx, empty); ok || err != nil {
		t.Errorf("the changes since a version of another counter can be told: %v, %v", ok, err)
	}

	// The newest row deleted, the next insert takes its rowid again: the changes
	// since a version before cannot be told any more, and those since one after
	// can.
	beforeLast := read()
	write1(t, read, 4, func() error {
		_, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: "x2"}})
		return err
	})
	afterLast := read()
	if afterLast.Epoch() == beforeLast.Epoch() {
		t.Errorf("deleting the newest row left the counter's epoch at %q", afterLast.Epoch())
	}
	if _, ok, err := side.ChangedSince(ctx, beforeLast); ok || err != nil {
		t.Errorf("the changes since a version before the newest row was deleted can be told: %v, %v", ok, err)
	}
	write1(t, read, 5, func() error {
		_, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: "x4"}, {Key: models.FieldInsuranceNo, Value: "Q4"}})
		return err
	})
	changedSince(afterLast, "Q4")
}

// versionReader returns a function that reads repo's version of the records,
// failing t on an error.
func versionReader(ctx context.Context, t *testing.T, repo *repository.DB) func() dataversion.Version {
	return func() dataversion.Version {
		t.Helper()
		v, err := repo.DataVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// write1 checks that write, the i-th, moves the version read, and its count up.
func write1(t *testing.T, read func() dataversion.Version, i int, write func() error) {
	t.Helper()
	before := read()
	if err := write(); err != nil {
		t.Fatal(err)
	}
	after := read()
	if after == before || after.Changes() <= before.Changes() {
		t.Errorf("write %d: the version went from %v to %v", i, before, after)
	}
}

// TestDataVersionAfterCompact compacts the interactions with the store's compact
// command (SQLite's VACUUM, which may give the rows new rowids) after a deletion
// has left a gap in them: the version, and the versions after the next inserts, differ from
// every one read before, and the changes since a version before cannot be told.
func TestDataVersionAfterCompact(t *testing.T) {
	if !testStore.Embedded() {
		t.Skip("skipped: the side index's count is the embedded store's")
	}
	ctx := context.Background()
	repo, db := testStore.DB(t)
	coll := db.Collection(repository.InteractionsCollection)
	for _, id := range []string{"a", "b", "c"} {
		if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: models.FieldInsuranceNo, Value: "Q" + id}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: "b"}}); err != nil {
		t.Fatal(err)
	}
	read := versionReader(ctx, t, repo)
	seen := []dataversion.Version{read()}
	before := seen[0]
	if err := db.RunCommand(ctx, bson.D{{Key: "compact", Value: repository.InteractionsCollection}, {Key: "force", Value: true}}).Err(); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"", "d", "e"} {
		if id != "" {
			if _, err := coll.InsertOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: models.FieldInsuranceNo, Value: "Q" + id}}); err != nil {
				t.Fatal(err)
			}
		}
		v := read()
		if slices.Contains(seen, v) {
			t.Errorf("after the compaction and %q: the version %v was read before", id, v)
		}
		seen = append(seen, v)
	}
	if _, ok, err := repo.ChangedSince(ctx, before); ok || err != nil {
		t.Errorf("the changes since a version before the compaction can be told: %v, %v", ok, err)
	}
}
