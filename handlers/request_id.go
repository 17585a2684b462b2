package handlers

import (
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
)

// Locals keys of a request's ids.
const (
	requestIDKey       = "request_id"
	clientRequestIDKey = "client_request_id"
)

// HeaderRequestID names the header that carries a request's id.
const HeaderRequestID = "X-Request-Id"

// maxClientRequestID bounds the id a client may give its request.
const maxClientRequestID = 64

// RequestID is middleware that gives every request an id of the server's own, sent
// back in X-Request-Id and named by the logs and the audit trail. An X-Request-Id the
// client sends is kept apart, as the client's id, when it is at most 64 letters,
// digits and '.', '_', ':', '-', '/'; anything else is dropped, so that a client can
// neither choose the server's id nor write arbitrary text into logs and events.
func RequestID(c *fiber.Ctx) error {
	if err := NameRequest(c); err != nil {
		return err
	}
	return c.Next()
}

// NameRequest does RequestID's work for a request that runs no middleware (see
// app.Server's handler of unknown methods). It returns an error only when the
// system's random source fails.
func NameRequest(c *fiber.Ctx) error {
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	c.Locals(requestIDKey, id.String())
	if client := c.Get(HeaderRequestID); client != "" && validClientRequestID(client) {
		c.Locals(clientRequestIDKey, strings.Clone(client))
	}
	c.Set(HeaderRequestID, id.String())
	return nil
}

func validClientRequestID(s string) bool {
	if len(s) > maxClientRequestID {
		return false
	}
	for _, b := range []byte(s) {
		alnum := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
		if !alnum && !strings.ContainsRune("._:-/", rune(b)) {
			return false
		}
	}
	return true
}

// requestID returns the id RequestID gave this request.
func requestID(c *fiber.Ctx) string {
	id, _ := c.Locals(requestIDKey).(string)
	return id
}

// RequestIDOf returns the id RequestID gave the request c serves, for the access log.
func RequestIDOf(c *fiber.Ctx) string { return requestID(c) }

// clientRequestID returns the id the client gave its request, when it kept one.
func clientRequestID(c *fiber.Ctx) string {
	id, _ := c.Locals(clientRequestIDKey).(string)
	return id
}
