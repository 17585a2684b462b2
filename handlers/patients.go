package handlers

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/clinic/interactions/models"
)

// CreatePatient stores a new patient.
//
//	@Summary		Create a patient
//	@Description	Stores a patient record. Fields beyond the documented ones are kept and returned as sent (names must not start with '$' or contain '.').
//	@Tags			patients
//	@Accept			json
//	@Produce		json
//	@Param			patient			body		models.Patient	true	"The patient; insurance_no is required, created_at and updated_at are set by the server"
//	@Param			Idempotency-Key	header		string			false	"Makes retries safe: a retry with the same key and body gets the first answer and creates nothing"
//	@Success		201				{object}	models.Patient
//	@Header			201				{string}	Location	"URL of the new patient"
//	@Header			201				{string}	ETag		"ETag of version 1"
//	@Failure		400		{object}	ErrorResponse	"malformed JSON or invalid fields"
//	@Failure		409		{object}	ErrorResponse	"the insurance number is already registered"
//	@Failure		413		{object}	ErrorResponse	"body over 1 MiB"
//	@Failure		415		{object}	ErrorResponse	"body is not JSON"
//	@Failure		422		{object}	ErrorResponse	"the Idempotency-Key was used with a different request"
//	@Failure	401	{object}	ErrorResponse	"no valid API key"
//	@Failure	403	{object}	ErrorResponse	"the key's role does not allow this"
//	@Failure	429	{object}	ErrorResponse	"rate limit reached; see Retry-After"
//	@Security	BearerAuth
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
//	@Summary	Get a patient
//	@Tags		patients
//	@Produce	json
//	@Param		insurance_no	path		string	true	"Insurance number"
//	@Param		If-None-Match	header		string	false	"ETag held by the client: 304 when still current"
//	@Success	200				{object}	models.Patient
//	@Header		200				{string}	ETag	"ETag of the current version"
//	@Success	304				"not modified"
//	@Failure	400				{object}	ErrorResponse	"not a valid insurance number"
//	@Failure	404				{object}	ErrorResponse	"no such patient"
//	@Failure	401	{object}	ErrorResponse	"no valid API key"
//	@Failure	403	{object}	ErrorResponse	"the key's role does not allow this"
//	@Failure	429	{object}	ErrorResponse	"rate limit reached; see Retry-After"
//	@Security	BearerAuth
//	@Router		/api/v1/patients/{insurance_no} [get]
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
