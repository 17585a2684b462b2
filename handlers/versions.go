package handlers

import (
	"github.com/gofiber/fiber/v2"

	"github.com/clinic/interactions/models"
)

// PatchInteraction amends an interaction.
//
//	@Summary		Amend an interaction
//	@Description	Applies a JSON merge patch (RFC 7396: null removes a field, objects merge). The result is validated like a create; id and insurance_no cannot change. The previous version stays retrievable under /history. Requires If-Match with the current ETag.
//	@Tags			interactions
//	@Accept			json
//	@Accept			application/merge-patch+json
//	@Produce		json
//	@Param			id			path		string				true	"Interaction id"
//	@Param			If-Match	header		string				true	"ETag of the version being amended, e.g. \"1\""
//	@Param			reason		query		string				false	"Why the record is amended (stored with the new version)"
//	@Param			patch		body		models.Interaction	true	"Fields to change; null removes a field"
//	@Success		200			{object}	models.Interaction
//	@Header			200			{string}	ETag	"ETag of the new version"
//	@Failure		400			{object}	ErrorResponse	"invalid patch or result"
//	@Failure		404			{object}	ErrorResponse	"no such interaction"
//	@Failure		410			{object}	ErrorResponse	"the interaction was marked entered-in-error"
//	@Failure		412			{object}	ErrorResponse	"If-Match is not the current version"
//	@Failure		428			{object}	ErrorResponse	"If-Match is missing"
//	@Failure	401	{object}	ErrorResponse	"no valid API key"
//	@Failure	403	{object}	ErrorResponse	"the key's role does not allow this"
//	@Failure	429	{object}	ErrorResponse	"rate limit reached; see Retry-After"
//	@Security	BearerAuth
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
//	@Description	Records that the interaction was entered in error. It is kept with its full history, left out of lists unless include=entered-in-error, and GET answers 410. Requires If-Match and a reason (query parameter or body).
//	@Tags			interactions
//	@Accept			json
//	@Produce		json
//	@Param			id			path		string			true	"Interaction id"
//	@Param			If-Match	header		string			true	"ETag of the current version"
//	@Param			reason		query		string			false	"Why the record was entered in error (or in the body)"
//	@Param			body		body		ReasonRequest	false	"The reason, when not in the query"
//	@Success		200			{object}	models.Interaction
//	@Header			200			{string}	ETag	"ETag of the new version"
//	@Failure		400			{object}	ErrorResponse	"no reason"
//	@Failure		404			{object}	ErrorResponse	"no such interaction"
//	@Failure		410			{object}	ErrorResponse	"already marked entered-in-error"
//	@Failure		412			{object}	ErrorResponse	"If-Match is not the current version"
//	@Failure		428			{object}	ErrorResponse	"If-Match is missing"
//	@Failure	401	{object}	ErrorResponse	"no valid API key"
//	@Failure	403	{object}	ErrorResponse	"the key's role does not allow this"
//	@Failure	429	{object}	ErrorResponse	"rate limit reached; see Retry-After"
//	@Security	BearerAuth
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

// ReasonRequest carries the reason for marking a record entered-in-error.
type ReasonRequest struct {
	Reason string `json:"reason" example:"recorded for the wrong patient"`
}

// InteractionHistory lists every version of an interaction.
//
//	@Summary		An interaction's versions
//	@Description	Every version, newest first, the current one included; also for an interaction marked entered-in-error. Paginated like a patient's history.
//	@Tags			interactions
//	@Produce		json
//	@Param			id		path		string	true	"Interaction id"
//	@Param			limit	query		int		false	"Page size, 1-100"	minimum(1)	maximum(100)	default(20)
//	@Param			cursor	query		string	false	"next_cursor of the previous page"
//	@Success		200		{object}	models.InteractionVersions
//	@Failure		400		{object}	ErrorResponse	"bad query parameters"
//	@Failure		404		{object}	ErrorResponse	"no such interaction"
//	@Failure	401	{object}	ErrorResponse	"no valid API key"
//	@Failure	403	{object}	ErrorResponse	"the key's role does not allow this"
//	@Failure	429	{object}	ErrorResponse	"rate limit reached; see Retry-After"
//	@Security	BearerAuth
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
//	@Summary	One version of an interaction
//	@Tags		interactions
//	@Produce	json
//	@Param		id		path		string	true	"Interaction id"
//	@Param		version	path		int		true	"Version number"
//	@Success	200		{object}	models.Interaction
//	@Header		200		{string}	ETag	"ETag of that version"
//	@Failure	400		{object}	ErrorResponse	"not a version number"
//	@Failure	404		{object}	ErrorResponse	"no such interaction or version"
//	@Failure	401	{object}	ErrorResponse	"no valid API key"
//	@Failure	403	{object}	ErrorResponse	"the key's role does not allow this"
//	@Failure	429	{object}	ErrorResponse	"rate limit reached; see Retry-After"
//	@Security	BearerAuth
//	@Router		/api/v1/interactions/{id}/history/{version} [get]
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
//	@Description	Applies a JSON merge patch (RFC 7396: null removes a field, objects merge). The result is validated like a create; insurance_no cannot change. The previous version stays retrievable under /history. Requires If-Match with the current ETag.
//	@Tags			patients
//	@Accept			json
//	@Accept			application/merge-patch+json
//	@Produce		json
//	@Param			insurance_no	path		string			true	"Insurance number"
//	@Param			If-Match		header		string			true	"ETag of the version being amended, e.g. \"1\""
//	@Param			reason			query		string			false	"Why the record is amended (stored with the new version)"
//	@Param			patch			body		models.Patient	true	"Fields to change; null removes a field"
//	@Success		200				{object}	models.Patient
//	@Header			200				{string}	ETag	"ETag of the new version"
//	@Failure		400				{object}	ErrorResponse	"invalid patch or result"
//	@Failure		404				{object}	ErrorResponse	"no such patient"
//	@Failure		412				{object}	ErrorResponse	"If-Match is not the current version"
//	@Failure		428				{object}	ErrorResponse	"If-Match is missing"
//	@Failure	401	{object}	ErrorResponse	"no valid API key"
//	@Failure	403	{object}	ErrorResponse	"the key's role does not allow this"
//	@Failure	429	{object}	ErrorResponse	"rate limit reached; see Retry-After"
//	@Security	BearerAuth
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
//	@Description	Every version of the patient record, newest first, the current one included. Paginated like a patient's history.
//	@Tags			patients
//	@Produce		json
//	@Param			insurance_no	path		string	true	"Insurance number"
//	@Param			limit			query		int		false	"Page size, 1-100"	minimum(1)	maximum(100)	default(20)
//	@Param			cursor			query		string	false	"next_cursor of the previous page"
//	@Success		200				{object}	models.PatientVersions
//	@Failure		400				{object}	ErrorResponse	"bad query parameters"
//	@Failure		404				{object}	ErrorResponse	"no such patient"
//	@Failure	401	{object}	ErrorResponse	"no valid API key"
//	@Failure	403	{object}	ErrorResponse	"the key's role does not allow this"
//	@Failure	429	{object}	ErrorResponse	"rate limit reached; see Retry-After"
//	@Security	BearerAuth
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
//	@Summary	One version of a patient record
//	@Tags		patients
//	@Produce	json
//	@Param		insurance_no	path		string	true	"Insurance number"
//	@Param		version			path		int		true	"Version number"
//	@Success	200				{object}	models.Patient
//	@Header		200				{string}	ETag	"ETag of that version"
//	@Failure	400				{object}	ErrorResponse	"not a version number"
//	@Failure	404				{object}	ErrorResponse	"no such patient or version"
//	@Failure	401	{object}	ErrorResponse	"no valid API key"
//	@Failure	403	{object}	ErrorResponse	"the key's role does not allow this"
//	@Failure	429	{object}	ErrorResponse	"rate limit reached; see Retry-After"
//	@Security	BearerAuth
//	@Router		/api/v1/patients/{insurance_no}/history/{version} [get]
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
