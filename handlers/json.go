package handlers

import (
	"bytes"
	"encoding/json"
)

// EncodeJSON encodes v as the API answers: JSON without the HTML escapes of
// encoding/json, so that "<key>" reads as "<key>", not "\u003ckey\u003e". JSON is
// never read as HTML: every response forbids content sniffing, and the one HTML
// answer, the report, is escaped by html/template.
func EncodeJSON(v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return unescapeHTML(data), nil
}

// htmlEscapes are the escapes encoding/json writes for '<', '>' and '&', also inside
// the output of values' own MarshalJSON methods, which SetEscapeHTML cannot reach.
var htmlEscapes = map[string]byte{`\u003c`: '<', `\u003e`: '>', `\u0026`: '&'}

// unescapeHTML turns the HTML escapes inside the strings of the JSON text data back
// into the characters they stand for. Only real escapes are turned: an escaped
// backslash followed by "u003c" is text, and stays.
func unescapeHTML(data []byte) []byte {
	if !bytes.Contains(data, []byte(`\u00`)) {
		return data
	}
	out := make([]byte, 0, len(data))
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' || i+1 >= len(data) {
			out = append(out, data[i])
			continue
		}
		if i+6 <= len(data) {
			if c, ok := htmlEscapes[string(data[i:i+6])]; ok {
				out = append(out, c)
				i += 5
				continue
			}
		}
		out = append(out, data[i], data[i+1]) // any other escape, kept whole
		i++
	}
	return out
}
