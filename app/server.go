package app

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/swagger"
	"github.com/google/uuid"

	"github.com/clinic/interactions/apikey"
	"github.com/clinic/interactions/audit"
	_ "github.com/clinic/interactions/docs" // registers the OpenAPI document
	"github.com/clinic/interactions/handlers"
	"github.com/clinic/interactions/idempotency"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/records"
	"github.com/clinic/interactions/repository"
)

// MaxBodySize is the largest request body the API reads.
const MaxBodySize = 1 << 20

// ServerConfig is what the HTTP server needs beyond the store.
type ServerConfig struct {
	// RequestTimeout bounds the store work of each request.
	RequestTimeout time.Duration
	// RateLimit is how many requests an API key may make a minute; 0 means no limit.
	RateLimit int
	// CORSOrigins are the origins browsers may call the API from; none disables CORS.
	CORSOrigins []string
	// AuditKey, when set, keys the audit trail's hashes (HMAC-SHA256).
	AuditKey []byte
	// Prepared reports whether the store is prepared (see handlers.WhenPrepared);
	// nil means it is.
	Prepared func() bool
	// BaseContext is the parent of every request's context: when it ends, the
	// requests still running stop their store work and answer 503. Nil means
	// context.Background().
	BaseContext context.Context
	// Now reads the time; nil means time.Now. Tests set it.
	Now func() time.Time
}

// NewServer returns the Fiber app serving the API over db. Its audit events form a
// chain of their own, started with the first event.
func NewServer(logger *slog.Logger, db *repository.DB, cfg ServerConfig) (*fiber.App, error) {
	chainID, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	doc, err := handlers.OpenAPIDocument()
	if err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	app := fiber.New(fiber.Config{
		AppName:               "clinical-interactions",
		BodyLimit:             MaxBodySize,
		ErrorHandler:          handlers.ErrorHandler(logger),
		JSONEncoder:           handlers.EncodeJSON,
		DisableStartupMessage: true,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		IdleTimeout:           2 * time.Minute,
	})
	app.Use(handlers.RequestID)
	app.Use(accessLog(logger))
	app.Use(recover.New())
	app.Use(securityHeaders)
	if len(cfg.CORSOrigins) > 0 {
		app.Use(cors.New(cors.Config{
			AllowOrigins:  strings.Join(cfg.CORSOrigins, ","),
			AllowMethods:  "GET,POST,PATCH,DELETE",
			AllowHeaders:  "Authorization,Content-Type,If-Match,If-None-Match,Idempotency-Key",
			ExposeHeaders: "ETag,Location,Retry-After,Idempotent-Replayed,X-Request-Id",
		}))
	}
	base := cfg.BaseContext
	if base == nil {
		base = context.Background()
	}
	app.Use(handlers.Deadline(base, cfg.RequestTimeout))

	h := handlers.New(handlers.Services{
		Store:        db,
		Patients:     records.NewPatients(db, db.PatientVersions(), now),
		Interactions: records.NewInteractions(db, db.InteractionVersions(), now),
		Keys:         apikey.New(db, now, logger),
		// A request that dies holds its idempotency key this long before a retry may take it.
		Idempotency: idempotency.New(db, idempotency.Options{Lease: 3 * cfg.RequestTimeout, Now: now, Logger: logger}),
		AuditTrail:  audit.NewTrail(db, cfg.AuditKey),
		Prepared:    cfg.Prepared,
		Now:         now,
	})
	app.Get("/healthz", h.Healthz)
	app.Get("/readyz", h.Readyz)
	app.Get("/docs/doc.json", handlers.Document(doc))
	app.Get("/docs/*", swagger.HandlerDefault)

	// Once the store is prepared, every API request is audited, refused ones
	// included, then authenticated and held to its key's rate limit and role.
	chain := audit.NewChain(chainID.String(), cfg.AuditKey, db)
	guard := []fiber.Handler{h.WhenPrepared, handlers.Audit(chain, now), h.Authenticate}
	if cfg.RateLimit > 0 {
		guard = append(guard, handlers.RateLimit(cfg.RateLimit))
	}
	api := func(method, path string, role fiber.Handler, handler fiber.Handler) {
		stack := append(append([]fiber.Handler{}, guard...), role, handler)
		app.Add(method, "/api/v1"+path, stack...)
	}
	read := handlers.Allow(models.RoleClinician, models.RoleViewer)
	write := handlers.Allow(models.RoleClinician)
	auditor := handlers.Allow(models.RoleAuditor)
	admin := handlers.Allow(models.RoleAdmin)

	api(fiber.MethodPost, "/patients", write, h.CreatePatient)
	api(fiber.MethodGet, "/patients/:insurance_no", read, h.GetPatient)
	api(fiber.MethodPatch, "/patients/:insurance_no", write, h.PatchPatient)
	api(fiber.MethodGet, "/patients/:insurance_no/history", read, h.PatientHistory)
	api(fiber.MethodGet, "/patients/:insurance_no/history/:version", read, h.PatientVersion)
	api(fiber.MethodGet, "/patients/:insurance_no/interactions", read, h.History)
	api(fiber.MethodPost, "/interactions", write, h.CreateInteraction)
	api(fiber.MethodGet, "/interactions/:id", read, h.GetInteraction)
	api(fiber.MethodPatch, "/interactions/:id", write, h.PatchInteraction)
	api(fiber.MethodDelete, "/interactions/:id", write, h.DeleteInteraction)
	api(fiber.MethodGet, "/interactions/:id/history", read, h.InteractionHistory)
	api(fiber.MethodGet, "/interactions/:id/history/:version", read, h.InteractionVersion)
	api(fiber.MethodGet, "/audit", auditor, h.AuditEvents)
	api(fiber.MethodGet, "/audit/verify", auditor, h.VerifyAudit)
	api(fiber.MethodPost, "/keys", admin, h.CreateKey)
	api(fiber.MethodGet, "/keys", admin, h.ListKeys)
	api(fiber.MethodGet, "/keys/:name", admin, h.GetKey)
	api(fiber.MethodDelete, "/keys/:name", admin, h.RevokeKey)
	return app, nil
}

// securityHeaders sets the headers that keep browsers from caching, sniffing, framing
// or leaking the API's health data. The Swagger UI keeps a policy that lets it run.
func securityHeaders(c *fiber.Ctx) error {
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	c.Set("Cross-Origin-Resource-Policy", "same-origin")
	if !strings.HasPrefix(c.Path(), "/docs") {
		c.Set(fiber.HeaderCacheControl, "no-store")
		c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; frame-ancestors 'none'")
	}
	return c.Next()
}

// accessLog logs one line per request: its id, route template, status, latency and
// API key name. It never logs paths, query strings or bodies, which carry patient
// data. The status of a request that ends in an error is the one the error handler
// answers it with.
func accessLog(logger *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		status := c.Response().StatusCode()
		if err != nil {
			status = handlers.StatusOf(err)
		}
		logger.Info("request",
			"request_id", handlers.RequestIDOf(c),
			"method", c.Method(),
			"route", c.Route().Path,
			"status", status,
			"latency_ms", float64(time.Since(start).Microseconds())/1000,
			"key", handlers.KeyName(c),
		)
		return err
	}
}
