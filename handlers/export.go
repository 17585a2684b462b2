package handlers

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/clinic/interactions/export"
	"github.com/clinic/interactions/models"
)

// Exporter writes a patient's whole record (export.Exporter).
type Exporter interface {
	Patient(ctx context.Context, no string) (models.Patient, error)
	Write(ctx context.Context, w io.Writer, p models.Patient, r export.Request) error
}

// Exports serves the export of a patient's record. The record is streamed: the answer
// starts once the patient is found, and its body is written after the handler has
// returned, by a goroutine bound by its own time rather than the request's.
type Exports struct {
	base     context.Context
	exporter Exporter
	timeout  time.Duration
	logger   *slog.Logger
}

// NewExports returns the export handler over exporter. Each export's stream stops
// when base ends (the server's shutdown) or after timeout, the time the server gives
// an answer to be written.
func NewExports(base context.Context, exporter Exporter, timeout time.Duration, logger *slog.Logger) *Exports {
	return &Exports{base: base, exporter: exporter, timeout: timeout, logger: logger}
}

// Export streams a patient's whole record.
//
//	@Summary		Export a patient's record
//	@Description	The patient and every interaction of theirs, entered-in-error ones included, newest first (interaction_date, then id, descending), streamed as it is read. format=ndjson (the default, application/x-ndjson): one record a line, as the API answers it: {"patient": {...}} first, then {"interaction": {...}}; an interaction entered in error carries status "entered-in-error" and the reason as amendment_reason. With include=history, every version of the patient, then of each interaction, oldest version first. format=fhir (application/fhir+json): a FHIR R4 Bundle of type collection: the Patient (the insurance number as an identifier of type MB), then per interaction an Encounter, a Condition for the ailment, Observations for symptoms (LOINC 75325-1) and vitals (LOINC, UCUM), a MedicationRequest per med, a ServiceRequest per test, a QuestionnaireResponse for the QA and a DocumentReference for the remarks; an interaction entered in error has every resource entered-in-error. Every reference is the urn:uuid fullUrl of an entry. format=fhir-ndjson (application/fhir+ndjson): the same resources one a line, with references such as Patient/P100, as go run ./seed -fhir FILE imports them. A stream that fails part-way ends without its last chunk, so that the client sees it incomplete.
//	@ID				exportPatient
//	@Tags			patients
//	@Produce		application/x-ndjson
//	@Produce		application/fhir+json
//	@Produce		application/fhir+ndjson
//	@Produce		json
//	@Param			insurance_no	path		string			true	"Insurance number"
//	@Param			format			query		string			false	"ndjson: the service's records; fhir: a FHIR R4 Bundle; fhir-ndjson: FHIR R4 resources, one a line"	Enums(ndjson, fhir, fhir-ndjson)	default(ndjson)
//	@Param			include			query		string			false	"history: every version of each record, oldest first (format=ndjson only)"							Enums(history)
//	@Success		200				{object}	ExportLine		"the record, streamed: NDJSON lines, or one FHIR Bundle"
//	@Failure		400				{object}	ErrorResponse	"validation_failed: not a valid insurance number, or bad query parameters"
//	@Failure		404				{object}	ErrorResponse	"patient_not_found: no patient has this insurance number"
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
//	@Router			/api/v1/patients/{insurance_no}/export [get]
func (x *Exports) Export(c *fiber.Ctx) error {
	no, err := identifierParam(c, "insurance_no")
	if err != nil {
		return err
	}
	req, err := exportRequest(c)
	if err != nil {
		return err
	}
	p, err := x.exporter.Patient(c.UserContext(), no)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, req.Format.ContentType())
	// The export is heavy while it is written, after this returns.
	c.Context().SetBodyStream(x.stream(requestID(c), p, req, keepHeavySlot(c)), -1)
	return nil
}

// exportRequest reads the query parameters of an export. It returns a
// *models.ValidationError naming every parameter that is unknown, repeated or
// invalid.
func exportRequest(c *fiber.Ctx) (export.Request, error) {
	errs := &models.ValidationError{}
	params := readQuery(c, errs, "format", "include")
	format, ok := export.ParseFormat(params.one("format"))
	if !ok {
		errs.Add("format", "must be ndjson, fhir or fhir-ndjson")
	}
	req := export.Request{Format: format}
	switch params.one("include") {
	case "":
	case "history":
		req.History = true
		if format != export.NDJSON {
			errs.Add("include", "history is exported with format=ndjson only")
		}
	default:
		errs.Add("include", "must be history")
	}
	return req, errs.Err()
}

// stream returns the body of the export of p: a pipe a goroutine writes the record
// into, which Fiber reads after the handler has returned and sends in chunks. The
// goroutine stops when the body is closed (the answer was sent, or dropped), when
// the server shuts down, or after x.timeout. An error after the answer has started
// reaches the reader, which ends the answer without its last chunk; it is logged
// here, since the error handler has answered by then. done is called once the body
// is closed.
func (x *Exports) stream(requestID string, p models.Patient, req export.Request, done func()) io.ReadCloser {
	ctx, cancel := context.WithTimeout(x.base, x.timeout)
	pr, pw := io.Pipe()
	// A write blocked on a reader that went away ends with ctx.
	unblock := context.AfterFunc(ctx, func() { pr.CloseWithError(ctx.Err()) })
	go func() {
		err := x.exporter.Write(ctx, pw, p, req)
		switch {
		case err == nil:
			unblock() // the reader has all of it; ctx ending now must not cut it
		case errors.Is(err, io.ErrClosedPipe), errors.Is(err, context.Canceled) && x.base.Err() == nil:
			// The body was closed: the client went away, or the answer was dropped.
		default:
			x.logger.Error("export stopped", "request_id", requestID, "error", err.Error())
		}
		pw.CloseWithError(err)
	}()
	return &exportBody{PipeReader: pr, cancel: cancel, done: done}
}

// exportBody is the body of an export: closing it stops the goroutine writing it,
// and calls done.
type exportBody struct {
	*io.PipeReader
	cancel context.CancelFunc
	done   func()
}

func (b *exportBody) Close() error {
	b.cancel()
	defer b.done()
	return b.PipeReader.Close()
}

// ExportLine documents the answer of an export. Swagger 2.0 gives an answer one
// schema whatever its content type, so this one holds the fields of each form, all
// optional: a line of application/x-ndjson holds patient (the first line) or
// interaction; application/fhir+json is one FHIR R4 Bundle (resourceType Bundle, type
// collection, entry); a line of application/fhir+ndjson is one FHIR R4 resource
// (resourceType, id, and the resource's elements).
type ExportLine struct {
	Patient     *models.Patient     `json:"patient,omitempty"`
	Interaction *models.Interaction `json:"interaction,omitempty"`
	// ResourceType names a FHIR resource: the Bundle, or one of its entries' resources.
	ResourceType string `json:"resourceType,omitempty" enums:"Bundle,Patient,Encounter,Condition,Observation,MedicationRequest,ServiceRequest,QuestionnaireResponse,DocumentReference" example:"Bundle"`
	// ID is the id of a FHIR resource.
	ID string `json:"id,omitempty" example:"visit-1"`
	// Type is the type of the Bundle.
	Type string `json:"type,omitempty" enums:"collection" example:"collection"`
	// Entry holds the Bundle's resources: the Patient first, then each interaction's.
	Entry []FHIREntry `json:"entry,omitempty"`
}

// FHIREntry is one entry of a FHIR Bundle.
type FHIREntry struct {
	// FullURL identifies the resource in the Bundle; references to it use it.
	FullURL string `json:"fullUrl" validate:"required" example:"urn:uuid:8b0f3f0e-6a55-5b7c-9d55-3f6a1c0e2b11"`
	// Resource is a FHIR R4 resource.
	Resource map[string]any `json:"resource" validate:"required" swaggertype:"object"`
}
