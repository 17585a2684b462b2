package handlers

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/limiter"

	"github.com/clinic/interactions/apikey"
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
// makes. A request it refuses (401) is counted in the handler's AuthFailures (see
// Services), not audited on its own.
func (h *Handler) Authenticate(c *fiber.Ctx) error {
	token, ok := strings.CutPrefix(c.Get(fiber.HeaderAuthorization), "Bearer ")
	if !ok {
		token = "" // looked up all the same, to take the path of any bad key
	}
	p, err := h.keys.Authenticate(c.UserContext(), token)
	if errors.Is(err, models.ErrUnauthenticated) && h.authFailures != nil {
		h.authFailures.fail(c.IP(), err)
	}
	if err != nil {
		return err
	}
	c.Locals(principalKey, p)
	c.SetUserContext(models.WithAuthor(c.UserContext(), models.Author{Key: p.Name, RequestID: requestID(c)}))
	return c.Next()
}

// AuthFailures counts the failed authentications of each client address: past
// limit within a minute of its first, the address's requests are refused with 429
// and Retry-After, before their key is looked up, until that minute ends. Every
// failure and every refusal is counted in the audit trail's refusals (see
// audit.Refusals): one event per address and minute, not one per request. A zero
// limit turns the refusals off; the failures are counted all the same.
type AuthFailures struct {
	limit    int
	refusals *audit.Refusals
	now      func() time.Time

	mu    sync.Mutex
	addrs map[string]*failures
}

// failures are an address's failed authentications since since.
type failures struct {
	count int
	since time.Time
}

// maxFailingAddrs bounds how many addresses AuthFailures follows at once: past it,
// the failures of further addresses are counted in the trail, not held against them.
const maxFailingAddrs = 100_000

// NewAuthFailures returns AuthFailures allowing limit failed authentications a
// minute per address (0: no limit), counting them in refusals, reading the time
// from now (time.Now when nil).
func NewAuthFailures(limit int, refusals *audit.Refusals, now func() time.Time) *AuthFailures {
	if now == nil {
		now = time.Now
	}
	return &AuthFailures{limit: limit, refusals: refusals, now: now, addrs: map[string]*failures{}}
}

// Limit is middleware that refuses, with 429 and Retry-After, the requests of an
// address past its limit of failed authentications, before anything else is done
// for them.
func (f *AuthFailures) Limit(c *fiber.Ctx) error {
	if f.limit <= 0 {
		return c.Next()
	}
	ip := c.IP()
	if wait := f.wait(ip); wait > 0 {
		f.refusals.Add(audit.Refusal{Action: audit.RefusedAction, Status: fiber.StatusTooManyRequests, ClientIP: strings.Clone(ip)},
			"auth_failure_limit")
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		return models.ErrRateLimited
	}
	return c.Next()
}

// wait returns how long ip is refused for: 0 when it is not.
func (f *AuthFailures) wait(ip string) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.addrs[ip]
	if a == nil || a.count < f.limit {
		return 0
	}
	return max(a.since.Add(time.Minute).Sub(f.now()), 0)
}

// fail counts a failed authentication from ip, whose error is err: for a revoked
// key (an *apikey.RevokedError), under the key's name.
func (f *AuthFailures) fail(ip string, err error) {
	ip = strings.Clone(ip)
	refusal, reason := audit.Refusal{Action: audit.UnauthenticatedAction, Status: fiber.StatusUnauthorized, ClientIP: ip}, "unauthenticated"
	var revoked *apikey.RevokedError
	if errors.As(err, &revoked) {
		refusal.KeyName, reason = revoked.Name, "revoked_key"
	}
	f.refusals.Add(refusal, reason)
	if f.limit <= 0 {
		return
	}
	now := f.now()
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.addrs[ip]
	if a != nil && now.Sub(a.since) >= time.Minute {
		a = nil
	}
	if a == nil {
		if len(f.addrs) >= maxFailingAddrs {
			for addr, old := range f.addrs {
				if now.Sub(old.since) >= time.Minute {
					delete(f.addrs, addr)
				}
			}
			if len(f.addrs) >= maxFailingAddrs {
				return
			}
		}
		a = &failures{since: now}
		f.addrs[ip] = a
	}
	a.count++
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
			refusals.Add(audit.Refusal{Action: audit.RefusedAction, Status: fiber.StatusTooManyRequests, ClientIP: strings.Clone(c.IP())},
				"refused")
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
