package sideindex

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The store keeps each document as JSON with the BSON type of every value beside it
// (FerretDB v1.24.2's internal/handler/sjson), in one object:
//
//	{"$s": {"p": {"<field>": <type>, ...}, "$k": ["<field>", ...]}, "<field>": <value>, ...}
//
// where "$k" gives the fields' order and each <type> is {"t": "<name>"}, with the
// schema of an object's fields ("$s", the same shape), the types of an array's items
// ("i": [<type>, ...]), a binary's subtype ("s") or a regular expression's options
// ("o") beside the name. A value is JSON: a date is whole milliseconds since 1970, a
// binary base64, an ObjectId 24 hex digits, a regular expression its pattern; null
// is null whatever its type says.
//
// storedBSON reads such a document into the BSON the store answers for it: the same
// bytes, as the store builds them (FerretDB's sjson.Unmarshal, then its BSON
// encoding). TestDocumentsAreTheStoresAnswer checks it against the store's own
// answers, for values of every type.

// The BSON types of the store's JSON, by their names there.
var bsonTypes = map[string]bson.Type{
	"object": bson.TypeEmbeddedDocument, "array": bson.TypeArray, "double": bson.TypeDouble,
	"string": bson.TypeString, "binData": bson.TypeBinary, "objectId": bson.TypeObjectID,
	"bool": bson.TypeBoolean, "date": bson.TypeDateTime, "null": bson.TypeNull,
	"regex": bson.TypeRegex, "int": bson.TypeInt32, "timestamp": bson.TypeTimestamp,
	"long": bson.TypeInt64,
}

// schema is the types of an object's fields, in the object's order.
type schema struct {
	keys   []string
	fields []property
}

// property is a field's name and type in a schema.
type property struct {
	name string
	typ  *valueType
}

// valueType is the type of one value.
type valueType struct {
	bson bson.Type
	// object is the schema of an object's fields.
	object *schema
	// items are the types of an array's items.
	items []*valueType
	// subtype is a binary's subtype.
	subtype *byte
	// options are a regular expression's options.
	options *string
}

// of returns the type of the field name, nil when the schema has none.
func (s *schema) of(name string, guess int) *valueType {
	if guess < len(s.fields) && s.fields[guess].name == name {
		return s.fields[guess].typ
	}
	for _, f := range s.fields {
		if f.name == name {
			return f.typ
		}
	}
	return nil
}

// member is a member of a JSON object: its name and its value, undecoded.
type member struct {
	name  string
	value []byte
}

// storedBSON returns the BSON of data, a document as the store keeps it. It returns
// an error when data is not such a document.
func storedBSON(data []byte) (bson.Raw, error) {
	r := reader{data: data}
	members, err := r.object()
	if err != nil {
		return nil, err
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	var sch *schema
	fields := members[:0:0]
	for _, m := range members {
		if m.name != "$s" {
			fields = append(fields, m)
			continue
		}
		if sch, err = parseSchema(m.value); err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
	}
	if sch == nil {
		return nil, errors.New("a stored document without its schema")
	}
	if len(sch.keys) != len(fields) {
		return nil, fmt.Errorf("%d fields in the schema, %d in the document", len(sch.keys), len(fields))
	}
	return appendFields(make([]byte, 0, len(data)), fields, sch)
}

// appendFields appends the BSON document of members, in the order of sch.
func appendFields(dst []byte, members []member, sch *schema) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	for i, key := range sch.keys {
		m, ok := find(members, key, i)
		if !ok {
			return nil, fmt.Errorf("no field %q", key)
		}
		var err error
		if dst, err = appendElement(dst, key, m.value, sch.of(key, i)); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
	}
	return closeDocument(dst, start)
}

// find returns the member named name, looking where it is expected first.
func find(members []member, name string, guess int) (member, bool) {
	if guess < len(members) && members[guess].name == name {
		return members[guess], true
	}
	for _, m := range members {
		if m.name == name {
			return m, true
		}
	}
	return member{}, false
}

// closeDocument ends the BSON document that starts at start in dst, writing its
// length.
func closeDocument(dst []byte, start int) ([]byte, error) {
	dst = append(dst, 0)
	n := len(dst) - start
	if n > math.MaxInt32 {
		return nil, errors.New("document too large")
	}
	binary.LittleEndian.PutUint32(dst[start:], uint32(n))
	return dst, nil
}

// appendElement appends the BSON element key of the JSON value data, of type t.
func appendElement(dst []byte, key string, data []byte, t *valueType) ([]byte, error) {
	if string(data) == "null" {
		return appendCString(append(dst, byte(bson.TypeNull)), key)
	}
	if t == nil {
		return nil, errors.New("a value without its type")
	}
	dst, err := appendCString(append(dst, byte(t.bson)), key)
	if err != nil {
		return nil, err
	}
	r := reader{data: data}
	if dst, err = appendValue(dst, &r, t); err != nil {
		return nil, err
	}
	return dst, r.end()
}

// appendValue appends the BSON value of the JSON value r reads, of type t.
func appendValue(dst []byte, r *reader, t *valueType) ([]byte, error) {
	switch t.bson {
	case bson.TypeEmbeddedDocument:
		return appendObject(dst, r, t)
	case bson.TypeArray:
		return appendArray(dst, r, t)
	case bson.TypeString:
		s, err := r.str()
		if err != nil {
			return nil, err
		}
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(s)+1))
		return append(append(dst, s...), 0), nil
	case bson.TypeBinary:
		return appendBinary(dst, r, t)
	case bson.TypeObjectID:
		s, err := r.str()
		if err != nil {
			return nil, err
		}
		id, err := hex.DecodeString(s)
		if err != nil {
			return nil, err
		}
		if len(id) != len(bson.ObjectID{}) {
			return nil, fmt.Errorf("an ObjectId of %d bytes", len(id))
		}
		return append(dst, id...), nil
	case bson.TypeBoolean:
		switch string(r.number()) {
		case "true":
			return append(dst, 1), nil
		case "false":
			return append(dst, 0), nil
		}
		return nil, fmt.Errorf("%w: not a boolean", errJSON)
	case bson.TypeRegex:
		pattern, err := r.str()
		if err != nil {
			return nil, err
		}
		if t.options == nil {
			return nil, errors.New("a regular expression without its options")
		}
		if dst, err = appendCString(dst, pattern); err != nil {
			return nil, err
		}
		return appendCString(dst, *t.options)
	case bson.TypeDouble:
		f, err := strconv.ParseFloat(string(r.number()), 64)
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(f)), err
	case bson.TypeDateTime:
		ms, err := strconv.ParseInt(string(r.number()), 10, 64)
		// The store reads the milliseconds into a time, and writes the time's.
		return binary.LittleEndian.AppendUint64(dst, uint64(time.UnixMilli(ms).UnixMilli())), err
	case bson.TypeInt32:
		n, err := strconv.ParseInt(string(r.number()), 10, 32)
		return binary.LittleEndian.AppendUint32(dst, uint32(int32(n))), err
	case bson.TypeTimestamp:
		n, err := strconv.ParseUint(string(r.number()), 10, 64)
		return binary.LittleEndian.AppendUint64(dst, n), err
	case bson.TypeInt64:
		n, err := strconv.ParseInt(string(r.number()), 10, 64)
		return binary.LittleEndian.AppendUint64(dst, uint64(n)), err
	}
	return nil, fmt.Errorf("a %s holding a value", t.bson) // null, not null
}

// appendObject appends the BSON document of the JSON object r reads, of type t.
func appendObject(dst []byte, r *reader, t *valueType) ([]byte, error) {
	members, err := r.object()
	if err != nil {
		return nil, err
	}
	if len(members) == 0 {
		return append(dst, 5, 0, 0, 0, 0), nil
	}
	if t.object == nil || len(t.object.keys) != len(members) {
		return nil, errors.New("an object's fields are not its schema's")
	}
	return appendFields(dst, members, t.object)
}

// appendArray appends the BSON array of the JSON array r reads, of type t: a
// document whose keys are the items' positions.
func appendArray(dst []byte, r *reader, t *valueType) ([]byte, error) {
	items, err := r.array()
	if err != nil {
		return nil, err
	}
	if len(items) != len(t.items) {
		return nil, fmt.Errorf("%d items, %d types", len(items), len(t.items))
	}
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	for i, item := range items {
		if dst, err = appendElement(dst, strconv.Itoa(i), item, t.items[i]); err != nil {
			return nil, err
		}
	}
	return closeDocument(dst, start)
}

// appendBinary appends the value of a binary: its length, its subtype and its bytes
// (subtype 2 as any other, as the store writes it).
func appendBinary(dst []byte, r *reader, t *valueType) ([]byte, error) {
	s, err := r.str()
	if err != nil {
		return nil, err
	}
	if t.subtype == nil {
		return nil, errors.New("a binary without its subtype")
	}
	b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(b, []byte(s))
	if err != nil {
		return nil, err
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	return append(append(dst, *t.subtype), b[:n]...), nil
}

// appendCString appends s and its terminating zero.
func appendCString(dst []byte, s string) ([]byte, error) {
	for i := range len(s) {
		if s[i] == 0 {
			return nil, errors.New("a name holding a zero byte")
		}
	}
	return append(append(dst, s...), 0), nil
}

// parseSchema reads a schema: {"p": {<field>: <type>, ...}, "$k": [<field>, ...]},
// or {} for an object without fields.
func parseSchema(data []byte) (*schema, error) {
	r := reader{data: data}
	members, err := r.object()
	if err != nil {
		return nil, err
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	s := &schema{}
	for _, m := range members {
		switch m.name {
		case "p":
			r := reader{data: m.value}
			props, err := r.object()
			if err != nil {
				return nil, err
			}
			for _, p := range props {
				t, err := parseType(p.value)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", p.name, err)
				}
				s.fields = append(s.fields, property{name: p.name, typ: t})
			}
		case "$k":
			r := reader{data: m.value}
			keys, err := r.array()
			if err != nil {
				return nil, err
			}
			for _, k := range keys {
				r := reader{data: k}
				name, err := r.str()
				if err != nil {
					return nil, err
				}
				s.keys = append(s.keys, name)
			}
		default:
			return nil, fmt.Errorf("unknown field %q", m.name)
		}
	}
	return s, nil
}

// parseType reads the type of a value.
func parseType(data []byte) (*valueType, error) {
	r := reader{data: data}
	members, err := r.object()
	if err != nil {
		return nil, err
	}
	t := &valueType{}
	for _, m := range members {
		r := reader{data: m.value}
		switch m.name {
		case "t":
			name, err := r.str()
			if err != nil {
				return nil, err
			}
			var ok bool
			if t.bson, ok = bsonTypes[name]; !ok {
				return nil, fmt.Errorf("unknown type %q", name)
			}
		case "$s":
			if t.object, err = parseSchema(m.value); err != nil {
				return nil, err
			}
		case "i":
			items, err := r.array()
			if err != nil {
				return nil, err
			}
			t.items = make([]*valueType, len(items))
			for i, item := range items {
				if t.items[i], err = parseType(item); err != nil {
					return nil, err
				}
			}
		case "s":
			n, err := strconv.ParseUint(string(r.number()), 10, 8)
			if err != nil {
				return nil, err
			}
			sub := byte(n)
			t.subtype = &sub
		case "o":
			options, err := r.str()
			if err != nil {
				return nil, err
			}
			t.options = &options
		default:
			return nil, fmt.Errorf("unknown field %q", m.name)
		}
	}
	if t.bson == 0 {
		return nil, errors.New("a type without its name")
	}
	return t, nil
}

// reader reads one JSON value, a step at a time.
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

// object reads an object's members, their values undecoded.
func (r *reader) object() ([]member, error) {
	if !r.next('{') {
		return nil, fmt.Errorf("%w: not an object", errJSON)
	}
	var members []member
	if r.next('}') {
		return members, nil
	}
	for {
		r.space()
		name, err := r.str()
		if err != nil {
			return nil, err
		}
		if !r.next(':') {
			return nil, fmt.Errorf("%w: no ':' after a name", errJSON)
		}
		value, err := r.value()
		if err != nil {
			return nil, err
		}
		members = append(members, member{name: name, value: value})
		if r.next('}') {
			return members, nil
		}
		if !r.next(',') {
			return nil, fmt.Errorf("%w: no ',' between members", errJSON)
		}
	}
}

// array reads an array's items, undecoded.
func (r *reader) array() ([][]byte, error) {
	if !r.next('[') {
		return nil, fmt.Errorf("%w: not an array", errJSON)
	}
	var items [][]byte
	if r.next(']') {
		return items, nil
	}
	for {
		item, err := r.value()
		if err != nil {
			return nil, err
		}
		items = append(items, item)
		if r.next(']') {
			return items, nil
		}
		if !r.next(',') {
			return nil, fmt.Errorf("%w: no ',' between items", errJSON)
		}
	}
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
		for r.pos < len(r.data) && !isDelimiter(r.data[r.pos]) {
			r.pos++
		}
		if r.pos == start {
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

// number returns the rest of the value, a number (checked by whoever parses it).
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

// str reads a string. One plain enough is taken as it is; any other is unquoted by
// encoding/json, as the store unquotes it (escapes, and invalid UTF-8 read as
// U+FFFD).
func (r *reader) str() (string, error) {
	r.space()
	if r.pos == len(r.data) || r.data[r.pos] != '"' {
		return "", fmt.Errorf("%w: not a string", errJSON)
	}
	start := r.pos
	escaped, err := r.stringEnd()
	if err != nil {
		return "", err
	}
	quoted := r.data[start:r.pos]
	inner := quoted[1 : len(quoted)-1]
	if !escaped && plain(inner) {
		return string(inner), nil
	}
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return "", err
	}
	return s, nil
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
