package handlers

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/clinic/interactions/models"
)

// HeaderIdempotencyKey names the header that makes a create safe to retry.
const HeaderIdempotencyKey = "Idempotency-Key"

// reservedIDKey is the Locals key under which Idempotency passes the id reserved for
// a create.
const reservedIDKey = "idempotency.reserved_id"

// Idempotency returns middleware for create routes that honours Idempotency-Key: the
// first request with a key runs and its answer is kept; a retry with the same key and
// the same body gets that answer again and creates nothing; the same key with another
// body is a 422. While the first request runs, retries wait for its answer. Answers
// of 500 and above are not kept, so a retry runs anew. A request that dies before
// answering holds its key for lease; after that a retry takes it over, reusing the id
// reserved for the first, so that it cannot create a second record. errorHandler
// renders errors so that the answer kept is the one sent.
func (h *Handlers) Idempotency(logger *slog.Logger, errorHandler fiber.ErrorHandler, lease time.Duration) fiber.Handler {
	return func(c *fiber.Ctx) error {
		key := c.Get(HeaderIdempotencyKey)
		if key == "" {
			return c.Next()
		}
		if !validIdempotencyKey(key) {
			return models.Invalid(HeaderIdempotencyKey, "must be 1-255 printable ASCII characters")
		}
		// Keys are scoped to the route and the API key: no one replays another's answer.
		route := c.Route().Path
		id := route + " " + principal(c).Name + " " + key
		sum := sha256.Sum256([]byte(c.Method() + " " + route + "\n" + string(c.Body())))
		hash := hex.EncodeToString(sum[:])
		ctx := c.UserContext()

		waited := false
		for {
			token, err := randomToken()
			if err != nil {
				return err
			}
			reserved, err := newID()
			if err != nil {
				return err
			}
			now := h.now()
			held, claimed, err := h.store.ClaimIdempotencyKey(ctx, models.IdempotencyRecord{
				ID: id, RequestHash: hash, Token: token, ReservedID: reserved,
				State: models.IdempotencyPending, CreatedAt: now, LeaseUntil: now.Add(lease),
			}, now)
			switch {
			case err != nil && waited && (ctx.Err() != nil || errors.Is(err, models.ErrUnavailable)):
				return models.ErrIdempotencyInProgress // the deadline came while waiting
			case err != nil:
				return err
			case held.RequestHash != hash:
				return models.ErrIdempotencyKeyReused
			case claimed:
				return h.runOnce(c, logger, errorHandler, held)
			case held.State == models.IdempotencyDone:
				return replay(c, held)
			}
			// The first request is still running: wait for its answer, while there is
			// time left to ask the store again.
			if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < 100*time.Millisecond {
				return models.ErrIdempotencyInProgress
			}
			waited = true
			select {
			case <-ctx.Done():
				return models.ErrIdempotencyInProgress
			case <-time.After(25 * time.Millisecond):
			}
		}
	}
}

// runOnce runs the request under the claimed record held and keeps its answer.
func (h *Handlers) runOnce(c *fiber.Ctx, logger *slog.Logger, errorHandler fiber.ErrorHandler, held models.IdempotencyRecord) error {
	c.Locals(reservedIDKey, held.ReservedID)
	if err := c.Next(); err != nil {
		if err := errorHandler(c, err); err != nil {
			return err
		}
	}
	// The request's deadline may have passed while it ran; the bookkeeping gets its own.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.UserContext()), 5*time.Second)
	defer cancel()
	status := c.Response().StatusCode()
	if status >= fiber.StatusInternalServerError {
		if err := h.store.ReleaseIdempotencyKey(ctx, held.ID, held.Token); err != nil {
			logger.WarnContext(ctx, "release idempotency key", "request_id", requestID(c), "error", err.Error())
		}
		return nil
	}
	headers := map[string]string{} // the response headers a replay repeats
	for _, name := range []string{fiber.HeaderContentType, fiber.HeaderLocation, fiber.HeaderETag} {
		if v := c.GetRespHeader(name); v != "" {
			headers[name] = v
		}
	}
	err := h.store.CompleteIdempotencyKey(ctx, held.ID, held.Token, status, headers, string(c.Response().Body()))
	if err != nil {
		// The answer stands; a retry waits for the lease, then finds the record made.
		logger.WarnContext(ctx, "keep idempotent answer", "request_id", requestID(c), "error", err.Error())
	}
	return nil
}

// replay sends the answer kept in rec.
func replay(c *fiber.Ctx, rec models.IdempotencyRecord) error {
	for name, v := range rec.Headers {
		c.Set(name, v)
	}
	c.Set("Idempotent-Replayed", "true")
	return c.Status(rec.Status).SendString(rec.Body)
}

// reservedID returns the id Idempotency reserved for this request's create, or a new one.
func reservedID(c *fiber.Ctx) (string, error) {
	if id, ok := c.Locals(reservedIDKey).(string); ok && id != "" {
		return id, nil
	}
	return newID()
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

func randomToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return hex.EncodeToString(b), nil
}
