package audit

import (
	"bytes"
	"encoding/json"

	"github.com/clinic/interactions/models"
)

// namingField is the member that names a patient in every answer of the API.
const namingField = models.FieldInsuranceNo

// Named returns the patients a JSON answer names: the string value of every member
// named insurance_no, at any depth, that is a valid insurance number (see
// models.ValidIdentifier), each once. It reads body once, as a stream of tokens,
// decoding only those members' names and values; what is not JSON it reads as far as
// it can.
func Named(body []byte) []string {
	var out []string
	seen := map[string]bool{}
	for i := 0; ; {
		// Outside a string, every quote opens one.
		q := bytes.IndexByte(body[i:], '"')
		if q < 0 {
			return out
		}
		key, ok := readString(body, i+q)
		if !ok {
			return out
		}
		i = key.end
		colon := skipSpace(body, key.end)
		if colon == len(body) || body[colon] != ':' || !key.is(namingField) {
			continue // a value, or a member of another name
		}
		open := skipSpace(body, colon+1)
		if open == len(body) || body[open] != '"' {
			continue // not a string: what it holds is read in turn
		}
		value, ok := readString(body, open)
		if !ok {
			return out
		}
		i = value.end
		if no := value.text(); models.ValidIdentifier(no) && !seen[no] {
			seen[no] = true
			out = append(out, no)
		}
	}
}

// jsonString is a JSON string as it stands in a document.
type jsonString struct {
	raw     []byte // with its quotes
	end     int    // the index just past its closing quote
	escaped bool
}

// readString reads the JSON string whose opening quote is at body[start]. ok is
// false when it does not end.
func readString(body []byte, start int) (s jsonString, ok bool) {
	for i := start + 1; i < len(body); {
		j := bytes.IndexAny(body[i:], `"\`)
		if j < 0 {
			return s, false
		}
		i += j
		if body[i] == '\\' {
			s.escaped = true
			i += 2
			continue
		}
		s.raw, s.end = body[start:i+1], i+1
		return s, true
	}
	return s, false
}

// text returns the string's value; "" when its escapes are not JSON's.
func (s jsonString) text() string {
	if !s.escaped {
		return string(s.raw[1 : len(s.raw)-1])
	}
	var value string
	if err := json.Unmarshal(s.raw, &value); err != nil {
		return ""
	}
	return value
}

// is reports whether the string's value is name.
func (s jsonString) is(name string) bool {
	if !s.escaped {
		return string(s.raw[1:len(s.raw)-1]) == name
	}
	return s.text() == name
}

// skipSpace returns the index of the first byte of body from i on that is not JSON
// white space, len(body) when none.
func skipSpace(body []byte, i int) int {
	for i < len(body) && (body[i] == ' ' || body[i] == '\t' || body[i] == '\n' || body[i] == '\r') {
		i++
	}
	return i
}
