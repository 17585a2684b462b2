package sideindex

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

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

// scalars are the types that are a name alone, shared by every schema.
var scalars = func() map[string]*valueType {
	m := map[string]*valueType{}
	for name, t := range bsonTypes {
		m[name] = &valueType{bson: t}
	}
	return m
}()

// schema is the names and types of an object's fields, in the object's order.
type schema []property

// property is a field's name and its type, nil when the schema does not give one.
type property struct {
	name []byte
	typ  *valueType
}

// valueType is the type of one value.
type valueType struct {
	bson bson.Type
	// object is the schema of an object's fields.
	object schema
	// items are the types of an array's items.
	items []*valueType
	// subtype is a binary's subtype.
	subtype *byte
	// options are a regular expression's options.
	options *string
}

// storedBSON returns the BSON of data, a document as the store keeps it. It reads
// the document once when its schema comes first and its fields in the schema's
// order, as the store writes them, and by name otherwise. It returns an error when
// data is not such a document.
func storedBSON(data []byte) (bson.Raw, error) {
	r := reader{data: data}
	dst := make([]byte, 0, len(data))
	if !r.next('{') {
		return nil, fmt.Errorf("%w: not an object", errJSON)
	}
	var err error
	if name, _ := r.name(); string(name) == "$s" {
		var sch schema
		if sch, err = r.schema(); err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
		switch {
		case r.next('}'):
			if len(sch) != 0 {
				return nil, fmt.Errorf("%d fields in the schema, none in the document", len(sch))
			}
			dst = append(dst, 5, 0, 0, 0, 0)
		case r.next(','):
			dst, err = appendMembers(dst, &r, sch, 0, true)
		default:
			return nil, fmt.Errorf("%w: no ',' between members", errJSON)
		}
	} else {
		r.pos = 0
		dst, err = appendByName(dst, &r, nil, true)
	}
	if err != nil {
		return nil, err
	}
	return dst, r.end()
}

// appendObject appends the BSON document of the JSON object r reads, whose fields
// sch types. An empty object is one whatever its schema says, as the store reads it.
func appendObject(dst []byte, r *reader, sch schema) ([]byte, error) {
	r.space()
	begin := r.pos
	if !r.next('{') {
		return nil, fmt.Errorf("%w: not an object", errJSON)
	}
	if r.next('}') {
		return append(dst, 5, 0, 0, 0, 0), nil
	}
	return appendMembers(dst, r, sch, begin, false)
}

// appendMembers appends the BSON document of the members r reads, up to the end of
// their object, whose fields sch types, in the order of sch. When they come in
// another order, it reads the object again from begin, by name (see appendByName).
func appendMembers(dst []byte, r *reader, sch schema, begin int, top bool) ([]byte, error) {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	for i := 0; ; i++ {
		name, err := r.name()
		if err != nil {
			return nil, err
		}
		if i >= len(sch) || !bytes.Equal(name, sch[i].name) {
			r.pos = begin
			return appendByName(dst[:start], r, sch, top)
		}
		if dst, err = appendElement(dst, sch[i].name, r, sch[i].typ); err != nil {
			return nil, fmt.Errorf("%s: %w", sch[i].name, err)
		}
		if r.next('}') {
			if i+1 != len(sch) {
				return nil, fmt.Errorf("%d fields in the schema, %d in the object", len(sch), i+1)
			}
			return closeDocument(dst, start)
		}
		if !r.next(',') {
			return nil, fmt.Errorf("%w: no ',' between members", errJSON)
		}
	}
}

// appendByName appends the BSON document of the JSON object r reads, whose fields
// sch types, taking its members by name in the order of sch. The object of a whole
// document (top) holds its schema, in "$s".
func appendByName(dst []byte, r *reader, sch schema, top bool) ([]byte, error) {
	members, err := r.object()
	if err != nil {
		return nil, err
	}
	if top {
		fields := members[:0:0]
		sch = nil
		found := false
		for _, m := range members {
			if m.name != "$s" {
				fields = append(fields, m)
				continue
			}
			sr := reader{data: m.value}
			if sch, err = sr.schema(); err != nil {
				return nil, fmt.Errorf("schema: %w", err)
			}
			found = true
		}
		if !found {
			return nil, errors.New("a stored document without its schema")
		}
		members = fields
	}
	if len(sch) != len(members) {
		return nil, fmt.Errorf("%d fields in the schema, %d in the object", len(sch), len(members))
	}
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	for _, p := range sch {
		j := slices.IndexFunc(members, func(m member) bool { return m.name == string(p.name) })
		if j < 0 {
			return nil, fmt.Errorf("no field %q", p.name)
		}
		vr := reader{data: members[j].value}
		if dst, err = appendElement(dst, p.name, &vr, p.typ); err != nil {
			return nil, fmt.Errorf("%s: %w", p.name, err)
		}
		if err := vr.end(); err != nil {
			return nil, err
		}
	}
	return closeDocument(dst, start)
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

// appendElement appends the BSON element key of the JSON value r reads, of type t.
func appendElement(dst []byte, key []byte, r *reader, t *valueType) ([]byte, error) {
	if r.null() {
		return appendCString(append(dst, byte(bson.TypeNull)), key)
	}
	if t == nil {
		return nil, errors.New("a value without its type")
	}
	dst, err := appendCString(append(dst, byte(t.bson)), key)
	if err != nil {
		return nil, err
	}
	return appendValue(dst, r, t)
}

// appendValue appends the BSON value of the JSON value r reads, of type t.
func appendValue(dst []byte, r *reader, t *valueType) ([]byte, error) {
	switch t.bson {
	case bson.TypeEmbeddedDocument:
		return appendObject(dst, r, t.object)
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
		id := make([]byte, hex.DecodedLen(len(s)))
		if _, err := hex.Decode(id, s); err != nil {
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
		return appendCString(dst, []byte(*t.options))
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

// appendArray appends the BSON array of the JSON array r reads, of type t: a
// document whose keys are the items' positions.
func appendArray(dst []byte, r *reader, t *valueType) ([]byte, error) {
	if !r.next('[') {
		return nil, fmt.Errorf("%w: not an array", errJSON)
	}
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	if r.next(']') {
		if len(t.items) != 0 {
			return nil, fmt.Errorf("no items, %d types", len(t.items))
		}
		return closeDocument(dst, start)
	}
	var key []byte
	for i := 0; ; i++ {
		if i >= len(t.items) {
			return nil, fmt.Errorf("more items than the %d types", len(t.items))
		}
		key = strconv.AppendInt(key[:0], int64(i), 10)
		var err error
		if dst, err = appendElement(dst, key, r, t.items[i]); err != nil {
			return nil, err
		}
		if r.next(']') {
			if i+1 != len(t.items) {
				return nil, fmt.Errorf("%d items, %d types", i+1, len(t.items))
			}
			return closeDocument(dst, start)
		}
		if !r.next(',') {
			return nil, fmt.Errorf("%w: no ',' between items", errJSON)
		}
	}
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
	n, err := base64.StdEncoding.Decode(b, s)
	if err != nil {
		return nil, err
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	return append(append(dst, *t.subtype), b[:n]...), nil
}

// appendCString appends s and its terminating zero.
func appendCString(dst []byte, s []byte) ([]byte, error) {
	if bytes.IndexByte(s, 0) >= 0 {
		return nil, errors.New("a name holding a zero byte")
	}
	return append(append(dst, s...), 0), nil
}

// schema reads a schema: {"p": {<field>: <type>, ...}, "$k": [<field>, ...]}, or {}
// for an object without fields. Its names are read in place, in r's data.
func (r *reader) schema() (schema, error) {
	var props, keys schema
	err := r.members(func(name []byte) error {
		switch string(name) {
		case "p":
			props = make(schema, 0, 16)
			return r.members(func(field []byte) error {
				t, err := r.valueType()
				if err != nil {
					return fmt.Errorf("%s: %w", field, err)
				}
				props = append(props, property{name: field, typ: t})
				return nil
			})
		case "$k":
			keys = make(schema, 0, 16)
			return r.items(func() error {
				key, err := r.str()
				if err != nil {
					return err
				}
				keys = append(keys, property{name: key})
				return nil
			})
		}
		return fmt.Errorf("unknown field %q", name)
	})
	if err != nil {
		return nil, err
	}
	// The fields in the order of "$k", typed by "p": the same order, as the store
	// writes them, or found by name.
	same := len(keys) == len(props)
	for i := 0; same && i < len(keys); i++ {
		same = bytes.Equal(keys[i].name, props[i].name)
	}
	if same {
		return props, nil
	}
	for i, k := range keys {
		if j := slices.IndexFunc(props, func(p property) bool { return bytes.Equal(p.name, k.name) }); j >= 0 {
			keys[i].typ = props[j].typ
		}
	}
	return keys, nil
}

// valueType reads the type of a value. A type that is a name alone is the shared one
// of scalars.
func (r *reader) valueType() (*valueType, error) {
	var (
		scalar *valueType
		t      valueType
	)
	err := r.members(func(field []byte) error {
		var err error
		switch string(field) {
		case "t":
			s, err := r.str()
			if err != nil {
				return err
			}
			var ok bool
			if scalar, ok = scalars[string(s)]; !ok {
				return fmt.Errorf("unknown type %q", s)
			}
		case "$s":
			t.object, err = r.schema()
		case "i":
			t.items = make([]*valueType, 0, 8)
			err = r.items(func() error {
				item, err := r.valueType()
				t.items = append(t.items, item)
				return err
			})
		case "s":
			n, err := strconv.ParseUint(string(r.number()), 10, 8)
			if err != nil {
				return err
			}
			sub := byte(n)
			t.subtype = &sub
		case "o":
			options, err := r.str()
			if err != nil {
				return err
			}
			o := string(options)
			t.options = &o
		default:
			return fmt.Errorf("unknown field %q", field)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if scalar == nil {
		return nil, errors.New("a type without its name")
	}
	if t.object == nil && t.items == nil && t.subtype == nil && t.options == nil {
		return scalar, nil // nothing to tell it apart
	}
	composite := new(valueType)
	*composite = t
	composite.bson = scalar.bson
	return composite, nil
}
