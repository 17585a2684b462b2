package repository

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clinic/interactions/models"
)

// APIKeysCollection holds the API keys, by hash.
const APIKeysCollection = "api_keys"

// CreateAPIKey stores k. It returns models.ErrConflict when a key with its name exists.
func (s *DB) CreateAPIKey(ctx context.Context, k models.APIKey) error {
	err := s.write(ctx, func() error {
		_, err := s.apiKeys.InsertOne(ctx, k)
		return err
	})
	if err != nil {
		return fmt.Errorf("insert API key: %w", storeError(err))
	}
	return nil
}

// APIKeyByHash returns the key whose hash is hash, or models.ErrNotFound.
func (s *DB) APIKeyByHash(ctx context.Context, hash string) (models.APIKey, error) {
	var k models.APIKey
	if err := s.apiKeys.FindOne(ctx, bson.D{{Key: "_id", Value: hash}}).Decode(&k); err != nil {
		return models.APIKey{}, fmt.Errorf("find API key: %w", storeError(err))
	}
	return k, nil
}

// APIKeys returns every key, revoked ones included, by name.
func (s *DB) APIKeys(ctx context.Context) ([]models.APIKey, error) {
	cur, err := s.apiKeys.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "name", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("find API keys: %w", storeError(err))
	}
	keys := []models.APIKey{}
	if err := cur.All(ctx, &keys); err != nil {
		return nil, fmt.Errorf("read API keys: %w", storeError(err))
	}
	return keys, nil
}

// HasAPIKeys reports whether any key, revoked or not, is stored.
func (s *DB) HasAPIKeys(ctx context.Context) (bool, error) {
	n, err := s.apiKeys.CountDocuments(ctx, bson.D{}, options.Count().SetLimit(1))
	if err != nil {
		return false, fmt.Errorf("count API keys: %w", storeError(err))
	}
	return n > 0, nil
}

// RevokeAPIKey marks the key named name revoked at now and returns it. It returns
// models.ErrNotFound when no key has that name; revoking a revoked key keeps its
// first revocation time.
func (s *DB) RevokeAPIKey(ctx context.Context, name string, now time.Time) (models.APIKey, error) {
	_, err := s.apiKeys.UpdateOne(ctx,
		bson.D{{Key: "name", Value: name}, {Key: "revoked_at", Value: bson.D{{Key: "$exists", Value: false}}}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "revoked_at", Value: now}}}})
	if err != nil {
		return models.APIKey{}, fmt.Errorf("revoke API key: %w", storeError(err))
	}
	return s.APIKey(ctx, name)
}

// APIKey returns the key named name, or models.ErrNotFound.
func (s *DB) APIKey(ctx context.Context, name string) (models.APIKey, error) {
	var k models.APIKey
	if err := s.apiKeys.FindOne(ctx, bson.D{{Key: "name", Value: name}}).Decode(&k); err != nil {
		return models.APIKey{}, fmt.Errorf("find API key: %w", storeError(err))
	}
	return k, nil
}

// TouchAPIKey records that the key with hash was used at now.
func (s *DB) TouchAPIKey(ctx context.Context, hash string, now time.Time) error {
	err := s.write(ctx, func() error {
		_, err := s.apiKeys.UpdateOne(ctx, bson.D{{Key: "_id", Value: hash}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "last_used_at", Value: now}}}})
		return err
	})
	if err != nil {
		return fmt.Errorf("touch API key: %w", storeError(err))
	}
	return nil
}
