package handlers

import (
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"

	"github.com/clinic/interactions/models"
)

// Bounds of a search's words.
const (
	maxSearchWords  = 10
	maxSearchLength = 200
)

// FindPatients lists the patient directory, or the patients a search finds.
//
//	@Summary		Find a patient
//	@Description	The patient directory, by last name, first name and insurance number, one page at a time, with what a picker shows of each (name, insurance number, age, sex, last visit). With q, only the patients with, for each word of q, a first name, last name, insurance number or FHIR patient id (kept by an import) starting with it. Words compare case- and accent-insensitively: é is e, ß is ss, ø is o; q splits into words at anything but letters and digits. Pass next_cursor back as cursor, with the same q, for the next page; it is null on the last page. A viewer key must give q: it finds a patient, it does not list them all.
//	@ID				findPatients
//	@Tags			patients
//	@Produce		json
//	@Param			q		query		string	false	"Words the patient's names, insurance number or FHIR id start with, all of them (at most 10 words, 200 characters)"
//	@Param			limit	query		int		false	"Page size"	minimum(1)	maximum(100)	default(20)
//	@Param			cursor	query		string	false	"next_cursor of the previous page"
//	@Success		200		{object}	models.PatientList
//	@Failure		400		{object}	ErrorResponse	"validation_failed: bad query parameters, or a cursor of another query"
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
//	@Router			/api/v1/patients [get]
func (h *Handler) FindPatients(c *fiber.Ctx) error {
	errs := &models.ValidationError{}
	params := readQuery(c, errs, "q", "limit", "cursor")
	q := models.PatientQuery{Limit: pageLimit(params, errs), Words: searchWords(params, errs)}
	q.After = cursorParam(params, errs, models.ParseNameCursor)
	if q.After != nil {
		checkCursor(errs, q.After.Query, q.Key())
	}
	if err := errs.Err(); err != nil {
		return err
	}
	list, err := h.patients.Find(c.UserContext(), q)
	if err != nil {
		return err
	}
	return c.JSON(list)
}

// SearchInteractions lists interactions across patients.
//
//	@Summary		Search visits
//	@Description	Interactions of every patient, or of one with insurance_no, that meet every filter given: labels, ailment, a date range, a health_status range and words of their text. Newest first (interaction_date, then id, descending), or oldest first with sort=date. One page at a time: pass next_cursor back as cursor, with the same filters, for the next page; it is null on the last page. A page holds at most 4 MiB of records: fewer than limit when they are large. Pages stay free of duplicates and gaps while interactions are being added. A viewer key must give insurance_no: it reads one patient's visits, not everyone's.
//	@ID				searchInteractions
//	@Tags			interactions
//	@Produce		json
//	@Param			insurance_no		query		string		false	"Only this patient's interactions"
//	@Param			label				query		[]string	false	"Keep interactions carrying these labels (repeat the parameter or separate with commas; case-insensitive)"	collectionFormat(multi)
//	@Param			label_mode			query		string		false	"any (default): at least one of the labels; all: every label"												Enums(any, all)
//	@Param			ailment				query		string		false	"Keep interactions with this ailment, compared case- and accent-insensitively, word by word"
//	@Param			from				query		string		false	"Keep interactions dated from then on, inclusive: a date (its whole day, UTC) or a date-time"
//	@Param			to					query		string		false	"Keep interactions dated up to then, inclusive: a date (its whole day, UTC) or a date-time"
//	@Param			health_status_min	query		int			false	"Keep interactions whose health_status is at least this (those without one are left out)"	minimum(1)	maximum(10)
//	@Param			health_status_max	query		int			false	"Keep interactions whose health_status is at most this (those without one are left out)"	minimum(1)	maximum(10)
//	@Param			q					query		string		false	"Words the ailment, symptoms, remarks or questions and answers hold words starting with, all of them, case- and accent-insensitively (at most 10 words, 200 characters)"
//	@Param			sort				query		string		false	"-date (default): newest first; date: oldest first"	Enums(-date, date)
//	@Param			limit				query		int			false	"Page size"											minimum(1)	maximum(100)	default(20)
//	@Param			cursor				query		string		false	"next_cursor of the previous page"
//	@Param			include				query		string		false	"entered-in-error: also list interactions marked so"	Enums(entered-in-error)
//	@Success		200					{object}	models.Page
//	@Failure		400					{object}	ErrorResponse	"validation_failed: bad query parameters, each named in fields, or a cursor of another query"
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
//	@Router			/api/v1/interactions [get]
func (h *Handler) SearchInteractions(c *fiber.Ctx) error {
	q, err := visitQuery(c, "")
	if err != nil {
		return err
	}
	page, err := h.interactions.History(c.UserContext(), q)
	if err != nil {
		return err
	}
	return c.JSON(page)
}

// visitQuery reads the query parameters of a search of interactions: of patient no's
// when no is set (the patient-scoped list), else of everyone's or of the patient an
// insurance_no parameter names. It returns a *models.ValidationError naming every
// parameter that is unknown, repeated or invalid, and a cursor issued for another
// query.
func visitQuery(c *fiber.Ctx, no string) (models.HistoryQuery, error) {
	errs := &models.ValidationError{}
	allowed := []string{"label", "label_mode", "ailment", "from", "to", "health_status_min", "health_status_max",
		"q", "sort", "limit", "cursor", "include"}
	if no == "" {
		allowed = append(allowed, "insurance_no")
	}
	params := readQuery(c, errs, allowed...)
	q := models.HistoryQuery{InsuranceNo: no, Limit: pageLimit(params, errs)}
	if v, ok := params["insurance_no"]; ok {
		if !models.ValidIdentifier(v[0]) {
			errs.Add("insurance_no", "is not a valid identifier")
		}
		q.InsuranceNo = v[0]
	}
	switch mode := params.one("label_mode"); mode {
	case "", "any":
	case "all":
		q.MatchAll = true
	default:
		errs.Add("label_mode", "must be any or all")
	}
	switch inc := params.one("include"); inc {
	case "":
	case models.StatusEnteredInError:
		q.IncludeEnteredInError = true
	default:
		errs.Add("include", "must be entered-in-error")
	}
	switch sort := params.one("sort"); sort {
	case "", "-date":
	case "date":
		q.Ascending = true
	default:
		errs.Add("sort", "must be date (oldest first) or -date (newest first)")
	}
	labels := params["label"]
	q.Labels = models.NormalizeLabels(labels)
	if len(labels) > 0 && len(q.Labels) == 0 {
		errs.Add("label", "must name at least one label")
	}
	for _, l := range q.Labels {
		if len(l) > 64 || !utf8.ValidString(l) {
			errs.Add("label", "each label must be at most 64 characters")
		}
	}
	if v, ok := params["ailment"]; ok {
		if q.Ailment = models.AilmentKey(v[0]); q.Ailment == "" || len(v[0]) > maxSearchLength {
			errs.Add("ailment", "must hold a letter or digit, in at most 200 characters")
		}
	}
	q.From = dateParam(params, errs, "from", false)
	q.To = dateParam(params, errs, "to", true)
	if !q.From.IsZero() && !q.To.IsZero() && q.From.After(q.To) {
		errs.Add("to", "must not be before from")
	}
	q.HealthMin = healthParam(params, errs, "health_status_min")
	q.HealthMax = healthParam(params, errs, "health_status_max")
	if q.HealthMin != nil && q.HealthMax != nil && *q.HealthMin > *q.HealthMax {
		errs.Add("health_status_max", "must not be below health_status_min")
	}
	q.Words = searchWords(params, errs)
	q.After = cursorParam(params, errs, models.ParseCursor)
	if q.After != nil {
		checkCursor(errs, q.After.Query, q.Key())
	}
	if err := errs.Err(); err != nil {
		return models.HistoryQuery{}, err
	}
	return q, nil
}

// searchWords reads the q parameter: its folded words (see models.Words), at most
// maxSearchWords of them in at most maxSearchLength characters; none without q.
func searchWords(params queryParams, errs *models.ValidationError) []string {
	v, ok := params["q"]
	if !ok {
		return nil
	}
	words := models.Words(v[0])
	switch {
	case utf8.RuneCountInString(v[0]) > maxSearchLength || len(words) > maxSearchWords:
		errs.Add("q", "must be at most 200 characters and 10 words")
	case len(words) == 0:
		errs.Add("q", "must hold a word: a letter or digit")
	}
	return words
}

// dateParam reads the date parameter name: a date-time, or a date, which stands for
// its first millisecond, or for its last when end is set (UTC). It returns the zero
// time when the parameter is absent or invalid.
func dateParam(params queryParams, errs *models.ValidationError, name string, end bool) time.Time {
	v, ok := params[name]
	if !ok {
		return time.Time{}
	}
	t, err := models.ParseDate(v[0])
	if err != nil {
		errs.Add(name, "must be an RFC 3339 date (2024-10-12) or date-time (2024-10-12T09:30:00Z)")
		return time.Time{}
	}
	if _, dateOnly := time.Parse(time.DateOnly, v[0]); dateOnly == nil && end {
		t = t.Add(24*time.Hour - time.Millisecond)
	}
	return t
}

// healthParam reads a health_status bound: an integer from 1 to 10; nil when absent
// or invalid.
func healthParam(params queryParams, errs *models.ValidationError, name string) *int {
	n := intParam(params, errs, name, 1, 10, 0) // 0: absent or invalid
	if n == 0 {
		return nil
	}
	return &n
}
