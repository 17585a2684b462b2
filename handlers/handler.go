// Package handlers translates HTTP requests into calls of the service's parts and
// their results back into JSON responses. It holds the HTTP middleware as well:
// authentication, roles, rate limits and the audit of every request.
package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/clinic/interactions/analytics"
	"github.com/clinic/interactions/chartcache"
	"github.com/clinic/interactions/idempotency"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/records"
)

// Store is what the handlers read and write directly.
type Store interface {
	// Topology returns how the store is deployed, or models.ErrUnavailable when no
	// server of it that takes writes answers.
	Topology(ctx context.Context) (models.Topology, error)
	// APIKeys returns every API key.
	APIKeys(ctx context.Context) ([]models.APIKey, error)
	// APIKey returns the key named name, or models.ErrNotFound.
	APIKey(ctx context.Context, name string) (models.APIKey, error)
	// AuditEvents returns one page of audit events.
	AuditEvents(ctx context.Context, q models.AuditQuery) (models.AuditPage, error)
}

// Patients keeps patient records (records.Patients).
type Patients interface {
	Create(ctx context.Context, p models.Patient) (models.Patient, error)
	Get(ctx context.Context, no string) (models.Patient, error)
	Amend(ctx context.Context, no string, match records.Match, patch models.Document, reason string) (models.Patient, error)
	Versions(ctx context.Context, no string, before, limit int) (records.Page[models.Patient], error)
	Version(ctx context.Context, no string, v int) (models.Patient, error)
	Find(ctx context.Context, q models.PatientQuery) (models.PatientList, error)
}

// Interactions keeps interaction records (records.Interactions).
type Interactions interface {
	Create(ctx context.Context, in models.Interaction, reservedID string) (models.Interaction, error)
	Get(ctx context.Context, id string) (models.Interaction, error)
	History(ctx context.Context, q models.HistoryQuery) (models.Page, error)
	Each(ctx context.Context, q models.HistoryQuery, fn func(models.Interaction) error) error
	Amend(ctx context.Context, id string, match records.Match, patch models.Document, reason string) (models.Interaction, error)
	MarkEnteredInError(ctx context.Context, id string, match records.Match, reason string) (models.Interaction, error)
	Versions(ctx context.Context, id string, before, limit int) (records.Page[models.Interaction], error)
	Version(ctx context.Context, id string, v int) (models.Interaction, error)
}

// Keys issues, revokes and authenticates API keys (apikey.Keys).
type Keys interface {
	Issue(ctx context.Context, req models.NewKeyRequest) (models.IssuedKey, error)
	Authenticate(ctx context.Context, token string) (models.Principal, error)
	// Revoke revokes the key named name and returns it, or models.ErrNotFound.
	Revoke(ctx context.Context, name string) (models.APIKey, error)
}

// Idempotency runs keyed creates once (idempotency.Keeper).
type Idempotency interface {
	Do(ctx context.Context, req idempotency.Request,
		run func(ctx context.Context, reservedID string) models.IdempotentAnswer) (models.IdempotentAnswer, bool, error)
}

// Disk checks the free space of the embedded store's files (diskspace.Watch).
type Disk interface {
	// Check returns the free space and its minimum, a *models.LowDiskError when
	// free space is below it, or an error wrapping models.ErrUnavailable when it
	// cannot be read.
	Check() (models.DiskSpace, error)
}

// AuditTrail verifies the audit trail (audit.Trail).
type AuditTrail interface {
	Verify(ctx context.Context) (models.AuditVerification, error)
}

// Services are the parts the handlers call.
type Services struct {
	Store        Store
	Patients     Patients
	Interactions Interactions
	Keys         Keys
	Idempotency  Idempotency
	AuditTrail   AuditTrail
	// AuthFailures counts the failed authentications (see Authenticate); nil
	// counts none.
	AuthFailures *AuthFailures
	// Records reads many patients' records at once, for the insights.
	Records Records
	// Population keeps the model of every patient the similar patients and the
	// cohorts are drawn from; nil computes it from Records for every request.
	Population Population
	// Charts tells the versions of the charts, and ChartAnswers keeps the
	// summaries and reports of unchanged charts under them; with either nil, they
	// are computed for every request, without an ETag.
	Charts       Charts
	ChartAnswers *chartcache.Cache
	// Writer, when set, refines the insights with a language model.
	Writer Writer
	// Logger logs what fails without failing a request; nil discards it.
	Logger *slog.Logger
	// Prepared reports whether the server has prepared the store (created the
	// indexes the API's writes rely on); nil means it has.
	Prepared func() bool
	// Disk, when set, checks the free space of the store's files for /readyz.
	Disk Disk
	// Now reads the time; nil means time.Now.
	Now func() time.Time
}

// Handler serves the API over its services.
type Handler struct {
	store        Store
	patients     Patients
	interactions Interactions
	keys         Keys
	idempotency  Idempotency
	auditTrail   AuditTrail
	authFailures *AuthFailures
	records      Records
	population   Population
	charts       Charts
	chartAnswers *chartcache.Cache
	writer       Writer
	logger       *slog.Logger
	prepared     func() bool
	disk         Disk
	now          func() time.Time
}

// New returns the handlers over s.
func New(s Services) *Handler {
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.Prepared == nil {
		s.Prepared = func() bool { return true }
	}
	if s.Population == nil {
		s.Population = analytics.New(uncounted{Records: s.Records, reads: &atomic.Int64{}}, analytics.Options{Logger: s.Logger})
	}
	return &Handler{
		store: s.Store, patients: s.Patients, interactions: s.Interactions, keys: s.Keys,
		idempotency: s.Idempotency, auditTrail: s.AuditTrail, authFailures: s.AuthFailures, records: s.Records,
		population: s.Population, charts: s.Charts, chartAnswers: s.ChartAnswers, writer: s.Writer,
		logger: s.Logger, prepared: s.Prepared, disk: s.Disk, now: s.Now,
	}
}

// errNotPrepared is the error of a request that comes before the store is prepared.
var errNotPrepared = fmt.Errorf("the store is not prepared yet: %w", models.ErrUnavailable)

// WhenPrepared is middleware that answers 503 unavailable, without touching the
// store, until the server has prepared the store: the writes rely on its unique
// indexes, and the audit event of a request has nowhere to go before.
func (h *Handler) WhenPrepared(c *fiber.Ctx) error {
	if !h.prepared() {
		return errNotPrepared
	}
	return c.Next()
}

// Healthz answers while the process is up.
//
//	@Summary		Liveness
//	@Description	Answers 200 while the process is up, whatever the store.
//	@ID				healthz
//	@Tags			health
//	@Produce		json
//	@Success		200	{object}	Status
//	@Header			all	{string}	X-Request-Id	"the request's id, as the logs and the audit trail name it"
//	@Router			/healthz [get]
func (h *Handler) Healthz(c *fiber.Ctx) error {
	return c.JSON(Status{Status: "ok"})
}

// Readyz answers 200 when the store is prepared and reachable, and, on the
// embedded store, has the free space it needs; 503 otherwise.
//
//	@Summary		Readiness
//	@Description	Answers 200, with the store's topology, when the server has prepared the store (its indexes) and a server of the store that takes writes (a replica set's primary) answers within 2 s, and, on the embedded store, its DATA_DIR's disk has MIN_FREE_DISK free (the answer says how much); 503 otherwise. Low free space fails readiness while the store still works, so that a monitor hears of it before writes fail: the API goes on serving.
//	@ID				readyz
//	@Tags			health
//	@Produce		json
//	@Success		200	{object}	Status
//	@Failure		503	{object}	ErrorResponse	"unavailable: no server of the store that takes writes answers, the server has not prepared the store yet, or DATA_DIR's disk has less free space than MIN_FREE_DISK (fields free_bytes and min_free_bytes)"
//	@Header			503	{string}	Retry-After		"seconds to wait before asking again"
//	@Header			all	{string}	X-Request-Id	"the request's id, as the logs and the audit trail name it"
//	@Router			/readyz [get]
func (h *Handler) Readyz(c *fiber.Ctx) error {
	if !h.prepared() {
		return fmt.Errorf("readiness: %w", errNotPrepared)
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
	defer cancel()
	topology, err := h.store.Topology(ctx)
	if err != nil {
		return fmt.Errorf("readiness: %w: %w", models.ErrUnavailable, err)
	}
	status := Status{Status: "ready", Store: &topology}
	if h.disk != nil {
		space, err := h.disk.Check()
		if err != nil {
			return fmt.Errorf("readiness: %w", err)
		}
		status.Disk = &space
	}
	return c.JSON(status)
}

// Status is the body of the health routes.
type Status struct {
	Status string `json:"status" validate:"required" example:"ok"`
	// Store is the store's topology, in the answer of /readyz.
	Store *models.Topology `json:"store,omitempty"`
	// Disk is the free space of the embedded store's DATA_DIR and its minimum
	// (MIN_FREE_DISK), in the answer of /readyz when the server watches it.
	Disk *models.DiskSpace `json:"disk,omitempty"`
}
