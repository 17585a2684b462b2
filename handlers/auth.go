package handlers

import (
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/models"
)

// principalKey is the Locals key of the request's models.Principal.
const principalKey = "principal"

// principal returns who the request acts as; the zero Principal before Authenticate.
func principal(c *fiber.Ctx) models.Principal {
	p, _ := c.Locals(principalKey).(models.Principal)
	return p
}

// KeyName returns the name of the API key the request was made with, or "".
func KeyName(c *fiber.Ctx) string { return principal(c).Name }

// Authenticate is middleware that lets a request through only with
// "Authorization: Bearer <key>" naming a stored, unrevoked key (see apikey), and
// records the key as the request's principal and as the author of the versions it
// makes.
func (h *Handler) Authenticate(c *fiber.Ctx) error {
	token, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	if !ok {
		token = "" // looked up all the same, to take the path of any bad key
	}
	p, err := h.keys.Authenticate(c.UserContext(), token)
	if err != nil {
		return err
	}
	c.Locals(principalKey, p)
	c.SetUserContext(models.WithAuthor(c.UserContext(), models.Author{Key: p.Name, RequestID: requestID(c)}))
	return c.Next()
}

// Allow returns middleware that lets through only principals with one of roles.
func Allow(roles ...models.Role) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if !slices.Contains(roles, principal(c).Role) {
			return models.ErrForbidden
		}
		return c.Next()
	}
}

// ClientRateLimit returns middleware allowing each client address perMinute requests
// a minute, before anything else is done for them; beyond that it answers 429 with
// Retry-After, and counts the refusal in refusals rather than writing an audit event
// for each (see audit.Refusals).
func ClientRateLimit(perMinute int, refusals *audit.Refusals) fiber.Handler {
	return limiter.New(limiter.Config{
		Max:          perMinute,
		Expiration:   time.Minute,
		KeyGenerator: func(c *fiber.Ctx) string { return c.IP() },
		LimitReached: func(c *fiber.Ctx) error {
			refusals.Add(strings.Clone(c.IP()))
			return models.ErrRateLimited
		},
	})
}

// RateLimit returns middleware allowing each API key perMinute requests a minute;
// beyond that it answers 429 with Retry-After.
func RateLimit(perMinute int) fiber.Handler {
	return limiter.New(limiter.Config{
		Max:          perMinute,
		Expiration:   time.Minute,
		KeyGenerator: func(c *fiber.Ctx) string { return principal(c).Name },
		LimitReached: func(*fiber.Ctx) error { return models.ErrRateLimited },
	})
}
