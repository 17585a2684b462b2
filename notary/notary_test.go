package notary_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/note"

	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/notary"
)

var auditKey = []byte(strings.Repeat("k", 32))

// trail is a store of audit chains in memory, hashed as the writers hash them.
type trail struct {
	events map[string]models.AuditEvent
	heads  map[string]models.AuditChainHead
	now    time.Time
}

func newTrail() *trail {
	return &trail{events: map[string]models.AuditEvent{}, heads: map[string]models.AuditChainHead{},
		now: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// chain starts a chain named after a version 7 UUID of now and appends n events.
func (s *trail) chain(t *testing.T, n int) string {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	chain := id.String()
	s.heads[chain] = models.AuditChainHead{Chain: chain, StartedAt: s.now, Process: "server", KeyID: audit.KeyID(auditKey)}
	s.append(chain, n, "interactions.read", nil)
	return chain
}

// append appends n events with action and anchors to chain, and moves its head.
func (s *trail) append(chain string, n int, action string, anchors []models.AuditAnchor) {
	h := s.heads[chain]
	for range n {
		s.now = s.now.Add(time.Second)
		e := models.AuditEvent{Chain: chain, Seq: h.LastSeq + 1, Time: s.now, Action: action, Method: "GET", Route: "/r",
			Status: 200, ClientIP: "-", RequestID: "r", PrevHash: h.LastHash, Anchors: anchors}
		e.ID = audit.EventID(chain, e.Seq)
		e.Hash = audit.Hash(auditKey, e)
		s.events[e.ID] = e
		h.LastSeq, h.LastHash = e.Seq, e.Hash
	}
	h.MAC = audit.HeadMAC(auditKey, h)
	s.heads[chain] = h
}

// cut removes the events of chain after seq, and sets its head back there.
func (s *trail) cut(chain string, seq int64) {
	h := s.heads[chain]
	for n := seq + 1; n <= h.LastSeq; n++ {
		delete(s.events, audit.EventID(chain, n))
	}
	h.LastSeq, h.LastHash = seq, ""
	if seq > 0 {
		h.LastHash = s.events[audit.EventID(chain, seq)].Hash
	}
	h.MAC = audit.HeadMAC(auditKey, h)
	s.heads[chain] = h
}

func (s *trail) AuditChainHeads(context.Context) ([]models.AuditChainHead, error) {
	var heads []models.AuditChainHead
	for _, h := range s.heads {
		heads = append(heads, h)
	}
	return heads, nil
}

func (s *trail) AuditEvent(_ context.Context, id string) (models.AuditEvent, error) {
	e, ok := s.events[id]
	if !ok {
		return models.AuditEvent{}, models.ErrNotFound
	}
	return e, nil
}

func (s *trail) AuditEvents(_ context.Context, q models.AuditQuery) (models.AuditPage, error) {
	page := models.AuditPage{Items: []models.AuditEvent{}}
	for _, e := range s.events {
		if q.Matches(e) {
			page.Items = append(page.Items, e)
		}
	}
	return page, nil
}

// signing makes a key in a new directory and returns its signer and verifier.
func signing(t *testing.T) (note.Signer, note.Verifier) {
	t.Helper()
	private, public, err := notary.GenerateKeys(t.TempDir(), "clinic-test")
	if err != nil {
		t.Fatal(err)
	}
	signer, verifier, err := notary.LoadSigner(private)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := notary.LoadVerifier(public); err != nil {
		t.Fatal(err)
	}
	return signer, verifier
}

// signAll signs every chain of s that moved into log.
func signAll(t *testing.T, n *notary.Notary) {
	t.Helper()
	if _, err := n.SignMoved(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func verify(t *testing.T, s *trail, log []byte, v note.Verifier) notary.Report {
	t.Helper()
	r, err := notary.VerifyLog(context.Background(), s, audit.Keys{Current: auditKey}, bytes.NewReader(log), v)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func hasFinding(r notary.Report, parts ...string) bool {
	for _, f := range r.Findings {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(f, p)
		}
		if all {
			return true
		}
	}
	return false
}

// TestVerifyFindsWhatTheSignaturesCover signs the chains of a trail, then changes
// the trail in each way someone holding the database and the audit key could: each
// is a finding naming the chain, while a trail that only grew verifies.
func TestVerifyFindsWhatTheSignaturesCover(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		change func(s *trail, a, b string)
		want   []string // in one finding, with the chain's name; none: ok
	}{
		{"grown", func(s *trail, a, b string) { s.append(a, 5, "interactions.read", nil) }, nil},
		{"tail cut, head put back", func(s *trail, a, b string) { s.cut(a, 6) }, []string{"holds 6 events", "checkpoint was signed at event 10"}},
		{"whole chain deleted", func(s *trail, a, b string) { s.cut(a, 0); delete(s.heads, a) }, []string{"is gone"}},
		{"event changed and rehashed", func(s *trail, a, b string) {
			e := s.events[audit.EventID(a, 3)]
			e.Route = "/elsewhere"
			e.Hash = audit.Hash(auditKey, e)
			s.events[e.ID] = e
		}, []string{"event 4 does not link"}},
		{"last event replaced", func(s *trail, a, b string) {
			s.cut(a, 9)
			s.append(a, 1, "patients.read", nil)
		}, []string{"event 10 differs"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTrail()
			a, b := s.chain(t, 10), s.chain(t, 3)
			signer, verifier := signing(t)
			var log bytes.Buffer
			n := notary.New(s, audit.Keys{Current: auditKey}, signer, notary.OpenLog(notary.Stdout, &log), nil, slog.New(slog.DiscardHandler))
			signAll(t, n)
			if c, err := n.SignMoved(ctx); err != nil || c != 0 {
				t.Errorf("signed %d again, %v; want none: nothing moved", c, err)
			}
			tc.change(s, a, b)
			r := verify(t, s, log.Bytes(), verifier)
			if r.Checkpoints != 2 {
				t.Errorf("%d checkpoints read, want 2", r.Checkpoints)
			}
			if tc.want == nil {
				if !r.OK() {
					t.Errorf("findings %q, want none", r.Findings)
				}
				return
			}
			if !hasFinding(r, append(tc.want, a)...) {
				t.Errorf("findings %q, want one naming %s and saying %q", r.Findings, a, tc.want)
			}
			if hasFinding(r, b) {
				t.Errorf("findings %q name the chain left alone, %s", r.Findings, b)
			}
		})
	}
}

// TestVerifyReportsADeclaredRestore rolls a trail back to an earlier copy and
// declares it as a restore does: the events lost are reported with the restore,
// counted, not as findings; a chain cut further than the restore declares is a
// finding all the same.
func TestVerifyReportsADeclaredRestore(t *testing.T) {
	for _, further := range []bool{false, true} {
		s := newTrail()
		a := s.chain(t, 4)
		backup := s.heads[a]
		s.append(a, 6, "interactions.read", nil)
		b := s.chain(t, 3) // started after the backup, lost whole
		signer, verifier := signing(t)
		var log bytes.Buffer
		n := notary.New(s, audit.Keys{Current: auditKey}, signer, notary.OpenLog(notary.Stdout, &log), nil, slog.New(slog.DiscardHandler))
		signAll(t, n)

		s.cut(a, 4)
		s.cut(b, 0)
		delete(s.heads, b)
		if further {
			s.cut(a, 2)
		}
		restorer := s.chain(t, 0)
		s.append(restorer, 1, notary.RestoredAction, []models.AuditAnchor{{Chain: a, Seq: backup.LastSeq, Hash: backup.LastHash}})
		r := verify(t, s, log.Bytes(), verifier)
		if further {
			if !hasFinding(r, a, "holds 2 events") || hasFinding(r, b) {
				t.Errorf("cut past the restore: findings %q, want one naming only %s", r.Findings, a)
			}
			continue
		}
		if !r.OK() {
			t.Fatalf("findings %q, want none: the restore is declared", r.Findings)
		}
		if len(r.Restores) != 1 || r.Restores[0].Events() != 6+3 {
			t.Fatalf("restores %+v, want one that lost 9 events", r.Restores)
		}
		var out strings.Builder
		if err := r.Write(&out); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"declared restore 1", "9 signed events lost", a + " events 5 to 10", b + " events 1 to 3"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("report lacks %q:\n%s", want, out.String())
			}
		}
	}
}

// TestTheLogHoldsSignedNotes reads a log in which notes are mixed with other text,
// as a process's standard output holds them: the checkpoints are read; a note
// changed after it was signed, one signed by another key and two checkpoints of one
// size that differ are problems, each naming its line.
func TestTheLogHoldsSignedNotes(t *testing.T) {
	s := newTrail()
	a := s.chain(t, 2)
	signer, verifier := signing(t)
	var log bytes.Buffer
	log.WriteString("The embedded store's records can be read with mongosh:\n    mongosh \"mongodb://x\"\n\n")
	n := notary.New(s, audit.Keys{Current: auditKey}, signer, notary.OpenLog(notary.Stdout, &log), nil, slog.New(slog.DiscardHandler))
	signAll(t, n)
	good := log.String()
	checkpoints, problems, err := notary.ReadLog(strings.NewReader(good), verifier)
	if err != nil || len(problems) > 0 || len(checkpoints) != 1 || checkpoints[0].Chain != a || checkpoints[0].Size != 2 || checkpoints[0].Line != 4 {
		t.Fatalf("ReadLog = %+v, %q, %v; want the checkpoint of %s at 2, on line 4", checkpoints, problems, err, a)
	}

	changed := strings.Replace(good, "\n2\n", "\n1\n", 1)
	other, _ := signing(t)
	var foreign bytes.Buffer
	n2 := notary.New(s, audit.Keys{Current: auditKey}, other, notary.OpenLog(notary.Stdout, &foreign), nil, slog.New(slog.DiscardHandler))
	signAll(t, n2)
	_, problems, err = notary.ReadLog(strings.NewReader(changed+foreign.String()), verifier)
	if err != nil || len(problems) != 2 || !strings.Contains(problems[0], "line 4: a note whose signature does not verify") ||
		!strings.Contains(problems[1], "not signed by the key clinic-test") {
		t.Errorf("problems %q, %v; want the changed note and the foreign one", problems, err)
	}

	// A fork: the chain signed at 2 twice, with different ends.
	s.cut(a, 1)
	s.append(a, 1, "patients.read", nil)
	var forked bytes.Buffer
	signAll(t, notary.New(s, audit.Keys{Current: auditKey}, signer, notary.OpenLog(notary.Stdout, &forked), nil, slog.New(slog.DiscardHandler)))
	r := verify(t, s, []byte(good+forked.String()), verifier)
	if !hasFinding(r, a, "differ: the chain was forked") {
		t.Errorf("findings %q, want the fork of %s", r.Findings, a)
	}
}

// TestNotarySignsOnlyHeadsThatVerify leaves a head whose MAC does not match, and
// one whose last event is missing, unsigned.
func TestNotarySignsOnlyHeadsThatVerify(t *testing.T) {
	s := newTrail()
	a, b, c := s.chain(t, 2), s.chain(t, 2), s.chain(t, 2)
	h := s.heads[a]
	h.LastSeq = 5 // without the key, the MAC cannot follow
	s.heads[a] = h
	delete(s.events, audit.EventID(b, 2))
	signer, verifier := signing(t)
	var log bytes.Buffer
	n := notary.New(s, audit.Keys{Current: auditKey}, signer, notary.OpenLog(notary.Stdout, &log), nil, slog.New(slog.DiscardHandler))
	if signed, err := n.SignMoved(context.Background()); err != nil || signed != 1 {
		t.Fatalf("signed %d, %v; want only %s", signed, err, c)
	}
	checkpoints, _, _ := notary.ReadLog(&log, verifier)
	if len(checkpoints) != 1 || checkpoints[0].Chain != c {
		t.Errorf("checkpoints %+v, want %s's alone", checkpoints, c)
	}
}

// TestKeys writes a key pair: the private key is its owner's alone, is refused when
// open to others, and is not written over.
func TestKeys(t *testing.T) {
	dir := t.TempDir()
	private, public, err := notary.GenerateKeys(dir, "clinic-host")
	if err != nil {
		t.Fatal(err)
	}
	for path, mode := range map[string]os.FileMode{private: 0o600, public: 0o644} {
		info, err := os.Stat(path)
		if err != nil || info.Mode().Perm() != mode {
			t.Errorf("%s: %v, %v; want mode %o", path, info.Mode(), err, mode)
		}
	}
	if _, _, err := notary.GenerateKeys(dir, "clinic-host"); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("a second key into %s: %v, want a refusal", dir, err)
	}
	if _, _, err := notary.GenerateKeys(t.TempDir(), "two words"); err == nil {
		t.Error("a key named with a space was made")
	}
	if err := os.Chmod(private, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, _, err := notary.LoadSigner(private); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("a key open to the group: %v, want a refusal", err)
	}
	if _, _, err := notary.LoadSigner(filepath.Join(dir, "none")); err == nil {
		t.Error("a missing key loaded")
	}
	if _, err := notary.LoadVerifier(private); err == nil {
		t.Error("the private key read as a public key")
	}
}
