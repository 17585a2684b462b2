// Package audit keeps the audit trail tamper-evident: it hashes events into chains and
// verifies them.
package audit

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"strconv"
	"sync"
	"time"

	"github.com/clinic/interactions/models"
)

// Hash returns the hash of e over all its fields but Hash and ID, PrevHash included,
// so that changing any of them, or the order of events, breaks the chain. With a
// non-empty key it is an HMAC-SHA256, which whoever lacks the key cannot forge;
// without, a plain SHA-256.
func Hash(key []byte, e models.AuditEvent) string {
	var h hash.Hash
	if len(key) > 0 {
		h = hmac.New(sha256.New, key)
	} else {
		h = sha256.New()
	}
	for _, f := range []string{
		e.Chain, strconv.FormatInt(e.Seq, 10), e.Time.UTC().Format(time.RFC3339Nano),
		e.KeyName, string(e.Role), e.Action, e.Method, e.Route, e.InsuranceNo, e.InteractionID,
		strconv.Itoa(e.Status), e.ClientIP, e.RequestID, e.PrevHash,
	} {
		fmt.Fprintf(h, "%d:%s;", len(f), f) // length-prefixed: no two field lists collide
	}
	// Fields added later are hashed only when set, so that earlier events keep their
	// hashes; each is named, so that none can pass for another.
	for _, f := range []struct{ name, value string }{
		{"client_request_id", e.ClientRequestID},
	} {
		if f.value != "" {
			fmt.Fprintf(h, "%d:%s=%d:%s;", len(f.name), f.name, len(f.value), f.value)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// EventID returns the id of event seq of chain.
func EventID(chain string, seq int64) string {
	return fmt.Sprintf("%s:%012d", chain, seq)
}

// ChainStore keeps a chain's events and its head.
type ChainStore interface {
	// StartAuditChain records a new chain's head, at sequence 0.
	StartAuditChain(ctx context.Context, head models.AuditChainHead) error
	// AppendAuditEvent stores e, then moves its chain's head to it. Storing an event
	// that is already stored identically succeeds.
	AppendAuditEvent(ctx context.Context, e models.AuditEvent) error
}

// Chain appends the events of one writer, one at a time, to a chain of its own.
type Chain struct {
	id    string
	key   []byte
	store ChainStore

	mu      sync.Mutex
	started bool
	seq     int64
	last    string
}

// NewChain returns an empty chain named id, hashed with key (see Hash), kept in store.
func NewChain(id string, key []byte, store ChainStore) *Chain {
	return &Chain{id: id, key: key, store: store}
}

// ID returns the chain's name.
func (c *Chain) ID() string { return c.id }

// Append links e to the chain and stores it. Chain, Seq, ID, PrevHash and Hash are
// set here; Time is truncated to the store's millisecond precision. When storing
// fails the chain does not advance, and Append returns the store's error.
func (c *Chain) Append(ctx context.Context, e models.AuditEvent) (models.AuditEvent, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started {
		head := models.AuditChainHead{Chain: c.id, StartedAt: models.StoreTime(e.Time)}
		if err := c.store.StartAuditChain(ctx, head); err != nil {
			return models.AuditEvent{}, fmt.Errorf("start audit chain: %w", err)
		}
		c.started = true
	}
	e.Chain = c.id
	e.Seq = c.seq + 1
	e.ID = EventID(c.id, e.Seq)
	e.Time = models.StoreTime(e.Time)
	e.PrevHash = c.last
	e.Hash = Hash(c.key, e)
	if err := c.store.AppendAuditEvent(ctx, e); err != nil {
		return models.AuditEvent{}, fmt.Errorf("append audit event: %w", err)
	}
	c.seq, c.last = e.Seq, e.Hash
	return e, nil
}

// Verifier checks chains event by event, in chain and sequence order, and keeps the
// first break it finds.
type Verifier struct {
	key    []byte
	heads  map[string]models.AuditChainHead
	seen   map[string]bool
	chain  string
	seq    int64
	last   string
	result models.AuditVerification
}

// NewVerifier returns a verifier for events hashed with key, whose chains' heads are heads.
func NewVerifier(key []byte, heads []models.AuditChainHead) *Verifier {
	v := &Verifier{key: key, heads: map[string]models.AuditChainHead{}, seen: map[string]bool{}}
	for _, h := range heads {
		v.heads[h.Chain] = h
	}
	v.result.OK = true
	return v
}

// Add checks the next event. It reports false once a break has been found, after
// which further events need not be given.
func (v *Verifier) Add(e models.AuditEvent) bool {
	if !v.result.OK {
		return false
	}
	if e.Chain != v.chain {
		if v.chain != "" && !v.endChain() {
			return false
		}
		if v.seen[e.Chain] {
			return v.fail(e.Chain, e.Seq, "events of the chain are out of order")
		}
		v.chain, v.seq, v.last = e.Chain, 0, ""
		v.seen[e.Chain] = true
		v.result.Chains++
		if _, ok := v.heads[e.Chain]; !ok {
			return v.fail(e.Chain, e.Seq, "the chain has no head record")
		}
	}
	v.result.Events++
	switch {
	case e.Seq <= v.seq:
		return v.fail(e.Chain, e.Seq, fmt.Sprintf("sequence number %d appears again", e.Seq))
	case e.Seq > v.seq+1:
		return v.fail(e.Chain, v.seq+1, fmt.Sprintf("event %d is missing", v.seq+1))
	case e.ID != EventID(e.Chain, e.Seq):
		return v.fail(e.Chain, e.Seq, "the event's id does not match its chain and sequence number")
	case e.PrevHash != v.last:
		return v.fail(e.Chain, e.Seq, "prev_hash does not match the previous event's hash")
	case !hmac.Equal([]byte(Hash(v.key, e)), []byte(e.Hash)):
		return v.fail(e.Chain, e.Seq, "hash does not match the event's content")
	}
	v.seq, v.last = e.Seq, e.Hash
	return true
}

// endChain checks the end of the current chain against its head.
func (v *Verifier) endChain() bool {
	head := v.heads[v.chain]
	switch {
	case head.LastSeq > v.seq:
		return v.fail(v.chain, v.seq+1, fmt.Sprintf("events %d to %d are missing from the end", v.seq+1, head.LastSeq))
	case head.LastSeq == v.seq && head.LastHash != v.last:
		return v.fail(v.chain, v.seq, "the last event differs from the one the chain's head recorded")
	}
	// A head behind its chain by events means its writer stopped between storing an
	// event and recording it in the head; the events themselves still link.
	return true
}

func (v *Verifier) fail(chain string, seq int64, reason string) bool {
	v.result.OK = false
	v.result.FirstBreak = &models.AuditBreak{Chain: chain, Seq: seq, Reason: reason}
	return false
}

// Result finishes the check and returns it. Chains whose head records events but
// that have none left are breaks too.
func (v *Verifier) Result() models.AuditVerification {
	if v.result.OK && v.chain != "" {
		v.endChain()
	}
	if v.result.OK {
		for id, head := range v.heads {
			if !v.seen[id] && head.LastSeq > 0 {
				v.fail(id, 1, fmt.Sprintf("events 1 to %d are missing", head.LastSeq))
				break
			}
		}
	}
	return v.result
}

// TrailStore reads the audit trail back.
type TrailStore interface {
	// AuditChainHeads returns the head of every chain.
	AuditChainHeads(ctx context.Context) ([]models.AuditChainHead, error)
	// EachAuditEvent calls f with every event in chain and sequence order until f
	// returns false.
	EachAuditEvent(ctx context.Context, f func(models.AuditEvent) bool) error
}

// Trail is every chain of the audit trail, as stored.
type Trail struct {
	store TrailStore
	key   []byte
}

// NewTrail returns the trail kept in store, hashed with key (see Hash).
func NewTrail(store TrailStore, key []byte) *Trail {
	return &Trail{store: store, key: key}
}

// Verify checks every chain and reports the first broken link. It returns the
// store's errors.
func (t *Trail) Verify(ctx context.Context) (models.AuditVerification, error) {
	heads, err := t.store.AuditChainHeads(ctx)
	if err != nil {
		return models.AuditVerification{}, err
	}
	v := NewVerifier(t.key, heads)
	if err := t.store.EachAuditEvent(ctx, v.Add); err != nil {
		return models.AuditVerification{}, err
	}
	return v.Result(), nil
}
