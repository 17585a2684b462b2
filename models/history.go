package models

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Limits on one page of a list.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
	// MaxPageBytes bounds the records of one page, as stored: a page of large
	// records holds fewer than its limit, and its next_cursor goes on from there.
	MaxPageBytes = 4 << 20
)

// HistoryQuery selects one page of interactions, of one patient or of all: newest
// first (interaction_date, then id, descending) unless Ascending.
type HistoryQuery struct {
	// InsuranceNo, when set, keeps the interactions of that patient alone.
	InsuranceNo string
	// Labels, when not empty, keeps interactions carrying any of them, or all of them
	// when MatchAll is set.
	Labels   []string
	MatchAll bool
	// Ailment, when set, keeps interactions whose ailment is it, compared as
	// AilmentKey compares them.
	Ailment string
	// From and To, when set, keep interactions dated from From to To, both included.
	From, To time.Time
	// HealthMin and HealthMax, when set, keep interactions whose health_status is at
	// least, at most, that; one without a health_status is then left out.
	HealthMin, HealthMax *int
	// Words, when set, keeps interactions with, for each of them, a search token
	// starting with it (see Interaction.SearchTokens); they are folded words.
	Words []string
	// Ascending lists oldest first (interaction_date, then id, ascending).
	Ascending bool
	// IncludeEnteredInError keeps interactions marked entered-in-error, which are
	// otherwise left out.
	IncludeEnteredInError bool
	Limit                 int
	// After, when set, continues after the interaction it points at.
	After *Cursor
}

// Matches reports whether in is one the query selects (not its position).
func (q HistoryQuery) Matches(in Interaction) bool {
	switch {
	case q.InsuranceNo != "" && in.InsuranceNo != q.InsuranceNo,
		in.Status == StatusEnteredInError && !q.IncludeEnteredInError,
		q.Ailment != "" && in.AilmentKey() != q.Ailment,
		!q.From.IsZero() && in.InteractionDate.Before(StoreTime(q.From)),
		!q.To.IsZero() && in.InteractionDate.After(StoreTime(q.To)),
		q.HealthMin != nil && (in.HealthStatus == nil || *in.HealthStatus < *q.HealthMin),
		q.HealthMax != nil && (in.HealthStatus == nil || *in.HealthStatus > *q.HealthMax):
		return false
	}
	if len(q.Words) > 0 {
		tokens := in.SearchTokens()
		for _, w := range q.Words {
			if !slices.ContainsFunc(tokens, func(t string) bool { return strings.HasPrefix(t, w) }) {
				return false
			}
		}
	}
	if len(q.Labels) == 0 {
		return true
	}
	has := func(l string) bool { return slices.Contains(in.Label, l) }
	if q.MatchAll {
		return !slices.ContainsFunc(q.Labels, func(l string) bool { return !has(l) })
	}
	return slices.ContainsFunc(q.Labels, has)
}

// Key identifies what the query selects and in which order (not the page size), for
// the cursors of its pages.
func (q HistoryQuery) Key() string {
	labels := slices.Sorted(slices.Values(q.Labels))
	words := slices.Sorted(slices.Values(q.Words))
	bound := func(n *int) string {
		if n == nil {
			return ""
		}
		return strconv.Itoa(*n)
	}
	return QueryKey("interactions", q.InsuranceNo, strings.Join(labels, ","),
		strconv.FormatBool(q.MatchAll), strconv.FormatBool(q.IncludeEnteredInError),
		q.Ailment, timeKey(q.From), timeKey(q.To), bound(q.HealthMin), bound(q.HealthMax),
		strings.Join(words, " "), strconv.FormatBool(q.Ascending))
}

// timeKey is t in a query's key: empty when zero.
func timeKey(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return StoreTime(t).Format(time.RFC3339Nano)
}

// QueryKey returns a short fingerprint of a query's parts, which a cursor carries so
// that it is not used with another query, where it would skip or repeat items.
func QueryKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Cursor is a position in a list ordered by a time descending, then an id
// descending, in the results of the query Query names (see QueryKey).
type Cursor struct {
	Date  time.Time `json:"d"`
	ID    string    `json:"i"`
	Query string    `json:"q"`
}

// CursorAt returns the cursor that continues after in, in the results of the query
// whose key is query.
func CursorAt(in Interaction, query string) *Cursor {
	return &Cursor{Date: in.InteractionDate, ID: in.ID, Query: query}
}

// Encode returns the cursor as an opaque URL-safe string.
func (c Cursor) Encode() string {
	data, _ := json.Marshal(c) // a string and a time of the years 0 to 9999 always encode
	return base64.RawURLEncoding.EncodeToString(data)
}

// ParseCursor reads a cursor made by Encode. It returns a *ValidationError for
// anything else, a date outside the years 0 to 9999 in UTC included (no record has
// one, and no cursor could carry it).
func ParseCursor(s string) (*Cursor, error) {
	invalid := Invalid("cursor", "is not a cursor this service issued; use next_cursor from a previous page")
	data, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, invalid
	}
	var c Cursor
	if err := json.Unmarshal(data, &c); err != nil || c.ID == "" || c.Date.IsZero() || c.Query == "" {
		return nil, invalid
	}
	c.Date = StoreTime(c.Date)
	if y := c.Date.Year(); y < 0 || y > 9999 {
		return nil, invalid
	}
	return &c, nil
}

// Page is one page of a patient's history.
type Page struct {
	Items []Interaction `json:"items" validate:"required"`
	// NextCursor continues the listing; it is null on the last page.
	NextCursor *string `json:"next_cursor" validate:"required" extensions:"x-nullable" example:"eyJkIjoiMjAyNC0xMC0wMVQwOTozMDowMFoiLCJpIjoiMSJ9"`
}

// VersionCursor is a position in a record's version history: the versions below
// Version of the record Query names (see QueryKey).
type VersionCursor struct {
	Version int    `json:"v"`
	Query   string `json:"q"`
}

// Encode returns the cursor as an opaque URL-safe string.
func (c VersionCursor) Encode() string {
	data, _ := json.Marshal(c) // an int always encodes
	return base64.RawURLEncoding.EncodeToString(data)
}

// ParseVersionCursor reads a cursor made by VersionCursor.Encode. It returns a
// *ValidationError for anything else.
func ParseVersionCursor(s string) (VersionCursor, error) {
	var c VersionCursor
	data, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(data, &c) != nil || c.Version < 2 || c.Query == "" {
		return VersionCursor{}, Invalid("cursor", "is not a cursor this service issued; use next_cursor from a previous page")
	}
	return c, nil
}

// InteractionVersions is one page of an interaction's versions, newest first.
type InteractionVersions struct {
	Items []Interaction `json:"items" validate:"required"`
	// NextCursor continues the listing; it is null on the last page.
	NextCursor *string `json:"next_cursor" validate:"required" extensions:"x-nullable"`
}

// PatientVersions is one page of a patient's versions, newest first.
type PatientVersions struct {
	Items []Patient `json:"items" validate:"required"`
	// NextCursor continues the listing; it is null on the last page.
	NextCursor *string `json:"next_cursor" validate:"required" extensions:"x-nullable"`
}
