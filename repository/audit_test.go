package repository_test

import (
	"cmp"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

// auditTrail returns events as the audit writer stores them, each naming one of
// subjects or none, and disclosing some of patients, with many in the same
// millisecond.
func auditTrail(rnd *rand.Rand, chain string, n int, subjects, patients []string) []models.AuditEvent {
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	events := make([]models.AuditEvent, n)
	for i := range events {
		e := models.AuditEvent{
			Chain: chain, Seq: int64(i + 1), ID: fmt.Sprintf("%s:%012d", chain, i+1),
			Time:        base.Add(time.Duration(rnd.IntN(60)) * time.Second),
			KeyName:     []string{"dr-a", "dr-b"}[rnd.IntN(2)],
			Action:      []string{"patients.read", "interactions.create", "interactions.read"}[rnd.IntN(3)],
			InsuranceNo: subjects[rnd.IntN(len(subjects))],
			Status:      200, Hash: fmt.Sprintf("h%d", i),
		}
		var nos []string
		for _, no := range patients {
			if rnd.IntN(3) == 0 {
				nos = append(nos, no)
			}
		}
		e.SetPatients(nos)
		events[i] = e
	}
	return events
}

// wantAuditEvents returns the ids of the events of events the listing q selects, in
// its order.
func wantAuditEvents(events []models.AuditEvent, q models.AuditQuery) []string {
	var out []models.AuditEvent
	for _, e := range events {
		if (e.InsuranceNo == q.InsuranceNo || slices.Contains(e.Disclosed(), q.InsuranceNo)) && q.Matches(e) {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b models.AuditEvent) int { return cmp.Or(b.Time.Compare(a.Time), strings.Compare(b.ID, a.ID)) })
	ids := []string{}
	for _, e := range out {
		ids = append(ids, e.ID)
	}
	return ids
}

// listedAuditEvents pages through the listing q and returns the ids of its events,
// and how many pages it took.
func listedAuditEvents(t *testing.T, repo *repository.DB, q models.AuditQuery) ([]string, int) {
	t.Helper()
	ids := []string{}
	for pages := 1; ; pages++ {
		page, err := repo.AuditEvents(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) > q.Limit {
			t.Fatalf("a page of %d events, limit %d", len(page.Items), q.Limit)
		}
		for _, e := range page.Items {
			ids = append(ids, e.ID)
		}
		if page.NextCursor == nil {
			return ids, pages
		}
		if q.After, err = models.ParseCursor(*page.NextCursor); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPatientAuditEvents lists the audit events of patients, on the test store: each
// listing holds every event that names the patient as its subject or disclosed their
// data, its other filters applied, in order, without a gap or a repeat across its
// pages, however many patients an event disclosed; rows written for events that were
// never stored are left out. On the embedded store, it lists them both by the side
// index and by the queries MongoDB serves.
func TestPatientAuditEvents(t *testing.T) {
	ctx := context.Background()
	repo, db := testStore.DB(t)
	rnd := rand.New(rand.NewPCG(7, 8))
	events := auditTrail(rnd, "c", 200, []string{"", "P1", "P2"}, []string{"P1", "P2", "P3"})
	// One answer disclosed more patients than an event lists.
	many := make([]string, models.MaxEventPatients+50)
	for i := range many {
		many[i] = fmt.Sprintf("M%03d", i)
	}
	events[17].SetPatients(append(many, "P3"))
	// P9's events are many, by one key but for one.
	for i, e := range auditTrail(rnd, "d", 1200, []string{"P9"}, nil) {
		e.KeyName = "dr-a"
		if i == 600 {
			e.KeyName = "dr-rare"
		}
		events = append(events, e)
	}
	if err := repo.InsertAuditEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	// Rows whose event was never stored: one whose id no event has, one whose id a
	// later event took.
	other := events[slices.IndexFunc(events, func(e models.AuditEvent) bool { return !slices.Contains(e.Disclosed(), "P3") })]
	rows := db.Collection(repository.AuditDisclosuresCollection)
	for _, r := range []models.AuditDisclosure{
		{ID: models.AuditDisclosureID("P1", "c:999999999999"), InsuranceNo: "P1", Time: events[0].Time, Event: "c:999999999999", Hash: "x"},
		{ID: models.AuditDisclosureID("P3", other.ID), InsuranceNo: "P3", Time: other.Time, Event: other.ID, Hash: "not its hash"},
	} {
		if _, err := rows.InsertOne(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	from, to := events[0].Time.Add(-20*time.Second), events[0].Time.Add(20*time.Second)
	for _, q := range []models.AuditQuery{
		{InsuranceNo: "P1", Limit: 7},
		{InsuranceNo: "P1", Limit: 100},
		{InsuranceNo: "P3", Limit: 5},
		{InsuranceNo: "P2", KeyName: "dr-b", Action: "interactions.read", Limit: 3},
		{InsuranceNo: "P1", From: from, To: to, Limit: 4},
		{InsuranceNo: "M149", Limit: 10},
		{InsuranceNo: "M000", Limit: 10},
		{InsuranceNo: "P9", KeyName: "dr-rare", Limit: 20},
		{InsuranceNo: "P9", Limit: 100},
		{InsuranceNo: "nobody", Limit: 10},
	} {
		t.Run(fmt.Sprintf("%+v", q), func(t *testing.T) {
			got, pages := listedAuditEvents(t, repo, q)
			want := wantAuditEvents(events, q)
			if !slices.Equal(got, want) {
				t.Errorf("listed %d events:\n%v\nwant %d:\n%v", len(got), got, len(want), want)
			}
			if testStore.Embedded() {
				// Read above by the side index; here by the queries MongoDB serves.
				if got, _ := listedAuditEvents(t, repository.New(db), q); !slices.Equal(got, want) {
					t.Errorf("by the store's queries, listed %d events:\n%v\nwant %d:\n%v", len(got), got, len(want), want)
				}
			}
			if q.InsuranceNo == "P9" && q.KeyName != "" && pages < 2 {
				t.Errorf("a page read all of %d rows", len(events)-200)
			}
		})
	}
	if got := wantAuditEvents(events, models.AuditQuery{InsuranceNo: "M149"}); !slices.Equal(got, []string{events[17].ID}) ||
		len(events[17].Patients) != models.MaxEventPatients {
		t.Errorf("the event of %d patients: %v", len(many), got)
	}
}

// TestMigrateAuditDisclosures stores audit events as the service stored them before
// the index of audit events by patient: each patient's listing holds the events
// naming them as their subject, before the migration and after it has run twice.
func TestMigrateAuditDisclosures(t *testing.T) {
	ctx := context.Background()
	repo, db := testStore.DB(t)
	events := auditTrail(rand.New(rand.NewPCG(9, 10)), "old", 60, []string{"", "P1", "P2"}, nil)
	docs := make([]any, len(events))
	for i, e := range events {
		docs[i] = e
	}
	if _, err := db.Collection(repository.AuditEventsCollection).InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		for _, no := range []string{"P1", "P2"} {
			q := models.AuditQuery{InsuranceNo: no, Limit: 10}
			got, _ := listedAuditEvents(t, repo, q)
			if want := wantAuditEvents(events, q); !slices.Equal(got, want) || len(want) == 0 {
				t.Errorf("%s: %s: listed %v, want %v", when, no, got, want)
			}
		}
	}
	check("before the migration")
	for range 2 {
		if _, err := db.Collection(repository.MigrationsCollection).DeleteOne(ctx, bson.D{{Key: "_id", Value: "audit-disclosures"}}); err != nil {
			t.Fatal(err)
		}
		if err := repo.Prepare(ctx); err != nil {
			t.Fatal(err)
		}
		check("after the migration")
	}
}
