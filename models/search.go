package models

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// Fold returns s as searches compare it: lower-case, without accents (é is e, ø is
// o), ß as ss, and other letters as they are.
func Fold(s string) string {
	lower := strings.ToLower(s)
	if ascii(lower) {
		return lower // no accents to remove, no letters to spell out
	}
	stripped, _, err := transform.String(transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC), lower)
	if err != nil {
		stripped = lower
	}
	var b strings.Builder
	for _, r := range stripped {
		switch r {
		case 'ß':
			b.WriteString("ss")
		case 'ø':
			b.WriteByte('o')
		case 'æ':
			b.WriteString("ae")
		case 'œ':
			b.WriteString("oe")
		case 'ł':
			b.WriteByte('l')
		case 'đ':
			b.WriteByte('d')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ascii reports whether s is all ASCII.
func ascii(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// Words returns the words of s, folded (see Fold): the runs of letters and digits.
func Words(s string) []string {
	return strings.FieldsFunc(Fold(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsNumber(r) })
}

// SearchKeys are the keys a search for the patient matches by their start: each word
// of the first and last name, the insurance number and the id of the FHIR resource
// an import made the patient from, both whole and word by word.
func (p Patient) SearchKeys() []string {
	keys := []string{Fold(p.InsuranceNo)}
	words := append(Words(p.InsuranceNo), append(Words(p.FName), Words(p.LName)...)...)
	if i := FieldIndex(p.Source, "patient"); i >= 0 {
		if id, ok := p.Source[i].Value.(string); ok && id != "" {
			keys = append(keys, Fold(id))
			words = append(words, Words(id)...)
		}
	}
	for _, w := range words {
		if len(keys) < MaxTokens && utf8.RuneCountInString(w) <= MaxTokenLength {
			keys = append(keys, w)
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// SortKey orders patients by last name, first name (each folded, its first
// MaxTokenLength characters) and insurance number.
func (p Patient) SortKey() string {
	return prefix(Fold(p.LName)) + "\x1f" + prefix(Fold(p.FName)) + "\x1f" + p.InsuranceNo
}

// prefix returns the first MaxTokenLength characters of s.
func prefix(s string) string {
	n := 0
	for i := range s {
		if n == MaxTokenLength {
			return s[:i]
		}
		n++
	}
	return s
}

// The bounds of an interaction's search tokens, which keep a record of the largest
// body within the stored size (see MaxDocumentBytes): no word is longer, and a visit
// has far fewer words.
const (
	MaxTokenLength = 64
	MaxTokens      = 2000
)

// SearchTokens are the words a search of the interaction's text matches by their
// start: those of its ailment, symptoms, remarks, and questions and answers, in that
// order, the first MaxTokens distinct words of at most MaxTokenLength characters.
func (in Interaction) SearchTokens() []string {
	// While there are at most MaxTokens words, sorting them all and dropping the
	// repeats keeps the same ones as a set of the first MaxTokens would, without
	// the set: every visit but an outsized one, and a load computes this for
	// each of its visits.
	tokens := make([]string, 0, 32)
	add := func(text string) {
		for _, w := range Words(text) {
			if utf8.RuneCountInString(w) <= MaxTokenLength {
				tokens = append(tokens, w)
			}
		}
	}
	in.eachText(add)
	if len(tokens) > MaxTokens {
		return in.firstTokens()
	}
	slices.Sort(tokens)
	return slices.Compact(tokens)
}

// eachText calls f with each text of the interaction a search reads, in order: its
// ailment, symptoms, remarks, and questions and answers.
func (in Interaction) eachText(f func(text string)) {
	f(in.Ailment)
	f(in.Symptoms)
	f(in.Remarks)
	for _, e := range in.QA {
		f(e.Key)
		if answer, ok := e.Value.(string); ok {
			f(answer)
		}
	}
}

// firstTokens returns SearchTokens of an interaction with more than MaxTokens
// words: the first MaxTokens distinct ones, sorted.
func (in Interaction) firstTokens() []string {
	seen := map[string]bool{}
	tokens := []string{}
	in.eachText(func(text string) {
		for _, w := range Words(text) {
			if len(seen) == MaxTokens {
				return
			}
			if utf8.RuneCountInString(w) <= MaxTokenLength && !seen[w] {
				seen[w] = true
				tokens = append(tokens, w)
			}
		}
	})
	slices.Sort(tokens)
	return tokens
}

// AilmentKey is the ailment as a search for it compares it: folded, its words one
// space apart.
func (in Interaction) AilmentKey() string { return AilmentKey(in.Ailment) }

// AilmentKey is ailment as a search for it compares it: folded, its words one space
// apart.
func AilmentKey(ailment string) string { return strings.Join(Words(ailment), " ") }

// PatientQuery selects one page of patients, by last name, first name and insurance
// number (see Patient.SortKey).
type PatientQuery struct {
	// Words, when set, keeps patients with, for each of them, a search key starting
	// with it (see Patient.SearchKeys); they are folded words.
	Words []string
	Limit int
	// After, when set, continues after the patient it points at.
	After *NameCursor
}

// Matches reports whether p is one the query selects (not its position).
func (q PatientQuery) Matches(p Patient) bool {
	keys := p.SearchKeys()
	for _, w := range q.Words {
		if !slices.ContainsFunc(keys, func(k string) bool { return strings.HasPrefix(k, w) }) {
			return false
		}
	}
	return true
}

// Key identifies what the query selects (not the page size), for the cursors of its
// pages.
func (q PatientQuery) Key() string {
	return QueryKey("patients", strings.Join(slices.Sorted(slices.Values(q.Words)), " "))
}

// NameCursor is a position in a list of patients ordered by sort key, then id, in the
// results of the query Query names (see QueryKey).
type NameCursor struct {
	Key   string `json:"k"`
	ID    string `json:"i"`
	Query string `json:"q"`
}

// NameCursorAt returns the cursor that continues after p, in the results of the
// query whose key is query.
func NameCursorAt(p Patient, query string) NameCursor {
	return NameCursor{Key: p.SortKey(), ID: p.InsuranceNo, Query: query}
}

// Encode returns the cursor as an opaque URL-safe string.
func (c NameCursor) Encode() string {
	data, _ := json.Marshal(c) // strings always encode
	return base64.RawURLEncoding.EncodeToString(data)
}

// ParseNameCursor reads a cursor made by NameCursor.Encode. It returns a
// *ValidationError for anything else.
func ParseNameCursor(s string) (*NameCursor, error) {
	var c NameCursor
	data, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(data, &c) != nil || c.ID == "" || c.Query == "" {
		return nil, Invalid("cursor", "is not a cursor this service issued; use next_cursor from a previous page")
	}
	return &c, nil
}

// PatientListItem is a patient as a directory lists it: what a picker shows.
type PatientListItem struct {
	InsuranceNo string `json:"insurance_no" validate:"required" example:"A11"`
	FName       string `json:"fname,omitempty" example:"Vernon"`
	LName       string `json:"lname,omitempty" example:"Lopez"`
	Age         *int   `json:"age,omitempty" example:"30"`
	Sex         string `json:"sex,omitempty" example:"M"`
	// LastVisit is the date of the patient's latest interaction (entered-in-error
	// ones left out); null when there is none.
	LastVisit *time.Time `json:"last_visit" validate:"required" extensions:"x-nullable" format:"date-time" example:"2024-10-12T09:30:00Z"`
}

// PatientList is one page of a patient directory.
type PatientList struct {
	Items []PatientListItem `json:"items" validate:"required"`
	// NextCursor continues the listing; it is null on the last page.
	NextCursor *string `json:"next_cursor" validate:"required" extensions:"x-nullable"`
}
