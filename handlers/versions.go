package handlers

import (
	"github.com/gofiber/fiber/v2"

	"github.com/clinic/interactions/models"
)

// PatchInteraction amends an interaction.
//
//	@Summary		Amend an interaction
//	@Description	Applies a JSON merge patch (RFC 7396: null removes a field, objects merge) as the next version; the previous one stays under /history. The result is validated like a create; id and insurance_no cannot change, interaction_date cannot be removed. Requires If-Match with the current ETag.
//	@ID				amendInteraction
//	@Tags			interactions
//	@Accept			json
//	@Accept			application/merge-patch+json
//	@Produce		json
//	@Param			id			path		string				true	"Interaction id"
//	@Param			If-Match	header		string				true	"The ETag of the version being changed, with its quotes: exactly one"
//	@Param			reason		query		string				false	"Why the record is changed (kept with the new version)"	maxlength(1000)
//	@Param			patch		body		InteractionPatch	true	"Fields to change; null removes a field"
//	@Success		200			{object}	models.Interaction
//	@Failure		400			{object}	ErrorResponse	"malformed_body or validation_failed: a bad patch, result, If-Match or parameter; malformed_request: If-Match lists more than one ETag"
//	@Failure		404			{object}	ErrorResponse	"not_found: no such interaction"
//	@Failure		410			{object}	ErrorResponse	"entered_in_error: the interaction was marked so"
//	@Failure		412			{object}	ErrorResponse	"precondition_failed: the record changed since that version"
//	@Failure		422			{object}	ErrorResponse	"document_too_large: the amended record would be over 2 MiB as stored; document_limit_exceeded: the patch, or the amended record, is past a cap on keys, array elements or metric text (fields names the cap and where)"
//	@Failure		428			{object}	ErrorResponse	"precondition_required: If-Match is missing or *"
//	@Failure		415			{object}	ErrorResponse	"unsupported_media_type: the body is not JSON"
//	@Security		BearerAuth
//	@Failure		401		{object}	ErrorResponse		"unauthenticated: no valid API key"
//	@Failure		403		{object}	ErrorResponse		"forbidden: the key's role does not allow this request"
//	@Failure		413		{object}	ErrorResponse		"payload_too_large: the body is over 1 MiB"
//	@Failure		429		{object}	ErrorResponse		"rate_limited: too many requests for this API key"
//	@Failure		500		{object}	ErrorResponse		"internal: an unexpected error, logged with the request id"
//	@Failure		503		{object}	ErrorResponse		"unavailable: the store did not answer in time, or is busy with reads of whole collections"
//	@Header			200		{string}	ETag				"ETag of the new version"
//	@Header			401		{string}	WWW-Authenticate	"the scheme to authenticate with: Bearer"
//	@Header			429,503	{string}	Retry-After			"seconds to wait before the next request"
//	@Header			all		{string}	X-Request-Id		"the request's id, as the logs and the audit trail name it"
//	@Router			/api/v1/interactions/{id} [patch]
func (h *Handler) PatchInteraction(c *fiber.Ctx) error {
	id, match, reason, err := changeRequest(c, "id")
	if err != nil {
		return err
	}
	patch, err := body(c)
	if err != nil {
		return err
	}
	in, err := h.interactions.Amend(c.UserContext(), id, match, patch, reason)
	if err != nil {
		return err
	}
	setETag(c, in.Version)
	return c.JSON(in)
}

// DeleteInteraction marks an interaction entered-in-error; nothing is removed.
//
//	@Summary		Mark an interaction entered-in-error
//	@Description	Records, as the next version, that the interaction was entered in error. It is kept with its full history, left out of lists unless include=entered-in-error, and GET answers 410. Requires If-Match and a reason, in the query or the body.
//	@ID				markInteractionEnteredInError
//	@Tags			interactions
//	@Accept			json
//	@Produce		json
//	@Param			id			path		string			true	"Interaction id"
//	@Param			If-Match	header		string			true	"The ETag of the version being changed, with its quotes: exactly one"
//	@Param			reason		query		string			false	"Why the record was entered in error (or in the body)"	maxlength(1000)
//	@Param			body		body		ReasonRequest	false	"The reason, when not in the query"
//	@Success		200			{object}	models.Interaction
//	@Failure		400			{object}	ErrorResponse	"malformed_body or validation_failed: no reason, or a bad If-Match or parameter; malformed_request: If-Match lists more than one ETag"
//	@Failure		404			{object}	ErrorResponse	"not_found: no such interaction"
//	@Failure		410			{object}	ErrorResponse	"entered_in_error: already marked so"
//	@Failure		412			{object}	ErrorResponse	"precondition_failed: the record changed since that version"
//	@Failure		428			{object}	ErrorResponse	"precondition_required: If-Match is missing or *"
//	@Failure		415			{object}	ErrorResponse	"unsupported_media_type: the body is not JSON"
//	@Security		BearerAuth
//	@Failure		401		{object}	ErrorResponse		"unauthenticated: no valid API key"
//	@Failure		403		{object}	ErrorResponse		"forbidden: the key's role does not allow this request"
//	@Failure		413		{object}	ErrorResponse		"payload_too_large: the body is over 1 MiB"
//	@Failure		429		{object}	ErrorResponse		"rate_limited: too many requests for this API key"
//	@Failure		500		{object}	ErrorResponse		"internal: an unexpected error, logged with the request id"
//	@Failure		503		{object}	ErrorResponse		"unavailable: the store did not answer in time, or is busy with reads of whole collections"
//	@Header			200		{string}	ETag				"ETag of the new version"
//	@Header			401		{string}	WWW-Authenticate	"the scheme to authenticate with: Bearer"
//	@Header			429,503	{string}	Retry-After			"seconds to wait before the next request"
//	@Header			all		{string}	X-Request-Id		"the request's id, as the logs and the audit trail name it"
//	@Router			/api/v1/interactions/{id} [delete]
func (h *Handler) DeleteInteraction(c *fiber.Ctx) error {
	id, match, reason, err := changeRequest(c, "id")
	if err != nil {
		return err
	}
	if len(c.Body()) > 0 {
		fromBody, err := reasonBody(c)
		if err != nil {
			return err
		}
		if reason != "" && fromBody != "" {
			return models.Invalid("reason", "give the reason in the query or in the body, not both")
		}
		reason += fromBody
	}
	in, err := h.interactions.MarkEnteredInError(c.UserContext(), id, match, reason)
	if err != nil {
		return err
	}
	setETag(c, in.Version)
	return c.JSON(in)
}

// InteractionHistory lists every version of an interaction.
//
//	@Summary		An interaction's versions
//	@Description	Every version, newest first, the current one included, also of an interaction marked entered-in-error. Pass next_cursor back as cursor for the next page; it is null on the last page.
//	@ID				listInteractionVersions
//	@Tags			interactions
//	@Produce		json
//	@Param			id		path		string	true	"Interaction id"
//	@Param			limit	query		int		false	"Page size"	minimum(1)	maximum(100)	default(20)
//	@Param			cursor	query		string	false	"next_cursor of the previous page"
//	@Success		200		{object}	models.InteractionVersions
//	@Failure		400		{object}	ErrorResponse	"validation_failed: bad query parameters"
//	@Failure		404		{object}	ErrorResponse	"not_found: no such interaction"
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
//	@Router			/api/v1/interactions/{id}/history [get]
func (h *Handler) InteractionHistory(c *fiber.Ctx) error {
	id, err := identifierParam(c, "id")
	if err != nil {
		return err
	}
	record := models.QueryKey("interaction versions", id)
	limit, before, err := versionsQuery(c, record)
	if err != nil {
		return err
	}
	page, err := h.interactions.Versions(c.UserContext(), id, before, limit)
	if err != nil {
		return err
	}
	return c.JSON(models.InteractionVersions{Items: page.Items, NextCursor: versionsCursor(page.Next, record)})
}

// InteractionVersion returns one version of an interaction.
//
//	@Summary		One version of an interaction
//	@Description	The version as it was served then, also of an interaction marked entered-in-error.
//	@ID				getInteractionVersion
//	@Tags			interactions
//	@Produce		json
//	@Param			id		path		string	true	"Interaction id"
//	@Param			version	path		int		true	"Version number"	minimum(1)
//	@Success		200		{object}	models.Interaction
//	@Failure		400		{object}	ErrorResponse	"validation_failed: not a version number"
//	@Failure		404		{object}	ErrorResponse	"not_found: no such interaction or version"
//	@Security		BearerAuth
//	@Failure		401		{object}	ErrorResponse		"unauthenticated: no valid API key"
//	@Failure		403		{object}	ErrorResponse		"forbidden: the key's role does not allow this request"
//	@Failure		413		{object}	ErrorResponse		"payload_too_large: the body is over 1 MiB"
//	@Failure		429		{object}	ErrorResponse		"rate_limited: too many requests for this API key"
//	@Failure		500		{object}	ErrorResponse		"internal: an unexpected error, logged with the request id"
//	@Failure		503		{object}	ErrorResponse		"unavailable: the store did not answer in time, or is busy with reads of whole collections"
//	@Header			200		{string}	ETag				"ETag of that version"
//	@Header			401		{string}	WWW-Authenticate	"the scheme to authenticate with: Bearer"
//	@Header			429,503	{string}	Retry-After			"seconds to wait before the next request"
//	@Header			all		{string}	X-Request-Id		"the request's id, as the logs and the audit trail name it"
//	@Router			/api/v1/interactions/{id}/history/{version} [get]
func (h *Handler) InteractionVersion(c *fiber.Ctx) error {
	id, err := identifierParam(c, "id")
	if err != nil {
		return err
	}
	v, err := versionParam(c)
	if err != nil {
		return err
	}
	in, err := h.interactions.Version(c.UserContext(), id, v)
	if err != nil {
		return err
	}
	setETag(c, v)
	return c.JSON(in)
}

// PatchPatient amends a patient.
//
//	@Summary		Amend a patient
//	@Description	Applies a JSON merge patch (RFC 7396: null removes a field, objects merge) as the next version; the previous one stays under /history. The result is validated like a create; insurance_no cannot change. Requires If-Match with the current ETag.
//	@ID				amendPatient
//	@Tags			patients
//	@Accept			json
//	@Accept			application/merge-patch+json
//	@Produce		json
//	@Param			insurance_no	path		string			true	"Insurance number"
//	@Param			If-Match		header		string			true	"The ETag of the version being changed, with its quotes: exactly one"
//	@Param			reason			query		string			false	"Why the record is changed (kept with the new version)"	maxlength(1000)
//	@Param			patch			body		PatientPatch	true	"Fields to change; null removes a field"
//	@Success		200				{object}	models.Patient
//	@Failure		400				{object}	ErrorResponse	"malformed_body or validation_failed: a bad patch, result, If-Match or parameter; malformed_request: If-Match lists more than one ETag"
//	@Failure		404				{object}	ErrorResponse	"not_found: no such patient"
//	@Failure		412				{object}	ErrorResponse	"precondition_failed: the record changed since that version"
//	@Failure		422				{object}	ErrorResponse	"document_too_large: the amended record would be over 2 MiB as stored; document_limit_exceeded: the patch, or the amended record, is past a cap on keys, array elements or metric text (fields names the cap and where)"
//	@Failure		428				{object}	ErrorResponse	"precondition_required: If-Match is missing or *"
//	@Failure		415				{object}	ErrorResponse	"unsupported_media_type: the body is not JSON"
//	@Security		BearerAuth
//	@Failure		401		{object}	ErrorResponse		"unauthenticated: no valid API key"
//	@Failure		403		{object}	ErrorResponse		"forbidden: the key's role does not allow this request"
//	@Failure		413		{object}	ErrorResponse		"payload_too_large: the body is over 1 MiB"
//	@Failure		429		{object}	ErrorResponse		"rate_limited: too many requests for this API key"
//	@Failure		500		{object}	ErrorResponse		"internal: an unexpected error, logged with the request id"
//	@Failure		503		{object}	ErrorResponse		"unavailable: the store did not answer in time, or is busy with reads of whole collections"
//	@Header			200		{string}	ETag				"ETag of the new version"
//	@Header			401		{string}	WWW-Authenticate	"the scheme to authenticate with: Bearer"
//	@Header			429,503	{string}	Retry-After			"seconds to wait before the next request"
//	@Header			all		{string}	X-Request-Id		"the request's id, as the logs and the audit trail name it"
//	@Router			/api/v1/patients/{insurance_no} [patch]
func (h *Handler) PatchPatient(c *fiber.Ctx) error {
	no, match, reason, err := changeRequest(c, "insurance_no")
	if err != nil {
		return err
	}
	patch, err := body(c)
	if err != nil {
		return err
	}
	p, err := h.patients.Amend(c.UserContext(), no, match, patch, reason)
	if err != nil {
		return err
	}
	setETag(c, p.Version)
	return c.JSON(p)
}

// PatientHistory lists every version of a patient.
//
//	@Summary		A patient record's versions
//	@Description	Every version of the patient record, newest first, the current one included, one page at a time. Pass next_cursor back as cursor for the next page; it is null on the last page.
//	@ID				listPatientVersions
//	@Tags			patients
//	@Produce		json
//	@Param			insurance_no	path		string	true	"Insurance number"
//	@Param			limit			query		int		false	"Page size"	minimum(1)	maximum(100)	default(20)
//	@Param			cursor			query		string	false	"next_cursor of the previous page"
//	@Success		200				{object}	models.PatientVersions
//	@Failure		400				{object}	ErrorResponse	"validation_failed: bad query parameters"
//	@Failure		404				{object}	ErrorResponse	"not_found: no such patient"
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
//	@Router			/api/v1/patients/{insurance_no}/history [get]
func (h *Handler) PatientHistory(c *fiber.Ctx) error {
	no, err := identifierParam(c, "insurance_no")
	if err != nil {
		return err
	}
	record := models.QueryKey("patient versions", no)
	limit, before, err := versionsQuery(c, record)
	if err != nil {
		return err
	}
	page, err := h.patients.Versions(c.UserContext(), no, before, limit)
	if err != nil {
		return err
	}
	return c.JSON(models.PatientVersions{Items: page.Items, NextCursor: versionsCursor(page.Next, record)})
}

// PatientVersion returns one version of a patient.
//
//	@Summary		One version of a patient record
//	@Description	The version as it was served then.
//	@ID				getPatientVersion
//	@Tags			patients
//	@Produce		json
//	@Param			insurance_no	path		string	true	"Insurance number"
//	@Param			version			path		int		true	"Version number"	minimum(1)
//	@Success		200				{object}	models.Patient
//	@Failure		400				{object}	ErrorResponse	"validation_failed: not a version number"
//	@Failure		404				{object}	ErrorResponse	"not_found: no such patient or version"
//	@Security		BearerAuth
//	@Failure		401		{object}	ErrorResponse		"unauthenticated: no valid API key"
//	@Failure		403		{object}	ErrorResponse		"forbidden: the key's role does not allow this request"
//	@Failure		413		{object}	ErrorResponse		"payload_too_large: the body is over 1 MiB"
//	@Failure		429		{object}	ErrorResponse		"rate_limited: too many requests for this API key"
//	@Failure		500		{object}	ErrorResponse		"internal: an unexpected error, logged with the request id"
//	@Failure		503		{object}	ErrorResponse		"unavailable: the store did not answer in time, or is busy with reads of whole collections"
//	@Header			200		{string}	ETag				"ETag of that version"
//	@Header			401		{string}	WWW-Authenticate	"the scheme to authenticate with: Bearer"
//	@Header			429,503	{string}	Retry-After			"seconds to wait before the next request"
//	@Header			all		{string}	X-Request-Id		"the request's id, as the logs and the audit trail name it"
//	@Router			/api/v1/patients/{insurance_no}/history/{version} [get]
func (h *Handler) PatientVersion(c *fiber.Ctx) error {
	no, err := identifierParam(c, "insurance_no")
	if err != nil {
		return err
	}
	v, err := versionParam(c)
	if err != nil {
		return err
	}
	p, err := h.patients.Version(c.UserContext(), no, v)
	if err != nil {
		return err
	}
	setETag(c, v)
	return c.JSON(p)
}
