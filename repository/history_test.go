package repository_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/records"
	"github.com/clinic/interactions/repository"
)

// TestHistoryByIndexIsTheQuery reads histories both ways on the embedded store: by
// the store's history index (ids, then each interaction by _id) and by the query the
// store filters and sorts (as on MongoDB). Over random interactions, with ties in
// date, several labels, entries in error and other patients' visits, every page of
// every query is the same both ways, cursors included.
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

// pages reads every page of the history q selects and returns, page by page, the
// ids of its items and its next cursor.
func pages(t *testing.T, repo *repository.DB, q models.HistoryQuery) []string {
	t.Helper()
	return allPages(t, func(after *models.Cursor) ([]string, *string, error) {
		q.After = after
		page, err := repo.History(context.Background(), q)
		var ids []string
		for _, in := range page.Items {
			ids = append(ids, in.ID)
		}
		return ids, page.NextCursor, err
	})
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
// is the same.
func TestAuditEventsByIndexAreTheQuery(t *testing.T) {
	if !testStore.Embedded() {
		t.Skip("the side index is the embedded store's; this store is MongoDB")
	}
	ctx := context.Background()
	byIndex, db := testStore.DB(t)
	byQuery := repository.New(db)
	rnd := rand.New(rand.NewPCG(3, 4))
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	events := make([]models.AuditEvent, 150)
	for i := range events {
		events[i] = models.AuditEvent{
			Chain: "c", Seq: int64(i + 1), ID: fmt.Sprintf("c:%012d", i+1),
			// Many in the same millisecond.
			Time:        base.Add(time.Duration(rnd.IntN(60)) * time.Second),
			KeyName:     []string{"dr-a", "dr-b"}[rnd.IntN(2)],
			Action:      []string{"patients.read", "interactions.create", "interactions.read"}[rnd.IntN(3)],
			InsuranceNo: []string{"", "P1", "P2"}[rnd.IntN(3)],
			Status:      200,
		}
	}
	if err := byIndex.InsertAuditEvents(ctx, events); err != nil {
		t.Fatal(err)
	}
	for _, q := range []models.AuditQuery{
		{},
		{InsuranceNo: "P1"},
		{KeyName: "dr-b", Action: "interactions.read"},
		{From: base.Add(10*time.Second + 500*time.Microsecond), To: base.Add(40 * time.Second)},
		{InsuranceNo: "P2", To: base.Add(20*time.Second - time.Microsecond)},
		{Action: "nothing"},
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
// page, the ids of its items and its next cursor.
func auditPages(t *testing.T, repo *repository.DB, q models.AuditQuery) []string {
	t.Helper()
	return allPages(t, func(after *models.Cursor) ([]string, *string, error) {
		q.After = after
		page, err := repo.AuditEvents(context.Background(), q)
		var ids []string
		for _, e := range page.Items {
			ids = append(ids, e.ID)
		}
		return ids, page.NextCursor, err
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
