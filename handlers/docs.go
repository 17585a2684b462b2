package handlers

import (
	"encoding/json"
	"fmt"

	"github.com/gofiber/fiber/v2"
	"github.com/swaggo/swag"
)

// OpenAPIDocument returns the OpenAPI document the server serves: the one swag
// generated into docs/swagger.json. swag's registered copy is a template that always
// writes "host" and "schemes", empty when the annotations name none (an empty host is
// a schema error); they are left out, as in docs/swagger.json. It returns an error
// when no document is registered or it is not JSON.
func OpenAPIDocument() ([]byte, error) {
	raw, err := swag.ReadDoc()
	if err != nil {
		return nil, fmt.Errorf("read the OpenAPI document: %w", err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		return nil, fmt.Errorf("parse the OpenAPI document: %w", err)
	}
	for key, empty := range map[string][]string{"host": {`""`}, "schemes": {"[]", "null"}} {
		for _, e := range empty {
			if string(doc[key]) == e {
				delete(doc, key)
			}
		}
	}
	return EncodeJSON(doc)
}

// Document returns a handler answering doc, the OpenAPI document.
func Document(doc []byte) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Type("json")
		return c.Send(doc)
	}
}
