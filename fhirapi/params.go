package fhirapi

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clinic/interactions/models"
)

// Param is one query parameter of a request, as sent.
type Param struct{ Name, Value string }

// Request is what a FHIR request asks, beyond its path: its query parameters in the
// order sent, whether it asked for lenient handling (Prefer: handling=lenient), and
// the base URL of the API as the client reached it ("https://host/fhir/R4").
type Request struct {
	Params  []Param
	Lenient bool
	Base    string
}

// Page sizes of a searchset.
const (
	DefaultCount = 20
	MaxCount     = 100
	// DefaultEverything and MaxEverything bound a page of $everything.
	DefaultEverything = 100
	MaxEverything     = 1000
	// MaxLastN bounds the readings per code $lastn gives.
	MaxLastN = 100
)

// common are the parameters every search takes.
var common = []string{"_count", "_sort", "_format", "_cursor", "_total"}

// query is a request's parameters once checked: each known one's values, and what
// was used, for the self link.
type query struct {
	values map[string][]string
	used   []Param
	errs   *models.ValidationError
}

// readQuery checks r's parameters against known (and common): an unknown one is an
// error unless r is lenient, when it is ignored and left out of the self link.
// _format must ask for JSON.
func readQuery(r Request, known ...string) *query {
	q := &query{values: map[string][]string{}, errs: &models.ValidationError{}}
	for _, p := range r.Params {
		if !slices.Contains(known, p.Name) && !slices.Contains(common, p.Name) {
			if !r.Lenient {
				q.errs.Add(p.Name, "unknown parameter; send Prefer: handling=lenient to have unknown parameters ignored")
			}
			continue
		}
		if p.Name == "_format" {
			if !JSONFormat(p.Value) {
				q.errs.Add("_format", "only JSON is served: json, application/json or application/fhir+json")
			}
			continue
		}
		q.values[p.Name] = append(q.values[p.Name], p.Value)
		if p.Name != "_cursor" {
			q.used = append(q.used, p)
		}
	}
	return q
}

// JSONFormat reports whether a _format (or Accept) value asks for JSON.
func JSONFormat(v string) bool {
	v, _, _ = strings.Cut(v, ";")
	switch strings.TrimSpace(strings.ToLower(v)) {
	case "json", "application/json", "application/fhir+json", "fhir+json":
		return true
	}
	return false
}

// one returns the only value of name, "" when absent; a repeated one is an error.
func (q *query) one(name string) string {
	v := q.values[name]
	if len(v) > 1 {
		q.errs.Add(name, "give it once")
	}
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// count reads _count: def when absent, from 1 to max.
func (q *query) count(def, limit int) int {
	s := q.one("_count")
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > limit {
		q.errs.Add("_count", "must be a whole number from 1 to "+strconv.Itoa(limit))
		return def
	}
	return n
}

// ascending reads _sort: date (oldest first) or -date (newest first, the default).
func (q *query) ascending() bool {
	switch q.one("_sort") {
	case "", "-date":
		return false
	case "date":
		return true
	}
	q.errs.Add("_sort", "must be date or -date")
	return false
}

// counted reads _total: accurate (the default) or none.
func (q *query) counted() bool {
	switch q.one("_total") {
	case "", "accurate", "estimate":
		return true
	case "none":
		return false
	}
	q.errs.Add("_total", "must be none, estimate or accurate")
	return true
}

// patient reads the patient parameter: a Patient id, or a reference to one
// ("Patient/P100", or an absolute URL ending so).
func (q *query) patient() string {
	v := strings.TrimSpace(q.one("patient"))
	if v == "" {
		if _, given := q.values["patient"]; given {
			q.errs.Add("patient", "must name a Patient")
		}
		return ""
	}
	if i := strings.LastIndex(v, "Patient/"); i >= 0 {
		v = v[i+len("Patient/"):]
	}
	if strings.ContainsAny(v, "/?") || v == "" {
		q.errs.Add("patient", "must be a Patient id or a reference Patient/<id>")
		return ""
	}
	return v
}

// token reads a token value "system|code", "|code" (no system) or "code": it
// returns the system ("" for any) and the code.
func token(v string) (system, code string) {
	if s, c, ok := strings.Cut(v, "|"); ok {
		return s, c
	}
	return "", v
}

// span is a range of time: from From (inclusive, or exclusive when FromOpen) to To
// (inclusive, or exclusive when ToOpen); a zero bound is none.
type span struct {
	From, To         time.Time
	FromOpen, ToOpen bool
}

// contains reports whether t is in the span.
func (s span) contains(t time.Time) bool {
	switch {
	case !s.From.IsZero() && (t.Before(s.From) || s.FromOpen && t.Equal(s.From)):
		return false
	case !s.To.IsZero() && (t.After(s.To) || s.ToOpen && t.Equal(s.To)):
		return false
	}
	return true
}

// dates reads every value of name as a FHIR date search ("ge2024-01-01",
// "2024-03", "lt2024-05-01T10:00:00Z"), each narrowing the span: eq (the default)
// keeps the whole of the date given, ge and gt from it, le and lt up to it.
func (q *query) dates(name string) span {
	var s span
	for _, v := range q.values[name] {
		prefix := "eq"
		if len(v) > 2 && v[0] >= 'a' && v[0] <= 'z' {
			prefix, v = v[:2], v[2:]
		}
		start, end, ok := dateRange(v)
		if !ok {
			q.errs.Add(name, "must be a date (2024, 2024-03, 2024-03-05) or date-time, with an optional prefix eq, ge, gt, le or lt")
			continue
		}
		switch prefix {
		case "eq":
			s.narrowFrom(start, false)
			s.narrowTo(end, true)
		case "ge":
			s.narrowFrom(start, false)
		case "gt":
			s.narrowFrom(end, false)
		case "le":
			s.narrowTo(end, true)
		case "lt":
			s.narrowTo(start, true)
		default:
			q.errs.Add(name, "the prefix must be eq, ge, gt, le or lt")
		}
	}
	return s
}

func (s *span) narrowFrom(t time.Time, open bool) {
	if s.From.IsZero() || t.After(s.From) {
		s.From, s.FromOpen = t, open
	}
}

func (s *span) narrowTo(t time.Time, open bool) {
	if s.To.IsZero() || t.Before(s.To) {
		s.To, s.ToOpen = t, open
	}
}

// dateRange returns the period a FHIR date or dateTime stands for: its first
// instant and the first instant after it (for a date-time, itself and a millisecond
// later, the store's precision).
func dateRange(v string) (start, end time.Time, ok bool) {
	for _, f := range []struct {
		layout string
		next   func(time.Time) time.Time
	}{
		{"2006", func(t time.Time) time.Time { return t.AddDate(1, 0, 0) }},
		{"2006-01", func(t time.Time) time.Time { return t.AddDate(0, 1, 0) }},
		{time.DateOnly, func(t time.Time) time.Time { return t.AddDate(0, 0, 1) }},
		{time.RFC3339Nano, func(t time.Time) time.Time { return t.Add(time.Millisecond) }},
	} {
		if t, err := time.Parse(f.layout, v); err == nil {
			t = models.StoreTime(t)
			if y := t.Year(); y < 1 || y > 9998 {
				return time.Time{}, time.Time{}, false
			}
			return t, f.next(t), true
		}
	}
	return time.Time{}, time.Time{}, false
}

// selfLink returns the URL of a search as processed: base and path, and the
// parameters used, in the order sent.
func selfLink(base, path string, used []Param, extra ...Param) string {
	var parts []string
	for _, p := range append(slices.Clone(used), extra...) {
		parts = append(parts, url.QueryEscape(p.Name)+"="+url.QueryEscape(p.Value))
	}
	link := base + "/" + path
	if len(parts) > 0 {
		link += "?" + strings.Join(parts, "&")
	}
	return link
}
