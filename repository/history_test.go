package repository_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/records"
	"github.com/clinic/interactions/repository"
)

// TestHistoryByIndexIsTheQuery reads histories both ways on the embedded store: by
// the side index (each page's documents straight from the store's file) and by the
// query the store filters and sorts (as on MongoDB). Over random interactions, with
// ties in date, several labels, entries in error and other patients' visits, every
// page of every query is the same both ways, each item whole, cursors included.
func TestHistoryByIndexIsTheQuery(t *testing.T) {
	if !testStore.Embedded() {
		t.Skip("the history index is the embedded store's; this store is MongoDB")
	}
	ctx := context.Background()
	byIndex, db := testStore.DB(t)
	byQuery := repository.New(db)
	rnd := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	labels := []string{"a", "b", "c", "d"}
	var all []models.Interaction
	for _, no := range []string{"P1", "P2", "P10"} {
		if err := byIndex.CreatePatient(ctx, models.Patient{InsuranceNo: no, Version: 1, CreatedAt: base, UpdatedAt: base}); err != nil {
			t.Fatal(err)
		}
		for i := range 80 {
			in := models.Interaction{
				ID: fmt.Sprintf("%s-%03d", no, rnd.IntN(1000)*1000+i), InsuranceNo: no, Version: 1, CreatedAt: base, UpdatedAt: base,
				// Dates in a few days, many the same.
				InteractionDate: base.Add(time.Duration(rnd.IntN(40)) * 6 * time.Hour),
			}
			for _, l := range labels {
				if rnd.IntN(3) == 0 {
					in.Label = append(in.Label, l)
				}
			}
			if rnd.IntN(10) == 0 {
				in.Status = models.StatusEnteredInError
			}
			in.Ailment = []string{"Influenza", "influenza", "Type-2 Diabètes", "Migraine", ""}[rnd.IntN(5)]
			in.Symptoms = []string{"fever and cough", "Fièvre, toux", "headache", "", "coughing at night"}[rnd.IntN(5)]
			if h := rnd.IntN(11); h > 0 {
				in.HealthStatus = &h
			}
			all = append(all, in)
		}
	}
	if _, err := byIndex.InsertInteractions(ctx, all); err != nil {
		t.Fatal(err)
	}

	for _, q := range []models.HistoryQuery{
		{InsuranceNo: "P1"},
		{InsuranceNo: "P1", IncludeEnteredInError: true},
		{InsuranceNo: "P1", Labels: []string{"a"}},
		{InsuranceNo: "P1", Labels: []string{"a", "b"}},
		{InsuranceNo: "P1", Labels: []string{"a", "b"}, MatchAll: true},
		{InsuranceNo: "P1", Labels: []string{"b", "b", "c"}, MatchAll: true, IncludeEnteredInError: true},
		{InsuranceNo: "P1", Labels: []string{"none"}},
		{InsuranceNo: "P10"},
		{InsuranceNo: "P1", Ascending: true},
		{},
		{Ascending: true, IncludeEnteredInError: true},
		{Ailment: "influenza"},
		{InsuranceNo: "P2", Ailment: "type 2 diabetes", Ascending: true},
		{From: base.Add(48 * time.Hour), To: base.Add(5*24*time.Hour - time.Millisecond)},
		{InsuranceNo: "P1", From: base.Add(6 * time.Hour), Ascending: true},
		{HealthMin: ptr(3), HealthMax: ptr(6)},
		{InsuranceNo: "P10", HealthMax: ptr(2), Labels: []string{"a"}},
		{Words: []string{"cough"}},
		{Words: []string{"fie", "toux"}, InsuranceNo: "P2"},
		{Words: []string{"cough", "night"}, Ascending: true, HealthMin: ptr(1)},
		{Words: []string{"nothing"}},
	} {
		for _, limit := range []int{3, 100} {
			q.Limit = limit
			t.Run(fmt.Sprintf("%+v", q), func(t *testing.T) {
				got, want := pages(t, byIndex, q), pages(t, byQuery, q)
				if !slices.Equal(got, want) {
					t.Errorf("by the index:\n%v\nby the query:\n%v", got, want)
				}
			})
		}
	}
}

// pages reads every page of the history q selects and returns, page by page, its
// items whole (see whole) and its next cursor.
func pages(t *testing.T, repo *repository.DB, q models.HistoryQuery) []string {
	t.Helper()
	return allPages(t, func(after *models.Cursor) ([]string, *string, error) {
		q.After = after
		page, err := repo.History(context.Background(), q)
		var items []string
		for _, in := range page.Items {
			items = append(items, whole(t, in))
		}
		return items, page.NextCursor, err
	})
}

// whole returns v as the repository would store it, in extended JSON: every field,
// with its type.
func whole(t *testing.T, v any) string {
	t.Helper()
	data, err := bson.MarshalExtJSON(v, true, false)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// allPages reads the pages next gives, each after the cursor of the one before, and
// returns, page by page, the ids of its items and its next cursor.
func allPages(t *testing.T, next func(after *models.Cursor) (ids []string, cursor *string, err error)) []string {
	t.Helper()
	var out []string
	var after *models.Cursor
	for {
		ids, cursor, err := next(after)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprint(ids))
		if cursor == nil {
			return out
		}
		out = append(out, *cursor)
		if after, err = models.ParseCursor(*cursor); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAuditEventsByIndexAreTheQuery reads audit events both ways on the embedded
// store, as TestHistoryByIndexIsTheQuery does histories: every page of every query
// is the same, a patient's by the index of audit events by patient included.
func TestAuditEventsByIndexAreTheQuery(t *testing.T) {
	if !testStore.Embedded() {
		t.Skip("the side index is the embedded store's; this store is MongoDB")
	}
	ctx := context.Background()
	byIndex, db := testStore.DB(t)
	byQuery := repository.New(db)
	events := auditTrail(rand.New(rand.NewPCG(3, 4)), "c", 150, []string{"", "P1", "P2"}, []string{"P1", "P3"})
	if err := byIndex.InsertAuditEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, q := range []models.AuditQuery{
		{},
		{InsuranceNo: "P1"},
		{InsuranceNo: "P3", KeyName: "dr-a"},
		{KeyName: "dr-b", Action: "interactions.read"},
		{From: base.Add(10*time.Second + 500*time.Microsecond), To: base.Add(40 * time.Second)},
		{InsuranceNo: "P2", To: base.Add(20*time.Second - time.Microsecond)},
		{InsuranceNo: "P1", Action: "patients.read", From: base.Add(5 * time.Second)},
		{Action: "nothing"},
		{InsuranceNo: "nobody"},
	} {
		for _, limit := range []int{7, 100} {
			q.Limit = limit
			t.Run(fmt.Sprintf("%+v", q), func(t *testing.T) {
				got, want := auditPages(t, byIndex, q), auditPages(t, byQuery, q)
				if !slices.Equal(got, want) {
					t.Errorf("by the index:\n%v\nby the query:\n%v", got, want)
				}
			})
		}
	}
}

// auditPages reads every page of the audit events q selects and returns, page by
// page, its items whole (see whole) and its next cursor.
func auditPages(t *testing.T, repo *repository.DB, q models.AuditQuery) []string {
	t.Helper()
	return allPages(t, func(after *models.Cursor) ([]string, *string, error) {
		q.After = after
		page, err := repo.AuditEvents(context.Background(), q)
		var items []string
		for _, e := range page.Items {
			items = append(items, whole(t, e))
		}
		return items, page.NextCursor, err
	})
}

// TestEachReadsEveryInteraction reads a patient's chart of more than one page: every
// interaction once, newest first, and an error of the caller stops it.
func TestEachReadsEveryInteraction(t *testing.T) {
	ctx := context.Background()
	repo, _ := testStore.DB(t)
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := repo.CreatePatient(ctx, models.Patient{InsuranceNo: "A11", Version: 1, CreatedAt: at, UpdatedAt: at}); err != nil {
		t.Fatal(err)
	}
	var all []models.Interaction
	for i := range 1234 {
		all = append(all, models.Interaction{ID: fmt.Sprintf("v%04d", i), InsuranceNo: "A11", Version: 1,
			InteractionDate: at.Add(time.Duration(i) * time.Hour), CreatedAt: at, UpdatedAt: at})
	}
	if _, err := repo.InsertInteractions(ctx, all); err != nil {
		t.Fatal(err)
	}
	s := records.NewInteractions(repo, repo.InteractionVersions(), nil)
	var seen []string
	err := s.Each(ctx, models.HistoryQuery{InsuranceNo: "A11"}, func(in models.Interaction) error {
		seen = append(seen, in.ID)
		return nil
	})
	if err != nil || len(seen) != len(all) || seen[0] != "v1233" || seen[len(seen)-1] != "v0000" {
		t.Fatalf("Each read %d interactions (%v), from %v to %v; want %d, newest first", len(seen), err, first(seen), last(seen), len(all))
	}
	stop := errors.New("enough")
	n := 0
	if err := s.Each(ctx, models.HistoryQuery{InsuranceNo: "A11"}, func(models.Interaction) error {
		if n++; n == 3 {
			return stop
		}
		return nil
	}); !errors.Is(err, stop) || n != 3 {
		t.Errorf("Each after the caller's error: %v after %d", err, n)
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func last(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

func ptr(n int) *int { return &n }

// TestPatientsByIndexAreTheQuery reads the patient directory both ways on the
// embedded store, as TestHistoryByIndexIsTheQuery does histories.
func TestPatientsByIndexAreTheQuery(t *testing.T) {
	if !testStore.Embedded() {
		t.Skip("the side index is the embedded store's; this store is MongoDB")
	}
	ctx := context.Background()
	byIndex, db := testStore.DB(t)
	byQuery := repository.New(db)
	rnd := rand.New(rand.NewPCG(5, 6))
	first := []string{"Anna", "Änne", "José", "Jose", "Zoë", "Bert", ""}
	last := []string{"Straße", "Strasse", "Müller", "Mueller", "O'Brien", "Lopez", "López", ""}
	var ps []models.Patient
	for i := range 120 {
		p := models.Patient{InsuranceNo: fmt.Sprintf("N%03d", rnd.IntN(900)*10+i%10), Version: 1,
			FName: first[rnd.IntN(len(first))], LName: last[rnd.IntN(len(last))]}
		if i%7 == 0 {
			p.Source = bson.D{{Key: "system", Value: "fhir"}, {Key: "patient", Value: fmt.Sprintf("pat-%d", i)}}
		}
		ps = append(ps, p)
	}
	if _, err := byIndex.InsertPatients(ctx, ps); err != nil {
		t.Fatal(err)
	}
	for _, q := range []models.PatientQuery{
		{},
		{Words: []string{"stras"}},
		{Words: []string{"lop", "jo"}},
		{Words: []string{"n1"}},
		{Words: []string{"pat-1"}},
		{Words: []string{"zoe"}},
		{Words: []string{"nobody"}},
	} {
		for _, limit := range []int{4, 100} {
			q.Limit = limit
			t.Run(fmt.Sprintf("%+v", q), func(t *testing.T) {
				got, want := patientPages(t, byIndex, q), patientPages(t, byQuery, q)
				if !slices.Equal(got, want) {
					t.Errorf("by the index:\n%v\nby the query:\n%v", got, want)
				}
			})
		}
	}
}

// patientPages reads every page of the patients q selects and returns, page by page,
// the patients whole (see whole) and the next cursor.
func patientPages(t *testing.T, repo *repository.DB, q models.PatientQuery) []string {
	t.Helper()
	var out []string
	for {
		found, next, err := repo.Patients(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		var items []string
		for _, p := range found {
			items = append(items, whole(t, p))
		}
		out = append(out, fmt.Sprint(items))
		if next == nil {
			return out
		}
		out = append(out, *next)
		if q.After, err = models.ParseNameCursor(*next); err != nil {
			t.Fatal(err)
		}
	}
}
