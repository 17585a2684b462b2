package handlers

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/clinic/interactions/models"
)

// CreateInteraction records a visit.
//
//	@Summary		Record an interaction
//	@Description	Stores one visit of an existing patient, as version 1. id is optional: the server assigns a time-ordered UUID. Fields beyond the documented ones are kept and returned as sent (their names must not start with '$' or hold '.'). With Idempotency-Key, a retry of the same request gets the first answer again and creates nothing.
//	@ID				createInteraction
//	@Tags			interactions
//	@Accept			json
//	@Produce		json
//	@Param			interaction		body		InteractionInput	true	"The interaction; insurance_no is required"
//	@Param			Idempotency-Key	header		string				false	"Makes retries safe: 1-255 printable ASCII characters"	minlength(1)	maxlength(255)
//	@Success		201				{object}	models.Interaction
//	@Failure		400				{object}	ErrorResponse	"malformed_body or validation_failed"
//	@Failure		404				{object}	ErrorResponse	"patient_not_found: no patient has this insurance number"
//	@Failure		409				{object}	ErrorResponse	"conflict: an interaction has this id; idempotency_in_progress: the first request with this key still runs"
//	@Failure		422				{object}	ErrorResponse	"idempotency_key_reused: the key was used with another request; document_too_large: the record would be over 2 MiB as stored; document_limit_exceeded: the record is past a cap on keys, array elements or metric text (fields names the cap and where)"
//	@Failure		415				{object}	ErrorResponse	"unsupported_media_type: the body is not JSON"
//	@Security		BearerAuth
//	@Failure		401				{object}	ErrorResponse		"unauthenticated: no valid API key"
//	@Failure		403				{object}	ErrorResponse		"forbidden: the key's role does not allow this request"
//	@Failure		413				{object}	ErrorResponse		"payload_too_large: the body is over 1 MiB"
//	@Failure		429				{object}	ErrorResponse		"rate_limited: too many requests for this API key"
//	@Failure		500				{object}	ErrorResponse		"internal: an unexpected error, logged with the request id"
//	@Failure		503				{object}	ErrorResponse		"unavailable: the store did not answer in time, or is busy with reads of whole collections"
//	@Header			201				{string}	Location			"URL of the new interaction"
//	@Header			201				{string}	ETag				"ETag of version 1"
//	@Header			201,400,404,409	{string}	Idempotent-Replayed	"true when the answer is a retry's replay of the first"
//	@Header			401				{string}	WWW-Authenticate	"the scheme to authenticate with: Bearer"
//	@Header			429,503			{string}	Retry-After			"seconds to wait before the next request"
//	@Header			all				{string}	X-Request-Id		"the request's id, as the logs and the audit trail name it"
//	@Router			/api/v1/interactions [post]
func (h *Handler) CreateInteraction(c *fiber.Ctx) error {
	return h.once(c, func(ctx context.Context, reservedID string) error {
		doc, err := body(c)
		if err != nil {
			return err
		}
		in, err := models.NewInteraction(doc, h.now())
		if err != nil {
			return err
		}
		if in, err = h.interactions.Create(ctx, in, reservedID); err != nil {
			return err
		}
		c.Location("/api/v1/interactions/" + in.ID)
		setETag(c, in.Version)
		return c.Status(fiber.StatusCreated).JSON(in)
	})
}

// GetInteraction returns one interaction.
//
//	@Summary		Get an interaction
//	@Description	The interaction as it is now. With If-None-Match naming its ETag, 304 and no body. One marked entered-in-error answers 410; its versions stay readable under /history.
//	@ID				getInteraction
//	@Tags			interactions
//	@Produce		json
//	@Param			id				path		string	true	"Interaction id"
//	@Param			If-None-Match	header		string	false	"ETag held by the client"
//	@Success		200				{object}	models.Interaction
//	@Success		304				"not modified: the ETag held is current"
//	@Failure		400				{object}	ErrorResponse	"validation_failed: not a valid id"
//	@Failure		404				{object}	ErrorResponse	"not_found: no such interaction"
//	@Failure		410				{object}	ErrorResponse	"entered_in_error: fields.status and fields.reason say why"
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
//	@Router			/api/v1/interactions/{id} [get]
func (h *Handler) GetInteraction(c *fiber.Ctx) error {
	id, err := identifierParam(c, "id")
	if err != nil {
		return err
	}
	in, err := h.interactions.Get(c.UserContext(), id)
	if err != nil {
		return err
	}
	if notModified(c, in.Version) {
		return nil
	}
	setETag(c, in.Version)
	return c.JSON(in)
}

// History lists a patient's interactions, newest first.
//
//	@Summary		A patient's history
//	@Description	Interactions of one patient, newest first (interaction_date, then id, descending), one page at a time. Pass next_cursor back as cursor, with the same filters, for the next page; it is null on the last page. A page holds at most 4 MiB of records: fewer than limit when they are large. Pages stay free of duplicates and gaps while interactions are being added.
//	@ID				listPatientInteractions
//	@Tags			interactions
//	@Produce		json
//	@Param			insurance_no	path		string		true	"Insurance number"
//	@Param			label			query		[]string	false	"Keep interactions carrying these labels (repeat the parameter or separate with commas; case-insensitive)"	collectionFormat(multi)
//	@Param			label_mode		query		string		false	"any (default): at least one of the labels; all: every label"												Enums(any, all)
//	@Param			limit			query		int			false	"Page size"																									minimum(1)	maximum(100)	default(20)
//	@Param			cursor			query		string		false	"next_cursor of the previous page"
//	@Param			include			query		string		false	"entered-in-error: also list interactions marked so"	Enums(entered-in-error)
//	@Success		200				{object}	models.Page
//	@Failure		400				{object}	ErrorResponse	"validation_failed: bad query parameters, or a cursor of another query"
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
//	@Router			/api/v1/patients/{insurance_no}/interactions [get]
func (h *Handler) History(c *fiber.Ctx) error {
	no, err := identifierParam(c, "insurance_no")
	if err != nil {
		return err
	}
	q, err := visitQuery(c, no)
	if err != nil {
		return err
	}
	page, err := h.interactions.History(c.UserContext(), q)
	if err != nil {
		return err
	}
	return c.JSON(page)
}
