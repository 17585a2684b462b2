package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode/utf8"

	"github.com/clinic/interactions/models"
)

// MaxText bounds each text an event records, in bytes: a route, a method, an
// address, a name, a reason counted.
const MaxText = 256

// maxCounts bounds how many counts an event records; the rest are added up under
// otherCount.
const maxCounts = 32

// otherCount names the count of what an event's other counts leave out.
const otherCount = "other"

// InvalidMarker starts what an event records instead of an identifier that is not
// one (see models.ValidIdentifier): the marker, then the first 16 hex digits of the
// SHA-256 of what was given, so that equal values are recognised without being
// recorded.
const InvalidMarker = "invalid:"

// Clean returns e as the trail records it: every text valid UTF-8 (each invalid
// byte replaced by U+FFFD) and at most MaxText bytes, and each identifier (the
// patient's insurance number, the interaction's id, and an API key's name, which an
// event with a role carries) either a valid identifier or InvalidMarker and a
// digest. The store keeps strings as valid UTF-8 only, so an event hashed before it
// was cleaned would no longer match its hash once stored; and what a request names
// must not cost the trail more than a few hundred bytes.
func Clean(e models.AuditEvent) models.AuditEvent {
	if e.Role != "" {
		e.KeyName = identifier(e.KeyName)
	} else {
		e.KeyName = text(e.KeyName)
	}
	e.Role = models.Role(text(string(e.Role)))
	e.InsuranceNo, e.InteractionID = identifier(e.InsuranceNo), identifier(e.InteractionID)
	for _, f := range []*string{&e.Action, &e.Method, &e.Route, &e.ClientIP, &e.RequestID, &e.ClientRequestID} {
		*f = text(*f)
	}
	if len(e.Counts) > 0 {
		counts := make(map[string]int, min(len(e.Counts), maxCounts+1))
		for k, n := range e.Counts {
			k = text(k)
			if _, ok := counts[k]; !ok && len(counts) >= maxCounts {
				k = otherCount
			}
			counts[k] += n
		}
		e.Counts = counts
	}
	return e
}

// text returns s as valid UTF-8 of at most MaxText bytes, cut at a character with
// an ellipsis when longer.
func text(s string) string {
	if len(s) <= MaxText && utf8.ValidString(s) {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= MaxText {
		return s
	}
	const ellipsis = "…"
	cut := MaxText - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// identifier returns s when it is empty or a valid identifier, and InvalidMarker
// with the digest of s otherwise.
func identifier(s string) string {
	if s == "" || models.ValidIdentifier(s) {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return InvalidMarker + hex.EncodeToString(sum[:])[:16]
}
