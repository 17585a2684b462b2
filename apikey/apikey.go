// Package apikey issues API keys and authenticates requests by them. A key is 256
// random bits shown once, to whoever created it; only its SHA-256 is stored.
//
// A key once verified is trusted for CacheFor without looking it up again, by its
// hash (never the key itself): a revocation made through the same Keys (the API's
// DELETE /api/v1/keys/{name}) takes effect at once; one made elsewhere (the keys
// command, another server over the same database) within CacheFor.
package apikey

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/clinic/interactions/models"
)

// prefix starts every API key, so that a leaked one is easy to recognise.
const prefix = "ck_"

// touchEvery is how stale a key's last-use time may get before it is written again.
const touchEvery = time.Minute

// CacheFor is how long a verified key is trusted without being looked up again: a
// key revoked by another process stops working within it.
const CacheFor = 30 * time.Second

// maxCached bounds how many verified keys are held at once; past it, a key verified
// is not held, and is looked up again at its next use. Only stored, unrevoked keys
// are held, so that unknown tokens cannot fill it.
const maxCached = 10_000

// Store keeps API keys by hash.
type Store interface {
	// CreateAPIKey stores k. It returns models.ErrConflict when its name is taken.
	CreateAPIKey(ctx context.Context, k models.APIKey) error
	// APIKeyByHash returns the key whose hash is hash, or models.ErrNotFound.
	APIKeyByHash(ctx context.Context, hash string) (models.APIKey, error)
	// TouchAPIKey records that the key with hash was used at now.
	TouchAPIKey(ctx context.Context, hash string, now time.Time) error
	// HasAPIKeys reports whether any key, revoked or not, is stored.
	HasAPIKeys(ctx context.Context) (bool, error)
	// RevokeAPIKey marks the key named name revoked at now and returns it; a
	// revoked key keeps its first revocation time. It returns models.ErrNotFound
	// when no key has that name.
	RevokeAPIKey(ctx context.Context, name string, now time.Time) (models.APIKey, error)
}

// Keys issues, checks and revokes API keys. It is safe for concurrent use.
type Keys struct {
	store  Store
	now    func() time.Time
	logger *slog.Logger

	mu sync.Mutex
	// verified holds the keys verified within CacheFor, by hash.
	verified map[string]verified
	// revocations counts the revocations made through Keys: a key looked up
	// before one is not held after it.
	revocations uint64
}

// verified is a key as it was verified, and until when it is trusted.
type verified struct {
	key   models.APIKey
	until time.Time
}

// New returns Keys over store, reading the time from now (time.Now when nil) and
// logging to logger the failures that do not fail a request.
func New(store Store, now func() time.Time, logger *slog.Logger) *Keys {
	if now == nil {
		now = time.Now
	}
	return &Keys{store: store, now: now, logger: logger, verified: map[string]verified{}}
}

// Generate returns a new random API key and its hash. It returns an error only when
// the system's random source fails.
func Generate() (key, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("random key: %w", err)
	}
	key = prefix + base64.RawURLEncoding.EncodeToString(b)
	return key, Hash(key), nil
}

// Hash returns the hash under which key is stored.
func Hash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Issue creates a key for req, stores its hash and returns it with the key itself.
// It returns a *models.ValidationError for a bad name or role, models.ErrConflict
// when the name is taken, and the store's error otherwise.
func (k *Keys) Issue(ctx context.Context, req models.NewKeyRequest) (models.IssuedKey, error) {
	if err := req.Validate(); err != nil {
		return models.IssuedKey{}, err
	}
	key, hash, err := Generate()
	if err != nil {
		return models.IssuedKey{}, err
	}
	stored := models.APIKey{Hash: hash, Name: req.Name, Role: req.Role, CreatedAt: models.StoreTime(k.now())}
	if err := k.store.CreateAPIKey(ctx, stored); err != nil {
		return models.IssuedKey{}, err
	}
	return models.IssuedKey{APIKey: stored, Key: key}, nil
}

// FirstAdmin creates an admin key named "admin" when the store holds no key at all,
// so that a new installation is usable and still closed. It reports whether it made
// one. It returns the store's errors.
func (k *Keys) FirstAdmin(ctx context.Context) (models.IssuedKey, bool, error) {
	has, err := k.store.HasAPIKeys(ctx)
	if err != nil || has {
		return models.IssuedKey{}, false, err
	}
	issued, err := k.Issue(ctx, models.NewKeyRequest{Name: "admin", Role: models.RoleAdmin})
	if errors.Is(err, models.ErrConflict) { // another server made it at the same moment
		return models.IssuedKey{}, false, nil
	}
	if err != nil {
		return models.IssuedKey{}, false, fmt.Errorf("create the first admin key: %w", err)
	}
	return issued, true, nil
}

// RevokedError is the error of a revoked key: a models.ErrUnauthenticated that
// names the key, for the audit trail.
type RevokedError struct {
	// Name is the revoked key's name.
	Name string
}

func (e *RevokedError) Error() string { return "the API key " + e.Name + " is revoked" }

// Unwrap returns models.ErrUnauthenticated.
func (e *RevokedError) Unwrap() error { return models.ErrUnauthenticated }

// Authenticate returns who presents token: the stored, unrevoked key it is. A
// missing, unknown or revoked key takes the same path to models.ErrUnauthenticated:
// the token is always hashed and, unless its key was verified within CacheFor,
// looked up, and the stored hash compared in constant time; for a revoked key the
// error is a *RevokedError, which names the key. It records the key's use at most
// once a minute. It returns the store's errors but that of recording the use, which
// it logs.
func (k *Keys) Authenticate(ctx context.Context, token string) (models.Principal, error) {
	hash := Hash(token)
	now := k.now()
	key, ok, revocations := k.cached(hash, now)
	if !ok {
		var err error
		if key, err = k.store.APIKeyByHash(ctx, hash); err != nil && !errors.Is(err, models.ErrNotFound) {
			return models.Principal{}, err
		}
	}
	valid := subtle.ConstantTimeCompare([]byte(key.Hash), []byte(hash)) == 1
	if token == "" || !valid {
		return models.Principal{}, models.ErrUnauthenticated
	}
	if key.RevokedAt != nil {
		return models.Principal{}, &RevokedError{Name: key.Name}
	}
	touch := key.LastUsedAt == nil || now.Sub(*key.LastUsedAt) > touchEvery
	if touch {
		used := models.StoreTime(now)
		key.LastUsedAt = &used
	}
	switch {
	case !ok:
		k.hold(hash, key, now, revocations)
	case touch:
		k.touched(hash, *key.LastUsedAt)
	}
	if touch {
		if err := k.store.TouchAPIKey(ctx, hash, *key.LastUsedAt); err != nil {
			k.logger.WarnContext(ctx, "record key use", "error", err.Error())
		}
	}
	return models.Principal{Name: key.Name, Role: key.Role}, nil
}

// cached returns the key of hash when it was verified within CacheFor of now, and
// the count of revocations made so far.
func (k *Keys) cached(hash string, now time.Time) (models.APIKey, bool, uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.verified[hash]
	if ok && !now.Before(v.until) {
		delete(k.verified, hash)
		ok = false
	}
	return v.key, ok, k.revocations
}

// hold keeps key, verified at now, as the key of hash for CacheFor, unless a
// revocation was made since the count revocations was read (the key was read
// before it, and may be the one revoked), or maxCached keys are held.
func (k *Keys) hold(hash string, key models.APIKey, now time.Time, revocations uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.revocations != revocations {
		return
	}
	if len(k.verified) >= maxCached {
		for h, v := range k.verified {
			if !now.Before(v.until) {
				delete(k.verified, h)
			}
		}
		if len(k.verified) >= maxCached {
			return
		}
	}
	k.verified[hash] = verified{key: key, until: now.Add(CacheFor)}
}

// touched records in the key held for hash, if it still is, that its use was
// recorded at used.
func (k *Keys) touched(hash string, used time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if v, ok := k.verified[hash]; ok {
		v.key.LastUsedAt = &used
		k.verified[hash] = v
	}
}

// Revoke revokes the key named name at the time now and returns it; it is refused at
// once by this Keys, and by others within CacheFor. Revoking a revoked key keeps its
// first revocation time. It returns models.ErrNotFound when no key has that name,
// and the store's errors.
func (k *Keys) Revoke(ctx context.Context, name string) (models.APIKey, error) {
	key, err := k.store.RevokeAPIKey(ctx, name, models.StoreTime(k.now()))
	k.forget(name)
	return key, err
}

// forget drops the verified keys named name, and counts a revocation, so that a
// key read before it, which may be the one revoked, is not held after it.
func (k *Keys) forget(name string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.revocations++
	for h, v := range k.verified {
		if v.key.Name == name {
			delete(k.verified, h)
		}
	}
}
