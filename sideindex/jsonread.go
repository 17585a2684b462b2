package sideindex

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// The reader of the JSON the store keeps its documents in (see storedBSON): it reads
// in place, a step at a time, and unquotes only the strings that need it.

// member is a member of a JSON object: its name and its value, undecoded.
type member struct {
	name  string
	value []byte
}

// reader reads JSON, a step at a time.
type reader struct {
	data []byte
	pos  int
}

var errJSON = errors.New("malformed JSON")

func (r *reader) space() {
	for r.pos < len(r.data) {
		switch r.data[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

// end reports an error when anything but space is left.
func (r *reader) end() error {
	r.space()
	if r.pos != len(r.data) {
		return fmt.Errorf("%w: %.20s after the value", errJSON, r.data[r.pos:])
	}
	return nil
}

// next skips space and reports whether the next byte is c, reading it when it is.
func (r *reader) next(c byte) bool {
	r.space()
	if r.pos < len(r.data) && r.data[r.pos] == c {
		r.pos++
		return true
	}
	return false
}

// null reads null, when it is next, and reports whether it was.
func (r *reader) null() bool {
	r.space()
	if bytes.HasPrefix(r.data[r.pos:], []byte("null")) && (r.pos+4 == len(r.data) || isDelimiter(r.data[r.pos+4])) {
		r.pos += 4
		return true
	}
	return false
}

// name reads the name of an object's member and the ':' after it.
func (r *reader) name() ([]byte, error) {
	name, err := r.str()
	if err != nil {
		return nil, err
	}
	if !r.next(':') {
		return nil, fmt.Errorf("%w: no ':' after a name", errJSON)
	}
	return name, nil
}

// object reads an object's members, their values undecoded.
func (r *reader) object() ([]member, error) {
	var members []member
	err := r.members(func(name []byte) error {
		value, err := r.value()
		members = append(members, member{name: string(name), value: value})
		return err
	})
	return members, err
}

// members reads an object, calling member with the name of each of its members
// once r stands at the member's value, which member reads. It stops at member's
// first error.
func (r *reader) members(member func(name []byte) error) error {
	if !r.next('{') {
		return fmt.Errorf("%w: not an object", errJSON)
	}
	for first := true; !r.next('}'); first = false {
		if !first && !r.next(',') {
			return fmt.Errorf("%w: no ',' between members", errJSON)
		}
		name, err := r.name()
		if err != nil {
			return err
		}
		if err := member(name); err != nil {
			return err
		}
	}
	return nil
}

// items reads an array, calling item once r stands at each of its items, which
// item reads. It stops at item's first error.
func (r *reader) items(item func() error) error {
	if !r.next('[') {
		return fmt.Errorf("%w: not an array", errJSON)
	}
	for first := true; !r.next(']'); first = false {
		if !first && !r.next(',') {
			return fmt.Errorf("%w: no ',' between items", errJSON)
		}
		if err := item(); err != nil {
			return err
		}
	}
	return nil
}

// value skips one value and returns it, undecoded.
func (r *reader) value() ([]byte, error) {
	r.space()
	start := r.pos
	if r.pos == len(r.data) {
		return nil, fmt.Errorf("%w: a value is missing", errJSON)
	}
	switch c := r.data[r.pos]; {
	case c == '"':
		if _, err := r.stringEnd(); err != nil {
			return nil, err
		}
	case c == '{' || c == '[':
		depth := 0
		for r.pos < len(r.data) {
			switch r.data[r.pos] {
			case '"':
				if _, err := r.stringEnd(); err != nil {
					return nil, err
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			r.pos++
			if depth == 0 {
				return r.data[start:r.pos], nil
			}
		}
		return nil, fmt.Errorf("%w: an unclosed %c", errJSON, c)
	default: // a number, true, false or null
		if len(r.number()) == 0 {
			return nil, fmt.Errorf("%w: unexpected %c", errJSON, c)
		}
	}
	return r.data[start:r.pos], nil
}

func isDelimiter(c byte) bool {
	switch c {
	case ',', '}', ']', ':', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// number reads a number, true or false (checked by whoever parses it).
func (r *reader) number() []byte {
	r.space()
	start := r.pos
	for r.pos < len(r.data) && !isDelimiter(r.data[r.pos]) {
		r.pos++
	}
	return r.data[start:r.pos]
}

// stringEnd reads past the string at r.pos and reports whether it holds escapes.
func (r *reader) stringEnd() (escaped bool, err error) {
	for r.pos++; r.pos < len(r.data); r.pos++ {
		switch r.data[r.pos] {
		case '\\':
			escaped = true
			r.pos++
		case '"':
			r.pos++
			return escaped, nil
		}
	}
	return false, fmt.Errorf("%w: an unclosed string", errJSON)
}

// str reads a string. One plain enough is taken as it is, in place; any other is
// unquoted by encoding/json, as the store unquotes it (escapes, and invalid UTF-8
// read as U+FFFD).
func (r *reader) str() ([]byte, error) {
	r.space()
	if r.pos == len(r.data) || r.data[r.pos] != '"' {
		return nil, fmt.Errorf("%w: not a string", errJSON)
	}
	start := r.pos
	escaped, err := r.stringEnd()
	if err != nil {
		return nil, err
	}
	quoted := r.data[start:r.pos]
	inner := quoted[1 : len(quoted)-1]
	if !escaped && plain(inner) {
		return inner, nil
	}
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return nil, err
	}
	return []byte(s), nil
}

// plain reports whether s is valid UTF-8 without control characters: a JSON string
// that needs no unquoting.
func plain(s []byte) bool {
	for _, c := range s {
		if c < 0x20 {
			return false
		}
	}
	return utf8.Valid(s)
}
