package repository

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clinic/interactions/models"
)

// InsertPatients stores patients in one unordered batch, skipping those whose
// insurance number is already stored; the result says which. A patient that names no
// author gets the one ctx names (see models.WithAuthor). It returns the store's error
// for anything else.
func (s *DB) InsertPatients(ctx context.Context, patients []models.Patient) (models.InsertResult, error) {
	author := models.AuthorFrom(ctx)
	docs := make([]any, len(patients))
	for i, p := range patients {
		if p.RecordedBy == nil {
			p.RecordedBy = author
		}
		docs[i] = p
	}
	defer s.announce(ctx)
	res, err := s.insertMany(ctx, s.patients, docs)
	if err == nil {
		// Each is stored now, by this call or before it.
		for _, p := range patients {
			s.patientsSeen.add(p.InsuranceNo)
		}
	}
	return res, err
}

// InsertInteractions stores interactions in one unordered batch, skipping those whose
// id is already stored (on MongoDB, also those whose id the registry of interaction
// ids holds for another patient). An interaction that names no author gets the one
// ctx names. It does not check that their patients exist. It returns the store's
// error for anything else.
func (s *DB) InsertInteractions(ctx context.Context, interactions []models.Interaction) (models.InsertResult, error) {
	mine, taken := upTo(len(interactions)), []int(nil)
	if s.registers() {
		var err error
		if mine, taken, err = s.registerInteractions(ctx, interactions); err != nil {
			return models.InsertResult{}, err
		}
	}
	author := models.AuthorFrom(ctx)
	docs := make([]any, len(mine))
	for i, at := range mine {
		in := interactions[at]
		if in.RecordedBy == nil {
			in.RecordedBy = author
		}
		docs[i] = in
	}
	defer s.announce(ctx)
	res, err := s.insertMany(ctx, s.interactions, docs)
	if err != nil {
		return res, err
	}
	// Positions in the batch given, with the ids another patient holds among those
	// stored already, as the embedded store, which has no registry, reports them.
	for i, at := range res.ExistingAt {
		res.ExistingAt[i] = mine[at]
	}
	res.Existing += len(taken)
	res.ExistingAt = append(res.ExistingAt, taken...)
	slices.Sort(res.ExistingAt)
	return res, nil
}

// upTo returns the positions 0 to n-1.
func upTo(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// insertMany inserts docs into coll in one unordered batch. It returns how many were
// inserted and which were stored already (by their _id), and the store's other
// errors. The loads that make such batches (the seed tool's) are not sent one at a
// time (see DB.write): the store spends most of a large batch's time converting
// its documents, which it does while another batch is being written.
func (s *DB) insertMany(ctx context.Context, coll *mongo.Collection, docs []any) (models.InsertResult, error) {
	if len(docs) == 0 {
		return models.InsertResult{}, nil
	}
	_, err := coll.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err == nil {
		return models.InsertResult{Inserted: len(docs)}, nil
	}
	var bulk mongo.BulkWriteException
	if !errors.As(err, &bulk) || bulk.WriteConcernError != nil {
		return models.InsertResult{}, fmt.Errorf("insert into %s: %w", coll.Name(), storeError(err))
	}
	res := models.InsertResult{Inserted: len(docs)}
	for _, we := range bulk.WriteErrors {
		if !mongo.IsDuplicateKeyError(we) {
			return models.InsertResult{}, fmt.Errorf("insert into %s: %w", coll.Name(), storeError(err))
		}
		res.Inserted--
		res.Existing++
		res.ExistingAt = append(res.ExistingAt, we.Index)
	}
	slices.Sort(res.ExistingAt)
	return res, nil
}
