package models

import (
	"encoding/base64"
	"encoding/json"
	"time"
)

// ScanQuery selects the interactions a read of many patients' visits goes through
// (see the analytics and the suggestions): every one not entered in error, narrowed
// by the fields set.
type ScanQuery struct {
	// From and To, when set, keep interactions dated from From to To, both included.
	From, To time.Time
	// WithQA keeps interactions that asked questions (their qa is not empty).
	WithQA bool
	// AilmentKey, Labels and Words, when any is set, keep interactions with that
	// ailment key, or any of those labels, or any of those search tokens (folded
	// words, whole).
	AilmentKey string
	Labels     []string
	Words      []string
}

// Matches reports whether in is one the query selects.
func (q ScanQuery) Matches(in Interaction) bool {
	switch {
	case in.Status == StatusEnteredInError,
		!q.From.IsZero() && in.InteractionDate.Before(StoreTime(q.From)),
		!q.To.IsZero() && in.InteractionDate.After(StoreTime(q.To)),
		q.WithQA && len(in.QA) == 0:
		return false
	}
	if q.AilmentKey == "" && len(q.Labels) == 0 && len(q.Words) == 0 {
		return true
	}
	if q.AilmentKey != "" && in.AilmentKey() == q.AilmentKey {
		return true
	}
	for _, l := range in.Label {
		for _, want := range q.Labels {
			if l == want {
				return true
			}
		}
	}
	if len(q.Words) > 0 {
		for _, t := range in.SearchTokens() {
			for _, w := range q.Words {
				if t == w {
					return true
				}
			}
		}
	}
	return false
}

// MemberCursor is a position in the list of a clustering's members, ordered by
// cohort, then insurance number, in the results of the query Query names (see
// QueryKey).
type MemberCursor struct {
	Cohort int    `json:"c"`
	ID     string `json:"i"`
	Query  string `json:"q"`
}

// Encode returns the cursor as an opaque URL-safe string.
func (c MemberCursor) Encode() string {
	data, _ := json.Marshal(c) // an int and strings always encode
	return base64.RawURLEncoding.EncodeToString(data)
}

// ParseMemberCursor reads a cursor made by MemberCursor.Encode. It returns a
// *ValidationError for anything else.
func ParseMemberCursor(s string) (*MemberCursor, error) {
	var c MemberCursor
	data, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(data, &c) != nil || c.ID == "" || c.Query == "" || c.Cohort < 0 {
		return nil, Invalid("cursor", "is not a cursor this service issued; use next_cursor from a previous page")
	}
	return &c, nil
}
