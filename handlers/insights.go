package handlers

import (
	"context"
	"errors"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/clinic/interactions/analytics"
	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/dataversion"
	"github.com/clinic/interactions/deadline"
	"github.com/clinic/interactions/insights"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/summary"
)

// Records reads many patients' records at once, each collection in one read
// (repository.DB).
type Records interface {
	EachVisit(ctx context.Context, q models.ScanQuery, fn func(models.Interaction) error) error
	EachPatient(ctx context.Context, fn func(models.Patient) error) error
}

// Population keeps the model of every patient under the records' version
// (analytics.Model).
type Population interface {
	Space(ctx context.Context) (*insights.Space, *insights.Names, error)
	Cohorts(ctx context.Context, k int) (analytics.Cohorts, error)
}

// uncounted is Records for an analytics.Model that keeps nothing: its version is
// another at every read, so that the model is computed again for every request.
type uncounted struct {
	Records
	// reads numbers the versions read.
	reads *atomic.Int64
}

func (u uncounted) DataVersion(context.Context) (dataversion.Version, error) {
	return dataversion.Counted("uncounted", u.reads.Add(1), false), nil
}

func (uncounted) ChangedSince(context.Context, dataversion.Version) ([]string, bool, error) {
	return nil, false, nil
}

func (uncounted) EachChart(context.Context, []string, func(models.Patient) error, func(models.Interaction) error) error {
	return errors.New("the charts that changed are not told")
}

// Writer refines answers with a language model (llm.Client). It is given only
// de-identified data.
type Writer interface {
	Summarize(ctx context.Context, facts summary.Facts) (string, error)
	RankQuestions(ctx context.Context, ailment string, labels, candidates []string) ([]int, error)
}

// Bounds of the insight routes' parameters.
const (
	defaultSuggestions = 10
	maxSuggestions     = 50
	defaultNeighbours  = 5
	maxNeighbours      = 50
	defaultCohorts     = 5
	maxCohorts         = 20
)

// QuestionSuggestions are the questions suggested for a context.
type QuestionSuggestions struct {
	// SimilarVisits counts the past visits found similar to the context.
	SimilarVisits int `json:"similar_visits" validate:"required" example:"40"`
	// Source is deterministic, or llm when a language model reordered the items.
	Source string                `json:"source" validate:"required" enums:"deterministic,llm" example:"deterministic"`
	Items  []insights.Suggestion `json:"items" validate:"required"`
}

// SuggestedQuestions suggests questions for an interaction.
//
//	@Summary		Questions to ask at a visit
//	@Description	The questions doctors asked in similar past visits (not entered in error): the same ailment, a label in common, or symptom words in common (a Jaccard index of at least 0.2, words of 3 letters or more, common words left out), which this visit has not asked, compared after folding case, accents, punctuation and spaces. Each comes with its support (the similar visits that asked it) and the reason it matched. Ranked by score (the support weighted by similarity: 2 for the same ailment plus the Jaccard index of labels and of symptom words), then support. Computed from the store, the same for the same records; with a language model configured, the model may reorder the questions asked in at least 2 visits, and source says llm.
//	@ID				suggestInteractionQuestions
//	@Tags			insights
//	@Produce		json
//	@Param			id		path		string	true	"Interaction id"
//	@Param			limit	query		int		false	"How many questions"	minimum(1)	maximum(50)	default(10)
//	@Success		200		{object}	QuestionSuggestions
//	@Failure		400		{object}	ErrorResponse	"validation_failed: not a valid id, or a bad limit or an unknown parameter"
//	@Failure		404		{object}	ErrorResponse	"not_found: no interaction has this id"
//	@Failure		410		{object}	ErrorResponse	"entered_in_error: the interaction was marked entered-in-error"
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
//	@Router			/api/v1/interactions/{id}/suggested-questions [get]
func (h *Handler) SuggestedQuestions(c *fiber.Ctx) error {
	id, err := identifierParam(c, "id")
	if err != nil {
		return err
	}
	errs := &models.ValidationError{}
	params := readQuery(c, errs, "limit")
	limit := intParam(params, errs, "limit", 1, maxSuggestions, defaultSuggestions)
	if err := errs.Err(); err != nil {
		return err
	}
	in, err := h.interactions.Get(c.UserContext(), id)
	if err != nil {
		return err
	}
	asked := make([]string, 0, len(in.QA))
	for _, e := range in.QA {
		asked = append(asked, e.Key)
	}
	return h.suggest(c, insights.QuestionContext{Ailment: in.Ailment, Symptoms: in.Symptoms, Labels: in.Label,
		Asked: asked, Exclude: in.ID}, limit)
}

// SuggestQuestions suggests questions for a context a client describes.
//
//	@Summary		Questions to ask in a context
//	@Description	As suggestInteractionQuestions, for a context given in the body: an ailment, symptoms, labels (at least one of the three), and the questions already asked, which are not suggested again.
//	@ID				suggestQuestions
//	@Tags			insights
//	@Accept			json
//	@Produce		json
//	@Param			limit	query		int						false	"How many questions"	minimum(1)	maximum(50)	default(10)
//	@Param			context	body		models.QuestionRequest	true	"The visit's context"
//	@Success		200		{object}	QuestionSuggestions
//	@Failure		400		{object}	ErrorResponse	"malformed_body or validation_failed: a field of the wrong type or too long, an unknown field, a context without ailment, symptoms or labels, a bad limit"
//	@Failure		415		{object}	ErrorResponse	"unsupported_media_type: the body is not JSON"
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
//	@Router			/api/v1/suggestions/questions [post]
func (h *Handler) SuggestQuestions(c *fiber.Ctx) error {
	errs := &models.ValidationError{}
	params := readQuery(c, errs, "limit")
	limit := intParam(params, errs, "limit", 1, maxSuggestions, defaultSuggestions)
	if err := errs.Err(); err != nil {
		return err
	}
	doc, err := body(c)
	if err != nil {
		return err
	}
	req, err := models.NewQuestionRequest(doc)
	if err != nil {
		return err
	}
	return h.suggest(c, insights.QuestionContext{Ailment: req.Ailment, Symptoms: req.Symptoms, Labels: req.Labels,
		Asked: req.Asked}, limit)
}

// suggest answers the questions suggested for qc, reading the past visits that may
// be similar once.
func (h *Handler) suggest(c *fiber.Ctx, qc insights.QuestionContext, limit int) error {
	ctx := c.UserContext()
	s := insights.NewSuggester(qc)
	q := models.ScanQuery{WithQA: true, AilmentKey: models.AilmentKey(qc.Ailment),
		Labels: models.NormalizeLabels(qc.Labels), Words: insights.SymptomWords(qc.Symptoms)}
	if q.AilmentKey != "" || len(q.Labels) > 0 || len(q.Words) > 0 {
		if err := h.records.EachVisit(ctx, q, deadline.WhileRunning(ctx, s.Add)); err != nil {
			return err
		}
	}
	items := s.Suggestions(limit)
	audit.Disclose(ctx, s.Disclosed(items)...)
	answer := QuestionSuggestions{SimilarVisits: s.Similar(), Source: summary.SourceDeterministic, Items: items}
	if h.writer != nil {
		var err error
		answer.Items, answer.Source, err = insights.Rerank(items, func(questions []string) ([]int, error) {
			return h.writer.RankQuestions(ctx, q.AilmentKey, q.Labels, questions)
		})
		h.logWriterFailure(ctx, "rank questions", err)
	}
	return c.JSON(answer)
}

// SimilarPatients lists the patients nearest a patient.
//
//	@Summary		Similar patients
//	@Description	The k patients nearest this one under the feature vector (see docs/guides/workspace-and-insights.md): presence of the 20 labels and 30 ailments most patients have, age, sex, the latest reading of temperature, systolic and diastolic blood pressure, heart rate, SpO2, weight and health_status, and their trends per 30 days; numeric features standardised (z-scores, bounded to ±3) over all patients, a missing value taken as the mean. Euclidean distance, nearest first, never the patient itself. Each comes with what explains the match: the labels and ailments both have, the same sex, and the numeric features within a quarter of a standard deviation. Computed over every patient and every visit not entered in error, each collection read once.
//	@ID				similarPatients
//	@Tags			insights
//	@Produce		json
//	@Param			insurance_no	path		string	true	"Insurance number"
//	@Param			k				query		int		false	"How many patients"	minimum(1)	maximum(50)	default(5)
//	@Success		200				{object}	SimilarPatients
//	@Failure		400				{object}	ErrorResponse	"validation_failed: not a valid insurance number, a bad k or an unknown parameter"
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
//	@Router			/api/v1/patients/{insurance_no}/similar [get]
func (h *Handler) SimilarPatients(c *fiber.Ctx) error {
	no, err := identifierParam(c, "insurance_no")
	if err != nil {
		return err
	}
	errs := &models.ValidationError{}
	params := readQuery(c, errs, "k")
	k := intParam(params, errs, "k", 1, maxNeighbours, defaultNeighbours)
	if err := errs.Err(); err != nil {
		return err
	}
	ctx := c.UserContext()
	if _, err := h.patients.Get(ctx, no); err != nil {
		if errors.Is(err, models.ErrNotFound) {
			return models.ErrPatientNotFound
		}
		return err
	}
	space, _, err := h.population.Space(ctx)
	if err != nil {
		return err
	}
	i := space.Index(no)
	if i < 0 {
		return models.ErrPatientNotFound
	}
	answer := SimilarPatients{InsuranceNo: no, Compared: len(space.Profiles) - 1, Items: []Neighbour{}}
	neighbours, err := space.Nearest(ctx, i, k)
	if err != nil {
		return err
	}
	for _, n := range neighbours {
		p := space.Profiles[n.Index]
		shared := n.Shared
		if shared == nil {
			shared = []insights.Shared{}
		}
		answer.Items = append(answer.Items, Neighbour{InsuranceNo: p.InsuranceNo, Age: p.Age, Sex: p.Sex, Visits: p.Visits,
			Distance: n.Distance, Shared: shared, Explanation: n.Explanation()})
	}
	return c.JSON(answer)
}

// SimilarPatients are the patients nearest one.
type SimilarPatients struct {
	InsuranceNo string `json:"insurance_no" validate:"required" example:"A11"`
	// Compared counts the other patients compared.
	Compared int         `json:"compared" validate:"required" example:"1999"`
	Items    []Neighbour `json:"items" validate:"required"`
}

// Neighbour is a patient near another.
type Neighbour struct {
	InsuranceNo string  `json:"insurance_no" validate:"required" example:"B11"`
	Age         *int    `json:"age,omitempty" example:"34"`
	Sex         string  `json:"sex,omitempty" example:"M"`
	Visits      int     `json:"visits" validate:"required" example:"7"`
	Distance    float64 `json:"distance" validate:"required" example:"1.8342"`
	// Shared lists what explains the match.
	Shared []insights.Shared `json:"shared" validate:"required"`
	// Explanation says it in words.
	Explanation string `json:"explanation" validate:"required" example:"shares label fever; ailment influenza; sex M; age 30 and 34"`
}

// Cohorts finds cohorts of similar patients.
//
//	@Summary		Cohorts of patients
//	@Description	k-means over the feature vector of similarPatients, over every patient: k-means++ initialisation from a fixed seed, Lloyd iterations until no patient changes cohort (100 at most), 4 runs kept by least inertia, so the same records always give the same cohorts. Cohorts are numbered by size, largest first, and described from their members' records: the labels and ailments at least half of them carry, mean age, share of women, mean latest vitals and trends. Members (insurance number and distance to the centroid), by cohort then insurance number, one page at a time, of one cohort with cohort; pass next_cursor back as cursor with the same k and cohort.
//	@ID				cohorts
//	@Tags			insights
//	@Produce		json
//	@Param			k		query		int		false	"How many cohorts (fewer when there are fewer distinct patients)"	minimum(1)	maximum(20)	default(5)
//	@Param			cohort	query		int		false	"List the members of this cohort only"								minimum(0)	maximum(19)
//	@Param			limit	query		int		false	"Members per page"													minimum(1)	maximum(100)	default(20)
//	@Param			cursor	query		string	false	"next_cursor of the previous page"
//	@Success		200		{object}	Cohorts
//	@Failure		400		{object}	ErrorResponse	"validation_failed: a bad parameter, named in fields, or a cursor of another query"
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
//	@Router			/api/v1/analytics/cohorts [get]
func (h *Handler) Cohorts(c *fiber.Ctx) error {
	errs := &models.ValidationError{}
	params := readQuery(c, errs, "k", "cohort", "limit", "cursor")
	k := intParam(params, errs, "k", 1, maxCohorts, defaultCohorts)
	cohort := -1
	if _, ok := params["cohort"]; ok {
		cohort = intParam(params, errs, "cohort", 0, k-1, 0)
	}
	limit := pageLimit(params, errs)
	key := models.QueryKey("cohorts", strconv.Itoa(k), strconv.Itoa(cohort))
	after := cursorParam(params, errs, models.ParseMemberCursor)
	if after != nil {
		checkCursor(errs, after.Query, key)
	}
	if err := errs.Err(); err != nil {
		return err
	}
	ctx := c.UserContext()
	found, err := h.population.Cohorts(ctx, k)
	if err != nil {
		return err
	}
	space, clustering := found.Space, found.Clustering
	audit.Disclose(ctx, found.Disclosed...)
	answer := Cohorts{K: len(clustering.Sizes), Patients: len(space.Profiles), Iterations: clustering.Iterations,
		Inertia: math.Round(clustering.Inertia), Cohorts: found.Described, Members: MemberPage{Items: []Member{}}}
	page, more, err := space.Members(ctx, clustering, cohort, after, limit)
	if err != nil {
		return err
	}
	for _, i := range page {
		answer.Members.Items = append(answer.Members.Items, Member{Cohort: clustering.Assign[i],
			InsuranceNo: space.Profiles[i].InsuranceNo, Distance: clustering.Distance(space.Vectors[i], i)})
	}
	if more {
		last := answer.Members.Items[len(answer.Members.Items)-1]
		next := models.MemberCursor{Cohort: last.Cohort, ID: last.InsuranceNo, Query: key}.Encode()
		answer.Members.NextCursor = &next
	}
	return c.JSON(answer)
}

// Cohorts are the cohorts k-means found.
type Cohorts struct {
	// K is the number of cohorts: as asked, or fewer when fewer patients differ.
	K          int `json:"k" validate:"required" example:"5"`
	Patients   int `json:"patients" validate:"required" example:"2000"`
	Iterations int `json:"iterations" validate:"required" example:"12"`
	// Inertia sums the squared distances of the patients to their cohorts'
	// centroids, rounded: the lower, the tighter the cohorts.
	Inertia float64           `json:"inertia" validate:"required" example:"10234"`
	Cohorts []insights.Cohort `json:"cohorts" validate:"required"`
	Members MemberPage        `json:"members" validate:"required"`
}

// MemberPage is one page of a clustering's members.
type MemberPage struct {
	Items []Member `json:"items" validate:"required"`
	// NextCursor continues the listing; it is null on the last page.
	NextCursor *string `json:"next_cursor" validate:"required" extensions:"x-nullable"`
}

// Member is a patient of a cohort.
type Member struct {
	Cohort      int    `json:"cohort" validate:"required" example:"0"`
	InsuranceNo string `json:"insurance_no" validate:"required" example:"A11"`
	// Distance is to the cohort's centroid.
	Distance float64 `json:"distance" validate:"required" example:"2.31"`
}

// LabelCounts counts visits by label and month.
//
//	@Summary		Labels by month
//	@Description	How many visits (not entered in error) carried each label, by calendar month (UTC, YYYY-MM), oldest month first, each month's most frequent label first; with the month's number of visits. from and to keep visits dated in the range, both included, as in searchInteractions.
//	@ID				labelCounts
//	@Tags			insights
//	@Produce		json
//	@Param			from	query		string	false	"Keep visits dated from then on, inclusive: a date (its whole day, UTC) or a date-time"
//	@Param			to		query		string	false	"Keep visits dated up to then, inclusive: a date (its whole day, UTC) or a date-time"
//	@Success		200		{object}	MonthlyCounts
//	@Failure		400		{object}	ErrorResponse	"validation_failed: a bad date or an unknown parameter, named in fields"
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
//	@Router			/api/v1/analytics/labels [get]
func (h *Handler) LabelCounts(c *fiber.Ctx) error { return h.monthly(c, false) }

// AilmentCounts counts visits by ailment and month.
//
//	@Summary		Ailments by month
//	@Description	How many visits (not entered in error) had each ailment, compared case- and accent-insensitively word by word and named as most visits spell it, by calendar month (UTC, YYYY-MM), oldest month first, each month's most frequent ailment first; with the month's number of visits. from and to keep visits dated in the range, both included, as in searchInteractions.
//	@ID				ailmentCounts
//	@Tags			insights
//	@Produce		json
//	@Param			from	query		string	false	"Keep visits dated from then on, inclusive: a date (its whole day, UTC) or a date-time"
//	@Param			to		query		string	false	"Keep visits dated up to then, inclusive: a date (its whole day, UTC) or a date-time"
//	@Success		200		{object}	MonthlyCounts
//	@Failure		400		{object}	ErrorResponse	"validation_failed: a bad date or an unknown parameter, named in fields"
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
//	@Router			/api/v1/analytics/ailments [get]
func (h *Handler) AilmentCounts(c *fiber.Ctx) error { return h.monthly(c, true) }

// MonthlyCounts are counts of visits by month.
type MonthlyCounts struct {
	// From and To are the range asked for, null when open.
	From   *time.Time       `json:"from" validate:"required" extensions:"x-nullable" format:"date-time" example:"2024-01-01T00:00:00Z"`
	To     *time.Time       `json:"to" validate:"required" extensions:"x-nullable" format:"date-time" example:"2024-12-31T23:59:59.999Z"`
	Months []insights.Month `json:"months" validate:"required"`
}

func (h *Handler) monthly(c *fiber.Ctx, byAilment bool) error {
	errs := &models.ValidationError{}
	params := readQuery(c, errs, "from", "to")
	q := models.ScanQuery{From: dateParam(params, errs, "from", false), To: dateParam(params, errs, "to", true)}
	if !q.From.IsZero() && !q.To.IsZero() && q.From.After(q.To) {
		errs.Add("to", "must not be before from")
	}
	if err := errs.Err(); err != nil {
		return err
	}
	m := insights.NewMonthly(byAilment)
	ctx := c.UserContext()
	if err := h.records.EachVisit(ctx, q, deadline.WhileRunning(ctx, m.Add)); err != nil {
		return err
	}
	answer := MonthlyCounts{Months: m.Months()}
	if !q.From.IsZero() {
		answer.From = &q.From
	}
	if !q.To.IsZero() {
		answer.To = &q.To
	}
	return c.JSON(answer)
}

// logWriterFailure logs that the language model failed at what, with err, which
// carries no patient data; it logs nothing when err is nil.
func (h *Handler) logWriterFailure(ctx context.Context, what string, err error) {
	if err == nil {
		return
	}
	h.logger.WarnContext(ctx, "language model failed; the deterministic answer is given", "what", what, "error", err.Error())
}
