package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/clinic/interactions/models"
)

// TrailStore reads the audit trail back and keeps how far it has been verified.
type TrailStore interface {
	Store
	// AuditCheckpoints returns how far each chain has been verified.
	AuditCheckpoints(ctx context.Context) ([]models.AuditCheckpoint, error)
	// SaveAuditCheckpoint stores cp as its chain's checkpoint.
	SaveAuditCheckpoint(ctx context.Context, cp models.AuditCheckpoint) error
	// CountAuditEvents returns how many events are stored, without reading them.
	CountAuditEvents(ctx context.Context) (int64, error)
	// AuditEventChains returns every chain that has events, with how many; it reads
	// every event.
	AuditEventChains(ctx context.Context) (map[string]int64, error)
	// AuditEventsUpTo returns the events with the given ids, in their order, up to
	// the first that is not stored.
	AuditEventsUpTo(ctx context.Context, ids []string) ([]models.AuditEvent, error)
}

// eventsPerRead is how many events a verification asks the store for at once.
const eventsPerRead = 256

// Trail is every chain of the audit trail, as stored.
type Trail struct {
	store TrailStore
	keys  Keys
	now   func() time.Time
}

// NewTrail returns the trail kept in store, hashed with keys (see Hash, Keys),
// reading the time from now (time.Now when nil).
func NewTrail(store TrailStore, keys Keys, now func() time.Time) *Trail {
	if now == nil {
		now = time.Now
	}
	return &Trail{store: store, keys: keys, now: now}
}

// Verify checks every chain from where the last verification left it (its keyed
// checkpoint) to its end, as far as ctx's deadline allows, and saves how far it got:
//   - each chain's head is keyed with a key given (the one its key id names, or
//     for a head that names none, one of the keys in turn), and matches the
//     chain's end, or is behind it by events that link (a writer stopped between
//     storing events and moving its head); a sealed chain ends with its seal;
//   - each event links to the one before by its hash, its hash matches its content
//     (keyed with its chain's key), and sequence numbers have no gap;
//   - every end of another chain a chain anchored is still there: the event anchored,
//     with the hash anchored, in a chain whose head reaches it;
//   - no events are stored beyond the verified chains.
//
// Each chain is checked whatever the others show, and a chain's check goes on past
// an event that does not match its hash or link to the one before, so that a break
// hides no other; it stops at a gap. The result lists the breaks and the chains
// that have one (see models.AuditVerification); a chain with a break keeps the
// checkpoint it had, so that the break is reported again until it is dealt with.
//
// With the time left, it re-checks the events verified before, each chain from the
// start to its checkpoint, going on over successive calls where the last stopped, so
// that a change to an old event is found too; the result's swept_at says since when
// every event has been re-checked. Verify gives the re-check a second at most, to
// answer soon; VerifyAll gives it all the time ctx allows, and the server calls it
// in the background. It returns the store's errors.
func (t *Trail) Verify(ctx context.Context) (models.AuditVerification, error) {
	return t.check(ctx, requestSweep)
}

// requestSweep is how long Verify re-checks old events.
const requestSweep = time.Second

// VerifyAll is Verify re-checking old events for as long as ctx allows.
func (t *Trail) VerifyAll(ctx context.Context) (models.AuditVerification, error) {
	return t.check(ctx, 0)
}

// verification is the state of one check.
type verification struct {
	t      *Trail
	stopAt time.Time
	result models.AuditVerification
	// broken holds the chains with a break.
	broken map[string]bool
	// keys holds the key of each chain whose head verifies.
	keys map[string][]byte
}

// fail records a break of chain at seq; it reports false, for callers to stop or
// to go on as the break allows.
func (v *verification) fail(chain string, seq int64, reason string) bool {
	v.result.OK = false
	v.result.BreaksTotal++
	if len(v.result.Breaks) < models.MaxAuditBreaks {
		v.result.Breaks = append(v.result.Breaks, models.AuditBreak{Chain: chain, Seq: seq, Reason: reason})
	}
	v.broken[chain] = true
	return false
}

// late reports whether the check must stop to answer within its deadline.
func (v *verification) late() bool { return !v.stopAt.IsZero() && v.t.now().After(v.stopAt) }

// check verifies the trail, then re-checks old events for sweepFor at most (as long
// as ctx allows when 0).
func (t *Trail) check(ctx context.Context, sweepFor time.Duration) (models.AuditVerification, error) {
	v := &verification{t: t, broken: map[string]bool{}, keys: map[string][]byte{}, result: models.AuditVerification{
		OK: true, Complete: true, Breaks: []models.AuditBreak{}, ChainsFailed: []string{},
	}}
	if deadline, ok := ctx.Deadline(); ok {
		// A fifth of the time left is kept to answer.
		v.stopAt = t.now().Add(time.Until(deadline) * 4 / 5)
	}
	// Counted before the chains are read: every event counted then is in a chain
	// read after, at or before its end.
	total, err := t.store.CountAuditEvents(ctx)
	if err != nil {
		return models.AuditVerification{}, err
	}
	heads, err := t.store.AuditChainHeads(ctx)
	if err != nil {
		return models.AuditVerification{}, err
	}
	stored, err := t.store.AuditCheckpoints(ctx)
	if err != nil {
		return models.AuditVerification{}, err
	}
	v.result.Chains = len(heads)
	slices.SortFunc(heads, func(a, b models.AuditChainHead) int {
		return cmp.Or(a.StartedAt.Compare(b.StartedAt), cmp.Compare(a.Chain, b.Chain))
	})
	byChain := map[string]models.AuditChainHead{}
	for _, h := range heads {
		byChain[h.Chain] = h
		key, reason := t.keys.KeyOf(h.KeyID, h.MAC, func(key []byte) string { return HeadMAC(key, h) })
		switch reason {
		case "":
			v.keys[h.Chain] = key
		case "changed":
			v.fail(h.Chain, h.LastSeq, "the chain's head was changed")
		default:
			v.fail(h.Chain, h.LastSeq, "the chain's head is "+reason)
		}
	}
	checkpoints := map[string]models.AuditCheckpoint{}
	for _, cp := range stored {
		_, reason := t.keys.KeyOf(cp.KeyID, cp.MAC, func(key []byte) string { return CheckpointMAC(key, cp) })
		switch {
		case reason == "changed":
			v.fail(cp.Chain, cp.Seq, "the chain's verification checkpoint was changed")
		case reason != "":
			v.fail(cp.Chain, cp.Seq, "the chain's verification checkpoint is "+reason)
		case byChain[cp.Chain].Chain == "":
			v.fail(cp.Chain, cp.Seq, "the chain was removed: it was verified to here, and its head is gone")
		default:
			checkpoints[cp.Chain] = cp
		}
	}

	ends := map[string]int64{}
	for _, h := range heads {
		if !v.broken[h.Chain] {
			cp, err := v.chain(ctx, h, checkpoints[h.Chain])
			if err != nil {
				return models.AuditVerification{}, err
			}
			checkpoints[h.Chain] = cp
			ends[h.Chain] = cp.Seq
		}
		if v.broken[h.Chain] {
			// Its events are counted as its head has them, so that the count below
			// speaks of the other chains.
			ends[h.Chain] = max(ends[h.Chain], h.LastSeq)
		}
	}
	for _, h := range heads {
		for _, a := range checkpoints[h.Chain].Anchors {
			if err := v.anchor(ctx, h.Chain, a, byChain); err != nil {
				return models.AuditVerification{}, err
			}
		}
	}
	if v.result.Complete {
		if err := v.count(ctx, total, ends, byChain); err != nil {
			return models.AuditVerification{}, err
		}
	}
	if end := t.now().Add(sweepFor); sweepFor > 0 && (v.stopAt.IsZero() || end.Before(v.stopAt)) {
		v.stopAt = end
	}
	for _, h := range heads {
		if v.broken[h.Chain] {
			continue
		}
		cp := checkpoints[h.Chain]
		if err := v.sweep(ctx, &cp); err != nil {
			return models.AuditVerification{}, err
		}
		checkpoints[h.Chain] = cp
	}
	var oldest *time.Time
	for _, h := range heads {
		cp := checkpoints[h.Chain]
		if cp.SweptAt.IsZero() {
			oldest = nil
			break
		}
		if oldest == nil || cp.SweptAt.Before(*oldest) {
			at := cp.SweptAt
			oldest = &at
		}
	}
	v.result.SweptAt = oldest
	failed := slices.Sorted(maps.Keys(v.broken))
	v.result.ChainsFailedTotal = len(failed)
	v.result.ChainsFailed = append(v.result.ChainsFailed, failed[:min(len(failed), models.MaxAuditBreaks)]...)
	for _, h := range heads {
		if !v.broken[h.Chain] {
			v.result.ChainsVerified++
		}
	}
	return v.result, nil
}

// chain verifies the events of chain h after checkpoint cp, as far as time allows,
// and saves the new checkpoint when they verify. It returns the checkpoint and the
// store's errors.
func (v *verification) chain(ctx context.Context, h models.AuditChainHead, cp models.AuditCheckpoint) (models.AuditCheckpoint, error) {
	// A head behind the verified end is a writer that stopped between storing
	// events and moving its head (killed, or copied by a backup then): the events
	// verified must still be there, which is checked next.
	if cp.Seq > 0 {
		// The verified end must still be there: cutting into what was verified
		// shows at once, not only when the sweep comes by.
		e, err := v.t.store.AuditEvent(ctx, EventID(h.Chain, cp.Seq))
		switch {
		case errors.Is(err, models.ErrNotFound):
			v.fail(h.Chain, cp.Seq, fmt.Sprintf("event %d, verified before, is missing", cp.Seq))
			return cp, nil
		case err != nil:
			return cp, err
		case e.Hash != cp.Hash:
			v.fail(h.Chain, cp.Seq, fmt.Sprintf("event %d differs from the one verified before", cp.Seq))
			return cp, nil
		}
	}
	next := cp
	next.Chain = h.Chain
	anchors := map[string]models.AuditAnchor{}
	for _, a := range cp.Anchors {
		anchors[a.Chain] = a
	}
	read := false
	for !read {
		if v.late() {
			v.result.Complete = false
			break
		}
		events, err := v.events(ctx, h.Chain, next.Seq+1, eventsPerRead)
		if err != nil {
			return cp, err
		}
		// Fewer than asked for: the one after the last is not stored.
		read = len(events) < eventsPerRead
		for _, e := range events {
			if !v.event(e, next.Seq, next.Hash) && e.Seq != next.Seq+1 {
				return cp, nil
			}
			if next.Sealed {
				v.fail(h.Chain, e.Seq, "an event follows the chain's seal")
				return cp, nil
			}
			for _, a := range e.Anchors {
				anchors[a.Chain] = a
			}
			next.Seq, next.Hash, next.Sealed = e.Seq, e.Hash, e.Action == models.AuditChainSeal
		}
	}
	if v.broken[h.Chain] {
		v.result.Events += cp.Seq
	} else {
		v.result.Events += next.Seq
	}
	if !read {
		if !v.broken[h.Chain] {
			v.result.Pending += max(h.LastSeq-next.Seq, 0)
		}
	} else {
		switch {
		case h.LastSeq > next.Seq:
			v.fail(h.Chain, next.Seq+1, fmt.Sprintf("events %d to %d are missing", next.Seq+1, h.LastSeq))
		case h.LastSeq == next.Seq && h.LastHash != next.Hash:
			v.fail(h.Chain, next.Seq, "the last event differs from the one the chain's head recorded")
		case h.Sealed && h.LastSeq < next.Seq:
			v.fail(h.Chain, h.LastSeq+1, "events follow the chain's seal")
		case h.Sealed && !next.Sealed:
			v.fail(h.Chain, next.Seq, "the chain's head says it was sealed, but its last event is not the seal")
		}
		// A head behind its events by a few is a writer that stopped between storing
		// events and moving its head: the events themselves still link.
	}
	if v.broken[h.Chain] || next.Seq == cp.Seq && next.Sealed == cp.Sealed {
		return cp, nil
	}
	next.Anchors = slices.SortedFunc(maps.Values(anchors), func(a, b models.AuditAnchor) int { return cmp.Compare(a.Chain, b.Chain) })
	next.VerifiedAt = models.StoreTime(v.t.now())
	return next, v.save(ctx, next)
}

// event checks e, read as the event after seq, whose hash is prev. It reports false,
// having recorded the break, when e does not verify.
func (v *verification) event(e models.AuditEvent, seq int64, prev string) bool {
	switch {
	case e.Seq != seq+1:
		return v.fail(e.Chain, seq+1, fmt.Sprintf("event %d is stored as event %d", seq+1, e.Seq))
	case e.PrevHash != prev:
		return v.fail(e.Chain, e.Seq, "prev_hash does not match the previous event's hash")
	case !validMAC(e.Hash, Hash(v.keys[e.Chain], e)):
		return v.fail(e.Chain, e.Seq, "hash does not match the event's content")
	}
	return true
}

// anchor checks that the end of a chain that chain by anchored is still there.
func (v *verification) anchor(ctx context.Context, by string, a models.AuditAnchor, heads map[string]models.AuditChainHead) error {
	h, ok := heads[a.Chain]
	switch {
	case !ok:
		v.fail(a.Chain, a.Seq, fmt.Sprintf("the chain is gone, though chain %s recorded it reached event %d", by, a.Seq))
		return nil
	case h.LastSeq < a.Seq:
		v.fail(a.Chain, h.LastSeq+1, fmt.Sprintf("the chain's head ends before event %d, which chain %s recorded", a.Seq, by))
		return nil
	}
	e, err := v.t.store.AuditEvent(ctx, EventID(a.Chain, a.Seq))
	switch {
	case errors.Is(err, models.ErrNotFound):
		v.fail(a.Chain, a.Seq, fmt.Sprintf("the event is missing, though chain %s recorded it", by))
	case err != nil:
		return err
	case e.Hash != a.Hash:
		v.fail(a.Chain, a.Seq, fmt.Sprintf("the event differs from the one chain %s recorded", by))
	}
	return nil
}

// count checks that no events are stored beyond the ends of the chains, which would
// be events of a chain without a head, or events past a gap in a chain. total,
// counted before the chains were read, reads no event; only a disagreement reads
// them all, to name the chains. Events a chain gained since it was read are not a
// disagreement: they continue it.
func (v *verification) count(ctx context.Context, total int64, ends map[string]int64, heads map[string]models.AuditChainHead) error {
	var verified int64
	for _, n := range ends {
		verified += n
	}
	if total <= verified {
		return nil
	}
	chains, err := v.t.store.AuditEventChains(ctx)
	if err != nil {
		return err
	}
	for _, chain := range slices.Sorted(maps.Keys(chains)) {
		n := chains[chain]
		if _, ok := heads[chain]; !ok {
			v.fail(chain, 1, "the chain has no head record")
			continue
		}
		if n <= ends[chain] || v.broken[chain] {
			continue
		}
		// n events continue the chain only when the last of them is event n.
		_, err := v.t.store.AuditEvent(ctx, EventID(chain, n))
		if errors.Is(err, models.ErrNotFound) {
			v.fail(chain, ends[chain]+1, fmt.Sprintf("%d events are stored beyond the chain's end, not after it", n-ends[chain]))
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// sweep re-checks the events of cp's chain verified before, from where the last
// sweep stopped, as far as time allows, starting over once when it reaches the
// checkpoint, and saves how far it came unless it found a break.
func (v *verification) sweep(ctx context.Context, cp *models.AuditCheckpoint) error {
	fresh := false
	for pass := 0; pass < 2 && cp.Seq > 0 && !v.late(); pass++ {
		if cp.SweepSeq >= cp.Seq {
			if fresh {
				break
			}
			cp.SweepSeq, cp.SweepBegan, fresh = 0, time.Time{}, true
		}
		if err := v.sweepOnce(ctx, cp); err != nil || v.broken[cp.Chain] {
			return err
		}
		if cp.SweepSeq < cp.Seq {
			break // out of time
		}
	}
	return v.save(ctx, *cp)
}

// sweepOnce re-checks events of cp's chain from cp.SweepSeq on, up to its
// checkpoint or until time runs out, going on past events that do not match their
// hash or link, and stopping at a gap.
func (v *verification) sweepOnce(ctx context.Context, cp *models.AuditCheckpoint) error {
	if cp.SweepBegan.IsZero() {
		cp.SweepBegan = models.StoreTime(v.t.now())
	}
	prev := ""
	if cp.SweepSeq > 0 {
		e, err := v.t.store.AuditEvent(ctx, EventID(cp.Chain, cp.SweepSeq))
		if errors.Is(err, models.ErrNotFound) {
			v.fail(cp.Chain, cp.SweepSeq, fmt.Sprintf("event %d is missing", cp.SweepSeq))
			return nil
		}
		if err != nil {
			return err
		}
		prev = e.Hash
	}
	for cp.SweepSeq < cp.Seq && !v.late() {
		want := min(eventsPerRead, cp.Seq-cp.SweepSeq)
		events, err := v.events(ctx, cp.Chain, cp.SweepSeq+1, want)
		if err != nil {
			return err
		}
		for _, e := range events {
			if !v.event(e, cp.SweepSeq, prev) && e.Seq != cp.SweepSeq+1 {
				return nil
			}
			if e.Seq == cp.Seq && e.Hash != cp.Hash {
				v.fail(cp.Chain, e.Seq, "the event differs from the one verified before")
				return nil
			}
			cp.SweepSeq, prev = e.Seq, e.Hash
		}
		if int64(len(events)) < want {
			v.fail(cp.Chain, cp.SweepSeq+1, fmt.Sprintf("event %d is missing", cp.SweepSeq+1))
			return nil
		}
	}
	if cp.SweepSeq >= cp.Seq && !v.broken[cp.Chain] {
		cp.SweptAt = cp.SweepBegan
	}
	return nil
}

// events reads the events of chain from seq from on, n of them at most, in order;
// it stops before the first that is not stored. It returns the store's errors.
func (v *verification) events(ctx context.Context, chain string, from, n int64) ([]models.AuditEvent, error) {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = EventID(chain, from+int64(i))
	}
	return v.t.store.AuditEventsUpTo(ctx, ids)
}

// save stores cp, keyed with the current key.
func (v *verification) save(ctx context.Context, cp models.AuditCheckpoint) error {
	cp.KeyID = KeyID(v.t.keys.Current)
	cp.MAC = CheckpointMAC(v.t.keys.Current, cp)
	if err := v.t.store.SaveAuditCheckpoint(ctx, cp); err != nil {
		return fmt.Errorf("save audit checkpoint: %w", err)
	}
	return nil
}
