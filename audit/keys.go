package audit

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/clinic/interactions/models"
)

// Keys are the keys of the audit trail: the current one, with which new chains and
// checkpoints are keyed, and earlier ones, with which chains and checkpoints keyed
// before a rotation still verify. Without a current key the trail is not keyed.
type Keys struct {
	Current  []byte
	Previous [][]byte
}

// keyIDLabel is hashed before a key to make its id, so that the id is of no use for
// anything else the key may key.
const keyIDLabel = "clinic audit trail key id\x00"

// KeyID returns the id of key: the first 16 hex digits of a SHA-256 of a fixed
// label and the key, which names the key without revealing it. No key has the empty
// id.
func KeyID(key []byte) string {
	if len(key) == 0 {
		return ""
	}
	h := sha256.New()
	h.Write([]byte(keyIDLabel))
	h.Write(key)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// ByID returns the key of keys whose id is id, and whether keys hold it.
func (k Keys) ByID(id string) ([]byte, bool) {
	for _, key := range append([][]byte{k.Current}, k.Previous...) {
		if len(key) > 0 && KeyID(key) == id {
			return key, true
		}
	}
	return nil, false
}

// candidates returns the keys to try, in turn, on a head or checkpoint that names
// no key (written before they named it): the current key and the previous ones, or
// no key when there is no current key. A trail that has a key never accepts a head
// without one, so that no one can pass a chain off as written without the key.
func (k Keys) candidates() [][]byte {
	if len(k.Current) == 0 {
		return [][]byte{nil}
	}
	return append([][]byte{k.Current}, k.Previous...)
}

// KeyOf returns the key of a head, checkpoint or event whose key id is id and
// whose MAC is mac: the key that id names or, when id is empty, the first of the
// candidates with which mac is valid (macOf computes it with a key); reason is
// empty when it found one (nil stands for no key), and says why there is none
// otherwise: "changed" when mac is valid with no key it may have.
func (k Keys) KeyOf(id, mac string, macOf func(key []byte) string) (key []byte, reason string) {
	if id != "" {
		key, ok := k.ByID(id)
		if !ok {
			return nil, fmt.Sprintf("keyed with the key whose id is %s, which was not given "+
				"(give it as AUDIT_HMAC_KEY, or in AUDIT_HMAC_PREVIOUS_KEYS after a rotation)", id)
		}
		if !validMAC(mac, macOf(key)) {
			return nil, "changed"
		}
		return key, ""
	}
	for _, key := range k.candidates() {
		if validMAC(mac, macOf(key)) {
			return key, ""
		}
	}
	return nil, "changed"
}

// ErrKeyMismatch is the error of a process whose audit key is not the trail's.
var ErrKeyMismatch = errors.New("the audit key is not the audit trail's")

// CheckKey returns an error wrapping ErrKeyMismatch unless keys may write to the
// trail in store: the trail is empty, or its latest chain (the last started) is
// keyed with the current key or, during a rotation, with one of the previous keys;
// without a current key, only a trail written without one. A process with another
// key would write chains that verification, with the trail's key, reports as
// changed. It returns the store's errors too.
func CheckKey(ctx context.Context, store Store, keys Keys) error {
	heads, err := store.AuditChainHeads(ctx)
	if err != nil {
		return fmt.Errorf("read audit chain heads: %w", err)
	}
	if len(heads) == 0 {
		return nil
	}
	latest := slices.MaxFunc(heads, func(a, b models.AuditChainHead) int {
		return cmp.Or(a.StartedAt.Compare(b.StartedAt), cmp.Compare(a.Chain, b.Chain))
	})
	if _, reason := keys.KeyOf(latest.KeyID, latest.MAC, func(key []byte) string { return HeadMAC(key, latest) }); reason == "" {
		return nil
	}
	var trail string
	switch {
	case latest.KeyID != "":
		trail = "the audit trail is keyed with the key whose id is " + latest.KeyID
	case validMAC(latest.MAC, HeadMAC(nil, latest)):
		trail = "the audit trail was written without a key"
	default:
		trail = "the audit trail is keyed with another key"
	}
	given := "no key is given"
	if len(keys.Current) > 0 {
		given = "the key given has the id " + KeyID(keys.Current)
	}
	return fmt.Errorf("%w: %s (its latest chain, %s), and %s", ErrKeyMismatch, trail, latest.Chain, given)
}
