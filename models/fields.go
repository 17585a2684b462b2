package models

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

const identifierRule = "must be 1-64 characters: letters, digits, '.', '_', ':' or '-', starting with a letter or digit"

// ValidIdentifier reports whether s can serve as an id or an insurance number: 1 to 64
// ASCII letters, digits, '.', '_', ':' or '-', starting with a letter or digit, so that
// it can stand in a URL path unescaped.
func ValidIdentifier(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i, c := range []byte(s) {
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || !strings.ContainsRune("._:-", rune(c))) {
			return false
		}
	}
	return true
}

// fieldReader converts loosely typed document values into typed fields, collecting a
// message per field that does not fit.
type fieldReader struct {
	errs ValidationError
}

func (r *fieldReader) str(field string, v any) string {
	s, ok := v.(string)
	if !ok {
		r.errs.Add(field, "must be a string")
	}
	return s
}

func (r *fieldReader) identifier(field string, v any) string {
	s, ok := v.(string)
	if !ok || !ValidIdentifier(s) {
		r.errs.Add(field, identifierRule)
	}
	return s
}

func (r *fieldReader) intRange(field string, v any, lo, hi int) *int {
	n, ok := asInt(v)
	if !ok || n < int64(lo) || n > int64(hi) {
		r.errs.Add(field, fmt.Sprintf("must be an integer from %d to %d", lo, hi))
		return nil
	}
	i := int(n)
	return &i
}

func (r *fieldReader) object(field string, v any) bson.D {
	d, ok := v.(bson.D)
	if !ok {
		r.errs.Add(field, "must be an object")
	}
	return d
}

// stringList reads an array of strings: a parsed JSON array, or a []string from a
// document built in Go.
func (r *fieldReader) stringList(field string, v any) []string {
	out, ok := stringList(v)
	if !ok {
		r.errs.Add(field, "must be an array of strings")
	}
	return out
}

// stringList returns v as a list of strings when it is a bson.A holding only
// strings, or a []string.
func stringList(v any) ([]string, bool) {
	switch t := v.(type) {
	case []string:
		return slices.Clone(t), true
	case bson.A:
		out := make([]string, 0, len(t))
		for _, e := range t {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

func (r *fieldReader) date(field string, v any) *time.Time {
	s, _ := v.(string)
	t, err := ParseDate(s)
	if err != nil {
		r.errs.Add(field, "must be an RFC 3339 date (2024-10-12) or date-time (2024-10-12T09:30:00Z)")
		return nil
	}
	return &t
}

func (r *fieldReader) readOnly(field string) {
	r.errs.Add(field, "is set by the server and cannot be supplied")
}

// asInt returns v as an integer when it is one: an int64 or an integral float64.
func asInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int32:
		return int64(n), true
	case float64:
		if n == float64(int64(n)) {
			return int64(n), true
		}
	}
	return 0, false
}

// ParseDate reads an RFC 3339 date-time or a plain date (taken as midnight UTC). The
// result is in UTC and truncated to milliseconds, the precision the store keeps.
// It returns an error for anything else, and for a time whose year in UTC is not
// from 1 to 9999 (9999-12-31T23:30:00-01:00 is in the year 10000, which JSON
// cannot carry).
func ParseDate(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t, err = time.Parse(time.DateOnly, s)
	}
	if err != nil {
		return time.Time{}, err
	}
	t = StoreTime(t)
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, fmt.Errorf("year %d (in UTC) out of range", t.Year())
	}
	return t, nil
}

// StoreTime returns t in UTC, truncated to the millisecond precision of BSON dates.
func StoreTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// NormalizeLabels trims, lower-cases and de-duplicates labels, splitting each on commas
// and dropping empty ones. The first occurrence keeps its place.
func NormalizeLabels(raw []string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, r := range raw {
		for _, l := range strings.Split(r, ",") {
			l = strings.ToLower(strings.TrimSpace(l))
			if l == "" || seen[l] {
				continue
			}
			seen[l] = true
			out = append(out, l)
		}
	}
	return out
}

// fieldNames returns the names the fields of struct type t have under tag ("json"
// or "bson"), those tagged "-" left out. The known fields of a record are read off
// its struct this way, so that no list of them can fall out of step.
func fieldNames(t reflect.Type, tag string) map[string]bool {
	names := map[string]bool{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get(tag), ",")
		if name != "-" && f.IsExported() {
			names[name] = true
		}
	}
	return names
}

// readOnlyFields returns the JSON names of the fields of struct type t tagged
// readonly:"true", and "_id", the store's own name: the fields only the server sets.
func readOnlyFields(t reflect.Type) map[string]bool {
	names := map[string]bool{"_id": true}
	for f := range t.Fields() {
		if f.Tag.Get("readonly") == "true" {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			names[name] = true
		}
	}
	return names
}

// withName returns names with more added.
func withName(names map[string]bool, more ...string) map[string]bool {
	for _, name := range more {
		names[name] = true
	}
	return names
}

// marshalBSONWithExtra encodes the struct v followed by the extra fields, in order.
func marshalBSONWithExtra(v any, extra bson.D) ([]byte, error) {
	data, err := bson.Marshal(v)
	if err != nil || len(extra) == 0 {
		return data, err
	}
	var doc bson.D
	if err := bson.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	return bson.Marshal(append(doc, extra...))
}

// unmarshalBSONWithExtra decodes data into the struct v and returns, in stored order,
// the fields known does not hold, decoded as a bson.D decodes them. Only those are
// decoded a second time.
func unmarshalBSONWithExtra(data []byte, v any, known map[string]bool) (bson.D, error) {
	if err := bson.Unmarshal(data, v); err != nil {
		return nil, err
	}
	elements, err := bson.Raw(data).Elements()
	if err != nil {
		return nil, err
	}
	var rest []byte
	for _, e := range elements {
		if !known[e.Key()] {
			if rest == nil {
				rest = []byte{0, 0, 0, 0}
			}
			rest = append(rest, e...)
		}
	}
	if rest == nil {
		return nil, nil
	}
	rest = append(rest, 0)
	binary.LittleEndian.PutUint32(rest, uint32(len(rest)))
	var extra bson.D
	if err := bson.Unmarshal(rest, &extra); err != nil {
		return nil, err
	}
	return extra, nil
}

// marshalJSONWithExtra encodes the struct v as a JSON object followed by the extra fields.
func marshalJSONWithExtra(v any, extra bson.D) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil || len(extra) == 0 {
		return data, err
	}
	more, err := json.Marshal(extra)
	if err != nil {
		return nil, err
	}
	if len(data) == 2 { // "{}"
		return more, nil
	}
	// Both are objects: join "{...}" and "{...}" into one.
	out := append(data[:len(data)-1:len(data)-1], ',')
	return append(out, more[1:]...), nil
}
