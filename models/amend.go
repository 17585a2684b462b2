package models

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// StatusEnteredInError marks a record that was recorded in error. It stays stored,
// with its history, and is left out of lists unless asked for.
const StatusEnteredInError = "entered-in-error"

// MaxReasonLength bounds the reason given for an amendment.
const MaxReasonLength = 1000

// MergePatch applies patch to target as RFC 7396 describes: a null removes a field,
// an object merges into an object, anything else replaces. target is not modified.
func MergePatch(target, patch bson.D) bson.D {
	out := make(bson.D, 0, len(target)+len(patch))
	out = append(out, target...)
	for _, p := range patch {
		i := indexOf(out, p.Key)
		switch {
		case p.Value == nil:
			if i >= 0 {
				out = append(out[:i:i], out[i+1:]...)
			}
		case i >= 0:
			pd, pIsDoc := p.Value.(bson.D)
			td, tIsDoc := out[i].Value.(bson.D)
			switch {
			case pIsDoc && tIsDoc:
				out[i].Value = MergePatch(td, pd)
			case pIsDoc:
				out[i].Value = MergePatch(nil, pd)
			default:
				out[i].Value = p.Value
			}
		default:
			if pd, ok := p.Value.(bson.D); ok {
				out = append(out, bson.E{Key: p.Key, Value: MergePatch(nil, pd)})
			} else {
				out = append(out, p)
			}
		}
	}
	return out
}

func indexOf(d bson.D, key string) int {
	for i, e := range d {
		if e.Key == key {
			return i
		}
	}
	return -1
}

// editable returns the document a client would send to create v: its JSON form,
// without the fields the server manages.
func editable(v any, serverFields ...string) (bson.D, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode current version: %w", err)
	}
	doc, err := ParseDocument(data)
	if err != nil {
		return nil, fmt.Errorf("decode current version: %w", err)
	}
	out := doc[:0]
	for _, e := range doc {
		if !slices.Contains(serverFields, e.Key) {
			out = append(out, e)
		}
	}
	return out, nil
}

// checkImmutable reports a patch that would change or remove an identifying field.
func checkImmutable(patch bson.D, errs *ValidationError, fields map[string]string) {
	for key, current := range fields {
		if i := indexOf(patch, key); i >= 0 && patch[i].Value != current {
			errs.Add(key, "cannot be changed")
		}
	}
}

// checkReason validates the reason given for an amendment.
func checkReason(reason string, errs *ValidationError) {
	if len(reason) > MaxReasonLength {
		errs.Add("reason", fmt.Sprintf("must be at most %d characters", MaxReasonLength))
	}
}

// AmendInteraction returns the next version of current with the merge patch applied,
// validated as a create is. id and insurance_no cannot change, and interaction_date
// cannot be removed. It returns a *ValidationError for an amendment that cannot be
// accepted.
func AmendInteraction(current Interaction, patch bson.D, reason string, now time.Time) (Interaction, error) {
	errs := &ValidationError{}
	checkImmutable(patch, errs, map[string]string{"id": current.ID, "insurance_no": current.InsuranceNo})
	checkReason(reason, errs)
	if i := indexOf(patch, "interaction_date"); i >= 0 && patch[i].Value == nil {
		errs.Add("interaction_date", "cannot be removed")
	}
	if err := errs.Err(); err != nil {
		return Interaction{}, err
	}
	base, err := editable(current, "created_at", "updated_at", "status", "version", "amendment_reason")
	if err != nil {
		return Interaction{}, err
	}
	next, err := NewInteraction(MergePatch(base, patch), now)
	if err != nil {
		return Interaction{}, err
	}
	next.ID = current.ID
	next.Status = current.Status
	next.Version = current.Version + 1
	next.AmendmentReason = reason
	next.CreatedAt = current.CreatedAt
	return next, nil
}

// MarkEnteredInError returns the next version of current, marked entered-in-error for
// reason. It returns a *ValidationError when reason is empty or too long.
func MarkEnteredInError(current Interaction, reason string, now time.Time) (Interaction, error) {
	errs := &ValidationError{}
	if strings.TrimSpace(reason) == "" {
		errs.Add("reason", "is required: say why the record was entered in error")
	}
	checkReason(reason, errs)
	if err := errs.Err(); err != nil {
		return Interaction{}, err
	}
	next := current
	next.Status = StatusEnteredInError
	next.Version = current.Version + 1
	next.AmendmentReason = reason
	next.UpdatedAt = StoreTime(now)
	return next, nil
}

// AmendPatient returns the next version of current with the merge patch applied,
// validated as a create is. insurance_no cannot change. It returns a
// *ValidationError for an amendment that cannot be accepted.
func AmendPatient(current Patient, patch bson.D, reason string, now time.Time) (Patient, error) {
	errs := &ValidationError{}
	checkImmutable(patch, errs, map[string]string{"insurance_no": current.InsuranceNo})
	checkReason(reason, errs)
	if err := errs.Err(); err != nil {
		return Patient{}, err
	}
	base, err := editable(current, "created_at", "updated_at", "version", "amendment_reason")
	if err != nil {
		return Patient{}, err
	}
	next, err := NewPatient(MergePatch(base, patch), now)
	if err != nil {
		return Patient{}, err
	}
	next.Version = current.Version + 1
	next.AmendmentReason = reason
	next.CreatedAt = current.CreatedAt
	return next, nil
}

// ETag returns the entity tag of a record's version.
func ETag(version int) string { return `"` + strconv.Itoa(version) + `"` }

// MatchesETag reports whether an If-Match header value (a list of entity tags, or *)
// names version. Weak tags never match, as RFC 9110 requires for If-Match.
func MatchesETag(header string, version int) bool {
	want := ETag(version)
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || tag == want {
			return true
		}
	}
	return false
}

// MatchesETagWeak reports whether an If-None-Match header value names version,
// comparing weakly (W/"3" matches "3").
func MatchesETagWeak(header string, version int) bool {
	want := ETag(version)
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || tag == want {
			return true
		}
	}
	return false
}
