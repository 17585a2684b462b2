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
	defer s.mu.Unlock()
	k, ok := s.keys[hash]
	if !ok {
		return models.APIKey{}, models.ErrNotFound
	}
	return k, nil
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
	revoked := store.keys[issued.Hash]
	revoked.RevokedAt = &now
	store.keys[issued.Hash] = revoked
	_, err = keys.Authenticate(ctx, issued.Key)
	var named *RevokedError
	if !errors.Is(err, models.ErrUnauthenticated) || !errors.As(err, &named) || named.Name != "dr-ada" {
		t.Errorf("a revoked key: %v, want an unauthenticated error naming dr-ada", err)
	}
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
