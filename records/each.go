package records

import (
	"context"

	"github.com/clinic/interactions/models"
)

// EachVersion calls fn with every version of current, an interaction as Each or
// Get returns it, oldest first: version 1 to the one before current from the
// archive, then current itself. Each archived version is read alone, by its _id, so
// memory does not grow with the number of versions. It stops at fn's first error and
// returns it, and returns the errors of the store.
func (s *Interactions) EachVersion(ctx context.Context, current models.Interaction, fn func(models.Interaction) error) error {
	return eachVersion(ctx, s.versions, current, fn)
}

// EachVersion calls fn with every version of current, a patient as Get returns it,
// oldest first, as Interactions.EachVersion does.
func (s *Patients) EachVersion(ctx context.Context, current models.Patient, fn func(models.Patient) error) error {
	return eachVersion(ctx, s.versions, current, fn)
}

func eachVersion[T models.Record](ctx context.Context, store Versions[T], current T, fn func(T) error) error {
	for v := 1; v < current.VersionNumber(); v++ {
		archived, err := store.Archived(ctx, current.Key(), v)
		if err != nil {
			return err
		}
		if err := fn(archived.Document); err != nil {
			return err
		}
	}
	return fn(current)
}
