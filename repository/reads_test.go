package repository_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/records"
	"github.com/clinic/interactions/repository"
	"github.com/clinic/interactions/storetest"
	"github.com/clinic/interactions/synthetic"
)

// readers are the rules of package records over one repository.
type readers struct {
	interactions *records.Interactions
	patients     *records.Patients
	repo         *repository.DB
}

func newReaders(repo *repository.DB, now func() time.Time) readers {
	return readers{
		interactions: records.NewInteractions(repo, repo.InteractionVersions(), now),
		patients:     records.NewPatients(repo, repo.PatientVersions(), now),
		repo:         repo,
	}
}

// answers reads everything a client may read of interaction id and of patient no,
// and returns each answer whole, or its error: the record, each of its versions,
// the pages of its versions, the patient's history (entries in error included) and
// the record as the repository reads it, before the rules of package records.
func (r readers) answers(t *testing.T, id, no string) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	answer := func(what string, v any, err error) {
		if err != nil {
			out[what] = "error: " + err.Error()
			return
		}
		out[what] = whole(t, v)
	}
	in, err := r.interactions.Get(ctx, id)
	answer("interaction", in, err)
	stored, err := r.repo.Interaction(ctx, id)
	answer("stored interaction", stored, err)
	for v := range 5 {
		in, err := r.interactions.Version(ctx, id, v+1)
		answer(fmt.Sprintf("interaction version %d", v+1), in, err)
	}
	versions, err := r.interactions.Versions(ctx, id, 0, 2)
	answer("interaction versions", versions, err)
	p, err := r.patients.Get(ctx, no)
	answer("patient", p, err)
	storedPatient, err := r.repo.Patient(ctx, no)
	answer("stored patient", storedPatient, err)
	exists, err := r.repo.PatientExists(ctx, no)
	answer("patient exists", bson.D{{Key: "exists", Value: exists}}, err)
	for v := range 4 {
		p, err := r.patients.Version(ctx, no, v+1)
		answer(fmt.Sprintf("patient version %d", v+1), p, err)
	}
	q := models.HistoryQuery{InsuranceNo: no, IncludeEnteredInError: true, Limit: 2}
	for i := 0; ; i++ {
		page, err := r.interactions.History(ctx, q)
		answer(fmt.Sprintf("history page %d", i), page, err)
		if err != nil || page.NextCursor == nil {
			break
		}
		if q.After, err = models.ParseCursor(*page.NextCursor); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestReadsByIndexAreTheStoresAnswer reads records both ways on the embedded store,
// through the rules of package records: by the side index (each record and archived
// version straight from the store's file), and through the store, by _id. Every read
// of a record, of its versions and of a history gives the same answer both ways:
// for records of every shape, at rest, between the writes of an amendment at each of
// its steps, after a stalled write put an older version back over the record, and
// for records that do not exist.
func TestReadsByIndexAreTheStoresAnswer(t *testing.T) {
	if !testStore.Embedded() {
		t.Skip("the side index is the embedded store's; this store is MongoDB")
	}
	ctx := context.Background()
	byIndex, db := testStore.DB(t)
	byStore := repository.New(db, repository.WithLoneIDFilters())
	now := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	clock := func() time.Time { return now }
	index, store := newReaders(byIndex, clock), newReaders(byStore, clock)
	same := func(t *testing.T, id, no string) {
		t.Helper()
		got, want := index.answers(t, id, no), store.answers(t, id, no)
		for what, w := range want {
			if got[what] != w {
				t.Errorf("%s %s / %s:\nby the index %s\nby the store %s", what, id, no, got[what], w)
			}
		}
	}
	author := models.WithAuthor(ctx, models.Author{Key: "dr-a", RequestID: "req-1"})
	anyVersion := func(int) bool { return true }
	create := func(t *testing.T, id, no, doc string) {
		t.Helper()
		p, err := models.NewPatient(parse(t, `{"insurance_no":"`+no+`","fname":"Zoë","age":41,"own":{"b":1,"a":[1.5,"x",null]}}`), now)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := index.patients.Create(author, p); err != nil {
			t.Fatal(err)
		}
		in, err := models.NewInteraction(parse(t, `{"id":"`+id+`","insurance_no":"`+no+`",`+doc+`}`), now)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := index.interactions.Create(author, in, "unused"); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("generated", func(t *testing.T) {
		patients, visits, err := synthetic.Generate(11, now, 5)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := byIndex.InsertPatients(ctx, patients); err != nil {
			t.Fatal(err)
		}
		if _, err := byIndex.InsertInteractions(ctx, visits); err != nil {
			t.Fatal(err)
		}
		for _, in := range visits {
			same(t, in.ID, in.InsuranceNo)
		}
	})

	t.Run("amended", func(t *testing.T) {
		create(t, "AM-1", "AM1", `"metrics":{"temp":37.5,"HR":60,"nested":{"z":1,"a":[]}},"qa":{"since?":"4 weeks"},
			"next_steps":{"next_visit":"2025-07-01T00:00:00Z"},"label":["fever"],"own":{"ratio":0.1,"count":3},"none":null`)
		same(t, "AM-1", "AM1")
		if _, err := index.interactions.Amend(author, "AM-1", anyVersion, parse(t, `{"remarks":"amended","own":null}`), "fix"); err != nil {
			t.Fatal(err)
		}
		if _, err := index.patients.Amend(author, "AM1", anyVersion, parse(t, `{"lname":"Müller","age":42}`), "married"); err != nil {
			t.Fatal(err)
		}
		same(t, "AM-1", "AM1")
		if _, err := index.interactions.MarkEnteredInError(author, "AM-1", anyVersion, "wrong patient"); err != nil {
			t.Fatal(err)
		}
		same(t, "AM-1", "AM1")
	})

	for _, step := range []storetest.Step{storetest.BeforeArchive, storetest.BeforeIntent, storetest.BeforeCommit, storetest.AfterCommit} {
		t.Run("interrupted "+string(step), func(t *testing.T) {
			id, no := "INT-"+string(step), "INT-"+string(step)
			create(t, id, no, `"label":["x"]`)
			if _, err := index.interactions.Amend(author, id, anyVersion, parse(t, `{"remarks":"v2"}`), ""); err != nil {
				t.Fatal(err)
			}
			if _, err := index.patients.Amend(author, no, anyVersion, parse(t, `{"fname":"v2"}`), ""); err != nil {
				t.Fatal(err)
			}
			// Version 1 is archived by the first amendment: interrupt the first one
			// before that, the second one at the other steps.
			if step == storetest.BeforeArchive {
				create(t, id+"-first", no+"-first", `"label":["x"]`)
				id, no = id+"-first", no+"-first"
			}
			interactions := records.NewInteractions(byIndex, storetest.Interrupt(byIndex.InteractionVersions(), step), clock)
			if _, err := interactions.Amend(author, id, anyVersion, parse(t, `{"remarks":"interrupted"}`), ""); err == nil {
				t.Fatalf("the amendment at %s went through", step)
			}
			patients := records.NewPatients(byIndex, storetest.Interrupt(byIndex.PatientVersions(), step), clock)
			if _, err := patients.Amend(author, no, anyVersion, parse(t, `{"fname":"interrupted"}`), ""); err == nil {
				t.Fatalf("the patient's amendment at %s went through", step)
			}
			same(t, id, no)
		})
	}

	t.Run("a stalled write landed", func(t *testing.T) {
		create(t, "ST-1", "ST1", `"label":["x"]`)
		var v2 models.Interaction
		for _, remarks := range []string{"v2", "v3"} {
			in, err := index.interactions.Amend(author, "ST-1", anyVersion, parse(t, `{"remarks":"`+remarks+`"}`), "")
			if err != nil {
				t.Fatal(err)
			}
			if remarks == "v2" {
				v2 = in
			}
		}
		// Version 2 lands over version 3, as a writer that stalled between its check
		// and its write puts it; the first read writes version 3 back.
		stall := func() {
			if _, err := db.Collection(repository.InteractionsCollection).ReplaceOne(ctx, bson.D{{Key: "_id", Value: "ST-1"}}, v2); err != nil {
				t.Fatal(err)
			}
		}
		stall()
		got := index.answers(t, "ST-1", "ST1")
		stall()
		want := store.answers(t, "ST-1", "ST1")
		for what, w := range want {
			if got[what] != w {
				t.Errorf("%s:\nby the index %s\nby the store %s", what, got[what], w)
			}
		}
		if in, err := byStore.Interaction(ctx, "ST-1"); err != nil || in.Version != 3 {
			t.Errorf("after the read, the record is at version %d (%v); want 3", in.Version, err)
		}
	})

	t.Run("absent", func(t *testing.T) {
		same(t, "nothing", "nobody")
	})
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
