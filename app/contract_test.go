package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/clinic/interactions/handlers"
)

// contract is the OpenAPI document the server serves, converted to OpenAPI 3 to be
// checked with kin-openapi, and its router. Every request the end-to-end tests send
// and every answer they get are checked against it (checkContract), so that the
// document cannot drift from what the service does.
type contract struct {
	doc    *openapi3.T
	router routers.Router
}

// loadContract reads the served document once for the whole test binary.
var loadContract = sync.OnceValues(func() (*contract, error) {
	data, err := handlers.OpenAPIDocument()
	if err != nil {
		return nil, err
	}
	var doc2 openapi2.T
	if err := json.Unmarshal(data, &doc2); err != nil {
		return nil, fmt.Errorf("read the document as Swagger 2.0: %w", err)
	}
	doc, err := openapi2conv.ToV3(&doc2)
	if err != nil {
		return nil, fmt.Errorf("convert to OpenAPI 3: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("the converted document is not valid OpenAPI 3: %w", err)
	}
	// The document names no host: the service runs where a clinic puts it.
	doc.Servers = openapi3.Servers{{URL: "/"}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &contract{doc: doc, router: router}, nil
})

// documentedHeaders are the response headers of the API's own that an answer may
// carry only where the document declares them.
var documentedHeaders = []string{"Location", "ETag", "Retry-After", "Idempotent-Replayed", "X-Request-Id", "WWW-Authenticate"}

// checkContract fails t when the exchange of req (with body) and its answer breaks
// the served OpenAPI document:
//   - a request to a path and method the document lacks must answer 404 or 405;
//   - a request the document rejects must not succeed: the document must not refuse
//     what the service accepts;
//   - every answer must be one the document declares for the operation, with a body
//     that fits its schema, and with none of the API's headers left undeclared.
//
// Requests the tests send beyond the contract on purpose (see doBeyondContract) skip
// the request check, never the answer's.
func checkContract(t testing.TB, req *http.Request, body []byte, status int, header http.Header, respBody []byte, requestChecked bool) {
	t.Helper()
	c, err := loadContract()
	if err != nil {
		t.Fatalf("OpenAPI document: %v", err)
	}
	if !strings.HasPrefix(req.URL.Path, "/api/v1") && !strings.HasPrefix(req.URL.Path, "/fhir/R4") && req.URL.Path != "/healthz" && req.URL.Path != "/readyz" {
		return // the documentation itself
	}
	if req.Method == http.MethodOptions && req.Header.Get("Access-Control-Request-Method") != "" {
		return // a browser's CORS preflight, answered by the CORS middleware, not an operation
	}
	req = req.Clone(context.Background())
	req.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		if status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
			t.Errorf("contract: %s %s is not in the document, but answered %d", req.Method, req.URL.Path, status)
		}
		if status == http.StatusMethodNotAllowed && header.Get("Allow") == "" {
			t.Errorf("contract: a 405 without Allow")
		}
		return
	}
	options := &openapi3filter.Options{
		MultiError:            true,
		IncludeResponseStatus: true,
		AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
			if !strings.HasPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer ") {
				return errors.New("no bearer key")
			}
			return nil
		},
	}
	input := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: options}
	if requestChecked {
		if err := openapi3filter.ValidateRequest(context.Background(), input); err != nil && status < 400 {
			t.Errorf("contract: the document rejects %s %s, which answered %d:\n%v\nbody: %s", req.Method, req.URL, status, err, body)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: input, Status: status, Header: header, Options: options}
	out.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("contract: the answer to %s %s breaks the document:\n%v\nstatus %d, body: %s", req.Method, req.URL, err, status, respBody)
	}
	declared := route.Operation.Responses.Status(status)
	if declared == nil {
		return // reported above
	}
	for _, name := range documentedHeaders {
		if header.Get(name) == "" {
			continue
		}
		if _, ok := declared.Value.Headers[http.CanonicalHeaderKey(name)]; !ok && !hasHeader(declared.Value.Headers, name) {
			t.Errorf("contract: %s %s answered %d with %s, which the document does not declare", req.Method, route.Path, status, name)
		}
	}
}

func hasHeader(headers openapi3.Headers, name string) bool {
	return slices.ContainsFunc(mapKeys(headers), func(k string) bool { return strings.EqualFold(k, name) })
}

func mapKeys(m openapi3.Headers) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

// TestContractDocument checks the document itself: the served one is the generated
// docs/swagger.json, it converts to valid OpenAPI 3, and every operation has an
// operationId and a description.
func TestContractDocument(t *testing.T) {
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	served := e.do("GET", "/docs/doc.json", "")
	file, err := os.ReadFile("../docs/swagger.json")
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	if json.Unmarshal(served.body, &a) != nil || json.Unmarshal(file, &b) != nil || jsonText(t, a) != jsonText(t, b) {
		t.Errorf("the served /docs/doc.json differs from docs/swagger.json")
	}
	ids := map[string]bool{}
	for path, item := range c.doc.Paths.Map() {
		for method, op := range item.Operations() {
			switch {
			case op.OperationID == "":
				t.Errorf("%s %s has no operationId", method, path)
			case ids[op.OperationID]:
				t.Errorf("operationId %s is used twice", op.OperationID)
			case op.Description == "":
				t.Errorf("%s %s has no description", method, path)
			}
			ids[op.OperationID] = true
		}
	}
	if len(ids) < 20 {
		t.Errorf("%d operations", len(ids))
	}
}
