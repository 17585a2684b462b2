package handlers

import (
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/clinic/interactions/models"
)

// setETag gives the response the entity tag of version.
func setETag(c *fiber.Ctx, version int) {
	c.Set(fiber.HeaderETag, models.ETag(version))
}

// notModified answers 304 and reports true when If-None-Match names version.
func notModified(c *fiber.Ctx, version int) bool {
	inm := c.Get(fiber.HeaderIfNoneMatch)
	if inm == "" || !models.MatchesETagWeak(inm, version) {
		return false
	}
	setETag(c, version)
	c.Status(fiber.StatusNotModified)
	return true
}

// ifMatch returns a copy of the If-Match header, or models.ErrPreconditionRequired.
func ifMatch(c *fiber.Ctx) (string, error) {
	v := c.Get(fiber.HeaderIfMatch)
	if v == "" {
		return "", models.ErrPreconditionRequired
	}
	return string([]byte(v)), nil
}

// checkIfMatch returns models.ErrPreconditionFailed unless header names version.
func checkIfMatch(header string, version int) error {
	if !models.MatchesETag(header, version) {
		return models.ErrPreconditionFailed
	}
	return nil
}

// versionParam reads the version path parameter: an integer of 1 or more.
func versionParam(c *fiber.Ctx) (int, error) {
	v, err := strconv.Atoi(c.Params("version"))
	if err != nil || v < 1 {
		return 0, models.Invalid("version", "must be an integer of 1 or more")
	}
	return v, nil
}

// versionsQuery reads the limit and cursor of a version history.
func versionsQuery(c *fiber.Ctx) (limit int, before int, err error) {
	errs := &models.ValidationError{}
	params := readQuery(c, errs, "limit", "cursor")
	limit = pageLimit(params, errs)
	if cur, ok := params["cursor"]; ok {
		vc, err := models.ParseVersionCursor(cur[0])
		if err != nil {
			errs.Add("cursor", "is not a cursor this service issued; use next_cursor from a previous page")
		}
		before = vc.Version
	}
	return limit, before, errs.Err()
}

// versionPage assembles one page of a record's versions, newest first: the current
// version, then the archived ones below it. before, when not 0, continues below that
// version. earlier reads archived versions below a version, newest first.
func versionPage[T any](current T, currentVersion, before, limit int, version func(T) int,
	earlier func(before, limit int) ([]T, error)) ([]T, *string, error) {
	items := make([]T, 0, limit+1)
	upper := currentVersion
	if before == 0 || before > currentVersion {
		items = append(items, current)
	} else {
		upper = before
	}
	more, err := earlier(upper, limit+1-len(items))
	if err != nil {
		return nil, nil, err
	}
	items = append(items, more...)
	if len(items) <= limit {
		return items, nil, nil
	}
	items = items[:limit]
	next := models.VersionCursor{Version: version(items[limit-1])}.Encode()
	return items, &next, nil
}

// versionOf returns version v of a record at currentVersion: current itself, or the
// archived copy that archived reads. It returns models.ErrNotFound for a version the
// record has not reached.
func versionOf[T any](current T, currentVersion, v int, archived func(int) (T, error)) (T, error) {
	switch {
	case v > currentVersion:
		var zero T
		return zero, models.ErrNotFound
	case v < currentVersion:
		return archived(v)
	}
	return current, nil
}

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
func (h *Handlers) PatchInteraction(c *fiber.Ctx) error {
	id, err := identifierParam(c, "id")
	if err != nil {
		return err
	}
	match, err := ifMatch(c)
	if err != nil {
		return err
	}
	reason, err := reasonQuery(c)
	if err != nil {
		return err
	}
	patch, err := body(c)
	if err != nil {
		return err
	}
	current, err := h.validInteraction(c, id)
	if err != nil {
		return err
	}
	if err := checkIfMatch(match, current.Version); err != nil {
		return err
	}
	next, err := models.AmendInteraction(current, patch, reason, h.now())
	if err != nil {
		return err
	}
	if next, err = h.store.AmendInteraction(c.UserContext(), current, next); err != nil {
		return err
	}
	setETag(c, next.Version)
	return c.JSON(next)
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
func (h *Handlers) DeleteInteraction(c *fiber.Ctx) error {
	id, err := identifierParam(c, "id")
	if err != nil {
		return err
	}
	match, err := ifMatch(c)
	if err != nil {
		return err
	}
	reason, err := reasonQuery(c)
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
	current, err := h.validInteraction(c, id)
	if err != nil {
		return err
	}
	if err := checkIfMatch(match, current.Version); err != nil {
		return err
	}
	next, err := models.MarkEnteredInError(current, reason, h.now())
	if err != nil {
		return err
	}
	if next, err = h.store.AmendInteraction(c.UserContext(), current, next); err != nil {
		return err
	}
	setETag(c, next.Version)
	return c.JSON(next)
}

// ReasonRequest carries the reason for marking a record entered-in-error.
type ReasonRequest struct {
	Reason string `json:"reason" example:"recorded for the wrong patient"`
}

// reasonQuery returns the reason query parameter, the only one amendments take.
func reasonQuery(c *fiber.Ctx) (string, error) {
	errs := &models.ValidationError{}
	reason := readQuery(c, errs, "reason").one("reason")
	return reason, errs.Err()
}

// reasonBody reads {"reason": "..."} from the body.
func reasonBody(c *fiber.Ctx) (string, error) {
	doc, err := body(c)
	if err != nil {
		return "", err
	}
	errs := &models.ValidationError{}
	var reason string
	for _, e := range doc {
		s, ok := e.Value.(string)
		switch {
		case e.Key != "reason":
			errs.Add(e.Key, "unknown field; the body holds only reason")
		case !ok:
			errs.Add("reason", "must be a string")
		default:
			reason = s
		}
	}
	return reason, errs.Err()
}

// validInteraction returns the interaction id, or a *models.GoneError when it was
// marked entered-in-error.
func (h *Handlers) validInteraction(c *fiber.Ctx, id string) (models.Interaction, error) {
	in, err := h.store.Interaction(c.UserContext(), id)
	if err != nil {
		return models.Interaction{}, err
	}
	noteSubject(c, in.InsuranceNo, in.ID)
	if in.Status == models.StatusEnteredInError {
		return models.Interaction{}, &models.GoneError{Status: in.Status, Reason: in.AmendmentReason}
	}
	return in, nil
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
func (h *Handlers) InteractionHistory(c *fiber.Ctx) error {
	id, err := identifierParam(c, "id")
	if err != nil {
		return err
	}
	limit, before, err := versionsQuery(c)
	if err != nil {
		return err
	}
	current, err := h.store.Interaction(c.UserContext(), id)
	if err != nil {
		return err
	}
	noteSubject(c, current.InsuranceNo, current.ID)
	items, next, err := versionPage(current, current.Version, before, limit,
		func(in models.Interaction) int { return in.Version },
		func(before, limit int) ([]models.Interaction, error) {
			return h.store.InteractionVersions(c.UserContext(), current, before, limit)
		})
	if err != nil {
		return err
	}
	return c.JSON(models.InteractionVersions{Items: items, NextCursor: next})
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
func (h *Handlers) InteractionVersion(c *fiber.Ctx) error {
	id, err := identifierParam(c, "id")
	if err != nil {
		return err
	}
	v, err := versionParam(c)
	if err != nil {
		return err
	}
	current, err := h.store.Interaction(c.UserContext(), id)
	if err != nil {
		return err
	}
	noteSubject(c, current.InsuranceNo, current.ID)
	found, err := versionOf(current, current.Version, v, func(v int) (models.Interaction, error) {
		return h.store.InteractionVersion(c.UserContext(), current, v)
	})
	if err != nil {
		return err
	}
	setETag(c, v)
	return c.JSON(found)
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
func (h *Handlers) PatchPatient(c *fiber.Ctx) error {
	no, err := identifierParam(c, "insurance_no")
	if err != nil {
		return err
	}
	match, err := ifMatch(c)
	if err != nil {
		return err
	}
	reason, err := reasonQuery(c)
	if err != nil {
		return err
	}
	patch, err := body(c)
	if err != nil {
		return err
	}
	current, err := h.store.Patient(c.UserContext(), no)
	if err != nil {
		return err
	}
	if err := checkIfMatch(match, current.Version); err != nil {
		return err
	}
	next, err := models.AmendPatient(current, patch, reason, h.now())
	if err != nil {
		return err
	}
	if next, err = h.store.AmendPatient(c.UserContext(), current, next); err != nil {
		return err
	}
	setETag(c, next.Version)
	return c.JSON(next)
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
func (h *Handlers) PatientHistory(c *fiber.Ctx) error {
	no, err := identifierParam(c, "insurance_no")
	if err != nil {
		return err
	}
	limit, before, err := versionsQuery(c)
	if err != nil {
		return err
	}
	current, err := h.store.Patient(c.UserContext(), no)
	if err != nil {
		return err
	}
	items, next, err := versionPage(current, current.Version, before, limit,
		func(p models.Patient) int { return p.Version },
		func(before, limit int) ([]models.Patient, error) {
			return h.store.PatientVersions(c.UserContext(), current, before, limit)
		})
	if err != nil {
		return err
	}
	return c.JSON(models.PatientVersions{Items: items, NextCursor: next})
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
func (h *Handlers) PatientVersion(c *fiber.Ctx) error {
	no, err := identifierParam(c, "insurance_no")
	if err != nil {
		return err
	}
	v, err := versionParam(c)
	if err != nil {
		return err
	}
	current, err := h.store.Patient(c.UserContext(), no)
	if err != nil {
		return err
	}
	found, err := versionOf(current, current.Version, v, func(v int) (models.Patient, error) {
		return h.store.PatientVersion(c.UserContext(), current, v)
	})
	if err != nil {
		return err
	}
	setETag(c, v)
	return c.JSON(found)
}
