package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"
	"github.com/gofiber/swagger"

	_ "github.com/clinic/interactions/docs" // registers the OpenAPI document
	"github.com/clinic/interactions/handlers"
	"github.com/clinic/interactions/repository"
)

// MaxBodySize is the largest request body the API reads.
const MaxBodySize = 1 << 20

// NewServer returns the Fiber app serving the API over store. requestTimeout bounds
// the store work of each request.
func NewServer(logger *slog.Logger, store *repository.Store, requestTimeout time.Duration) *fiber.App {
	errorHandler := handlers.ErrorHandler(logger)
	app := fiber.New(fiber.Config{
		AppName:               "clinical-interactions",
		BodyLimit:             MaxBodySize,
		ErrorHandler:          errorHandler,
		DisableStartupMessage: true,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           2 * time.Minute,
	})
	app.Use(requestid.New())
	app.Use(accessLog(logger, errorHandler))
	app.Use(recover.New())
	app.Use(deadline(requestTimeout))

	h := handlers.New(store)
	app.Get("/healthz", h.Healthz)
	app.Get("/readyz", h.Readyz)
	app.Get("/docs/*", swagger.HandlerDefault)

	// A request that dies holds its idempotency key this long before a retry may take it.
	idempotent := h.Idempotency(logger, errorHandler, 3*requestTimeout)
	v1 := app.Group("/api/v1")
	v1.Post("/patients", idempotent, h.CreatePatient)
	v1.Get("/patients/:insurance_no", h.GetPatient)
	v1.Patch("/patients/:insurance_no", h.PatchPatient)
	v1.Get("/patients/:insurance_no/history", h.PatientHistory)
	v1.Get("/patients/:insurance_no/history/:version", h.PatientVersion)
	v1.Get("/patients/:insurance_no/interactions", h.History)
	v1.Post("/interactions", idempotent, h.CreateInteraction)
	v1.Get("/interactions/:id", h.GetInteraction)
	v1.Patch("/interactions/:id", h.PatchInteraction)
	v1.Delete("/interactions/:id", h.DeleteInteraction)
	v1.Get("/interactions/:id/history", h.InteractionHistory)
	v1.Get("/interactions/:id/history/:version", h.InteractionVersion)
	return app
}

// deadline gives each request a context that ends after timeout; handlers pass it to
// the store through c.UserContext().
func deadline(timeout time.Duration) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		c.SetUserContext(ctx)
		return c.Next()
	}
}

// accessLog logs one line per request: its id, route template, status and latency.
// It never logs paths, query strings or bodies, which carry patient data. Errors are
// turned into responses here so that the logged status is the one sent.
func accessLog(logger *slog.Logger, errorHandler fiber.ErrorHandler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		if err := c.Next(); err != nil {
			if err := errorHandler(c, err); err != nil {
				return err
			}
		}
		logger.Info("request",
			"request_id", c.Locals("requestid"),
			"method", c.Method(),
			"route", c.Route().Path,
			"status", c.Response().StatusCode(),
			"latency_ms", float64(time.Since(start).Microseconds())/1000,
		)
		return nil
	}
}
