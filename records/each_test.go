package records_test

import (
	"context"
	"errors"
	"testing"

	"github.com/clinic/interactions/models"
)

func TestEachVersion(t *testing.T) {
	store := newMemStore()
	s := newInteractions(t, store, store)
	ctx := context.Background()
	if _, err := s.Amend(ctx, "1", anyVersion, doc(t, `{"remarks":"second"}`), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MarkEnteredInError(ctx, "1", anyVersion, "wrong patient"); err != nil {
		t.Fatal(err)
	}
	current, err := store.Interaction(ctx, "1")
	if err != nil {
		t.Fatal(err)
	}

	var got []models.Interaction
	collect := func(in models.Interaction) error { got = append(got, in); return nil }
	if err := s.EachVersion(ctx, current, collect); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].Version != 1 || got[0].Remarks != "first" || got[1].Remarks != "second" ||
		got[2].Version != 3 || got[2].Status != models.StatusEnteredInError {
		t.Errorf("versions = %+v, want 1 to 3, oldest first, the last entered in error", got)
	}

	stop := errors.New("stop")
	calls := 0
	err = s.EachVersion(ctx, current, func(models.Interaction) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("EachVersion = %v after %d calls, want fn's error after 1", err, calls)
	}

	// A version missing from the archive is the store's error, not a gap.
	delete(store.archive, archiveID(current.Key(), 2))
	if err := s.EachVersion(ctx, current, collect); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("EachVersion with version 2 missing = %v, want models.ErrNotFound", err)
	}
}
