package handlers

import (
	"strings"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/models"
)

// CheckRequestLine returns middleware that answers 400 malformed_request to a
// request whose path or query is not valid UTF-8, as sent or percent-decoded,
// before anything else is done for it: no key is looked up and no event is written
// for it, since what it names could not be recorded as it was sent. It is counted
// in refusals instead, one event per client address and minute.
func CheckRequestLine(refusals *audit.Refusals) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if !validRequestLine(c) {
			refusals.Add(audit.Refusal{Action: audit.MalformedAction, Status: fiber.StatusBadRequest, ClientIP: strings.Clone(c.IP())},
				"malformed_request")
			return models.ErrMalformedRequest
		}
		return c.Next()
	}
}

// validRequestLine reports whether the request's path and query are valid UTF-8 as
// sent and percent-decoded.
func validRequestLine(c *fiber.Ctx) bool {
	uri := c.Request().URI()
	if !utf8.Valid(c.Request().RequestURI()) || !utf8.Valid(uri.PathOriginal()) || !utf8.Valid(uri.Path()) ||
		!utf8.Valid(uri.QueryString()) {
		return false
	}
	valid := true
	uri.QueryArgs().VisitAll(func(k, v []byte) {
		valid = valid && utf8.Valid(k) && utf8.Valid(v)
	})
	return valid
}
