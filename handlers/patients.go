package handlers

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/clinic/interactions/models"
)

// CreatePatient stores a new patient.
//
//	@Summary		Create a patient
//	@Description	Stores a patient record, as version 1. Fields beyond the documented ones are kept and returned as sent (their names must not start with '$' or hold '.'). With Idempotency-Key, a retry of the same request gets the first answer again and creates nothing.
//	@ID				createPatient
//	@Tags			patients
//	@Accept			json
//	@Produce		json
//	@Param			patient			body		PatientInput	true	"The patient; insurance_no is required"
//	@Param			Idempotency-Key	header		string			false	"Makes retries safe: 1-255 printable ASCII characters"	minlength(1)	maxlength(255)
//	@Success		201				{object}	models.Patient
//	@Failure		400				{object}	ErrorResponse	"malformed_body or validation_failed"
//	@Failure		409				{object}	ErrorResponse	"conflict: the insurance number is registered; idempotency_in_progress: the first request with this key still runs"
//	@Failure		422				{object}	ErrorResponse	"idempotency_key_reused: the key was used with another request; document_too_large: the record would be over 2 MiB as stored; document_limit_exceeded: the record is past a cap on keys, array elements or metric text (fields names the cap and where)"
//	@Failure		415				{object}	ErrorResponse	"unsupported_media_type: the body is not JSON"
//	@Security		BearerAuth
//	@Failure		401				{object}	ErrorResponse		"unauthenticated: no valid API key"
//	@Failure		403				{object}	ErrorResponse		"forbidden: the key's role does not allow this request"
//	@Failure		413				{object}	ErrorResponse		"payload_too_large: the body is over 1 MiB"
//	@Failure		429				{object}	ErrorResponse		"rate_limited: too many requests for this API key"
//	@Failure		500				{object}	ErrorResponse		"internal: an unexpected error, logged with the request id"
//	@Failure		503				{object}	ErrorResponse		"unavailable: the store did not answer in time, or is busy with reads of whole collections"
//	@Header			201				{string}	Location			"URL of the new patient"
//	@Header			201				{string}	ETag				"ETag of version 1"
//	@Header			201,400,404,409	{string}	Idempotent-Replayed	"true when the answer is a retry's replay of the first"
//	@Header			401				{string}	WWW-Authenticate	"the scheme to authenticate with: Bearer"
//	@Header			429,503			{string}	Retry-After			"seconds to wait before the next request"
//	@Header			all				{string}	X-Request-Id		"the request's id, as the logs and the audit trail name it"
//	@Router			/api/v1/patients [post]
func (h *Handler) CreatePatient(c *fiber.Ctx) error {
	return h.once(c, func(ctx context.Context, _ string) error {
		doc, err := body(c)
		if err != nil {
			return err
		}
		p, err := models.NewPatient(doc, h.now())
		if err != nil {
			return err
		}
		if p, err = h.patients.Create(ctx, p); err != nil {
			return err
		}
		c.Location("/api/v1/patients/" + p.InsuranceNo)
		setETag(c, p.Version)
		return c.Status(fiber.StatusCreated).JSON(p)
	})
}

// GetPatient returns one patient.
//
//	@Summary		Get a patient
//	@Description	The patient record as it is now. With If-None-Match naming its ETag, 304 and no body.
//	@ID				getPatient
//	@Tags			patients
//	@Produce		json
//	@Param			insurance_no	path		string	true	"Insurance number"
//	@Param			If-None-Match	header		string	false	"ETag held by the client"
//	@Success		200				{object}	models.Patient
//	@Success		304				"not modified: the ETag held is current"
//	@Failure		400				{object}	ErrorResponse	"validation_failed: not a valid insurance number"
//	@Failure		404				{object}	ErrorResponse	"not_found: no such patient"
//	@Security		BearerAuth
//	@Failure		401		{object}	ErrorResponse		"unauthenticated: no valid API key"
//	@Failure		403		{object}	ErrorResponse		"forbidden: the key's role does not allow this request"
//	@Failure		413		{object}	ErrorResponse		"payload_too_large: the body is over 1 MiB"
//	@Failure		429		{object}	ErrorResponse		"rate_limited: too many requests for this API key"
//	@Failure		500		{object}	ErrorResponse		"internal: an unexpected error, logged with the request id"
//	@Failure		503		{object}	ErrorResponse		"unavailable: the store did not answer in time, or is busy with reads of whole collections"
//	@Header			200,304	{string}	ETag				"ETag of the current version"
//	@Header			401		{string}	WWW-Authenticate	"the scheme to authenticate with: Bearer"
//	@Header			429,503	{string}	Retry-After			"seconds to wait before the next request"
//	@Header			all		{string}	X-Request-Id		"the request's id, as the logs and the audit trail name it"
//	@Router			/api/v1/patients/{insurance_no} [get]
func (h *Handler) GetPatient(c *fiber.Ctx) error {
	no, err := identifierParam(c, "insurance_no")
	if err != nil {
		return err
	}
	p, err := h.patients.Get(c.UserContext(), no)
	if err != nil {
		return err
	}
	if notModified(c, p.Version) {
		return nil
	}
	setETag(c, p.Version)
	return c.JSON(p)
}
