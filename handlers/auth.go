package handlers

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"github.com/clinic/interactions/models"
)

// principalKey is the Locals key of the request's models.Principal.
const principalKey = "principal"

// keyPrefix starts every API key, so that a leaked one is easy to recognise.
const keyPrefix = "ck_"

// NewAPIKey returns a new random API key (256 bits) and its hash. It returns an error
// only when the system's random source fails.
func NewAPIKey() (key, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("random key: %w", err)
	}
	key = keyPrefix + base64.RawURLEncoding.EncodeToString(b)
	return key, HashAPIKey(key), nil
}

// HashAPIKey returns the hash under which key is stored.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// principal returns who the request acts as; the zero Principal before Authenticate.
func principal(c *fiber.Ctx) models.Principal {
	p, _ := c.Locals(principalKey).(models.Principal)
	return p
}

// Authenticate returns middleware that lets a request through only with
// "Authorization: Bearer <key>" naming a stored, unrevoked key, and records the key as
// the request's principal. A missing, malformed, unknown or revoked key takes the same
// path to the same 401: the presented key is always hashed and looked up, and the
// stored hash compared in constant time.
func (h *Handlers) Authenticate(logger *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) error {
		token, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
		hash := HashAPIKey(token)
		key, err := h.store.APIKeyByHash(c.UserContext(), hash)
		if err != nil && !errors.Is(err, models.ErrNotFound) {
			return err
		}
		valid := subtle.ConstantTimeCompare([]byte(key.Hash), []byte(hash)) == 1
		if !ok || !valid || key.RevokedAt != nil {
			return models.ErrUnauthenticated
		}
		now := h.now()
		if key.LastUsedAt == nil || now.Sub(*key.LastUsedAt) > time.Minute {
			if err := h.store.TouchAPIKey(c.UserContext(), hash, models.StoreTime(now)); err != nil {
				logger.WarnContext(c.UserContext(), "record key use", "request_id", requestID(c), "error", err.Error())
			}
		}
		c.Locals(principalKey, models.Principal{Name: key.Name, Role: key.Role})
		return c.Next()
	}
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

// KeyName returns the name of the API key the request was made with, or "".
func KeyName(c *fiber.Ctx) string { return principal(c).Name }
