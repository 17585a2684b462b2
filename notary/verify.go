package notary

import (
	"cmp"
	"context"
	"crypto/hmac"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/note"

	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/models"
)

// RestoredAction is the action of the event that declares a restore of the store
// from a backup: its route names the backup, its anchors are the ends of the
// chains the backup held, and its counts the documents of each collection.
const RestoredAction = "store.restored"

// TrailStore reads the audit trail.
type TrailStore interface {
	Store
	// AuditEvents returns one page of the audit events q selects, newest first.
	AuditEvents(ctx context.Context, q models.AuditQuery) (models.AuditPage, error)
}

// Report is what Verify found.
type Report struct {
	// Key names the key the checkpoints are signed with.
	Key string
	// Checkpoints counts the signed checkpoints read.
	Checkpoints int
	// Chains are the chains with a signed checkpoint, by chain.
	Chains []Chain
	// Unsigned counts the chains of the store without a signed checkpoint.
	Unsigned int
	// Restores are the restores the trail declares, oldest first, with the events
	// each lost.
	Restores []Restore
	// Findings say where the trail does not hold what was signed, one a line.
	Findings []string
}

// Chain is a chain with a signed checkpoint, as Verify found it.
type Chain struct {
	Chain string
	// Signed is the size of its latest signed checkpoint; Stored is how many of
	// those events the store holds, linked and hashed as they should be.
	Signed, Stored int64
}

// Restore is a restore the trail declares (see RestoredAction), and what it lost.
type Restore struct {
	Event models.AuditEvent
	Lost  []Loss
}

// Loss is the events of a chain, From to To, that a checkpoint signed and a
// restore lost.
type Loss struct {
	Chain    string
	From, To int64
}

// Events counts the events the restore lost.
func (r Restore) Events() int64 {
	var n int64
	for _, l := range r.Lost {
		n += l.To - l.From + 1
	}
	return n
}

// OK reports whether the trail holds everything signed, but for what declared
// restores lost.
func (r Report) OK() bool { return len(r.Findings) == 0 }

// VerifyLog reads the checkpoints of the log r signed by verifier (see ReadLog) and
// verifies the trail in store against the latest checkpoint of each chain (see
// Verify); the log's problems are findings. It returns the errors of reading r and
// of the store.
func VerifyLog(ctx context.Context, store TrailStore, keys audit.Keys, r io.Reader, verifier note.Verifier) (Report, error) {
	checkpoints, problems, err := ReadLog(r, verifier)
	if err != nil {
		return Report{}, err
	}
	report, err := Verify(ctx, store, keys, checkpoints)
	if err != nil {
		return Report{}, err
	}
	report.Key = verifier.Name()
	for _, p := range problems {
		report.Findings = append(report.Findings, "checkpoint log "+p)
	}
	return report, nil
}

// Verify verifies the trail in store, hashed with keys, against checkpoints: for
// each chain, the latest (the largest) of its checkpoints. Every event of the chain
// up to the checkpoint's size must be stored, link to the one before and match its
// hash, and the last must have the hash signed. A chain that holds fewer (a tail
// cut, a whole chain deleted, or the store rolled back) is a finding, unless a
// restore the trail declares (see RestoredAction) explains it: the restored backup
// held the chain up to where it now ends (by the anchors of the declaring event),
// or, for a chain now gone whole, did not hold it and it had started before the
// restore. Such losses are reported with their restore, not as findings. Two
// checkpoints of a chain at one size with different hashes are a finding too.
// It returns the store's errors.
func Verify(ctx context.Context, store TrailStore, keys audit.Keys, checkpoints []Checkpoint) (Report, error) {
	report := Report{Checkpoints: len(checkpoints)}
	latest := map[string]Checkpoint{}
	for _, c := range checkpoints {
		prev, ok := latest[c.Chain]
		switch {
		case !ok || c.Size > prev.Size:
			latest[c.Chain] = c
		case c.Size == prev.Size && c.Hash != prev.Hash:
			report.Findings = append(report.Findings, fmt.Sprintf("chain %s: the checkpoints signed at event %d on lines %d and %d differ: the chain was forked",
				c.Chain, c.Size, prev.Line, c.Line))
		}
	}
	heads, err := store.AuditChainHeads(ctx)
	if err != nil {
		return Report{}, fmt.Errorf("read audit chain heads: %w", err)
	}
	byChain := map[string]models.AuditChainHead{}
	for _, h := range heads {
		byChain[h.Chain] = h
		if _, ok := latest[h.Chain]; !ok {
			report.Unsigned++
		}
	}
	restores, err := declaredRestores(ctx, store, keys, byChain, &report)
	if err != nil {
		return Report{}, err
	}
	for _, chain := range slices.Sorted(maps.Keys(latest)) {
		c := latest[chain]
		keyID := c.KeyID
		if keyID == "" {
			keyID = byChain[chain].KeyID
		}
		stored, last, broken, err := rehash(ctx, store, keys, keyID, c, &report)
		if err != nil {
			return Report{}, err
		}
		report.Chains = append(report.Chains, Chain{Chain: chain, Signed: c.Size, Stored: stored})
		switch {
		case broken:
		case stored == c.Size && last != c.Hash:
			report.Findings = append(report.Findings, fmt.Sprintf("chain %s: event %d differs from the one signed at line %d of the log", chain, c.Size, c.Line))
		case stored < c.Size:
			r, err := explain(ctx, store, restores, chain, stored)
			if err != nil {
				return Report{}, err
			}
			if r != nil {
				r.Lost = append(r.Lost, Loss{Chain: chain, From: stored + 1, To: c.Size})
				continue
			}
			what := fmt.Sprintf("holds %d events", stored)
			if _, ok := byChain[chain]; !ok && stored == 0 {
				what = "is gone, head and events"
			}
			report.Findings = append(report.Findings, fmt.Sprintf("chain %s %s, and a checkpoint was signed at event %d (line %d of the log): "+
				"it was cut, deleted, or rolled back by a restore the trail does not declare", chain, what, c.Size, c.Line))
		}
	}
	for _, r := range restores {
		report.Restores = append(report.Restores, *r)
	}
	return report, nil
}

// rehash reads the events of c's chain from the first to c's, checks that each
// links to the one before and matches its hash with the key of keys that the
// chain's key id, keyID, names (the first event picks it, see audit.Keys.KeyOf),
// and returns how many are stored in a row from the first, and the hash of the last
// of them. A break is a finding, and ends the chain there: broken is then set.
func rehash(ctx context.Context, store TrailStore, keys audit.Keys, keyID string, c Checkpoint, report *Report) (stored int64, last string, broken bool, err error) {
	var key []byte
	for seq := int64(1); seq <= c.Size; seq++ {
		e, err := store.AuditEvent(ctx, audit.EventID(c.Chain, seq))
		if errors.Is(err, models.ErrNotFound) {
			return stored, last, false, nil
		}
		if err != nil {
			return 0, "", false, fmt.Errorf("read audit event: %w", err)
		}
		var reason string
		if seq == 1 {
			if key, reason = keys.KeyOf(keyID, e.Hash, func(k []byte) string { return audit.Hash(k, e) }); reason != "" {
				report.Findings = append(report.Findings, fmt.Sprintf("chain %s: its first event matches its hash with none of the audit keys given", c.Chain))
				return stored, last, true, nil
			}
		}
		switch {
		case e.Seq != seq || e.Chain != c.Chain:
			reason = "is stored as another event"
		case e.PrevHash != last:
			reason = "does not link to the event before it"
		case !hmac.Equal([]byte(e.Hash), []byte(audit.Hash(key, e))):
			reason = "does not match its hash: it was changed"
		}
		if reason != "" {
			report.Findings = append(report.Findings, fmt.Sprintf("chain %s: event %d %s", c.Chain, seq, reason))
			return stored, last, true, nil
		}
		stored, last = seq, e.Hash
	}
	return stored, last, false, nil
}

// declaredRestores returns the restores the trail declares, oldest first: the
// events of RestoredAction that match their hash; one that does not is a finding.
func declaredRestores(ctx context.Context, store TrailStore, keys audit.Keys, heads map[string]models.AuditChainHead, report *Report) ([]*Restore, error) {
	var restores []*Restore
	q := models.AuditQuery{Action: RestoredAction, Limit: 100}
	for {
		page, err := store.AuditEvents(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("read the declared restores: %w", err)
		}
		for _, e := range page.Items {
			if _, reason := keys.KeyOf(heads[e.Chain].KeyID, e.Hash, func(k []byte) string { return audit.Hash(k, e) }); reason != "" {
				report.Findings = append(report.Findings, fmt.Sprintf("chain %s: event %d declares a restore, and does not match its hash", e.Chain, e.Seq))
				continue
			}
			restores = append(restores, &Restore{Event: e})
		}
		if page.NextCursor == nil {
			break
		}
		if q.After, err = models.ParseCursor(*page.NextCursor); err != nil {
			return nil, fmt.Errorf("read the declared restores: %w", err)
		}
	}
	slices.SortFunc(restores, func(a, b *Restore) int {
		return cmp.Or(a.Event.Time.Compare(b.Event.Time), cmp.Compare(a.Event.ID, b.Event.ID))
	})
	return restores, nil
}

// explain returns the first of restores that explains why chain ends at event
// stored: the backup it restored held the chain up to there (its declaring event
// anchors the chain's head as the backup held it, an event stored with the hash
// anchored, at stored or, when the backup held a few events its writer had not
// moved its head past yet, before it), or held none of it (stored is 0, the
// declaration anchors no end of the chain, and the chain started before the
// declaration). It returns nil when none does, and the store's errors.
func explain(ctx context.Context, store TrailStore, restores []*Restore, chain string, stored int64) (*Restore, error) {
	for _, r := range restores {
		i := slices.IndexFunc(r.Event.Anchors, func(a models.AuditAnchor) bool { return a.Chain == chain })
		if i < 0 {
			if stored == 0 && startedBefore(chain, r.Event.Time) {
				return r, nil
			}
			continue
		}
		a := r.Event.Anchors[i]
		if a.Seq > stored {
			continue
		}
		e, err := store.AuditEvent(ctx, audit.EventID(chain, a.Seq))
		switch {
		case errors.Is(err, models.ErrNotFound):
			continue
		case err != nil:
			return nil, fmt.Errorf("read audit event: %w", err)
		case e.Hash == a.Hash:
			return r, nil
		}
	}
	return nil, nil
}

// startedBefore reports whether chain, a version 7 UUID as the writers name their
// chains, was named before t.
func startedBefore(chain string, t time.Time) bool {
	id, err := uuid.Parse(chain)
	if err != nil || id.Version() != 7 {
		return false
	}
	sec, nsec := id.Time().UnixTime()
	return time.Unix(sec, nsec).Before(t)
}

// Write writes the report for people to read.
func (r Report) Write(w io.Writer) error {
	p := &printer{w: w}
	p.printf("%d signed checkpoints of %d chains (key %s)", r.Checkpoints, len(r.Chains), r.Key)
	if r.Unsigned > 0 {
		p.printf("; %d chains of the store have none yet (signed once they move, or when their process stops)", r.Unsigned)
	}
	p.printf(".\n")
	lostBy := map[string]int{}
	for i, restore := range r.Restores {
		for _, l := range restore.Lost {
			lostBy[l.Chain] = i + 1
		}
	}
	whole := 0
	for _, c := range r.Chains {
		if c.Stored == c.Signed {
			whole++
		}
	}
	p.printf("%d chains hold every event signed.\n", whole)
	for _, c := range r.Chains {
		switch {
		case c.Stored == c.Signed:
		case lostBy[c.Chain] > 0:
			p.printf("chain %s: %d events signed, %d stored: %d lost by declared restore %d\n", c.Chain, c.Signed, c.Stored, c.Signed-c.Stored, lostBy[c.Chain])
		default:
			p.printf("chain %s: %d events signed, %d stored\n", c.Chain, c.Signed, c.Stored)
		}
	}
	for i, restore := range r.Restores {
		e := restore.Event
		p.printf("declared restore %d: chain %s event %d, %s, %q: %d signed events lost",
			i+1, e.Chain, e.Seq, e.Time.UTC().Format(time.RFC3339), e.Route, restore.Events())
		for j, l := range restore.Lost {
			sep := ", "
			if j == 0 {
				sep = ": "
			}
			p.printf("%schain %s events %d to %d", sep, l.Chain, l.From, l.To)
		}
		p.printf("\n")
	}
	if r.OK() {
		p.printf("ok: every signed event is stored, but for what declared restores lost\n")
		return p.err
	}
	p.printf("%d findings:\n", len(r.Findings))
	for _, f := range r.Findings {
		p.printf("  %s\n", f)
	}
	return p.err
}

// printer writes, keeping the first error.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}
