// Package handlers translates HTTP requests into store calls and their results back
// into JSON responses.
package handlers

import (
	"context"
	"fmt"
	"mime"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/repository"
)

// Handlers serves the API over one store.
type Handlers struct {
	store *repository.Store
	now   func() time.Time
}

// New returns the handlers over store.
func New(store *repository.Store) *Handlers {
	return &Handlers{store: store, now: time.Now}
}

// Healthz answers while the process is up.
//
//	@Summary	Liveness
//	@Tags		health
//	@Produce	json
//	@Success	200	{object}	Status
//	@Router		/healthz [get]
func (h *Handlers) Healthz(c *fiber.Ctx) error {
	return c.JSON(Status{Status: "ok"})
}

// Readyz answers 200 when the store is reachable, and 503 otherwise.
//
//	@Summary	Readiness: the store is reachable
//	@Tags		health
//	@Produce	json
//	@Success	200	{object}	Status
//	@Failure	503	{object}	ErrorResponse
//	@Router		/readyz [get]
func (h *Handlers) Readyz(c *fiber.Ctx) error {
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	if err := h.store.Ping(ctx); err != nil {
		return fmt.Errorf("readiness: %w: %w", models.ErrUnavailable, err)
	}
	return c.JSON(Status{Status: "ready"})
}

// Status is the body of the health routes.
type Status struct {
	Status string `json:"status" example:"ok"`
}

// body parses the request body as one JSON document. It returns a Fiber 415 error for
// a body that is not JSON and the errors of models.ParseDocument otherwise.
func body(c *fiber.Ctx) (bson.D, error) {
	if ct := c.Get(fiber.HeaderContentType); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != fiber.MIMEApplicationJSON && !strings.HasSuffix(mt, "+json")) {
			return nil, fiber.ErrUnsupportedMediaType
		}
	}
	return models.ParseDocument(c.Body())
}

// identifierParam returns a copy of the path parameter name, or a validation error when
// it cannot be an identifier.
func identifierParam(c *fiber.Ctx, name string) (string, error) {
	v := strings.Clone(c.Params(name))
	if !models.ValidIdentifier(v) {
		return "", models.Invalid(name, "is not a valid identifier")
	}
	return v, nil
}

// newID returns a new time-ordered id. It returns an error only when the system's
// random source fails.
func newID() (string, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("new id: %w", err)
	}
	return id.String(), nil
}
