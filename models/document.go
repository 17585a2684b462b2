package models

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Document is a parsed JSON object: its fields in the order given, objects as
// Document, arrays as bson.A, numbers as ParseNumber reads them.
type Document = bson.D

// FieldIndex returns the position in d of its field key, the first when the key
// repeats, or -1 when d has no such field.
func FieldIndex(d bson.D, key string) int {
	for i, e := range d {
		if e.Key == key {
			return i
		}
	}
	return -1
}

// MaxDepth is the deepest nesting of objects and arrays a document may have;
// the document itself is level 1.
const MaxDepth = 32

// MalformedError reports a request body that is not a single well-formed JSON object.
type MalformedError struct {
	Reason string
}

// Error returns the reason.
func (e *MalformedError) Error() string { return e.Reason }

// ParseDocument decodes data, which must hold exactly one JSON object, into an ordered
// BSON document. Objects become bson.D in their original order, arrays bson.A, integers
// int32 (int64 when they need it) and other numbers float64.
//
// It returns a *MalformedError when data is not valid UTF-8, not valid JSON or not a
// single object, and a *ValidationError when a field name could act as an operator
// (starts with '$', contains '.' or NUL, or is empty), when a key repeats within an
// object, when a number does not fit 64 bits, or when nesting exceeds MaxDepth.
func ParseDocument(data []byte) (bson.D, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &MalformedError{Reason: "request body is empty; a JSON object is required"}
	}
	if !utf8.Valid(data) {
		return nil, &MalformedError{Reason: "request body is not valid UTF-8"}
	}
	p := parser{dec: json.NewDecoder(bytes.NewReader(data)), errs: &ValidationError{}}
	p.dec.UseNumber()

	tok, err := p.dec.Token()
	if err != nil {
		return nil, p.malformed(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, &MalformedError{Reason: "request body must be a JSON object"}
	}
	doc, err := p.object("", 1)
	if err != nil {
		return nil, err
	}
	if _, err := p.dec.Token(); err != io.EOF {
		return nil, &MalformedError{Reason: "request body must hold a single JSON object and nothing after it"}
	}
	if err := p.errs.Err(); err != nil {
		return nil, err
	}
	return doc, nil
}

type parser struct {
	dec  *json.Decoder
	errs *ValidationError
}

func (p *parser) malformed(err error) error {
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return &MalformedError{Reason: fmt.Sprintf("request body is not valid JSON (error at byte %d)", syntax.Offset)}
	}
	return &MalformedError{Reason: "request body is not valid JSON (it ends too early)"}
}

// object reads the members of an object whose opening brace has been consumed.
func (p *parser) object(path string, depth int) (bson.D, error) {
	if depth > MaxDepth {
		return nil, Invalid(path, fmt.Sprintf("nesting is deeper than %d levels", MaxDepth))
	}
	doc := bson.D{}
	seen := map[string]bool{}
	for p.dec.More() {
		tok, err := p.dec.Token()
		if err != nil {
			return nil, p.malformed(err)
		}
		key, _ := tok.(string)
		fieldPath := joinPath(path, key)
		if msg := checkFieldName(key); msg != "" {
			p.errs.Add(fieldPath, msg)
		}
		if seen[key] {
			p.errs.Add(fieldPath, "field appears more than once")
		}
		seen[key] = true
		v, err := p.value(fieldPath, depth)
		if err != nil {
			return nil, err
		}
		doc = append(doc, bson.E{Key: key, Value: v})
	}
	if _, err := p.dec.Token(); err != nil { // closing brace
		return nil, p.malformed(err)
	}
	return doc, nil
}

func (p *parser) array(path string, depth int) (bson.A, error) {
	if depth > MaxDepth {
		return nil, Invalid(path, fmt.Sprintf("nesting is deeper than %d levels", MaxDepth))
	}
	arr := bson.A{}
	for i := 0; p.dec.More(); i++ {
		v, err := p.value(fmt.Sprintf("%s[%d]", path, i), depth)
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
	}
	if _, err := p.dec.Token(); err != nil { // closing bracket
		return nil, p.malformed(err)
	}
	return arr, nil
}

// value reads one value found at depth (the depth of its container).
func (p *parser) value(path string, depth int) (any, error) {
	tok, err := p.dec.Token()
	if err != nil {
		return nil, p.malformed(err)
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			return p.object(path, depth+1)
		}
		return p.array(path, depth+1)
	case json.Number:
		n, err := ParseNumber(t)
		if err != nil {
			p.errs.Add(path, err.Error())
		}
		return n, nil
	default: // string, bool, nil
		return t, nil
	}
}

// ParseNumber returns a JSON number as the service stores it: an integer as int32
// when it fits (mongosh shows it as a plain number, unlike a Long) and as int64
// otherwise, any other number as float64. It returns an error for an integer beyond
// 64 bits or a number beyond float64's range.
func ParseNumber(n json.Number) (any, error) {
	s := string(n)
	if !strings.ContainsAny(s, ".eE") {
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, errors.New("integer does not fit in 64 bits")
		}
		if i >= math.MinInt32 && i <= math.MaxInt32 {
			return int32(i), nil
		}
		return i, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return nil, errors.New("number is out of range")
	}
	return f, nil
}

// checkFieldName returns why name cannot be stored as a field name, or "".
func checkFieldName(name string) string {
	switch {
	case name == "":
		return "field names must not be empty"
	case strings.HasPrefix(name, "$"):
		return "field names must not start with '$'"
	case strings.Contains(name, "."):
		return "field names must not contain '.'"
	case strings.ContainsRune(name, 0):
		return "field names must not contain NUL"
	}
	return ""
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
