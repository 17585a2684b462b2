package repository

import (
	"context"
	"fmt"

	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/models"
)

// CreateInteraction stores in. It returns models.ErrPatientNotFound when its patient
// does not exist and models.ErrConflict when an interaction with the same id exists,
// on MongoDB also when the registry of interaction ids holds the id for another
// patient.
func (s *DB) CreateInteraction(ctx context.Context, in models.Interaction) error {
	audit.Touch(ctx, in.InsuranceNo, in.ID)
	ok, err := s.PatientExists(ctx, in.InsuranceNo)
	if err != nil {
		return err
	}
	if !ok {
		return models.ErrPatientNotFound
	}
	if s.registers() {
		if err := s.claimInteractionID(ctx, in.ID, in.InsuranceNo); err != nil {
			return err
		}
	}
	defer s.announce(ctx)
	if err := s.insertOne(ctx, s.interactionInserts, in); err != nil {
		return fmt.Errorf("insert interaction: %w", storeError(err))
	}
	return nil
}

// Interaction returns the interaction with the given id, or models.ErrNotFound. On
// MongoDB it finds the insurance number in the registry of interaction ids first, so
// that the query names the shard key; with a side index it reads it there.
func (s *DB) Interaction(ctx context.Context, id string) (models.Interaction, error) {
	filter, err := s.interactionFilter(ctx, id)
	if err != nil {
		return models.Interaction{}, err
	}
	in, err := decodeByID[models.Interaction](ctx, s, s.interactions, id, filter)
	if err != nil {
		return models.Interaction{}, fmt.Errorf("find interaction: %w", err)
	}
	audit.Touch(ctx, in.InsuranceNo, in.ID)
	return in, nil
}
