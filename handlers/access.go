package handlers

import (
	"sync"

	"github.com/gofiber/fiber/v2"

	"github.com/clinic/interactions/models"
)

// AllowNamed returns middleware that lets through principals with one of roles, and
// those with one of named only when names reports that the request names the
// patient it is about.
func AllowNamed(roles, named []models.Role, names func(*fiber.Ctx) bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		role := principal(c).Role
		for _, r := range roles {
			if r == role {
				return c.Next()
			}
		}
		for _, r := range named {
			if r == role && names(c) {
				return c.Next()
			}
		}
		return models.ErrForbidden
	}
}

// QueryNames returns a test for AllowNamed: whether the request's query gives param
// a value, such as a name to find a patient by, or the insurance number of the one
// patient a search is about.
func QueryNames(param string) func(*fiber.Ctx) bool {
	return func(c *fiber.Ctx) bool { return c.Query(param) != "" }
}

// RetryAfterHeavy is the Retry-After, in seconds, of a heavy request refused because
// its key has as many running as it may.
const RetryAfterHeavy = 1

// HeavyRequests bounds how many heavy requests (a chart drawn whole, an export, an
// analysis over every patient) each API key may have running at once.
type HeavyRequests struct {
	max     int
	mu      sync.Mutex
	running map[string]int
}

// NewHeavyRequests returns the bound of max heavy requests at once per API key; 0
// or less means none.
func NewHeavyRequests(max int) *HeavyRequests {
	return &HeavyRequests{max: max, running: map[string]int{}}
}

// heavySlotKey is the Locals key of a heavy request's slot.
const heavySlotKey = "heavy_slot"

// Limit is middleware that lets a request through while its key has fewer than the
// bound running, and holds a slot for it until it ends: until its handler returns,
// or, for an answer streamed after that (see Exports), until its stream is closed.
// Past the bound it answers 429 rate_limited with Retry-After.
func (l *HeavyRequests) Limit(c *fiber.Ctx) error {
	if l.max <= 0 {
		return c.Next()
	}
	key := principal(c).Name
	l.mu.Lock()
	if l.running[key] >= l.max {
		l.mu.Unlock()
		return models.ErrTooManyHeavy
	}
	l.running[key]++
	l.mu.Unlock()
	slot := &heavySlot{release: func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.running[key]--; l.running[key] == 0 {
			delete(l.running, key)
		}
	}}
	c.Locals(heavySlotKey, slot)
	defer func() {
		if !slot.kept {
			slot.done()
		}
	}()
	return c.Next()
}

// heavySlot is a heavy request's hold on its key's bound.
type heavySlot struct {
	kept    bool
	once    sync.Once
	release func()
}

// done gives the slot back, once.
func (s *heavySlot) done() { s.once.Do(s.release) }

// keepHeavySlot returns the function that gives back the slot of c, a heavy request
// whose answer goes on after its handler returns, and keeps the slot until it is
// called; a request held to no bound gets a function that does nothing.
func keepHeavySlot(c *fiber.Ctx) func() {
	slot, _ := c.Locals(heavySlotKey).(*heavySlot)
	if slot == nil {
		return func() {}
	}
	slot.kept = true
	return slot.done
}
