package audit_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/models"
)

// TestEventsAreCleanedBeforeHashing appends events carrying what a request line or a
// command line may hold (bytes that are not UTF-8, kilobytes of text, identifiers
// that are not identifiers) to the real store, which keeps only valid UTF-8: each is
// stored bounded and valid, identifiers as a marker and a digest, and the trail
// verifies, now and when read back by another verifier.
func TestEventsAreCleanedBeforeHashing(t *testing.T) {
	repo, _ := testStore.DB(t)
	w, err := audit.NewWriter(repo, audit.WriterOptions{Key: key, Process: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	long := strings.Repeat("é", 3000)
	raw := "\xff\xfe"
	e := event(0)
	e.Route, e.Method, e.ClientIP, e.RequestID = "/api/v1/patients/"+raw, "G\xffT", "10.0.0.1"+raw, long
	e.InsuranceNo, e.InteractionID, e.KeyName, e.Role = raw, long, "dr "+raw, models.RoleClinician
	e.Action, e.ClientRequestID = "patients.read\x00"+raw, long
	e.Counts = map[string]int{"reason" + raw + long: 1}
	stored, err := w.Append(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	digest := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return "invalid:" + hex.EncodeToString(sum[:])[:16]
	}
	got, err := repo.AuditEvent(ctx, stored.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.InsuranceNo != digest(raw) || got.InteractionID != digest(long) || got.KeyName != digest("dr "+raw) {
		t.Errorf("identifiers stored as %q, %q, %q; want markers with their digests", got.InsuranceNo, got.InteractionID, got.KeyName)
	}
	texts := []string{got.Route, got.Method, got.ClientIP, got.RequestID, got.Action, got.ClientRequestID, got.KeyName}
	for k := range got.Counts {
		texts = append(texts, k)
	}
	for _, s := range texts {
		if !utf8.ValidString(s) || len(s) > audit.MaxText {
			t.Errorf("stored %q: valid UTF-8 %v, %d bytes (at most %d)", s, utf8.ValidString(s), len(s), audit.MaxText)
		}
	}
	if got.Hash != stored.Hash || got.Route != stored.Route {
		t.Errorf("the store keeps another event than the one hashed: %+v\n%+v", got, stored)
	}
	if !strings.HasPrefix(got.Route, "/api/v1/patients/") {
		t.Errorf("route = %q, want its valid part kept", got.Route)
	}

	// A valid identifier, a command's name and the key of a server are kept as given.
	plain := event(1)
	plain.InsuranceNo, plain.InteractionID, plain.KeyName = "A-11", "visit:1", "keys command, by root"
	if stored, err := w.Append(ctx, plain); err != nil || stored.InsuranceNo != "A-11" || stored.InteractionID != "visit:1" ||
		stored.KeyName != "keys command, by root" {
		t.Errorf("plain event stored as %+v (%v)", stored, err)
	}
	for range 2 { // the second verification goes on from the first's checkpoint
		v, err := audit.NewTrail(repo, audit.Keys{Current: key}, nil).Verify(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !v.OK || !v.Complete || len(v.Breaks) != 0 {
			t.Errorf("verify = %+v", v)
		}
	}
}
