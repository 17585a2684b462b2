package models

import (
	"encoding/base64"
	"encoding/json"
	"slices"
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
	// ProfileFields reads only what a patient's profile counts of a visit: its id,
	// insurance number, ailment, date, metrics, health_status, labels and status;
	// the other fields are left empty.
	ProfileFields bool
}

// Matches reports whether in is one the query selects.
func (q ScanQuery) Matches(in Interaction) bool {
	return q.Selects(in.Status, in.InteractionDate, len(in.QA) > 0, in.AilmentKey(), in.Label, in.SearchTokens)
}

// Selects reports whether an interaction with these fields, as stored, is one the
// query selects: its status and date, whether it asked questions, its ailment key
// and labels, and its search tokens, asked for only when the query names words.
func (q ScanQuery) Selects(status string, date time.Time, asked bool, ailmentKey string, labels []string, tokens func() []string) bool {
	switch {
	case status == StatusEnteredInError,
		!q.From.IsZero() && date.Before(StoreTime(q.From)),
		!q.To.IsZero() && date.After(StoreTime(q.To)),
		q.WithQA && !asked:
		return false
	case q.AilmentKey == "" && len(q.Labels) == 0 && len(q.Words) == 0:
		return true
	}
	return q.AilmentKey != "" && ailmentKey == q.AilmentKey ||
		slices.ContainsFunc(labels, func(l string) bool { return slices.Contains(q.Labels, l) }) ||
		len(q.Words) > 0 && slices.ContainsFunc(tokens(), func(t string) bool { return slices.Contains(q.Words, t) })
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
