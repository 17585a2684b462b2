package handlers

import (
	"context"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/idempotency"
	"github.com/clinic/interactions/models"
)

// HeaderIdempotencyKey names the header that makes a create safe to retry.
const HeaderIdempotencyKey = "Idempotency-Key"

// replayedHeaders are the response headers a replay repeats.
var replayedHeaders = []string{fiber.HeaderContentType, fiber.HeaderLocation, fiber.HeaderETag}

// once runs create, which answers a create request, under the request's
// Idempotency-Key when it has one (see package idempotency): a retry gets the first
// answer again, with Idempotent-Replayed: true, and create does not run. create gets
// the id reserved for the record it makes when the client names none; the same on
// every retry of the request.
func (h *Handler) once(c *fiber.Ctx, create func(ctx context.Context, reservedID string) error) error {
	key := c.Get(HeaderIdempotencyKey)
	if key == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return err
		}
		return create(c.UserContext(), id.String())
	}
	if !validIdempotencyKey(key) {
		return models.Invalid(HeaderIdempotencyKey, "must be 1-255 printable ASCII characters")
	}
	// Keys are scoped to the route and the API key: no one replays another's answer.
	route := c.Route().Path
	req := idempotency.Request{
		ID:          route + " " + principal(c).Name + " " + key,
		Fingerprint: idempotency.Fingerprint(c.Method(), route, c.Body()),
	}
	var failure error
	answer, replayed, err := h.idempotency.Do(c.UserContext(), req, func(ctx context.Context, reservedID string) models.IdempotentAnswer {
		var answer models.IdempotentAnswer
		if failure = create(ctx, reservedID); failure == nil {
			answer = sent(c)
		} else if kept, err := errorAnswer(failure); err == nil {
			answer = kept
		} else {
			return models.IdempotentAnswer{Status: fiber.StatusInternalServerError}
		}
		// Kept with the answer, so that a replay is audited with whose data it shows.
		answer.InsuranceNo, answer.InteractionID = audit.Noted(ctx)
		return answer
	})
	switch {
	case err != nil:
		return err
	case replayed:
		audit.Touch(c.UserContext(), answer.InsuranceNo, answer.InteractionID)
		for name, v := range answer.Headers {
			c.Set(name, v)
		}
		c.Set("Idempotent-Replayed", "true")
		return c.Status(answer.Status).SendString(answer.Body)
	}
	// The error is answered as it was kept.
	return failure
}

// sent returns the answer c holds, as a retry gets it again.
func sent(c *fiber.Ctx) models.IdempotentAnswer {
	headers := map[string]string{}
	for _, name := range replayedHeaders {
		if v := c.GetRespHeader(name); v != "" {
			headers[name] = v
		}
	}
	return models.IdempotentAnswer{Status: c.Response().StatusCode(), Headers: headers, Body: string(c.Response().Body())}
}

func validIdempotencyKey(key string) bool {
	if len(key) > 255 {
		return false
	}
	for _, b := range []byte(key) {
		if b < 0x21 || b > 0x7e {
			return false
		}
	}
	return true
}
