package apikey

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/clinic/interactions/models"
)

// memStore keeps keys in memory, with unique names.
type memStore struct {
	mu      sync.Mutex
	keys    map[string]models.APIKey
	touches int
	lookups int
	// looked, when set, is called after each lookup by hash, with the key found.
	looked func()
}

func (s *memStore) CreateAPIKey(_ context.Context, k models.APIKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, have := range s.keys {
		if have.Name == k.Name {
			return models.ErrConflict
		}
	}
	s.keys[k.Hash] = k
	return nil
}

func (s *memStore) APIKeyByHash(_ context.Context, hash string) (models.APIKey, error) {
	s.mu.Lock()
	k, ok := s.keys[hash]
	s.lookups++
	looked := s.looked
	s.mu.Unlock()
	if looked != nil {
		looked()
	}
	if !ok {
		return models.APIKey{}, models.ErrNotFound
	}
	return k, nil
}

func (s *memStore) RevokeAPIKey(_ context.Context, name string, now time.Time) (models.APIKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for hash, k := range s.keys {
		if k.Name == name {
			if k.RevokedAt == nil {
				k.RevokedAt = &now
				s.keys[hash] = k
			}
			return k, nil
		}
	}
	return models.APIKey{}, models.ErrNotFound
}

// lookupCount returns how many lookups by hash the store has answered.
func (s *memStore) lookupCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lookups
}

func (s *memStore) TouchAPIKey(_ context.Context, hash string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keys[hash]
	k.LastUsedAt = &now
	s.keys[hash] = k
	s.touches++
	return nil
}

func (s *memStore) HasAPIKeys(context.Context) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.keys) > 0, nil
}

func TestIssueAndAuthenticate(t *testing.T) {
	store := &memStore{keys: map[string]models.APIKey{}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	keys := New(store, func() time.Time { return now }, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	ctx := context.Background()

	issued, err := keys.Issue(ctx, models.NewKeyRequest{Name: "dr-ada", Role: models.RoleClinician})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^ck_[A-Za-z0-9_-]{43}$`).MatchString(issued.Key) || issued.Hash != Hash(issued.Key) || !issued.CreatedAt.Equal(now) {
		t.Errorf("issued = %+v", issued)
	}
	if _, stored := store.keys[Hash(issued.Key)]; !stored || store.keys[Hash(issued.Key)].Hash == issued.Key {
		t.Error("the key is not stored by its hash")
	}
	if _, err := keys.Issue(ctx, models.NewKeyRequest{Name: "dr-ada", Role: models.RoleViewer}); !errors.Is(err, models.ErrConflict) {
		t.Errorf("a taken name: %v", err)
	}
	var invalid *models.ValidationError
	if _, err := keys.Issue(ctx, models.NewKeyRequest{Name: "a b", Role: "surgeon"}); !errors.As(err, &invalid) || len(invalid.Fields) != 2 {
		t.Errorf("a bad name and role: %v", err)
	}

	p, err := keys.Authenticate(ctx, issued.Key)
	if err != nil || p != (models.Principal{Name: "dr-ada", Role: models.RoleClinician}) {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
	now = now.Add(30 * time.Second)
	_, _ = keys.Authenticate(ctx, issued.Key)
	now = now.Add(2 * time.Minute)
	_, _ = keys.Authenticate(ctx, issued.Key)
	if store.touches != 2 {
		t.Errorf("the use was recorded %d times, want 2: at most once a minute", store.touches)
	}
	for _, bad := range []string{"", "ck_unknown", issued.Key + "x", issued.Hash} {
		if _, err := keys.Authenticate(ctx, bad); !errors.Is(err, models.ErrUnauthenticated) {
			t.Errorf("Authenticate(%q) = %v", bad, err)
		}
	}
	if _, err := keys.Revoke(ctx, "dr-ada"); err != nil {
		t.Fatal(err)
	}
	_, err = keys.Authenticate(ctx, issued.Key)
	var named *RevokedError
	if !errors.Is(err, models.ErrUnauthenticated) || !errors.As(err, &named) || named.Name != "dr-ada" {
		t.Errorf("a revoked key: %v, want an unauthenticated error naming dr-ada", err)
	}
	if _, err := keys.Revoke(ctx, "dr-who"); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("revoking a key no one has: %v", err)
	}
}

// TestVerifiedKeysAreHeld checks that a key verified is not looked up again for
// CacheFor, by its hash (never the key itself), and is looked up again after.
func TestVerifiedKeysAreHeld(t *testing.T) {
	store := &memStore{keys: map[string]models.APIKey{}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	keys := New(store, func() time.Time { return now }, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	issued, err := keys.Issue(ctx, models.NewKeyRequest{Name: "dr-ada", Role: models.RoleClinician})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		after   time.Duration
		lookups int
	}{{0, 1}, {time.Second, 1}, {CacheFor - time.Millisecond, 1}, {CacheFor, 2}, {CacheFor + time.Second, 2}} {
		now = now.Add(tc.after)
		if p, err := keys.Authenticate(ctx, issued.Key); err != nil || p.Name != "dr-ada" {
			t.Fatalf("Authenticate = %+v, %v", p, err)
		}
		if got := store.lookupCount(); got != tc.lookups {
			t.Errorf("%s on: %d lookups, want %d", tc.after, got, tc.lookups)
		}
		now = now.Add(-tc.after)
	}
	keys.mu.Lock()
	defer keys.mu.Unlock()
	for held := range keys.verified {
		if held != issued.Hash {
			t.Errorf("a key is held as %q, not by its hash", held)
		}
	}
	// Unknown tokens are never held, so that they cannot fill the cache.
	if len(keys.verified) != 1 {
		t.Errorf("%d keys held, want 1", len(keys.verified))
	}
}

// TestRevocationTakesEffect revokes a key that was just verified: through the same
// Keys (as the API does) it is refused at once; elsewhere (the keys command, another
// server), once CacheFor has passed since it was verified, and not before.
func TestRevocationTakesEffect(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) (*memStore, *Keys, *time.Time, string) {
		t.Helper()
		store := &memStore{keys: map[string]models.APIKey{}}
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		keys := New(store, func() time.Time { return now }, slog.New(slog.DiscardHandler))
		issued, err := keys.Issue(ctx, models.NewKeyRequest{Name: "dr-ada", Role: models.RoleClinician})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := keys.Authenticate(ctx, issued.Key); err != nil {
			t.Fatal(err)
		}
		return store, keys, &now, issued.Key
	}
	refused := func(t *testing.T, keys *Keys, key string) bool {
		t.Helper()
		_, err := keys.Authenticate(ctx, key)
		var revoked *RevokedError
		if err != nil && !errors.As(err, &revoked) {
			t.Fatalf("Authenticate = %v, want a *RevokedError or none", err)
		}
		return err != nil
	}
	t.Run("through the same Keys", func(t *testing.T) {
		_, keys, _, key := setup(t)
		if _, err := keys.Revoke(ctx, "dr-ada"); err != nil {
			t.Fatal(err)
		}
		if !refused(t, keys, key) {
			t.Error("a key revoked through the same Keys is accepted")
		}
	})
	t.Run("elsewhere", func(t *testing.T) {
		store, keys, now, key := setup(t)
		*now = now.Add(10 * time.Second)
		// Another process revokes it, with Keys of its own.
		if _, err := New(store, nil, slog.New(slog.DiscardHandler)).Revoke(ctx, "dr-ada"); err != nil {
			t.Fatal(err)
		}
		*now = now.Add(CacheFor - 10*time.Second - time.Millisecond)
		if refused(t, keys, key) {
			t.Error("refused before CacheFor passed: the verified key was looked up again")
		}
		*now = now.Add(time.Millisecond)
		if !refused(t, keys, key) {
			t.Errorf("a key revoked elsewhere is accepted %s after it was verified", CacheFor)
		}
	})
	t.Run("while it is looked up", func(t *testing.T) {
		store, keys, now, key := setup(t)
		*now = now.Add(CacheFor)
		// The lookup reads the key before the revocation is stored: that request
		// goes through, but the key it read is not held after the revocation.
		store.looked = func() {
			store.looked = nil
			if _, err := keys.Revoke(ctx, "dr-ada"); err != nil {
				t.Error(err)
			}
		}
		if refused(t, keys, key) {
			t.Fatal("the request whose lookup came before the revocation was refused")
		}
		if !refused(t, keys, key) {
			t.Error("a key read before its revocation was held after it")
		}
	})
}

func TestFirstAdmin(t *testing.T) {
	store := &memStore{keys: map[string]models.APIKey{}}
	keys := New(store, nil, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	issued, made, err := keys.FirstAdmin(context.Background())
	if err != nil || !made || issued.Name != "admin" || issued.Role != models.RoleAdmin {
		t.Fatalf("FirstAdmin = %+v, %v, %v", issued, made, err)
	}
	if _, made, err := keys.FirstAdmin(context.Background()); err != nil || made {
		t.Errorf("a second FirstAdmin made a key: %v, %v", made, err)
	}
}
