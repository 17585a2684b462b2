package records

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

// InteractionStore keeps interactions.
type InteractionStore interface {
	// CreateInteraction stores in. It returns models.ErrPatientNotFound when its
	// patient does not exist and models.ErrConflict when its id is taken.
	CreateInteraction(ctx context.Context, in models.Interaction) error
	// Interaction returns the interaction id, or models.ErrNotFound.
	Interaction(ctx context.Context, id string) (models.Interaction, error)
	// History returns one page of a patient's interactions, as stored.
	History(ctx context.Context, q models.HistoryQuery) (models.Page, error)
}

// Interactions applies the rules of a record's life to interactions.
type Interactions struct {
	store    InteractionStore
	versions Versions[models.Interaction]
	now      func() time.Time
}

// NewInteractions returns the rules over store and versions, reading the time from
// now (time.Now when nil).
func NewInteractions(store InteractionStore, versions Versions[models.Interaction], now func() time.Time) *Interactions {
	return &Interactions{store: store, versions: versions, now: clock(now)}
}

// Create stores in. When in has no id it takes reservedID, which a retry of the same
// request reserves again: when that id is taken by an interaction of the same
// patient, only an earlier, interrupted attempt of this request can have stored it,
// and Create returns that one instead of making a second. It returns the errors of
// the store otherwise.
func (s *Interactions) Create(ctx context.Context, in models.Interaction, reservedID string) (models.Interaction, error) {
	reserved := in.ID == ""
	if reserved {
		in.ID = reservedID
	}
	in.RecordedBy = models.AuthorFrom(ctx)
	if err := checkSize(in); err != nil {
		return models.Interaction{}, err
	}
	err := s.store.CreateInteraction(ctx, in)
	if errors.Is(err, models.ErrConflict) && reserved {
		if stored, getErr := s.store.Interaction(ctx, in.ID); getErr == nil && stored.InsuranceNo == in.InsuranceNo {
			return stored, nil
		}
	}
	if err != nil {
		return models.Interaction{}, err
	}
	return in, nil
}

// load returns the interaction id at its newest committed version, whatever its
// status (see latest). It returns the errors of the store.
func (s *Interactions) load(ctx context.Context, id string) (models.Interaction, error) {
	in, err := s.store.Interaction(ctx, id)
	if err != nil {
		return models.Interaction{}, err
	}
	return latest(ctx, s.versions, in)
}

// Get returns the interaction id. It returns a *models.GoneError when it was marked
// entered-in-error, and the errors of the store.
func (s *Interactions) Get(ctx context.Context, id string) (models.Interaction, error) {
	in, err := s.load(ctx, id)
	if err != nil {
		return models.Interaction{}, err
	}
	if in.Status == models.StatusEnteredInError {
		return models.Interaction{}, &models.GoneError{Status: in.Status, Reason: in.AmendmentReason}
	}
	return in, nil
}

// Amend applies the merge patch to interaction id as its next version, with reason,
// when match accepts its current version. It returns the version stored,
// models.ErrPreconditionFailed when match refuses the current version or another
// change took the next one, a *models.ValidationError for a patch that cannot be
// accepted, and the errors of Get and the store.
func (s *Interactions) Amend(ctx context.Context, id string, match Match, patch bson.D, reason string) (models.Interaction, error) {
	current, err := s.Get(ctx, id)
	if err != nil {
		return models.Interaction{}, err
	}
	if !match(current.Version) {
		return models.Interaction{}, models.ErrPreconditionFailed
	}
	return s.Apply(ctx, current, patch, reason)
}

// Apply applies the merge patch to current, which the caller has read, as its next
// version, with reason. It returns what Amend returns.
func (s *Interactions) Apply(ctx context.Context, current models.Interaction, patch bson.D, reason string) (models.Interaction, error) {
	next, err := nextInteraction(current, patch, reason, s.now())
	if err != nil {
		return models.Interaction{}, err
	}
	next.RecordedBy = models.AuthorFrom(ctx)
	return commit(ctx, s.versions, current, next, next.UpdatedAt)
}

// MarkEnteredInError marks interaction id entered-in-error, for reason, as its next
// version, when match accepts its current version: the record is kept with its
// history. It returns a *models.ValidationError without a reason, and otherwise
// what Amend returns.
func (s *Interactions) MarkEnteredInError(ctx context.Context, id string, match Match, reason string) (models.Interaction, error) {
	current, err := s.Get(ctx, id)
	if err != nil {
		return models.Interaction{}, err
	}
	if !match(current.Version) {
		return models.Interaction{}, models.ErrPreconditionFailed
	}
	next, err := enteredInError(current, reason, s.now())
	if err != nil {
		return models.Interaction{}, err
	}
	next.RecordedBy = models.AuthorFrom(ctx)
	return commit(ctx, s.versions, current, next, next.UpdatedAt)
}

// Versions returns one page of interaction id's versions, newest first, below
// version before (0: from the current one), entered-in-error or not. It returns the
// errors of the store.
func (s *Interactions) Versions(ctx context.Context, id string, before, limit int) (Page[models.Interaction], error) {
	current, err := s.load(ctx, id)
	if err != nil {
		return Page[models.Interaction]{}, err
	}
	return page(ctx, s.versions, current, before, limit)
}

// Version returns version v of interaction id, entered-in-error or not. It returns
// models.ErrNotFound for a version the interaction has not reached, and the errors of
// the store.
func (s *Interactions) Version(ctx context.Context, id string, v int) (models.Interaction, error) {
	current, err := s.load(ctx, id)
	if err != nil {
		return models.Interaction{}, err
	}
	return version(ctx, s.versions, current, v)
}

// History returns one page of a patient's interactions, each at its newest committed
// version (see latest), looking in the archive for the versions above them all at
// once; one that then no longer fits the query's filters is left out. It returns the
// errors of the store.
func (s *Interactions) History(ctx context.Context, q models.HistoryQuery) (models.Page, error) {
	page, err := s.store.History(ctx, q)
	if err != nil {
		return models.Page{}, err
	}
	following, err := s.versions.Following(ctx, page.Items)
	if err != nil {
		return models.Page{}, err
	}
	items := page.Items[:0]
	for i, stored := range page.Items {
		in := stored
		if following[i].Version != 0 { // the archive holds a version above: see latest
			if in, err = latest(ctx, s.versions, stored); err != nil {
				return models.Page{}, err
			}
		}
		if in.Version == stored.Version || q.Matches(in) {
			items = append(items, in)
		}
	}
	page.Items = items
	return page, nil
}

// eachPage is how many interactions Each reads at a time.
const eachPage = 500

// Each calls fn with every interaction q selects, in the order of a history (newest
// first), as History returns them, reading them a page at a time so that memory does
// not grow with the patient's chart. q.Limit and q.After are its own. It stops at
// fn's first error and returns it, and returns the errors of the store.
func (s *Interactions) Each(ctx context.Context, q models.HistoryQuery, fn func(models.Interaction) error) error {
	q.Limit, q.After = eachPage, nil
	for {
		page, err := s.History(ctx, q)
		if err != nil {
			return err
		}
		for _, in := range page.Items {
			if err := fn(in); err != nil {
				return err
			}
		}
		if page.NextCursor == nil {
			return nil
		}
		if q.After, err = models.ParseCursor(*page.NextCursor); err != nil {
			return fmt.Errorf("continue the history: %w", err)
		}
	}
}
