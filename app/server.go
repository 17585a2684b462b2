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
	"github.com/valyala/fasthttp"

	"github.com/clinic/interactions/analytics"
	"github.com/clinic/interactions/apikey"
	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/chartcache"
	_ "github.com/clinic/interactions/docs" // registers the OpenAPI document
	"github.com/clinic/interactions/export"
	"github.com/clinic/interactions/fhirapi"
	"github.com/clinic/interactions/handlers"
	"github.com/clinic/interactions/idempotency"
	"github.com/clinic/interactions/llm"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/records"
	"github.com/clinic/interactions/repository"
)

// MaxBodySize is the largest request body the API reads.
const MaxBodySize = 1 << 20

// writeTimeout bounds the writing of each answer: an export's stream ends by then.
const writeTimeout = 30 * time.Second

// chartAnswerBytes bounds the summaries and reports of unchanged charts the server
// keeps: those of a few dozen charts of a thousand visits, of thousands of short
// ones.
const chartAnswerBytes = 16 << 20

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
	// AuditPreviousKeys are the audit trail's keys before a rotation: the chains
	// keyed with them still verify.
	AuditPreviousKeys [][]byte
	// ClientRateLimit is how many requests a client address may make a minute,
	// checked before anything else is done for them; 0 means no limit.
	ClientRateLimit int
	// HeavyRequests is how many heavy requests (handlers.HeavyRequests) an API key
	// may have running at once; 0 means no limit.
	HeavyRequests int
	// AuthFailureLimit is how many failed authentications a client address may have
	// a minute before its requests are refused without looking their key up; 0
	// means no limit.
	AuthFailureLimit int
	// LLM is the optional language model that may refine suggested questions and
	// written summaries; off when it names none.
	LLM llm.Config
	// Prepared reports whether the store is prepared (see handlers.WhenPrepared);
	// nil means it is.
	Prepared func() bool
	// Disk, when set, checks the free space of the embedded store's files for
	// /readyz (see diskspace.Watch).
	Disk handlers.Disk
	// BaseContext is the parent of every request's context: when it ends, the
	// requests still running stop their store work and answer 503. Nil means
	// context.Background().
	BaseContext context.Context
	// Now reads the time; nil means time.Now. Tests set it.
	Now func() time.Time
}

// Server is the API's HTTP server, and the audit trail's work beside it.
type Server struct {
	*fiber.App
	logger   *slog.Logger
	now      func() time.Time
	writer   *audit.Writer
	trail    *audit.Trail
	refusals *audit.Refusals
	prepared func() bool
}

// Parts are what the server's routes serve over, each behind the interface its
// user declares: NewServer makes them all of the repository, and tests may give
// small fakes (see NewServerOver).
type Parts struct {
	Store        handlers.Store
	Patients     handlers.Patients
	Interactions handlers.Interactions
	Keys         handlers.Keys
	Idempotency  handlers.Idempotency
	Records      handlers.Records
	// Population keeps the model of every patient the insights draw from; nil
	// computes it from Records for every request.
	Population handlers.Population
	// Charts tells the versions of the charts, under which the summaries and the
	// reports of unchanged charts are kept (see chartAnswerBytes); nil keeps none.
	Charts   handlers.Charts
	Exporter handlers.Exporter
	// FHIR serves the read-only FHIR R4 API.
	FHIR handlers.FHIRAPI
	// Audit keeps the audit trail.
	Audit audit.TrailStore
}

// NewServer returns the server of the API over db. Its audit events form a chain of
// their own, started with the first event. It returns an error only when the
// system's random source fails or the OpenAPI document cannot be read.
func NewServer(logger *slog.Logger, db *repository.DB, cfg ServerConfig) (*Server, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	now := cfg.Now
	patients := records.NewPatients(db, db.PatientVersions(), now)
	interactions := records.NewInteractions(db, db.InteractionVersions(), now)
	return NewServerOver(logger, Parts{
		Store:        db,
		Patients:     patients,
		Interactions: interactions,
		Keys:         apikey.New(db, now, logger),
		// A request that dies holds its idempotency key this long before a retry may take it.
		Idempotency: idempotency.New(db, idempotency.Options{Lease: 3 * cfg.RequestTimeout, Now: now, Logger: logger}),
		Records:     db,
		Population: analytics.New(db, analytics.Options{Base: cfg.BaseContext, Budget: max(analytics.DefaultBudget, cfg.RequestTimeout),
			Logger: logger, Now: now}),
		Charts:   db,
		Exporter: export.New(patients, interactions, export.Options{Encode: handlers.EncodeJSON, Now: now}),
		FHIR:     fhirapi.New(patients, db, interactions, db, now),
		Audit:    db,
	}, cfg)
}

// NewServerOver returns the server of the API over parts: the same middleware and
// routes as NewServer's, whatever the parts are made of. It returns an error only
// when the system's random source fails or the OpenAPI document cannot be read.
func NewServerOver(logger *slog.Logger, parts Parts, cfg ServerConfig) (*Server, error) {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	writer, err := audit.NewWriter(parts.Audit, audit.WriterOptions{Key: cfg.AuditKey, Process: "server", Now: now, Logger: logger})
	if err != nil {
		return nil, err
	}
	keys := audit.Keys{Current: cfg.AuditKey, Previous: cfg.AuditPreviousKeys}
	s := &Server{logger: logger, now: now, writer: writer, trail: audit.NewTrail(parts.Audit, keys, now), refusals: &audit.Refusals{},
		prepared: cfg.Prepared}
	doc, err := handlers.OpenAPIDocument()
	if err != nil {
		return nil, err
	}
	answer := handlers.ErrorHandler(logger)
	app := fiber.New(fiber.Config{
		AppName:               "clinical-interactions",
		BodyLimit:             MaxBodySize,
		ErrorHandler:          answer,
		JSONEncoder:           handlers.EncodeJSON,
		DisableStartupMessage: true,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          writeTimeout,
		IdleTimeout:           2 * time.Minute,
	})
	app.Use(handlers.RequestID)
	app.Use(accessLog(logger))
	app.Use(recover.New())
	app.Use(securityHeaders)
	app.Use(handlers.CheckRequestLine(s.refusals))
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

	var model handlers.Writer
	if client := llm.New(cfg.LLM); client != nil {
		model = client
	}
	failures := handlers.NewAuthFailures(cfg.AuthFailureLimit, s.refusals, now)
	h := handlers.New(handlers.Services{
		Store:        parts.Store,
		Patients:     parts.Patients,
		Interactions: parts.Interactions,
		Keys:         parts.Keys,
		Idempotency:  parts.Idempotency,
		AuditTrail:   s.trail,
		AuthFailures: failures,
		Records:      parts.Records,
		Population:   parts.Population,
		Charts:       parts.Charts,
		ChartAnswers: chartcache.New(chartAnswerBytes),
		Writer:       model,
		Logger:       logger,
		Prepared:     cfg.Prepared,
		Disk:         cfg.Disk,
		Now:          now,
	})
	app.Get("/healthz", h.Healthz)
	app.Get("/readyz", h.Readyz)
	app.Get("/docs/doc.json", handlers.Document(doc))
	app.Get("/docs/*", swagger.HandlerDefault)

	// A client address is held to its rate limit and to its limit of failed
	// authentications first; then, once the store is prepared, every API request is
	// authenticated (the refused ones are counted, one event per address and
	// minute), audited, and held to its key's rate limit and role.
	var guard []fiber.Handler
	if cfg.ClientRateLimit > 0 {
		guard = append(guard, handlers.ClientRateLimit(cfg.ClientRateLimit, s.refusals))
	}
	guard = append(guard, failures.Limit, h.WhenPrepared, h.Authenticate, handlers.Audit(writer, now))
	if cfg.RateLimit > 0 {
		guard = append(guard, handlers.RateLimit(cfg.RateLimit))
	}
	api := func(method, path string, role fiber.Handler, handler ...fiber.Handler) {
		stack := append(append(append([]fiber.Handler{}, guard...), role), handler...)
		app.Add(method, "/api/v1"+path, stack...)
	}
	// Who may send each request (see "Access control" in
	// docs/guides/records-and-audit.md): a clinician writes, and reads across
	// patients; a viewer reads one named patient's chart, and finds a patient by
	// name (the directory with q, a search of visits with insurance_no), never the
	// list of all; an auditor reads the audit trail; an admin manages keys.
	write := handlers.Allow(models.RoleClinician)
	across := handlers.Allow(models.RoleClinician)
	chart := handlers.Allow(models.RoleClinician, models.RoleViewer)
	viewer := []models.Role{models.RoleViewer}
	findPatient := handlers.AllowNamed([]models.Role{models.RoleClinician}, viewer, handlers.QueryNames("q"))
	searchPatient := handlers.AllowNamed([]models.Role{models.RoleClinician}, viewer, handlers.QueryNames("insurance_no"))
	auditor := handlers.Allow(models.RoleAuditor)
	admin := handlers.Allow(models.RoleAdmin)
	// A key runs at most cfg.HeavyRequests of these at once.
	heavy := handlers.NewHeavyRequests(cfg.HeavyRequests).Limit

	api(fiber.MethodPost, "/patients", write, h.CreatePatient)
	api(fiber.MethodGet, "/patients", findPatient, h.FindPatients)
	api(fiber.MethodGet, "/patients/:insurance_no", chart, h.GetPatient)
	api(fiber.MethodPatch, "/patients/:insurance_no", write, h.PatchPatient)
	api(fiber.MethodGet, "/patients/:insurance_no/history", chart, h.PatientHistory)
	api(fiber.MethodGet, "/patients/:insurance_no/history/:version", chart, h.PatientVersion)
	api(fiber.MethodGet, "/patients/:insurance_no/interactions", chart, h.History)
	api(fiber.MethodGet, "/patients/:insurance_no/summary", chart, heavy, h.Summary)
	api(fiber.MethodGet, "/patients/:insurance_no/report", chart, heavy, h.Report)
	api(fiber.MethodGet, "/patients/:insurance_no/export", chart, heavy, handlers.NewExports(base, parts.Exporter, writeTimeout, logger).Export)
	api(fiber.MethodGet, "/patients/:insurance_no/similar", across, heavy, h.SimilarPatients)
	api(fiber.MethodPost, "/interactions", write, h.CreateInteraction)
	api(fiber.MethodGet, "/interactions", searchPatient, h.SearchInteractions)
	api(fiber.MethodGet, "/interactions/:id", chart, h.GetInteraction)
	api(fiber.MethodPatch, "/interactions/:id", write, h.PatchInteraction)
	api(fiber.MethodDelete, "/interactions/:id", write, h.DeleteInteraction)
	api(fiber.MethodGet, "/interactions/:id/history", chart, h.InteractionHistory)
	api(fiber.MethodGet, "/interactions/:id/history/:version", chart, h.InteractionVersion)
	api(fiber.MethodGet, "/interactions/:id/suggested-questions", chart, heavy, h.SuggestedQuestions)
	api(fiber.MethodPost, "/suggestions/questions", across, heavy, h.SuggestQuestions)
	api(fiber.MethodGet, "/analytics/cohorts", across, heavy, h.Cohorts)
	api(fiber.MethodGet, "/analytics/labels", across, heavy, h.LabelCounts)
	api(fiber.MethodGet, "/analytics/ailments", across, heavy, h.AilmentCounts)
	api(fiber.MethodGet, "/audit", auditor, h.AuditEvents)
	api(fiber.MethodGet, "/audit/verify", auditor, h.VerifyAudit)
	api(fiber.MethodPost, "/keys", admin, h.CreateKey)
	api(fiber.MethodGet, "/keys", admin, h.ListKeys)
	api(fiber.MethodGet, "/keys/:name", admin, h.GetKey)
	api(fiber.MethodDelete, "/keys/:name", admin, h.RevokeKey)

	// The FHIR API reads what /api/v1 reads, behind the same guard. A clinician
	// reads everything; a viewer reads by id and the operations on a named patient,
	// and searches only naming the patient (patient=, or a Patient's name or
	// identifier); auditors and admins read no chart. The capabilities need no key.
	fhir := handlers.NewFHIR(parts.FHIR)
	fhirRoute := func(path string, role fiber.Handler, handler ...fiber.Handler) {
		stack := append(append(append([]fiber.Handler{}, guard...), role), handler...)
		app.Get(handlers.FHIRPrefix+path, stack...)
	}
	fhirChart := handlers.Allow(models.RoleClinician, models.RoleViewer)
	fhirSearch := handlers.AllowNamed([]models.Role{models.RoleClinician}, []models.Role{models.RoleViewer}, handlers.FHIRNamesPatient)
	var open []fiber.Handler
	if cfg.ClientRateLimit > 0 {
		open = append(open, handlers.ClientRateLimit(cfg.ClientRateLimit, s.refusals))
	}
	app.Get(handlers.FHIRPrefix+"/metadata", append(open, fhir.Metadata)...)
	fhirRoute("/Observation/$lastn", fhirChart, fhir.LastN)
	// A patient's whole chart, as the export and the summary read it.
	fhirRoute("/Patient/:id/$everything", fhirChart, heavy, fhir.Everything)
	fhirRoute("/Patient/:id/$summary", fhirChart, heavy, fhir.Summary)
	fhirRoute("/:type", fhirSearch, fhir.Search)
	fhirRoute("/:type/:id", fhirChart, fhir.Read)
	fhirRoute("/:type/:id/_history/:vid", fhirChart, fhir.VRead)
	s.App = app
	app.Server().Handler = s.answerUnknownMethods(app.Handler(), answer)
	return s, nil
}

// auditEvery is how often the server records the refusals counted, anchors its chain
// to the others and verifies the trail, in the background.
const auditEvery = time.Minute

// ChainID returns the name of the server's audit chain.
func (s *Server) ChainID() string { return s.writer.ID() }

// Background does the audit trail's work beside the requests until ctx ends: every
// minute, AuditTick, once the store is prepared (see ServerConfig.Prepared).
func (s *Server) Background(ctx context.Context) {
	ticker := time.NewTicker(auditEvery)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if s.prepared != nil && !s.prepared() {
				continue
			}
			tick, cancel := context.WithTimeout(ctx, auditEvery/2)
			s.AuditTick(tick)
			cancel()
		}
	}
}

// AuditTick records the requests refused since the last tick (see audit.Refusals:
// one event per kind of refusal and address), anchors the server's chain to the ends of the others when
// they moved, and verifies the trail, re-checking old events as long as ctx allows
// (see audit.Trail.VerifyAll). Failures are logged: they fail no request.
func (s *Server) AuditTick(ctx context.Context) {
	if err := s.refusals.Flush(ctx, s.writer, s.now()); err != nil {
		s.logger.Warn("record refused requests", "error", err.Error())
	}
	if err := s.writer.Anchor(ctx, s.selfEvent()); err != nil {
		s.logger.Warn("anchor audit chain", "error", err.Error())
	}
	v, err := s.trail.VerifyAll(ctx)
	switch {
	case err != nil:
		s.logger.Warn("verify audit trail", "error", err.Error())
	case !v.OK:
		first := v.Breaks[0]
		s.logger.Error("the audit trail does not verify", "breaks", v.BreaksTotal, "chains_failed", v.ChainsFailedTotal,
			"chains", v.ChainsFailed, "first_chain", first.Chain, "first_seq", first.Seq, "first_reason", first.Reason)
	}
}

// Close records the refusals counted, and seals the server's audit chain: call it
// once the server has stopped serving. A server whose store was never prepared
// (see ServerConfig.Prepared) writes nothing: its audit key may not be the
// trail's. It returns the error of sealing.
func (s *Server) Close(ctx context.Context) error {
	if s.prepared != nil && !s.prepared() {
		return nil
	}
	if err := s.refusals.Flush(ctx, s.writer, s.now()); err != nil {
		s.logger.Warn("record refused requests", "error", err.Error())
	}
	return s.writer.Close(ctx, s.selfEvent())
}

// selfEvent is an event the server's chain writes about itself.
func (s *Server) selfEvent() models.AuditEvent {
	return models.AuditEvent{Time: s.now(), KeyName: "server", Method: "-", Route: "-", Status: 200, ClientIP: "-", RequestID: s.writer.ID()}
}

// securityHeaders sets the headers that keep browsers from caching, sniffing, framing
// or leaking the API's health data. The Swagger UI keeps a policy that lets it run.
func securityHeaders(c *fiber.Ctx) error {
	setSecurityHeaders(c)
	return c.Next()
}

// setSecurityHeaders does securityHeaders' work.
func setSecurityHeaders(c *fiber.Ctx) {
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	c.Set("Cross-Origin-Resource-Policy", "same-origin")
	if !strings.HasPrefix(c.Path(), "/docs") {
		c.Set(fiber.HeaderCacheControl, "no-store")
		c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; frame-ancestors 'none'")
	}
}

// knownMethods are the methods Fiber routes.
var knownMethods = func() map[string]bool {
	known := map[string]bool{}
	for _, m := range fiber.DefaultMethods {
		known[m] = true
	}
	return known
}()

// Handler returns the server's request handler, the one its listeners serve: see
// answerUnknownMethods.
func (s *Server) Handler() fasthttp.RequestHandler { return s.App.Server().Handler }

// answerUnknownMethods returns next, except for a request whose method Fiber does
// not know, which Fiber answers with bare text before any middleware runs: that one
// is answered 400 malformed_request in the error shape, with its request id and the
// security headers, logged, and counted with the other malformed requests.
func (s *Server) answerUnknownMethods(next fasthttp.RequestHandler, answer fiber.ErrorHandler) fasthttp.RequestHandler {
	return func(fctx *fasthttp.RequestCtx) {
		if knownMethods[string(fctx.Method())] {
			next(fctx)
			return
		}
		c := s.App.AcquireCtx(fctx)
		defer s.App.ReleaseCtx(c)
		err := handlers.NameRequest(c)
		setSecurityHeaders(c)
		s.refusals.Add(audit.Refusal{Action: audit.MalformedAction, Status: fiber.StatusBadRequest, ClientIP: strings.Clone(c.IP())},
			"malformed_request")
		if err == nil {
			err = models.ErrMalformedRequest
		}
		_ = answer(c, err)
		s.logger.Info("request", "request_id", handlers.RequestIDOf(c), "method", "-", "route", "-",
			"status", c.Response().StatusCode(), "latency_ms", 0, "key", "")
	}
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
