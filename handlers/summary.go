package handlers

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/clinic/interactions/chartcache"
	"github.com/clinic/interactions/dataversion"
	"github.com/clinic/interactions/deadline"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/report"
	"github.com/clinic/interactions/summary"
	"github.com/clinic/interactions/vitals"
)

// Summary returns a patient's chart at a glance.
//
//	@Summary		A patient's summary
//	@Description	Computed from the patient record and every interaction not entered in error, read once. Visits: count, first and last. Labels and ailments with counts. Vitals, of the known vital signs and the first 16 other metrics by name: the latest value of each; a time series of each numeric one with its least-squares trend (slope per 30 days; stable within a dead band, else rising or falling; none under 3 readings or 7 days): temperature (temp), systolic_bp and diastolic_bp (from BP "120/80"), heart_rate (HR), spo2 (SpO2), weight, and other metrics with numbers; the newest 100 values that cannot be read are listed under unparseable with the reason; left_out counts the other metrics not charted, the metrics of a record past its first 64 (one stored before the caps on a record), and the values that could not be read beyond those listed. health_status as a series with its trend. Current medications: prescribed at a visit in the 90 days up to and including the most recent visit. Pending tests: ordered at the most recent visit, so followed by no visit yet. Next visit: the next_visit of the most recent visit that set one, unless a visit took place on or after it. Pre-existing conditions and medications from the patient record. With format=text, also text: the summary as a paragraph written by templates, always the same for the same summary (text_source deterministic); with a language model configured, the model rewrites it from de-identified facts alone (age, sex, blood type, counts, ailments, labels, vitals, medications, tests; never names, insurance number, contact details, dates or free text), and text_source says llm; when the model fails, is slow or answers something unusable, the templates' text is given. The answer carries a weak ETag that changes with the chart (an amendment, a new visit, one entered in error, the patient record amended) and with the day (UTC); until then the answer is kept and sent again as it was computed, its as_of included. With If-None-Match naming it, 304 and no body. With format=text and a language model configured, the text is written again every time, and the answer has no ETag.
//	@ID				getPatientSummary
//	@Tags			patients
//	@Produce		json
//	@Param			insurance_no	path		string	true	"Insurance number"
//	@Param			format			query		string	false	"json (default): the summary; text: the summary with text, a short clinical paragraph (who, visits, main problems, latest vitals and trends, current medications, next steps), and text_source"	Enums(json, text)
//	@Param			If-None-Match	header		string	false	"ETag held by the client"
//	@Success		200				{object}	summary.Summary{health_status=HealthStatusSeries}
//	@Success		304				"not modified: the chart has not changed since the ETag held was given, that day"
//	@Failure		400				{object}	ErrorResponse	"validation_failed: not a valid insurance number, a format other than json or text, or another query parameter"
//	@Failure		404				{object}	ErrorResponse	"patient_not_found: no patient has this insurance number"
//	@Security		BearerAuth
//	@Failure		401		{object}	ErrorResponse		"unauthenticated: no valid API key"
//	@Failure		403		{object}	ErrorResponse		"forbidden: the key's role does not allow this request"
//	@Failure		413		{object}	ErrorResponse		"payload_too_large: the body is over 1 MiB"
//	@Failure		429		{object}	ErrorResponse		"rate_limited: too many requests for this API key"
//	@Failure		500		{object}	ErrorResponse		"internal: an unexpected error, logged with the request id"
//	@Failure		503		{object}	ErrorResponse		"unavailable: the store did not answer in time, or is busy with reads of whole collections"
//	@Header			200,304	{string}	ETag				"weak ETag of the answer: changes with the chart and the day (UTC); none with format=text and a language model"
//	@Header			401		{string}	WWW-Authenticate	"the scheme to authenticate with: Bearer"
//	@Header			429,503	{string}	Retry-After			"seconds to wait before the next request"
//	@Header			all		{string}	X-Request-Id		"the request's id, as the logs and the audit trail name it"
//	@Router			/api/v1/patients/{insurance_no}/summary [get]
func (h *Handler) Summary(c *fiber.Ctx) error {
	no, err := identifierParam(c, "insurance_no")
	if err != nil {
		return err
	}
	errs := &models.ValidationError{}
	params := readQuery(c, errs, "format")
	format := params.one("format")
	if format != "" && format != "json" && format != "text" {
		errs.Add("format", "must be json or text")
	}
	if err := errs.Err(); err != nil {
		return err
	}
	kind := "summary." + cmp.Or(format, "json")
	if format == "text" && h.writer != nil {
		kind = "" // the language model may write it otherwise every time
	}
	return h.chartAnswer(c, no, kind, func(ctx context.Context, p models.Patient) (chartcache.Answer, error) {
		s, err := h.summarize(ctx, p, nil)
		if err != nil {
			return chartcache.Answer{}, err
		}
		if format == "text" {
			s.Text, s.TextSource = s.Paragraph(), summary.SourceDeterministic
			if h.writer != nil {
				var err error
				s.Text, s.TextSource, err = summary.Refine(s.Text, func() (string, error) { return h.writer.Summarize(ctx, s.Facts()) })
				h.logWriterFailure(ctx, "write the summary", err)
			}
		}
		body, err := EncodeJSON(s)
		return chartcache.Answer{ContentType: fiber.MIMEApplicationJSON, Body: body}, err
	})
}

// Report returns a patient's summary as a printable HTML page.
//
//	@Summary		A patient's printable report
//	@Description	The summary (see getPatientSummary) as a self-contained HTML page to print on A4: the patient, the summary, an SVG chart of health_status and of every series the summary charts (axes, units, dates, trend line), what the summary left out, the 50 most frequent labels and ailments, a mark per visit along time and a table of the 50 most recent visits. It runs no script and loads nothing: its Content-Security-Policy allows its one inline stylesheet, by hash, and nothing else. Errors are JSON, as on every route. It carries a weak ETag, as getPatientSummary does; with If-None-Match naming it, 304 and no body.
//	@ID				getPatientReport
//	@Tags			patients
//	@Produce		html
//	@Produce		json
//	@Param			insurance_no	path		string			true	"Insurance number"
//	@Param			If-None-Match	header		string			false	"ETag held by the client"
//	@Success		200				{string}	string			"the HTML page (text/html; charset=utf-8)"
//	@Success		304				"not modified: the chart has not changed since the ETag held was given, that day"
//	@Failure		400				{object}	ErrorResponse	"validation_failed: not a valid insurance number, or a query parameter (the route takes none)"
//	@Failure		404				{object}	ErrorResponse	"patient_not_found: no patient has this insurance number"
//	@Security		BearerAuth
//	@Failure		401		{object}	ErrorResponse			"unauthenticated: no valid API key"
//	@Failure		403		{object}	ErrorResponse			"forbidden: the key's role does not allow this request"
//	@Failure		413		{object}	ErrorResponse			"payload_too_large: the body is over 1 MiB"
//	@Failure		429		{object}	ErrorResponse			"rate_limited: too many requests for this API key"
//	@Failure		500		{object}	ErrorResponse			"internal: an unexpected error, logged with the request id"
//	@Failure		503		{object}	ErrorResponse			"unavailable: the store did not answer in time, or is busy with reads of whole collections"
//	@Header			200,304	{string}	Content-Security-Policy	"default-src 'none', with the page's stylesheet allowed by its sha256 hash"
//	@Header			200,304	{string}	ETag					"weak ETag of the page: changes with the chart and the day (UTC)"
//	@Header			401		{string}	WWW-Authenticate		"the scheme to authenticate with: Bearer"
//	@Header			429,503	{string}	Retry-After				"seconds to wait before the next request"
//	@Header			all		{string}	X-Request-Id			"the request's id, as the logs and the audit trail name it"
//	@Router			/api/v1/patients/{insurance_no}/report [get]
func (h *Handler) Report(c *fiber.Ctx) error {
	no, err := chartRequest(c)
	if err != nil {
		return err
	}
	err = h.chartAnswer(c, no, "report", func(ctx context.Context, p models.Patient) (chartcache.Answer, error) {
		var visits report.Visits
		s, err := h.summarize(ctx, p, visits.Add)
		if err != nil {
			return chartcache.Answer{}, err
		}
		var page bytes.Buffer
		if err := report.Render(&page, report.Page{Summary: s, Visits: visits}); err != nil {
			return chartcache.Answer{}, err
		}
		return chartcache.Answer{ContentType: fiber.MIMETextHTMLCharsetUTF8, Body: page.Bytes()}, nil
	})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentSecurityPolicy, report.ContentSecurityPolicy())
	return nil
}

// Charts tells the version of a patient's chart (repository.DB).
type Charts interface {
	ChartVersion(ctx context.Context, no string) (dataversion.Version, error)
}

// chartAnswer answers a request about patient no's chart with the answer of kind
// that compute computes from the patient's record. With the charts' versions and a
// cache of answers, and a kind ("" for an answer computed every time), the answer
// carries a weak ETag naming the patient, the kind, the chart's version and the day
// (UTC: a summary's next visit is scheduled or overdue by it), and, on a store that
// counts changes after making them, the period of dataversion.MaxAge it is in; a
// request whose If-None-Match names it is answered 304, after the patient is read
// (a 304 is audited as disclosing the patient, as the answer would be); and the
// answer of an unchanged chart is sent as it was computed the first time. The
// chart's version is read before the chart, so that what is kept under it is never
// older than it. It returns models.ErrPatientNotFound for an unknown patient, and
// the errors of compute and the store.
func (h *Handler) chartAnswer(c *fiber.Ctx, no, kind string, compute func(context.Context, models.Patient) (chartcache.Answer, error)) error {
	ctx := c.UserContext()
	cached := h.charts != nil && h.chartAnswers != nil && kind != ""
	var tag string
	if cached {
		v, err := h.charts.ChartVersion(ctx, no)
		if err != nil {
			return err
		}
		tag = chartTag(no, kind, v, h.now())
	}
	p, err := h.patients.Get(ctx, no)
	if errors.Is(err, models.ErrNotFound) {
		return models.ErrPatientNotFound
	}
	if err != nil {
		return err
	}
	if cached && notModifiedTag(c, tag) {
		return nil
	}
	answer, ok := chartcache.Answer{}, false
	if cached {
		answer, ok = h.chartAnswers.Get(no, kind, tag)
	}
	if !ok {
		if answer, err = compute(ctx, p); err != nil {
			return err
		}
		if cached {
			answer.Tag = tag
			h.chartAnswers.Put(no, kind, answer)
		}
	}
	if cached {
		c.Set(fiber.HeaderETag, tag)
	}
	c.Set(fiber.HeaderContentType, answer.ContentType)
	return c.Send(answer.Body)
}

// chartTag returns the weak entity tag of the answer of kind about patient no's
// chart at version v, at now (see chartAnswer).
func chartTag(no, kind string, v dataversion.Version, now time.Time) string {
	period := ""
	if !v.Exact() {
		period = strconv.FormatInt(now.Unix()/int64(dataversion.MaxAge/time.Second), 10)
	}
	sum := sha256.Sum256([]byte(strings.Join([]string{no, kind, v.String(), now.UTC().Format(time.DateOnly), period}, "\x00")))
	return `W/"` + hex.EncodeToString(sum[:12]) + `"`
}

// chartRequest reads the insurance number of a request about a patient's whole
// chart, which takes no query parameters. It returns a *models.ValidationError
// otherwise.
func chartRequest(c *fiber.Ctx) (string, error) {
	no, err := identifierParam(c, "insurance_no")
	if err != nil {
		return "", err
	}
	errs := &models.ValidationError{}
	c.Context().QueryArgs().VisitAll(func(k, _ []byte) {
		errs.Add(string(k), "unknown parameter; this route takes none")
	})
	return no, errs.Err()
}

// summarize reads every interaction of patient p not entered in error, once, and
// returns their summary as of now; each interaction is also handed to also, when
// set. It returns ctx's error once ctx is done, and the errors of the store.
func (h *Handler) summarize(ctx context.Context, p models.Patient, also func(models.Interaction)) (summary.Summary, error) {
	b := summary.NewBuilder(p, h.now())
	err := h.interactions.Each(ctx, models.HistoryQuery{InsuranceNo: p.InsuranceNo}, deadline.WhileRunning(ctx, func(in models.Interaction) {
		b.Add(in)
		if also != nil {
			also(in)
		}
	}))
	if err != nil {
		return summary.Summary{}, err
	}
	return b.Summary(), nil
}

// HealthStatusSeries documents summary.Summary's health_status, a vitals.Series,
// with examples of its own: the document would otherwise show a temperature's.
type HealthStatusSeries struct {
	Metric string                `json:"metric" validate:"required" enums:"health_status" example:"health_status"`
	Unit   string                `json:"unit" validate:"required" example:""`
	Points []HealthStatusReading `json:"points" validate:"required"`
	// Trend is null under 3 readings or 7 days; its dead band is 0.1.
	Trend *vitals.Trend `json:"trend" validate:"required" extensions:"x-nullable"`
}

// HealthStatusReading is one visit's health_status.
type HealthStatusReading struct {
	Date          string `json:"date" validate:"required" format:"date-time" example:"2024-09-02T08:45:00Z"`
	Value         int    `json:"value" validate:"required" minimum:"1" maximum:"10" example:"5"`
	InteractionID string `json:"interaction_id" validate:"required" example:"3"`
}
