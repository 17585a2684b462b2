package handlers

import (
	"context"
	"strconv"

	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/v2/bson"

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

// record is what the version routes need to know of a kind of record.
type record[T any] struct {
	// load returns the record, whatever its status; loadValid refuses one marked
	// entered-in-error.
	load, loadValid func(c *fiber.Ctx, id string) (T, error)
	version         func(T) int
	// next builds the amended version; store stores it as the next version.
	next  func(current T, patch bson.D, reason string) (T, error)
	store func(ctx context.Context, current, next T) (T, error)
	// earlier lists archived versions below before, newest first; archived reads one.
	earlier  func(ctx context.Context, current T, before, limit int) ([]T, error)
	archived func(ctx context.Context, current T, v int) (T, error)
}

func (h *Handlers) interactions() record[models.Interaction] {
	return record[models.Interaction]{
		load: func(c *fiber.Ctx, id string) (models.Interaction, error) {
			in, err := h.store.Interaction(c.UserContext(), id)
			if err == nil {
				noteSubject(c, in.InsuranceNo, in.ID)
			}
			return in, err
		},
		loadValid: h.validInteraction,
		version:   func(in models.Interaction) int { return in.Version },
		next: func(current models.Interaction, patch bson.D, reason string) (models.Interaction, error) {
			return models.AmendInteraction(current, patch, reason, h.now())
		},
		store:    h.store.AmendInteraction,
		earlier:  h.store.InteractionVersions,
		archived: h.store.InteractionVersion,
	}
}

func (h *Handlers) patients() record[models.Patient] {
	load := func(c *fiber.Ctx, no string) (models.Patient, error) {
		return h.store.Patient(c.UserContext(), no)
	}
	return record[models.Patient]{
		load:      load,
		loadValid: load,
		version:   func(p models.Patient) int { return p.Version },
		next: func(current models.Patient, patch bson.D, reason string) (models.Patient, error) {
			return models.AmendPatient(current, patch, reason, h.now())
		},
		store:    h.store.AmendPatient,
		earlier:  h.store.PatientVersions,
		archived: h.store.PatientVersion,
	}
}

// changeRequest reads what every change of a record carries: the record's id from
// the path parameter param, a copy of If-Match, and the reason query parameter.
func changeRequest(c *fiber.Ctx, param string) (id, match, reason string, err error) {
	if id, err = identifierParam(c, param); err != nil {
		return "", "", "", err
	}
	if match, err = ifMatch(c); err != nil {
		return "", "", "", err
	}
	if reason, err = reasonQuery(c); err != nil {
		return "", "", "", err
	}
	return id, match, reason, nil
}

// amend applies the request's merge patch to the record named by the path parameter
// param, as the next version, if If-Match names its current version.
func amend[T any](c *fiber.Ctx, param string, r record[T]) error {
	id, match, reason, err := changeRequest(c, param)
	if err != nil {
		return err
	}
	patch, err := body(c)
	if err != nil {
		return err
	}
	current, err := r.loadValid(c, id)
	if err != nil {
		return err
	}
	if err := checkIfMatch(match, r.version(current)); err != nil {
		return err
	}
	next, err := r.next(current, patch, reason)
	if err != nil {
		return err
	}
	if next, err = r.store(c.UserContext(), current, next); err != nil {
		return err
	}
	setETag(c, r.version(next))
	return c.JSON(next)
}

// versions answers one page of the versions of the record named by param, newest
// first: the current version, then the archived ones below it. page wraps the items.
func versions[T any](c *fiber.Ctx, param string, r record[T], page func([]T, *string) any) error {
	id, err := identifierParam(c, param)
	if err != nil {
		return err
	}
	limit, before, err := versionsQuery(c)
	if err != nil {
		return err
	}
	current, err := r.load(c, id)
	if err != nil {
		return err
	}
	currentVersion := r.version(current)
	items := make([]T, 0, limit+1)
	upper := currentVersion
	if before == 0 || before > currentVersion {
		items = append(items, current)
	} else {
		upper = before
	}
	more, err := r.earlier(c.UserContext(), current, upper, limit+1-len(items))
	if err != nil {
		return err
	}
	items = append(items, more...)
	if len(items) <= limit {
		return c.JSON(page(items, nil))
	}
	items = items[:limit]
	next := models.VersionCursor{Version: r.version(items[limit-1])}.Encode()
	return c.JSON(page(items, &next))
}

// oneVersion answers the version named by the path parameter version of the record
// named by param: the current one or an archived one; 404 for one not reached.
func oneVersion[T any](c *fiber.Ctx, param string, r record[T]) error {
	id, err := identifierParam(c, param)
	if err != nil {
		return err
	}
	v, err := versionParam(c)
	if err != nil {
		return err
	}
	current, err := r.load(c, id)
	if err != nil {
		return err
	}
	found := current
	switch currentVersion := r.version(current); {
	case v > currentVersion:
		return models.ErrNotFound
	case v < currentVersion:
		if found, err = r.archived(c.UserContext(), current, v); err != nil {
			return err
		}
	}
	setETag(c, v)
	return c.JSON(found)
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
	return amend(c, "id", h.interactions())
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
	return versions(c, "id", h.interactions(), func(items []models.Interaction, next *string) any {
		return models.InteractionVersions{Items: items, NextCursor: next}
	})
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
	return oneVersion(c, "id", h.interactions())
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
	return amend(c, "insurance_no", h.patients())
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
	return versions(c, "insurance_no", h.patients(), func(items []models.Patient, next *string) any {
		return models.PatientVersions{Items: items, NextCursor: next}
	})
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
	return oneVersion(c, "insurance_no", h.patients())
}
