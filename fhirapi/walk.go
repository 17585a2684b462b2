package fhirapi

import (
	"context"
	"errors"
	"fmt"

	"github.com/clinic/interactions/fhir"
	"github.com/clinic/interactions/models"
)

// walk is a listing of the resources of interactions, in the order of a history
// (newest first, or oldest first): those of the interactions q selects and keep
// keeps, each interaction's in the order the export writes them, those match
// accepts. A position in it is a cursor: an interaction (date and id) and how many of
// its selected resources come before.
type walk struct {
	q    models.HistoryQuery
	keep func(models.Interaction) bool
	// only, when set, is the one type of resource match may accept.
	only  string
	match func(fhir.Resource) bool
	// batch is how many interactions a read of the store asks for.
	batch int
	// subjects names each patient's Patient.
	subjects *subjects
}

// errStop stops a walk early, from its callback.
var errStop = errors.New("stop the walk")

// resources returns the resources of in the walk selects.
func (w *walk) resources(ctx context.Context, in models.Interaction) ([]fhir.Resource, error) {
	if w.keep != nil && !w.keep(in) {
		return nil, nil
	}
	patient, err := w.subjects.of(ctx, in.InsuranceNo)
	if err != nil {
		return nil, err
	}
	var out []fhir.Resource
	for _, r := range fhir.InteractionOfType(patient, in, w.only) {
		if w.match == nil || w.match(r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// each calls fn with every resource of the walk after the position after (from the
// start when nil), in order, each with the position just after it, until fn
// returns errStop. It reads the store a batch of interactions at a time, so memory
// does not grow with the chart. It returns fn's other errors and the store's.
func (a *API) each(ctx context.Context, w *walk, after *cursor, fn func(r fhir.Resource, at cursor, insuranceNo string) error) error {
	err := a.eachFrom(ctx, w, after, fn)
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

func (a *API) eachFrom(ctx context.Context, w *walk, after *cursor, fn func(r fhir.Resource, at cursor, insuranceNo string) error) error {
	q := w.q
	q.Limit, q.After = w.batch, nil
	emit := func(in models.Interaction, skip int) error {
		rs, err := w.resources(ctx, in)
		if err != nil {
			return err
		}
		for i := skip; i < len(rs); i++ {
			if err := fn(rs[i], cursor{Date: in.InteractionDate, ID: in.ID, Skip: i + 1}, in.InsuranceNo); err != nil {
				return err
			}
		}
		return nil
	}
	if after != nil && after.ID != "" {
		// The page before ended inside this interaction: the rest of it comes first,
		// if it is still where it was and still selected.
		in, err := a.current(ctx, after.ID)
		switch {
		case err == nil && in.InteractionDate.Equal(after.Date) && q.Matches(in):
			if err := emit(in, after.Skip); err != nil {
				return err
			}
		case err != nil && !errors.Is(err, models.ErrNotFound):
			return err
		}
		q.After = &models.Cursor{Date: after.Date, ID: after.ID, Query: q.Key()}
	}
	for {
		page, err := a.interactions.History(ctx, q)
		if err != nil {
			return err
		}
		for _, in := range page.Items {
			if err := emit(in, 0); err != nil {
				return err
			}
		}
		if page.NextCursor == nil {
			return nil
		}
		if q.After, err = models.ParseCursor(*page.NextCursor); err != nil {
			return fmt.Errorf("continue the walk: %w", err)
		}
	}
}

// pageOf reads one page of w after the position after: at most limit resources, and
// the position of the next page, nil when nothing follows. It notes the patients
// whose resources the page holds as disclosed.
func (a *API) pageOf(ctx context.Context, w *walk, after *cursor, limit int) ([]fhir.Resource, *cursor, error) {
	var items []fhir.Resource
	var last, next *cursor
	patients := map[string]bool{}
	err := a.each(ctx, w, after, func(r fhir.Resource, at cursor, insuranceNo string) error {
		if len(items) == limit {
			next = last // one more follows: the next page starts after the last taken
			return errStop
		}
		items = append(items, r)
		last = &at
		if !patients[insuranceNo] {
			patients[insuranceNo] = true
			disclosed(ctx, insuranceNo)
		}
		return nil
	})
	return items, next, err
}

// count counts the resources of w after the position after.
func (a *API) count(ctx context.Context, w *walk, after *cursor) (int, error) {
	n := 0
	err := a.each(ctx, w, after, func(fhir.Resource, cursor, string) error {
		n++
		return nil
	})
	return n, err
}
