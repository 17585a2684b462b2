package handlers

import (
	"context"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/clinic/interactions/fhirapi"
	"github.com/clinic/interactions/models"
)

// FHIRPrefix is the path under which the FHIR R4 API is served.
const FHIRPrefix = "/fhir/R4"

// FHIRContentType is the media type of every FHIR answer, errors included.
const FHIRContentType = "application/fhir+json; charset=utf-8"

// FHIRAPI answers the FHIR API (fhirapi.API).
type FHIRAPI interface {
	Read(ctx context.Context, typ, id string) ([]byte, error)
	VRead(ctx context.Context, typ, id string, vid int) ([]byte, error)
	Search(ctx context.Context, typ string, r fhirapi.Request) ([]byte, error)
	Everything(ctx context.Context, id string, r fhirapi.Request) ([]byte, error)
	LastN(ctx context.Context, r fhirapi.Request) ([]byte, error)
	Summary(ctx context.Context, id string, r fhirapi.Request) ([]byte, error)
}

// FHIR serves the FHIR R4 API: each handler reads the request, calls the API and
// writes its answer; errors are OperationOutcomes (see ErrorHandler).
type FHIR struct {
	api FHIRAPI
}

// NewFHIR returns the FHIR handlers over api.
func NewFHIR(api FHIRAPI) *FHIR { return &FHIR{api: api} }

// fhirRequest reads what a FHIR request asks beyond its path. It returns a 406 when
// it accepts no JSON.
func fhirRequest(c *fiber.Ctx) (fhirapi.Request, error) {
	r := fhirapi.Request{Base: c.BaseURL() + FHIRPrefix, Params: fhirParams(c)}
	for _, pref := range strings.Split(c.Get("Prefer"), ",") {
		if strings.EqualFold(strings.ReplaceAll(strings.TrimSpace(pref), " ", ""), "handling=lenient") {
			r.Lenient = true
		}
	}
	if accept := c.Get(fiber.HeaderAccept); accept != "" && !acceptsJSON(accept) {
		return r, fiber.NewError(fiber.StatusNotAcceptable)
	}
	return r, nil
}

// acceptsJSON reports whether an Accept header takes a JSON answer.
func acceptsJSON(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if mt == "*/*" || mt == "application/*" || fhirapi.JSONFormat(mt) {
			return true
		}
	}
	return false
}

// FHIRNamesPatient reports whether a FHIR search names the patient it is about (see
// fhirapi.NamesPatient), for the roles that may read only a named patient's chart.
func FHIRNamesPatient(c *fiber.Ctx) bool {
	return fhirapi.NamesPatient(fhirParams(c))
}

// fhirParams returns a request's query parameters, copied, in the order sent.
func fhirParams(c *fiber.Ctx) []fhirapi.Param {
	var params []fhirapi.Param
	c.Context().QueryArgs().VisitAll(func(k, v []byte) {
		params = append(params, fhirapi.Param{Name: string(k), Value: string(v)})
	})
	return params
}

// answerFHIR reads a FHIR request, calls call with it and writes what it returns.
func answerFHIR(c *fiber.Ctx, call func(ctx context.Context, r fhirapi.Request) ([]byte, error)) error {
	r, err := fhirRequest(c)
	if err != nil {
		return err
	}
	body, err := call(c.UserContext(), r)
	if err != nil {
		return err
	}
	return sendFHIR(c, body)
}

// sendFHIR writes a FHIR answer.
func sendFHIR(c *fiber.Ctx, body []byte) error {
	c.Set(fiber.HeaderContentType, FHIRContentType)
	return c.Send(body)
}

// Metadata answers the CapabilityStatement.
//
//	@Summary		FHIR capabilities
//	@Description	The CapabilityStatement of the read-only FHIR R4 API: the resource types it reads (read, vread), searches and their parameters, and the operations $everything, $summary (Patient) and $lastn (Observation). It needs no API key.
//	@ID				fhirMetadata
//	@Tags			fhir
//	@Produce		application/fhir+json
//	@Param			_format	query		string	false	"json, application/json or application/fhir+json"
//	@Success		200		{object}	FHIRResource	"a CapabilityStatement"
//	@Failure		400		{object}	OperationOutcome	"invalid: a parameter other than _format, or _format asking for other than JSON"
//	@Failure		406		{object}	OperationOutcome	"not-supported: Accept asks for other than JSON"
//	@Failure		429		{object}	OperationOutcome	"throttled: too many requests from this address"
//	@Header			429		{string}	Retry-After			"seconds to wait before the next request"
//	@Header			all		{string}	X-Request-Id		"the request's id, as the logs and the audit trail name it"
//	@Router			/fhir/R4/metadata [get]
func (h *FHIR) Metadata(c *fiber.Ctx) error {
	r, err := onlyFormat(c, false)
	if err != nil {
		return err
	}
	body, err := fhirapi.Capabilities(r.Base)
	if err != nil {
		return err
	}
	return sendFHIR(c, body)
}

// Read answers a resource by its id.
//
//	@Summary		Read a FHIR resource
//	@Description	The resource as its record is now: a Patient (by the id the export gives it: its insurance number, or the id of the Patient it was imported from), an Encounter (an interaction), or a resource of an interaction (Observation, Condition, MedicationRequest, ServiceRequest, QuestionnaireResponse, DocumentReference: "<encounter id>-<suffix>"). A resource of an interaction entered in error is answered, with status entered-in-error. Ids the export hashed (x and 40 hex digits) are not read by id.
//	@ID				fhirRead
//	@Tags			fhir
//	@Produce		application/fhir+json
//	@Param			type	path		string	true	"Resource type"	Enums(Patient, Encounter, Observation, Condition, MedicationRequest, ServiceRequest, QuestionnaireResponse, DocumentReference)
//	@Param			id		path		string	true	"Resource id"
//	@Param			_format	query		string	false	"json, application/json or application/fhir+json"
//	@Success		200		{object}	FHIRResource
//	@Security		BearerAuth
//	@Failure		400		{object}	OperationOutcome	"invalid: a parameter other than _format"
//	@Failure		401		{object}	OperationOutcome	"login: no valid API key"
//	@Failure		403		{object}	OperationOutcome	"forbidden: the key's role does not allow this request"
//	@Failure		404		{object}	OperationOutcome	"not-found: no such resource, or a type the API does not serve"
//	@Failure		406		{object}	OperationOutcome	"not-supported: Accept asks for other than JSON"
//	@Failure		429		{object}	OperationOutcome	"throttled: too many requests"
//	@Failure		500		{object}	OperationOutcome	"exception: an unexpected error, logged with the request id"
//	@Failure		503		{object}	OperationOutcome	"transient: the store did not answer in time"
//	@Header			401		{string}	WWW-Authenticate	"the scheme to authenticate with: Bearer"
//	@Header			429,503	{string}	Retry-After			"seconds to wait before the next request"
//	@Header			all		{string}	X-Request-Id		"the request's id, as the logs and the audit trail name it"
//	@Router			/fhir/R4/{type}/{id} [get]
func (h *FHIR) Read(c *fiber.Ctx) error {
	if _, err := onlyFormat(c, true); err != nil {
		return err
	}
	body, err := h.api.Read(c.UserContext(), strings.Clone(c.Params("type")), strings.Clone(c.Params("id")))
	if err != nil {
		return err
	}
	return sendFHIR(c, body)
}

// VRead answers a version of a resource.
//
//	@Summary		Read a version of a FHIR resource
//	@Description	The resource as version vid of its record made it: the patient's version for a Patient, the interaction's for an Encounter and the resources of the interaction (meta.versionId says which).
//	@ID				fhirVRead
//	@Tags			fhir
//	@Produce		application/fhir+json
//	@Param			type	path		string	true	"Resource type"	Enums(Patient, Encounter, Observation, Condition, MedicationRequest, ServiceRequest, QuestionnaireResponse, DocumentReference)
//	@Param			id		path		string	true	"Resource id"
//	@Param			vid		path		integer	true	"Version"	minimum(1)
//	@Param			_format	query		string	false	"json, application/json or application/fhir+json"
//	@Success		200		{object}	FHIRResource
//	@Security		BearerAuth
//	@Failure		400		{object}	OperationOutcome	"invalid: a version that is not a whole number, or a parameter other than _format"
//	@Failure		401		{object}	OperationOutcome	"login: no valid API key"
//	@Failure		403		{object}	OperationOutcome	"forbidden: the key's role does not allow this request"
//	@Failure		404		{object}	OperationOutcome	"not-found: no such resource, or no such version"
//	@Failure		406		{object}	OperationOutcome	"not-supported: Accept asks for other than JSON"
//	@Failure		429		{object}	OperationOutcome	"throttled: too many requests"
//	@Failure		500		{object}	OperationOutcome	"exception: an unexpected error, logged with the request id"
//	@Failure		503		{object}	OperationOutcome	"transient: the store did not answer in time"
//	@Header			401		{string}	WWW-Authenticate	"the scheme to authenticate with: Bearer"
//	@Header			429,503	{string}	Retry-After			"seconds to wait before the next request"
//	@Header			all		{string}	X-Request-Id		"the request's id, as the logs and the audit trail name it"
//	@Router			/fhir/R4/{type}/{id}/_history/{vid} [get]
func (h *FHIR) VRead(c *fiber.Ctx) error {
	if _, err := onlyFormat(c, true); err != nil {
		return err
	}
	vid, err := strconv.Atoi(c.Params("vid"))
	if err != nil || vid < 1 {
		return models.Invalid("vid", "must be a version number, 1 or more")
	}
	body, err := h.api.VRead(c.UserContext(), strings.Clone(c.Params("type")), strings.Clone(c.Params("id")), vid)
	if err != nil {
		return err
	}
	return sendFHIR(c, body)
}

// onlyFormat reads a request that takes no parameter but _format and checks its
// parameters: any other is an error, unless lenient allows the request's
// Prefer: handling=lenient to have it ignored.
func onlyFormat(c *fiber.Ctx, lenient bool) (fhirapi.Request, error) {
	r, err := fhirRequest(c)
	if err != nil {
		return r, err
	}
	errs := &models.ValidationError{}
	for _, p := range r.Params {
		switch {
		case p.Name != "_format":
			if !lenient || !r.Lenient {
				errs.Add(p.Name, "unknown parameter")
			}
		case !fhirapi.JSONFormat(p.Value):
			errs.Add(p.Name, "only JSON is served")
		}
	}
	return r, errs.Err()
}

// Search answers a search.
//
//	@Summary		Search FHIR resources
//	@Description	One page of a search, as a searchset Bundle with total (counted on the first page; left out of a page of every patient's records that is not the last, and with _total=none), a self link (the search as processed: the parameters used) and, when more follow, a next link whose cursor stays stable while records are added. Patient: name, family, given (each word the start of a word of the name), identifier (the insurance number), birthdate; listed by name. Encounter: patient, date. Observation: patient, code (system|code), category (vital-signs), date. Condition: patient. MedicationRequest: patient, status. Dates take the prefixes eq, ge, gt, le, lt. Resources of interactions entered in error are included, with status entered-in-error. A viewer key must name the patient: patient=, or for Patient name, family, given or identifier. An unknown parameter is an error unless the request says Prefer: handling=lenient.
//	@ID				fhirSearch
//	@Tags			fhir
//	@Produce		application/fhir+json
//	@Param			type		path		string	true	"Resource type"	Enums(Patient, Encounter, Observation, Condition, MedicationRequest)
//	@Param			patient		query		string	false	"Patient id, or Patient/<id>"
//	@Param			name		query		string	false	"Patient: words of a name"
//	@Param			family		query		string	false	"Patient: words of the family name"
//	@Param			given		query		string	false	"Patient: words of a given name"
//	@Param			identifier	query		string	false	"Patient: the insurance number, or system|value"
//	@Param			birthdate	query		string	false	"Patient: birth date, with an optional prefix"
//	@Param			date		query		[]string	false	"Encounter, Observation: when, with an optional prefix (ge2024-01-01)"	collectionFormat(multi)
//	@Param			code		query		string	false	"Observation: system|code or code"
//	@Param			category	query		string	false	"Observation: vital-signs"
//	@Param			status		query		string	false	"MedicationRequest: status"
//	@Param			_count		query		integer	false	"Page size"	minimum(1)	maximum(100)	default(20)
//	@Param			_sort		query		string	false	"date (oldest first) or -date (newest first, the default)"	Enums(date, -date)
//	@Param			_total		query		string	false	"none: no total; accurate (the default)"	Enums(none, estimate, accurate)
//	@Param			_cursor		query		string	false	"From the next link of the previous page"
//	@Param			_format		query		string	false	"json, application/json or application/fhir+json"
//	@Param			Prefer		header		string	false	"handling=lenient: ignore unknown parameters"
//	@Success		200			{object}	FHIRBundle
//	@Security		BearerAuth
//	@Failure		400		{object}	OperationOutcome	"invalid: an unknown or bad parameter, or a cursor of another search"
//	@Failure		401		{object}	OperationOutcome	"login: no valid API key"
//	@Failure		403		{object}	OperationOutcome	"forbidden: the key's role does not allow this request"
//	@Failure		404		{object}	OperationOutcome	"not-found: a type the API does not search"
//	@Failure		406		{object}	OperationOutcome	"not-supported: Accept asks for other than JSON"
//	@Failure		429		{object}	OperationOutcome	"throttled: too many requests"
//	@Failure		500		{object}	OperationOutcome	"exception: an unexpected error, logged with the request id"
//	@Failure		503		{object}	OperationOutcome	"transient: the store did not answer in time"
//	@Header			401		{string}	WWW-Authenticate	"the scheme to authenticate with: Bearer"
//	@Header			429,503	{string}	Retry-After			"seconds to wait before the next request"
//	@Header			all		{string}	X-Request-Id		"the request's id, as the logs and the audit trail name it"
//	@Router			/fhir/R4/{type} [get]
func (h *FHIR) Search(c *fiber.Ctx) error {
	return answerFHIR(c, func(ctx context.Context, r fhirapi.Request) ([]byte, error) {
		return h.api.Search(ctx, strings.Clone(c.Params("type")), r)
	})
}

// Everything answers Patient/{id}/$everything.
//
//	@Summary		A patient's whole chart, as FHIR
//	@Description	One page of every resource of the patient's chart, as the export writes them: the Patient (first page), then each interaction's resources, newest first, those entered in error included and marked. Paged with _count and the next link: every resource is returned exactly once, however many visits are added meanwhile. _since: resources of records changed since then; start, end: of visits in that period.
//	@ID				fhirEverything
//	@Tags			fhir
//	@Produce		application/fhir+json
//	@Param			id		path		string	true	"Patient id"
//	@Param			_since	query		string	false	"An instant or date"
//	@Param			start	query		string	false	"Visits from this date"
//	@Param			end		query		string	false	"Visits up to this date"
//	@Param			_count	query		integer	false	"Page size"	minimum(1)	maximum(1000)	default(100)
//	@Param			_total	query		string	false	"none: no total; accurate (the default)"	Enums(none, estimate, accurate)
//	@Param			_cursor	query		string	false	"From the next link of the previous page"
//	@Param			_format	query		string	false	"json, application/json or application/fhir+json"
//	@Param			Prefer	header		string	false	"handling=lenient: ignore unknown parameters"
//	@Success		200		{object}	FHIRBundle
//	@Security		BearerAuth
//	@Failure		400		{object}	OperationOutcome	"invalid: an unknown or bad parameter, or a cursor of another request"
//	@Failure		401		{object}	OperationOutcome	"login: no valid API key"
//	@Failure		403		{object}	OperationOutcome	"forbidden: the key's role does not allow this request"
//	@Failure		404		{object}	OperationOutcome	"not-found: no such patient"
//	@Failure		406		{object}	OperationOutcome	"not-supported: Accept asks for other than JSON"
//	@Failure		429		{object}	OperationOutcome	"throttled: too many requests"
//	@Failure		500		{object}	OperationOutcome	"exception: an unexpected error, logged with the request id"
//	@Failure		503		{object}	OperationOutcome	"transient: the store did not answer in time"
//	@Header			401		{string}	WWW-Authenticate	"the scheme to authenticate with: Bearer"
//	@Header			429,503	{string}	Retry-After			"seconds to wait before the next request"
//	@Header			all		{string}	X-Request-Id		"the request's id, as the logs and the audit trail name it"
//	@Router			/fhir/R4/Patient/{id}/$everything [get]
func (h *FHIR) Everything(c *fiber.Ctx) error {
	return answerFHIR(c, func(ctx context.Context, r fhirapi.Request) ([]byte, error) {
		return h.api.Everything(ctx, strings.Clone(c.Params("id")), r)
	})
}

// Summary answers Patient/{id}/$summary.
//
//	@Summary		A patient's summary, as an International Patient Summary
//	@Description	A document Bundle shaped like the International Patient Summary, built from the summary the printable report shows: a Composition (LOINC 60591-5) with the sections problems (11450-4: the chart's ailments and the pre-existing conditions), medications (10160-0: current and pre-existing), vital signs (8716-3: the latest of each, with its interpretation) and plan of care (18776-5: the next visit and the pending tests), then the Patient and the resources the sections list.
//	@ID				fhirSummary
//	@Tags			fhir
//	@Produce		application/fhir+json
//	@Param			id		path		string	true	"Patient id"
//	@Param			_format	query		string	false	"json, application/json or application/fhir+json"
//	@Success		200		{object}	FHIRBundle
//	@Security		BearerAuth
//	@Failure		400		{object}	OperationOutcome	"invalid: a parameter other than _format"
//	@Failure		401		{object}	OperationOutcome	"login: no valid API key"
//	@Failure		403		{object}	OperationOutcome	"forbidden: the key's role does not allow this request"
//	@Failure		404		{object}	OperationOutcome	"not-found: no such patient"
//	@Failure		406		{object}	OperationOutcome	"not-supported: Accept asks for other than JSON"
//	@Failure		429		{object}	OperationOutcome	"throttled: too many requests"
//	@Failure		500		{object}	OperationOutcome	"exception: an unexpected error, logged with the request id"
//	@Failure		503		{object}	OperationOutcome	"transient: the store did not answer in time"
//	@Header			401		{string}	WWW-Authenticate	"the scheme to authenticate with: Bearer"
//	@Header			429,503	{string}	Retry-After			"seconds to wait before the next request"
//	@Header			all		{string}	X-Request-Id		"the request's id, as the logs and the audit trail name it"
//	@Router			/fhir/R4/Patient/{id}/$summary [get]
func (h *FHIR) Summary(c *fiber.Ctx) error {
	return answerFHIR(c, func(ctx context.Context, r fhirapi.Request) ([]byte, error) {
		return h.api.Summary(ctx, strings.Clone(c.Params("id")), r)
	})
}

// LastN answers Observation/$lastn.
//
//	@Summary		The latest readings of each code
//	@Description	For the patient named, the latest max readings of each Observation code (1 by default), newest first, grouped by code, as a searchset Bundle; category=vital-signs and code narrow it. Vital signs carry their interpretation (N, L, H, LL, HH). Interactions entered in error are left out. Read from the history's index, newest first, stopping once every code asked for has max readings.
//	@ID				fhirLastN
//	@Tags			fhir
//	@Produce		application/fhir+json
//	@Param			patient		query		string	true	"Patient id, or Patient/<id>"
//	@Param			category	query		string	false	"vital-signs"
//	@Param			code		query		string	false	"system|code or code, comma-separated"
//	@Param			max			query		integer	false	"Readings per code"	minimum(1)	maximum(100)	default(1)
//	@Param			_format		query		string	false	"json, application/json or application/fhir+json"
//	@Param			Prefer		header		string	false	"handling=lenient: ignore unknown parameters"
//	@Success		200			{object}	FHIRBundle
//	@Security		BearerAuth
//	@Failure		400		{object}	OperationOutcome	"invalid: no patient, or an unknown or bad parameter"
//	@Failure		401		{object}	OperationOutcome	"login: no valid API key"
//	@Failure		403		{object}	OperationOutcome	"forbidden: the key's role does not allow this request"
//	@Failure		406		{object}	OperationOutcome	"not-supported: Accept asks for other than JSON"
//	@Failure		429		{object}	OperationOutcome	"throttled: too many requests"
//	@Failure		500		{object}	OperationOutcome	"exception: an unexpected error, logged with the request id"
//	@Failure		503		{object}	OperationOutcome	"transient: the store did not answer in time"
//	@Header			401		{string}	WWW-Authenticate	"the scheme to authenticate with: Bearer"
//	@Header			429,503	{string}	Retry-After			"seconds to wait before the next request"
//	@Header			all		{string}	X-Request-Id		"the request's id, as the logs and the audit trail name it"
//	@Router			/fhir/R4/Observation/$lastn [get]
func (h *FHIR) LastN(c *fiber.Ctx) error {
	return answerFHIR(c, func(ctx context.Context, r fhirapi.Request) ([]byte, error) {
		return h.api.LastN(ctx, r)
	})
}

// FHIRResource documents a FHIR R4 resource: its resourceType and id, and the
// elements of its type.
type FHIRResource struct {
	ResourceType string `json:"resourceType" validate:"required" example:"Observation"`
	ID           string `json:"id,omitempty" example:"visit-1-metric-2"`
}

// FHIRBundle documents a FHIR R4 Bundle: a searchset (a page of a search or of
// $everything, $lastn) or a document ($summary).
type FHIRBundle struct {
	ResourceType string `json:"resourceType" validate:"required" enums:"Bundle" example:"Bundle"`
	Type         string `json:"type" validate:"required" enums:"searchset,document" example:"searchset"`
	// Total is the number of matches, across the pages.
	Total int `json:"total,omitempty" example:"42"`
	// Link holds self, and next when more follow.
	Link  []FHIRLink      `json:"link,omitempty"`
	Entry []FHIRBundleRow `json:"entry,omitempty"`
}

// FHIRLink is a link of a Bundle.
type FHIRLink struct {
	Relation string `json:"relation" validate:"required" enums:"self,next" example:"next"`
	URL      string `json:"url" validate:"required" example:"http://localhost:8000/fhir/R4/Encounter?patient=P100&_cursor=eyJx"`
}

// FHIRBundleRow is an entry of a Bundle.
type FHIRBundleRow struct {
	FullURL  string         `json:"fullUrl" validate:"required" example:"http://localhost:8000/fhir/R4/Encounter/visit-1"`
	Resource map[string]any `json:"resource" validate:"required" swaggertype:"object"`
	Search   map[string]any `json:"search,omitempty" swaggertype:"object"`
}
