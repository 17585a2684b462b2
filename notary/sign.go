package notary

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"golang.org/x/mod/sumdb/note"

	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/models"
)

// Store reads the heads of the audit chains and their events.
type Store interface {
	// AuditChainHeads returns the head of every chain.
	AuditChainHeads(ctx context.Context) ([]models.AuditChainHead, error)
	// AuditEvent returns the event with the given id, or models.ErrNotFound.
	AuditEvent(ctx context.Context, id string) (models.AuditEvent, error)
}

// Notary signs checkpoints of the audit chains kept in a store and appends them to
// a log. It is safe for concurrent use.
type Notary struct {
	store  Store
	signer note.Signer
	keys   audit.Keys
	log    Log
	logger *slog.Logger

	mu sync.Mutex
	// signed holds, by chain, the size of the last checkpoint signed.
	signed map[string]int64
}

// New returns a notary of the chains in store, hashed with keys, that signs with
// signer and appends to log, and takes signed (by chain, the size of the last
// checkpoint signed, as ReadLog finds them) as signed already. Heads that cannot be
// signed are logged to logger.
func New(store Store, keys audit.Keys, signer note.Signer, log Log, signed []Checkpoint, logger *slog.Logger) *Notary {
	n := &Notary{store: store, signer: signer, keys: keys, log: log, logger: logger, signed: map[string]int64{}}
	for _, c := range signed {
		n.signed[c.Chain] = max(n.signed[c.Chain], c.Size)
	}
	return n
}

// SignMoved signs a checkpoint of every chain whose head is past the last signed,
// and returns how many it signed. It returns the store's errors, and those of the
// log; a head that does not verify is logged and left unsigned.
func (n *Notary) SignMoved(ctx context.Context) (int, error) {
	return n.sign(ctx, "")
}

// SignChain signs a checkpoint of chain when its head is past the last signed, as
// SignMoved does for every chain.
func (n *Notary) SignChain(ctx context.Context, chain string) error {
	_, err := n.sign(ctx, chain)
	return err
}

// sign signs the chains that moved: only chain, when it is not empty.
func (n *Notary) sign(ctx context.Context, chain string) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	heads, err := n.store.AuditChainHeads(ctx)
	if err != nil {
		return 0, fmt.Errorf("read audit chain heads: %w", err)
	}
	slices.SortFunc(heads, func(a, b models.AuditChainHead) int {
		return cmp.Or(a.StartedAt.Compare(b.StartedAt), cmp.Compare(a.Chain, b.Chain))
	})
	signed := 0
	for _, h := range heads {
		if (chain != "" && h.Chain != chain) || h.LastSeq <= n.signed[h.Chain] {
			continue
		}
		if reason, err := n.check(ctx, h); err != nil {
			return signed, err
		} else if reason != "" {
			n.logger.Error("not signing a checkpoint of an audit chain whose head does not verify: check the trail",
				"chain", h.Chain, "seq", h.LastSeq, "reason", reason)
			continue
		}
		msg, err := sign(Checkpoint{Chain: h.Chain, Size: h.LastSeq, Hash: h.LastHash, KeyID: h.KeyID}, n.signer)
		if err != nil {
			return signed, err
		}
		if err := n.log.Append(msg); err != nil {
			return signed, err
		}
		n.signed[h.Chain] = h.LastSeq
		signed++
	}
	return signed, nil
}

// check returns why the head h may not be signed, "" when it may: its MAC is valid
// with the key its key id names (one of n's keys, or, for a head naming none, any
// of them or none), and its last event is stored, with the hash it records. It
// returns the store's errors.
func (n *Notary) check(ctx context.Context, h models.AuditChainHead) (string, error) {
	if _, reason := n.keys.KeyOf(h.KeyID, h.MAC, func(key []byte) string { return audit.HeadMAC(key, h) }); reason != "" {
		return "its MAC does not match with the audit keys given", nil
	}
	e, err := n.store.AuditEvent(ctx, audit.EventID(h.Chain, h.LastSeq))
	switch {
	case errors.Is(err, models.ErrNotFound):
		return "its last event is missing", nil
	case err != nil:
		return "", fmt.Errorf("read audit event: %w", err)
	case e.Hash != h.LastHash:
		return "its last event has another hash", nil
	}
	return "", nil
}
