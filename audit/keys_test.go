package audit_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/models"
)

var otherKey = []byte(strings.Repeat("o", 32))

// appendSome writes n events through a new writer keyed with k, and seals its chain.
func appendSome(t *testing.T, m *memStore, k []byte, n int) *audit.Writer {
	t.Helper()
	w, err := audit.NewWriter(m, audit.WriterOptions{Key: k, Process: "test"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := w.Append(context.Background(), event(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(context.Background(), event(99)); err != nil {
		t.Fatal(err)
	}
	return w
}

func verifyWith(t *testing.T, m *memStore, keys audit.Keys) models.AuditVerification {
	t.Helper()
	v, err := audit.NewTrail(m, keys, nil).Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestKeyID(t *testing.T) {
	id := audit.KeyID(key)
	if len(id) != 16 || id == audit.KeyID(otherKey) || audit.KeyID(nil) != "" {
		t.Errorf("KeyID = %q, of another key %q, of none %q", id, audit.KeyID(otherKey), audit.KeyID(nil))
	}
	if strings.Contains(id, string(key[:4])) {
		t.Errorf("the key id %q shows the key", id)
	}
}

// TestKeyRotation keys a chain, then rotates the key: the old chain verifies once its
// key is given among the previous keys, and is reported (not hidden, not passed)
// without it; new chains use the new key; heads written before heads named their
// key verify with the keys in turn.
func TestKeyRotation(t *testing.T) {
	m := newMemStore()
	old := appendSome(t, m, key, 3)
	if head := m.headOf(old.ID()); head.KeyID != audit.KeyID(key) {
		t.Fatalf("head key id %q, want %q", head.KeyID, audit.KeyID(key))
	}
	if v := verifyWith(t, m, audit.Keys{Current: key}); !v.OK || v.ChainsVerified != 1 {
		t.Fatalf("verify = %+v", v)
	}
	if cp := m.checkpoints[old.ID()]; cp.KeyID != audit.KeyID(key) {
		t.Errorf("checkpoint key id %q, want %q", cp.KeyID, audit.KeyID(key))
	}

	rotated := audit.Keys{Current: otherKey, Previous: [][]byte{key}}
	fresh := appendSome(t, m, otherKey, 2)
	if head := m.headOf(fresh.ID()); head.KeyID != audit.KeyID(otherKey) {
		t.Errorf("new chain's key id %q, want the new key's", head.KeyID)
	}
	if v := verifyWith(t, m, rotated); !v.OK || v.ChainsVerified != 2 || v.Chains != 2 {
		t.Errorf("verify after the rotation = %+v", v)
	}
	v := verifyWith(t, m, audit.Keys{Current: otherKey})
	if v.OK || len(v.Breaks) != 1 || v.Breaks[0].Chain != old.ID() || !strings.Contains(v.Breaks[0].Reason, audit.KeyID(key)) ||
		len(v.ChainsFailed) != 1 || v.ChainsVerified != 1 {
		t.Errorf("verify without the old key = %+v, want the old chain reported, naming its key id", v)
	}

	// A head of before key ids: its MAC is keyed, it names no key.
	m.mu.Lock()
	head := m.heads[old.ID()]
	head.KeyID = ""
	head.MAC = audit.HeadMAC(key, head)
	m.heads[old.ID()] = head
	delete(m.checkpoints, old.ID())
	m.mu.Unlock()
	if v := verifyWith(t, m, rotated); !v.OK || v.ChainsVerified != 2 {
		t.Errorf("verify with a head that names no key = %+v", v)
	}
	if v := verifyWith(t, m, audit.Keys{Current: otherKey}); v.OK {
		t.Errorf("a head keyed with a key not given verifies: %+v", v)
	}
}

// TestCheckKey checks the key a process starts with against the trail's: any key on
// an empty trail, the trail's key, or a new key while the trail's is among the
// previous ones; never another key, a key on a trail written without one, or none on
// a keyed trail.
func TestCheckKey(t *testing.T) {
	ctx := context.Background()
	empty := newMemStore()
	for _, k := range [][]byte{nil, key, otherKey} {
		if err := audit.CheckKey(ctx, empty, audit.Keys{Current: k}); err != nil {
			t.Errorf("empty trail, key %q: %v", k, err)
		}
	}
	keyed := newMemStore()
	appendSome(t, keyed, key, 1)
	unkeyed := newMemStore()
	appendSome(t, unkeyed, nil, 1)
	legacy := newMemStore()
	w := appendSome(t, legacy, key, 1)
	head := legacy.heads[w.ID()]
	head.KeyID = ""
	head.MAC = audit.HeadMAC(key, head)
	legacy.heads[w.ID()] = head
	for _, tc := range []struct {
		name  string
		store *memStore
		keys  audit.Keys
		ok    bool
	}{
		{"the trail's key", keyed, audit.Keys{Current: key}, true},
		{"another key", keyed, audit.Keys{Current: otherKey}, false},
		{"no key on a keyed trail", keyed, audit.Keys{}, false},
		{"a new key, the trail's among the previous", keyed, audit.Keys{Current: otherKey, Previous: [][]byte{key}}, true},
		{"no key on a trail without one", unkeyed, audit.Keys{}, true},
		{"a key on a trail without one", unkeyed, audit.Keys{Current: key}, false},
		{"a head naming no key, the trail's key", legacy, audit.Keys{Current: key}, true},
		{"a head naming no key, another key", legacy, audit.Keys{Current: otherKey}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := audit.CheckKey(ctx, tc.store, tc.keys)
			if (err == nil) != tc.ok || err != nil && !errors.Is(err, audit.ErrKeyMismatch) {
				t.Errorf("CheckKey = %v, want ok %v", err, tc.ok)
			}
		})
	}
	// The latest chain is the trail's: after a rotation, the old key alone is refused.
	appendSome(t, keyed, otherKey, 1)
	if err := audit.CheckKey(ctx, keyed, audit.Keys{Current: key}); !errors.Is(err, audit.ErrKeyMismatch) {
		t.Errorf("the old key after a rotation: %v", err)
	}
}
