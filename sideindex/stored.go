package sideindex

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

// storedVisit holds the fields of a stored interaction the analytics read, as the
// table holds them. Its json tags are the stored names of models.Interaction's bson
// tags.
type storedVisit struct {
	ID           string          `json:"_id"`
	InsuranceNo  string          `json:"insurance_no"`
	Ailment      string          `json:"ailment"`
	Symptoms     string          `json:"symptoms"`
	Date         int64           `json:"interaction_date"`
	Metrics      json.RawMessage `json:"metrics"`
	Remarks      string          `json:"remarks"`
	HealthStatus *float64        `json:"health_status"`
	QA           json.RawMessage `json:"qa"`
	Label        []string        `json:"label"`
	Status       string          `json:"status"`
	AilmentKey   string          `json:"ailment_key"`
	SearchTokens []string        `json:"search_tokens"`
	// tokens, when set, holds search_tokens as stored, not decoded yet.
	tokens json.RawMessage
}

// visitFields are the top-level fields of storedVisit, by stored name.
var visitFields = []string{"_id", "insurance_no", "ailment", "symptoms", "interaction_date", "metrics", "remarks",
	"health_status", "qa", "label", "status", "ailment_key", "search_tokens"}

// readVisit reads a stored interaction's JSON, which the store writes valid, as
// json.Unmarshal reads it into a storedVisit, but for its search tokens, which it
// decodes only when Tokens asks for them. It walks the document once, skipping
// what it does not need, and decodes the fields storedVisit holds by themselves;
// anything out of the ordinary (escaped names, values of other types, names that
// differ from a field's in case alone) it leaves to json.Unmarshal, whose errors it
// returns.
func readVisit(data []byte) (storedVisit, error) {
	var v storedVisit
	ok := eachField(data, func(name, raw []byte) bool {
		switch string(name) {
		case "_id":
			return readString(raw, &v.ID)
		case "insurance_no":
			return readString(raw, &v.InsuranceNo)
		case "ailment":
			return readString(raw, &v.Ailment)
		case "symptoms":
			return readString(raw, &v.Symptoms)
		case "remarks":
			return readString(raw, &v.Remarks)
		case "status":
			return readString(raw, &v.Status)
		case "ailment_key":
			return readString(raw, &v.AilmentKey)
		case "interaction_date":
			if isNull(raw) {
				return true
			}
			n, err := strconv.ParseInt(string(raw), 10, 64)
			v.Date = n
			return err == nil
		case "health_status":
			if isNull(raw) {
				v.HealthStatus = nil
				return true
			}
			f, err := strconv.ParseFloat(string(raw), 64)
			v.HealthStatus = &f
			return err == nil
		case "metrics":
			v.Metrics = raw
		case "qa":
			v.QA = raw
		case "label":
			v.Label = nil
			return isNull(raw) || json.Unmarshal(raw, &v.Label) == nil
		case "search_tokens":
			v.tokens, v.SearchTokens = raw, nil
			return isNull(raw) || stringArray(raw)
		default:
			// json.Unmarshal matches a name to a field whatever its case.
			return !foldsToOneOf(visitFields, name)
		}
		return true
	})
	if ok {
		return v, nil
	}
	v = storedVisit{}
	err := json.Unmarshal(data, &v)
	return v, err
}

// Tokens returns the visit's search tokens.
func (v *storedVisit) Tokens() []string {
	if v.tokens != nil {
		raw := v.tokens
		v.tokens = nil
		if !isNull(raw) && json.Unmarshal(raw, &v.SearchTokens) != nil {
			v.SearchTokens = nil // as json.Unmarshal leaves an array it cannot read
		}
	}
	return v.SearchTokens
}

// foldsToOneOf reports whether name is one of names, compared as
// json.Unmarshal compares a JSON name with a field's: without regard to case (any
// name that is not ASCII is taken for one of them).
func foldsToOneOf(names []string, name []byte) bool {
	for _, c := range name {
		if c >= utf8.RuneSelf {
			return true
		}
	}
	for _, n := range names {
		if strings.EqualFold(n, string(name)) {
			return true
		}
	}
	return false
}

// readString reads raw, a JSON value, into *s as json.Unmarshal does (null leaves
// *s as it is), and reports false for a value that is not a string.
func readString(raw []byte, s *string) bool {
	switch {
	case isNull(raw):
		return true
	case len(raw) < 2 || raw[0] != '"':
		return false
	case bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw):
		*s = string(raw[1 : len(raw)-1])
		return true
	}
	return json.Unmarshal(raw, s) == nil
}

func isNull(raw []byte) bool { return string(raw) == "null" }

// eachField calls field with the name and the raw value of each member of the JSON
// object data, in order, while it returns true. It reports false when field did, and
// when data is not an object whose names hold no escapes; the values are skipped
// over, not checked (the store writes valid JSON).
func eachField(data []byte, field func(name, raw []byte) bool) bool {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return true
	}
	for i < len(data) {
		if data[i] != '"' {
			return false
		}
		end := stringEnd(data, i)
		if end < 0 {
			return false
		}
		name := data[i+1 : end-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			return false
		}
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return false
		}
		start := skipSpace(data, i+1)
		stop := valueEnd(data, start)
		if stop < 0 || !field(name, data[start:stop]) {
			return false
		}
		i = skipSpace(data, stop)
		if i >= len(data) {
			return false
		}
		switch data[i] {
		case '}':
			return true
		case ',':
			i = skipSpace(data, i+1)
		default:
			return false
		}
	}
	return false
}

// skipSpace returns the index of the first byte of data from i that is not JSON
// white space.
func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index just past the JSON string starting at data[i], or -1.
func stringEnd(data []byte, i int) int {
	for j := i + 1; ; {
		k := bytes.IndexByte(data[j:], '"')
		if k < 0 {
			return -1
		}
		j += k
		backslashes := 0
		for b := j - 1; b > i && data[b] == '\\'; b-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return j + 1
		}
		j++
	}
}

// valueEnd returns the index just past the JSON value starting at data[i], or -1.
func valueEnd(data []byte, i int) int {
	if i >= len(data) {
		return -1
	}
	switch data[i] {
	case '"':
		return stringEnd(data, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				end := stringEnd(data, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(data) && !delimiter(data[j]) {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// delimiter reports whether c ends a JSON number or literal.
func delimiter(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\r', '\n':
		return true
	}
	return false
}

// stringArray reports whether raw, a JSON array, holds only strings.
func stringArray(raw []byte) bool {
	if raw[0] != '[' {
		return false
	}
	i := skipSpace(raw, 1)
	if i < len(raw) && raw[i] == ']' {
		return true
	}
	for i < len(raw) && raw[i] == '"' {
		if i = stringEnd(raw, i); i < 0 {
			return false
		}
		i = skipSpace(raw, i)
		if i < len(raw) && raw[i] == ']' {
			return true
		}
		if i >= len(raw) || raw[i] != ',' {
			return false
		}
		i = skipSpace(raw, i+1)
	}
	return false
}

// storedObject reads an object of a stored document, as the table holds it in
// JSON, into a document with its fields in order, as models.ParseDocument reads
// it; nil for none. An object of plain fields (names and strings without escapes,
// numbers, booleans, nulls) it reads by itself; any other it leaves to
// models.ParseDocument, whose errors it returns.
func storedObject(data json.RawMessage) (bson.D, error) {
	if len(data) == 0 || isNull(data) {
		return nil, nil
	}
	if doc, ok := plainObject(data); ok {
		return doc, nil
	}
	return models.ParseDocument(data)
}

// plainObject reads data as models.ParseDocument does when it is an object of
// plain fields, and reports false otherwise.
func plainObject(data []byte) (bson.D, bool) {
	if !utf8.Valid(data) {
		return nil, false
	}
	doc := bson.D{}
	ok := eachField(data, func(name, raw []byte) bool {
		key := string(name)
		if key == "" || key[0] == '$' || strings.ContainsAny(key, ".\x00") || models.FieldIndex(doc, key) >= 0 {
			return false // ParseDocument says why
		}
		var value any
		switch {
		case raw[0] == '"':
			if bytes.IndexByte(raw, '\\') >= 0 {
				return false
			}
			value = string(raw[1 : len(raw)-1])
		case string(raw) == "true", string(raw) == "false":
			value = string(raw) == "true"
		case isNull(raw):
		case raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9':
			n, err := models.ParseNumber(json.Number(raw))
			if err != nil {
				return false
			}
			value = n
		default:
			return false
		}
		doc = append(doc, bson.E{Key: key, Value: value})
		return true
	})
	return doc, ok
}
