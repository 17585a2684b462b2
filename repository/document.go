package repository

import (
	"context"
	"fmt"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Document returns the document of collection whose _id is id, as the store holds
// it, or models.ErrNotFound. It is for checks, which compare it with what the side
// index reads of the same document. It returns the store's errors.
func (s *DB) Document(ctx context.Context, collection, id string) (bson.Raw, error) {
	raw, err := s.db.Collection(collection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
	if err != nil {
		return nil, fmt.Errorf("find in %s: %w", collection, storeError(err))
	}
	return slices.Clone(raw), nil
}
