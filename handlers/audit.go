package handlers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/deadline"
	"github.com/clinic/interactions/models"
)

// AuditLog appends the audit events of requests (audit.Chain).
type AuditLog interface {
	Append(ctx context.Context, e models.AuditEvent) (models.AuditEvent, error)
}

// Audit returns middleware that appends one event per request to log: who (the API
// key), what (the action and route template), on whose data (the patient and
// interaction the request read or wrote, which the repository notes in the
// request's audit.Subject; else the path's), whose data its answer disclosed (see
// disclosed) and how it ended (the status it is answered with), refused requests
// included. The event is written before the response leaves, within the request's
// deadline: the handler's work ends earlier (see Deadline) to leave it time. If it
// cannot be written the request fails with 503 and nothing it produced is returned.
// now reads the time.
func Audit(log AuditLog, now func() time.Time) fiber.Handler {
	return func(c *fiber.Ctx) error {
		full := c.UserContext()
		work, cancel := deadline.Reserve(full)
		defer cancel()
		work, subject := audit.WithSubject(work)
		c.SetUserContext(work)
		err := next(c)
		cancel()
		status := c.Response().StatusCode()
		if err != nil {
			status = StatusOf(err)
		}
		p := principal(c)
		insuranceNo, interactionID := subject.Get()
		// Path parameters and the method are copied: Fiber reuses their memory after
		// the handler, while the event may still be waiting for its insert.
		// A FHIR route's id names a resource, not a record: its subject is what the
		// answer disclosed alone.
		var pathNo, pathID string
		if !strings.HasPrefix(c.Route().Path, FHIRPrefix) {
			pathNo, pathID = strings.Clone(c.Params("insurance_no")), strings.Clone(c.Params("id"))
		}
		if insuranceNo == "" {
			insuranceNo = pathNo
		}
		if interactionID == "" {
			interactionID = pathID
		}
		route, method := c.Route().Path, strings.Clone(c.Method())
		event := models.AuditEvent{
			Time:            now(),
			KeyName:         p.Name,
			Role:            p.Role,
			Action:          action(method, route),
			Method:          method,
			Route:           route,
			InsuranceNo:     insuranceNo,
			InteractionID:   interactionID,
			Status:          status,
			ClientIP:        c.IP(),
			RequestID:       requestID(c),
			ClientRequestID: clientRequestID(c),
		}
		if status < fiber.StatusBadRequest {
			event.SetPatients(disclosed(c, subject, insuranceNo, pathNo))
		}
		// A request cut short (at shutdown) is recorded all the same, if the store
		// takes its event soon after the cut.
		logCtx, cancelLog := uncut(full, cutGrace)
		defer cancelLog()
		if _, appendErr := log.Append(logCtx, event); appendErr != nil {
			c.Response().ResetBody()
			for _, hdr := range []string{fiber.HeaderLocation, fiber.HeaderETag, "Idempotent-Replayed"} {
				c.Response().Header.Del(hdr)
			}
			return fmt.Errorf("audit: %w: %w", models.ErrUnavailable, appendErr)
		}
		return err
	}
}

// disclosed returns the patients whose data the answer of c, a request that
// succeeded, disclosed: the patient and the interaction's patient the request read
// (subjectNo) and the path's patient (pathNo), the patients its JSON answer names
// (audit.Named; an answer streamed or in another type is of the path's patient
// alone), and those its route noted with audit.Disclose. What is not an insurance
// number is left out by models.AuditEvent.SetPatients.
func disclosed(c *fiber.Ctx, subject *audit.Subject, subjectNo, pathNo string) []string {
	nos, answerDiscloses := subject.Disclosed()
	nos = append(nos, subjectNo, pathNo)
	res := c.Response()
	if answerDiscloses && !res.IsBodyStream() && strings.HasPrefix(string(res.Header.ContentType()), fiber.MIMEApplicationJSON) {
		nos = append(nos, audit.Named(res.Body())...)
	}
	return nos
}

// cutGrace is how long the audit event of a request cut short may still take: the
// server closes the connections soon after it cuts the requests (see app.serve).
const cutGrace = 250 * time.Millisecond

// uncut returns a context with ctx's values and deadline that ends grace after ctx
// is cancelled.
func uncut(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	var detached context.Context
	var cancel context.CancelFunc
	if deadline, ok := ctx.Deadline(); ok {
		detached, cancel = context.WithDeadline(context.WithoutCancel(ctx), deadline)
	} else {
		detached, cancel = context.WithCancel(context.WithoutCancel(ctx))
	}
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(grace, cancel) })
	return detached, func() { stop(); cancel() }
}

// next runs the rest of the chain, turning a panic into an error, so that a request
// that panics is audited and answered 500 like any other failure. The panic's value
// is not kept: it may hold patient data.
func next(c *fiber.Ctx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("a handler panicked (%T)", r)
		}
	}()
	return c.Next()
}

// action names what a request does, from its method and route template.
func action(method, route string) string {
	if name, ok := fhirActions[route]; ok {
		return name
	}
	name := strings.TrimPrefix(route, "/api/v1/")
	name = strings.NewReplacer("/:insurance_no", "", "/:id", "", "/:version", ".version", "/:name", "", "/", ".").Replace(name)
	if strings.HasPrefix(name, "suggestions.") { // a POST that computes and stores nothing
		return name + ".read"
	}
	switch method {
	case fiber.MethodGet, fiber.MethodHead:
		return name + ".read"
	case fiber.MethodPost:
		return name + ".create"
	case fiber.MethodPatch:
		return name + ".amend"
	case fiber.MethodDelete:
		return name + ".delete"
	}
	return name + "." + strings.ToLower(method)
}

// fhirActions name what the FHIR API's requests do, by route template.
var fhirActions = map[string]string{
	FHIRPrefix + "/:type":                   "fhir.search",
	FHIRPrefix + "/:type/:id":               "fhir.read",
	FHIRPrefix + "/:type/:id/_history/:vid": "fhir.vread",
	FHIRPrefix + "/Patient/:id/$everything": "fhir.everything",
	FHIRPrefix + "/Patient/:id/$summary":    "fhir.summary",
	FHIRPrefix + "/Observation/$lastn":      "fhir.lastn",
}

// AuditEvents lists audit events.
//
//	@Summary		The audit trail
//	@Description	Audit events, newest first, filtered by patient, key name, action and time range, one page at a time. For auditors. By patient: every event that names the patient as its subject or whose answer disclosed their data (patients, or beyond its first 100 patients_count and patients_digest); with key_name or action too, a page reads at most 1000 of the patient's events and may hold fewer than limit, with a next_cursor.
//	@ID				listAuditEvents
//	@Tags			audit
//	@Produce		json
//	@Param			insurance_no	query		string	false	"Events naming this patient, or disclosing their data"
//	@Param			key_name		query		string	false	"Events of this API key"
//	@Param			action			query		string	false	"Events of this action, e.g. interactions.read"
//	@Param			from			query		string	false	"From this time (RFC 3339 date or date-time, inclusive)"
//	@Param			to				query		string	false	"Until this time (RFC 3339 date or date-time, exclusive)"
//	@Param			limit			query		int		false	"Page size"	minimum(1)	maximum(100)	default(20)
//	@Param			cursor			query		string	false	"next_cursor of the previous page"
//	@Success		200				{object}	models.AuditPage
//	@Failure		400				{object}	ErrorResponse	"validation_failed: bad query parameters, or a cursor of another query"
//	@Security		BearerAuth
//	@Failure		401		{object}	ErrorResponse		"unauthenticated: no valid API key"
//	@Failure		403		{object}	ErrorResponse		"forbidden: the key's role does not allow this request"
//	@Failure		413		{object}	ErrorResponse		"payload_too_large: the body is over 1 MiB"
//	@Failure		429		{object}	ErrorResponse		"rate_limited: too many requests for this API key"
//	@Failure		500		{object}	ErrorResponse		"internal: an unexpected error, logged with the request id"
//	@Failure		503		{object}	ErrorResponse		"unavailable: the store did not answer in time, or is busy with reads of whole collections"
//	@Header			401		{string}	WWW-Authenticate	"the scheme to authenticate with: Bearer"
//	@Header			429,503	{string}	Retry-After			"seconds to wait before the next request"
//	@Header			all		{string}	X-Request-Id		"the request's id, as the logs and the audit trail name it"
//	@Router			/api/v1/audit [get]
func (h *Handler) AuditEvents(c *fiber.Ctx) error {
	errs := &models.ValidationError{}
	params := readQuery(c, errs, "insurance_no", "key_name", "action", "from", "to", "limit", "cursor")
	q := models.AuditQuery{
		InsuranceNo: params.one("insurance_no"),
		KeyName:     params.one("key_name"),
		Action:      params.one("action"),
		Limit:       pageLimit(params, errs),
	}
	// to is exclusive: a date stands for its first millisecond, as from's does.
	q.From, q.To = dateParam(params, errs, "from", false), dateParam(params, errs, "to", false)
	q.After = cursorParam(params, errs, models.ParseCursor)
	if q.After != nil {
		checkCursor(errs, q.After.Query, q.Key())
	}
	if err := errs.Err(); err != nil {
		return err
	}
	// The events name patients, but hold nothing of their records.
	audit.DisclosesNone(c.UserContext())
	page, err := h.store.AuditEvents(c.UserContext(), q)
	if err != nil {
		return err
	}
	return c.JSON(page)
}

// VerifyAudit checks every audit chain.
//
//	@Summary		Verify the audit trail
//	@Description	Checks every chain, each whatever the others show: sequence numbers without gaps, each event linked to the one before by its hash, each hash matching its event (keyed with the chain's key, which its head names), and each chain's end matching its head. Lists every break (the first 100, with their total) and the chains that have one. For auditors.
//	@ID				verifyAudit
//	@Tags			audit
//	@Produce		json
//	@Success		200	{object}	models.AuditVerification
//	@Security		BearerAuth
//	@Failure		401		{object}	ErrorResponse		"unauthenticated: no valid API key"
//	@Failure		403		{object}	ErrorResponse		"forbidden: the key's role does not allow this request"
//	@Failure		413		{object}	ErrorResponse		"payload_too_large: the body is over 1 MiB"
//	@Failure		429		{object}	ErrorResponse		"rate_limited: too many requests for this API key"
//	@Failure		500		{object}	ErrorResponse		"internal: an unexpected error, logged with the request id"
//	@Failure		503		{object}	ErrorResponse		"unavailable: the store did not answer in time, or is busy with reads of whole collections"
//	@Header			401		{string}	WWW-Authenticate	"the scheme to authenticate with: Bearer"
//	@Header			429,503	{string}	Retry-After			"seconds to wait before the next request"
//	@Header			all		{string}	X-Request-Id		"the request's id, as the logs and the audit trail name it"
//	@Router			/api/v1/audit/verify [get]
func (h *Handler) VerifyAudit(c *fiber.Ctx) error {
	result, err := h.auditTrail.Verify(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(result)
}
