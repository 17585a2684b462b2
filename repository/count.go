package repository

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// CountDocuments returns how many documents collection holds, as the store counts
// them: on the embedded store it reads every document. It is for checks, which
// compare it with what the side index or a backup's manifest counts. It returns the
// store's error.
func (s *DB) CountDocuments(ctx context.Context, collection string) (int64, error) {
	n, err := s.db.Collection(collection).CountDocuments(ctx, bson.D{})
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", collection, storeError(err))
	}
	return n, nil
}
