package app_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

// The export answers NDJSON, which kin-openapi cannot decode: checkContract checks
// such an answer line by line against the schema the document gives it.
func init() {
	for _, mediaType := range []string{"application/x-ndjson", "application/fhir+ndjson"} {
		openapi3filter.RegisterBodyDecoder(mediaType, decodeNDJSON)
	}
}

// decodeNDJSON checks every line of body against schema and returns the first, to be
// checked again as the whole answer. It returns an error for a line that is not
// JSON or does not fit.
func decodeNDJSON(body io.Reader, _ http.Header, schema *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
	sc := bufio.NewScanner(body)
	sc.Buffer(nil, 16<<20)
	var first any
	for n := 1; sc.Scan(); n++ {
		var v any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if err := schema.Value.VisitJSON(v, openapi3.VisitAsResponse()); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if first == nil {
			first = v
		}
	}
	if first == nil {
		return nil, fmt.Errorf("no line")
	}
	return first, sc.Err()
}
