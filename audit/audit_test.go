package audit_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/models"
)

// memStore keeps a chain in memory.
type memStore struct {
	heads  []models.AuditChainHead
	events []models.AuditEvent
	fail   bool
}

func (m *memStore) StartAuditChain(_ context.Context, h models.AuditChainHead) error {
	m.heads = append(m.heads, h)
	return nil
}

func (m *memStore) AppendAuditEvent(_ context.Context, e models.AuditEvent) error {
	if m.fail {
		return errors.New("down")
	}
	m.events = append(m.events, e)
	for i := range m.heads {
		if m.heads[i].Chain == e.Chain {
			m.heads[i].LastSeq, m.heads[i].LastHash = e.Seq, e.Hash
		}
	}
	return nil
}

func chainOf(t *testing.T, key []byte, n int) *memStore {
	t.Helper()
	m := &memStore{}
	c := audit.NewChain("c1", key, m)
	for i := 0; i < n; i++ {
		if _, err := c.Append(context.Background(), models.AuditEvent{Time: time.Unix(int64(i), 0), Action: "patients.read", Status: 200}); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func verify(key []byte, m *memStore) models.AuditVerification {
	v := audit.NewVerifier(key, m.heads)
	for _, e := range m.events {
		if !v.Add(e) {
			break
		}
	}
	return v.Result()
}

func TestVerify(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	cases := []struct {
		name   string
		tamper func(m *memStore)
		seq    int64
		reason string
	}{
		{"intact", func(*memStore) {}, 0, ""},
		{"changed status", func(m *memStore) { m.events[2].Status = 500 }, 3, "hash does not match"},
		{"changed time", func(m *memStore) { m.events[0].Time = m.events[0].Time.Add(time.Second) }, 1, "hash does not match"},
		{"swapped", func(m *memStore) { m.events[1], m.events[2] = m.events[2], m.events[1] }, 2, "event 2 is missing"},
		{"removed", func(m *memStore) { m.events = append(m.events[:1], m.events[2:]...) }, 2, "event 2 is missing"},
		{"repeated", func(m *memStore) { m.events = append(m.events[:2], m.events[1:]...) }, 2, "appears again"},
		{"relinked", func(m *memStore) { m.events[3].PrevHash = m.events[1].Hash }, 4, "prev_hash"},
		{"tail removed", func(m *memStore) { m.events = m.events[:3] }, 4, "missing from the end"},
		{"all removed", func(m *memStore) { m.events = nil }, 1, "events 1 to 5 are missing"},
		{"head lost", func(m *memStore) { m.heads = nil }, 1, "no head record"},
		{"rehashed without the key", func(m *memStore) {
			m.events[4].Action = "keys.create"
			m.events[4].Hash = audit.Hash(nil, m.events[4])
			m.heads[0].LastHash = m.events[4].Hash
		}, 5, "hash does not match"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := chainOf(t, key, 5)
			tc.tamper(m)
			got := verify(key, m)
			if tc.reason == "" {
				if !got.OK || got.Events != 5 || got.Chains != 1 {
					t.Errorf("verify = %+v", got)
				}
				return
			}
			if got.OK || got.FirstBreak == nil || got.FirstBreak.Seq != tc.seq || !strings.Contains(got.FirstBreak.Reason, tc.reason) {
				t.Errorf("verify = %+v, break %+v; want seq %d (%s)", got, got.FirstBreak, tc.seq, tc.reason)
			}
		})
	}
}

func TestAppendDoesNotAdvanceOnFailure(t *testing.T) {
	m := &memStore{}
	c := audit.NewChain("c1", nil, m)
	ctx := context.Background()
	if _, err := c.Append(ctx, models.AuditEvent{Time: time.Unix(1, 0)}); err != nil {
		t.Fatal(err)
	}
	m.fail = true
	if _, err := c.Append(ctx, models.AuditEvent{Time: time.Unix(2, 0)}); err == nil {
		t.Fatal("append to a failing store succeeded")
	}
	m.fail = false
	e, err := c.Append(ctx, models.AuditEvent{Time: time.Unix(3, 0)})
	if err != nil || e.Seq != 2 || e.PrevHash != m.events[0].Hash {
		t.Fatalf("after a failure: %+v, %v", e, err)
	}
	if got := verify(nil, m); !got.OK {
		t.Errorf("verify = %+v", got)
	}
}
