// Package audit keeps the audit trail: one event per API request and per act of a
// command beside the server, hash-chained per process so that a change, an
// insertion, a reordering or a removal is found by verifying the chains.
//
// A chain's events link by their hashes (HMACs with a key), and its head records its
// end (keyed too). A chain's first event anchors it to the others by recording their
// ends; the server records them again from time to time, and a writer that stops in
// order seals its chain with a last event. So removing the end of a chain, or a whole
// chain, breaks an anchor or a seal that verification checks. Verification goes on
// from keyed checkpoints, so that it does not reread the trail each time.
package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/clinic/interactions/models"
)

// digest returns a hash of fields: an HMAC-SHA256 with a non-empty key, which
// whoever lacks the key cannot forge; without, a plain SHA-256.
func digest(key []byte, write func(h hash.Hash)) string {
	var h hash.Hash
	if len(key) > 0 {
		h = hmac.New(sha256.New, key)
	} else {
		h = sha256.New()
	}
	write(h)
	return hex.EncodeToString(h.Sum(nil))
}

// field writes f length-prefixed, so that no two lists of fields collide.
func field(h hash.Hash, f string) { fmt.Fprintf(h, "%d:%s;", len(f), f) }

// named writes a field added later, only when it is set, so that earlier events keep
// their hashes; it is named, so that none can pass for another.
func named(h hash.Hash, name, value string) {
	if value != "" {
		fmt.Fprintf(h, "%d:%s=%d:%s;", len(name), name, len(value), value)
	}
}

// Hash returns the hash of e over all its fields but Hash and ID, PrevHash included,
// so that changing any of them, or the order of events, breaks the chain. With a
// non-empty key it is an HMAC.
func Hash(key []byte, e models.AuditEvent) string {
	return digest(key, func(h hash.Hash) {
		for _, f := range []string{
			e.Chain, strconv.FormatInt(e.Seq, 10), e.Time.UTC().Format(time.RFC3339Nano),
			e.KeyName, string(e.Role), e.Action, e.Method, e.Route, e.InsuranceNo, e.InteractionID,
			strconv.Itoa(e.Status), e.ClientIP, e.RequestID, e.PrevHash,
		} {
			field(h, f)
		}
		named(h, "client_request_id", e.ClientRequestID)
		for _, k := range slices.Sorted(maps.Keys(e.Counts)) {
			named(h, "counts."+k, strconv.Itoa(e.Counts[k]))
		}
		for i, a := range e.Anchors {
			named(h, "anchors."+strconv.Itoa(i), a.Chain+"@"+strconv.FormatInt(a.Seq, 10)+"="+a.Hash)
		}
		for i, no := range e.Patients {
			named(h, "patients."+strconv.Itoa(i), no)
		}
		if e.PatientsCount > 0 {
			named(h, "patients_count", strconv.Itoa(e.PatientsCount))
		}
		named(h, "patients_digest", e.PatientsDigest)
	})
}

// HeadMAC returns the MAC of a chain's head, over all its fields but MAC, its key
// id included (when it has one: heads written before they named their key keep
// their MACs).
func HeadMAC(key []byte, head models.AuditChainHead) string {
	return digest(key, func(h hash.Hash) {
		field(h, "head")
		for _, f := range []string{
			head.Chain, strconv.FormatInt(head.LastSeq, 10), head.LastHash,
			head.StartedAt.UTC().Format(time.RFC3339Nano), head.Process, strconv.FormatBool(head.Sealed),
		} {
			field(h, f)
		}
		named(h, "key_id", head.KeyID)
	})
}

// CheckpointMAC returns the MAC of a checkpoint, over all its fields but MAC, its
// key id included when it has one.
func CheckpointMAC(key []byte, cp models.AuditCheckpoint) string {
	return digest(key, func(h hash.Hash) {
		field(h, "checkpoint")
		for _, f := range []string{
			cp.Chain, strconv.FormatInt(cp.Seq, 10), cp.Hash, cp.VerifiedAt.UTC().Format(time.RFC3339Nano),
			strconv.FormatBool(cp.Sealed), strconv.FormatInt(cp.SweepSeq, 10),
			cp.SweepBegan.UTC().Format(time.RFC3339Nano), cp.SweptAt.UTC().Format(time.RFC3339Nano),
		} {
			field(h, f)
		}
		for _, a := range cp.Anchors {
			field(h, a.Chain+"@"+strconv.FormatInt(a.Seq, 10)+"="+a.Hash)
		}
		named(h, "key_id", cp.KeyID)
	})
}

// EventID returns the id of event seq of chain.
func EventID(chain string, seq int64) string {
	return fmt.Sprintf("%s:%012d", chain, seq)
}

// validMAC compares two MACs in constant time.
func validMAC(a, b string) bool { return hmac.Equal([]byte(a), []byte(b)) }
