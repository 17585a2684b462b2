package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/clinic/interactions/models"
)

// ErrorResponse is the one shape of every error the API returns.
type ErrorResponse struct {
	Error ErrorBody `json:"error" validate:"required"`
}

// ErrorBody describes what went wrong.
type ErrorBody struct {
	// Code is a stable, machine-readable name for the error.
	Code    string `json:"code" validate:"required" enums:"bad_request,not_acceptable,malformed_request,malformed_body,document_limit_exceeded,validation_failed,unauthenticated,forbidden,not_found,patient_not_found,method_not_allowed,timeout,conflict,idempotency_in_progress,entered_in_error,payload_too_large,unsupported_media_type,idempotency_key_reused,document_too_large,precondition_failed,precondition_required,rate_limited,headers_too_large,internal,unavailable" example:"validation_failed"`
	Message string `json:"message" validate:"required" example:"the request has invalid fields"`
	// Fields maps each offending field (a dotted path) to what is wrong with it.
	Fields map[string]string `json:"fields,omitempty"`
}

// statusErrors names the HTTP-level errors Fiber and its middleware raise.
var statusErrors = map[int]ErrorBody{
	fiber.StatusBadRequest:                  {Code: "bad_request", Message: "the request could not be read"},
	fiber.StatusNotFound:                    {Code: "not_found", Message: "no such route"},
	fiber.StatusMethodNotAllowed:            {Code: "method_not_allowed", Message: "this route does not take that method"},
	fiber.StatusRequestTimeout:              {Code: "timeout", Message: "the request took too long to arrive"},
	fiber.StatusRequestEntityTooLarge:       {Code: "payload_too_large", Message: "the request body is larger than 1 MiB"},
	fiber.StatusUnsupportedMediaType:        {Code: "unsupported_media_type", Message: "send the body as application/json"},
	fiber.StatusRequestHeaderFieldsTooLarge: {Code: "headers_too_large", Message: "the request headers are too large"},
	fiber.StatusNotAcceptable:               {Code: "not_acceptable", Message: "the API answers JSON only"},
}

// RetryAfterUnavailable is the Retry-After, in seconds, of a 503 unavailable: the
// store did not answer, and a client may try again after that long.
const RetryAfterUnavailable = 5

// ErrorHandler returns the Fiber error handler: the one place where errors become HTTP
// responses. Middleware and handlers return errors; Fiber passes them here once the
// whole chain has returned. Unexpected errors are logged once here, without request
// data, and reach the client only as a generic 500.
func ErrorHandler(logger *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		status, body := classify(err)
		switch status {
		case fiber.StatusUnauthorized:
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="api"`)
		case fiber.StatusServiceUnavailable:
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(RetryAfterUnavailable))
		}
		if errors.Is(err, models.ErrTooManyHeavy) {
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(RetryAfterHeavy))
		}
		if status >= fiber.StatusInternalServerError {
			logger.ErrorContext(c.UserContext(), "request failed",
				"request_id", requestID(c), "route", c.Route().Path, "status", status, "error", err.Error())
		}
		if strings.HasPrefix(c.Path(), FHIRPrefix+"/") || c.Path() == FHIRPrefix {
			data, err := EncodeJSON(outcomeOf(status, body))
			if err != nil {
				return err
			}
			c.Set(fiber.HeaderContentType, FHIRContentType)
			return c.Status(status).Send(data)
		}
		return c.Status(status).JSON(ErrorResponse{Error: body})
	}
}

// OperationOutcome is the shape of every error of the FHIR API: an issue per
// offending parameter (or one), each with its FHIR issue type, the API's error code
// and message.
type OperationOutcome struct {
	ResourceType string  `json:"resourceType" validate:"required" enums:"OperationOutcome" example:"OperationOutcome"`
	Issue        []Issue `json:"issue" validate:"required"`
}

// Issue is one issue of an OperationOutcome.
type Issue struct {
	Severity string `json:"severity" validate:"required" enums:"error" example:"error"`
	// Code is the FHIR issue type (invalid, login, forbidden, not-found, throttled,
	// transient, exception, ...).
	Code    string       `json:"code" validate:"required" example:"invalid"`
	Details IssueDetails `json:"details" validate:"required"`
	// Diagnostics names the offending parameter, when one is.
	Diagnostics string `json:"diagnostics,omitempty" example:"_count"`
	// Expression names the offending parameter, as http.<name>.
	Expression []string `json:"expression,omitempty" example:"http._count"`
}

// IssueDetails carries the API's error code (system ErrorCodeSystem) and message.
type IssueDetails struct {
	Coding []IssueCoding `json:"coding" validate:"required"`
	Text   string        `json:"text" validate:"required" example:"must be a whole number from 1 to 100"`
}

// IssueCoding is the API's error code.
type IssueCoding struct {
	System string `json:"system" validate:"required" example:"https://github.com/clinic/interactions/fhir/CodeSystem/error"`
	Code   string `json:"code" validate:"required" example:"validation_failed"`
}

// ErrorCodeSystem is the code system of the API's error codes in an OperationOutcome.
const ErrorCodeSystem = "https://github.com/clinic/interactions/fhir/CodeSystem/error"

// issueTypes are the FHIR issue types of the statuses.
var issueTypes = map[int]string{
	fiber.StatusBadRequest: "invalid", fiber.StatusUnauthorized: "login", fiber.StatusForbidden: "forbidden",
	fiber.StatusNotFound: "not-found", fiber.StatusMethodNotAllowed: "not-supported", fiber.StatusNotAcceptable: "not-supported",
	fiber.StatusGone: "deleted", fiber.StatusRequestEntityTooLarge: "too-costly", fiber.StatusTooManyRequests: "throttled",
	fiber.StatusServiceUnavailable: "transient", fiber.StatusRequestHeaderFieldsTooLarge: "too-costly",
	fiber.StatusUnsupportedMediaType: "not-supported",
}

// outcomeOf returns the OperationOutcome of an error answered with status and body:
// an issue per field of body, or one.
func outcomeOf(status int, body ErrorBody) OperationOutcome {
	kind := issueTypes[status]
	if kind == "" {
		kind = "exception"
		if status < fiber.StatusInternalServerError {
			kind = "processing"
		}
	}
	issue := func(text, field string) Issue {
		i := Issue{Severity: "error", Code: kind, Details: IssueDetails{
			Coding: []IssueCoding{{System: ErrorCodeSystem, Code: body.Code}}, Text: text}}
		if field != "" {
			i.Diagnostics, i.Expression = field, []string{"http." + field}
		}
		return i
	}
	out := OperationOutcome{ResourceType: "OperationOutcome"}
	for _, field := range slices.Sorted(maps.Keys(body.Fields)) {
		out.Issue = append(out.Issue, issue(body.Fields[field], field))
	}
	if len(out.Issue) == 0 {
		out.Issue = []Issue{issue(body.Message, "")}
	}
	return out
}

// StatusOf returns the status ErrorHandler answers err with, for middleware that
// records a request's outcome before the error is rendered.
func StatusOf(err error) int {
	status, _ := classify(err)
	return status
}

// errorAnswer returns err as ErrorHandler answers it, to be kept for a retry.
func errorAnswer(err error) (models.IdempotentAnswer, error) {
	status, body := classify(err)
	data, err := EncodeJSON(ErrorResponse{Error: body})
	if err != nil {
		return models.IdempotentAnswer{}, fmt.Errorf("encode error: %w", err)
	}
	return models.IdempotentAnswer{
		Status:  status,
		Headers: map[string]string{fiber.HeaderContentType: fiber.MIMEApplicationJSON},
		Body:    string(data),
	}, nil
}

// classify maps err to its status and body: the one table of the API's errors.
func classify(err error) (int, ErrorBody) {
	var (
		malformed *models.MalformedError
		request   *models.MalformedRequestError
		limit     *models.LimitError
		invalid   *models.ValidationError
		fe        *fiber.Error
		gone      *models.GoneError
		tooLarge  *models.TooLargeError
		lowDisk   *models.LowDiskError
	)
	switch {
	// First: an error that made the request fail for want of the store (its audit
	// event, say) answers 503 whatever else it wraps, and so does a request that ran
	// out of time or was cut short by the server's shutdown.
	case errors.Is(err, models.ErrBusy):
		return fiber.StatusServiceUnavailable, ErrorBody{Code: "unavailable",
			Message: "the store is busy with as many whole-collection reads as it takes at once; try again after Retry-After"}
	case errors.As(err, &lowDisk):
		return fiber.StatusServiceUnavailable, ErrorBody{Code: "unavailable",
			Message: "DATA_DIR's disk has less free space than MIN_FREE_DISK: writes fail once it is full",
			Fields:  map[string]string{"free_bytes": strconv.FormatUint(lowDisk.Free, 10), "min_free_bytes": strconv.FormatUint(lowDisk.Min, 10)}}
	case errors.Is(err, models.ErrUnavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fiber.StatusServiceUnavailable, ErrorBody{Code: "unavailable", Message: "the store is not reachable; try again later"}
	case errors.As(err, &request):
		return fiber.StatusBadRequest, ErrorBody{Code: "malformed_request", Message: "the request's headers cannot be taken as they are",
			Fields: request.Fields}
	case errors.Is(err, models.ErrMalformedRequest):
		return fiber.StatusBadRequest, ErrorBody{Code: "malformed_request",
			Message: "the request line cannot be read: its path or query (as sent or percent-decoded) is not valid UTF-8, or its method is unknown"}
	case errors.As(err, &malformed):
		return fiber.StatusBadRequest, ErrorBody{Code: "malformed_body", Message: malformed.Reason}
	case errors.As(err, &limit): // before invalid: a LimitError is a ValidationError too
		return fiber.StatusUnprocessableEntity, ErrorBody{Code: "document_limit_exceeded",
			Message: "the record is past a cap on what one record may hold; fields names each cap and where", Fields: limit.Fields}
	case errors.As(err, &invalid):
		return fiber.StatusBadRequest, ErrorBody{Code: "validation_failed", Message: "the request has invalid fields", Fields: invalid.Fields}
	case errors.Is(err, models.ErrPatientNotFound):
		return fiber.StatusNotFound, ErrorBody{Code: "patient_not_found", Message: "no patient has this insurance number"}
	case errors.Is(err, models.ErrNotFound):
		return fiber.StatusNotFound, ErrorBody{Code: "not_found", Message: "no such record"}
	case errors.Is(err, models.ErrConflict):
		return fiber.StatusConflict, ErrorBody{Code: "conflict", Message: "a record with this identity already exists"}
	case errors.Is(err, models.ErrUnauthenticated):
		return fiber.StatusUnauthorized, ErrorBody{Code: "unauthenticated",
			Message: "send a valid API key as Authorization: Bearer <key>"}
	case errors.Is(err, models.ErrForbidden):
		return fiber.StatusForbidden, ErrorBody{Code: "forbidden", Message: "this API key's role does not allow this request"}
	case errors.Is(err, models.ErrTooManyHeavy):
		return fiber.StatusTooManyRequests, ErrorBody{Code: "rate_limited",
			Message: "this API key has as many heavy requests (summaries, reports, exports, analyses) running as it may; retry after the time in Retry-After"}
	case errors.Is(err, models.ErrRateLimited):
		return fiber.StatusTooManyRequests, ErrorBody{Code: "rate_limited",
			Message: "too many requests for this API key; retry after the time in Retry-After"}
	case errors.Is(err, models.ErrPreconditionRequired):
		return fiber.StatusPreconditionRequired, ErrorBody{Code: "precondition_required",
			Message: "send If-Match with the ETag of the version you are changing, as ETag gave it (\"3\"); * is not accepted"}
	case errors.Is(err, models.ErrPreconditionFailed):
		return fiber.StatusPreconditionFailed, ErrorBody{Code: "precondition_failed",
			Message: "the record has changed since that version; fetch it again and reapply your change"}
	case errors.As(err, &gone):
		return fiber.StatusGone, ErrorBody{Code: "entered_in_error", Message: "the record was marked " + gone.Status,
			Fields: map[string]string{"status": gone.Status, "reason": gone.Reason}}
	case errors.As(err, &tooLarge):
		return fiber.StatusUnprocessableEntity, ErrorBody{Code: "document_too_large", Message: tooLarge.Error()}
	case errors.Is(err, models.ErrIdempotencyKeyReused):
		return fiber.StatusUnprocessableEntity, ErrorBody{Code: "idempotency_key_reused",
			Message: "this Idempotency-Key was used with a different request; use a new key"}
	case errors.Is(err, models.ErrIdempotencyInProgress):
		return fiber.StatusConflict, ErrorBody{Code: "idempotency_in_progress",
			Message: "the first request with this Idempotency-Key is still running; retry shortly"}
	case errors.As(err, &fe):
		if body, ok := statusErrors[fe.Code]; ok {
			return fe.Code, body
		}
		if fe.Code < fiber.StatusInternalServerError {
			return fe.Code, ErrorBody{Code: "bad_request", Message: "the request could not be served"}
		}
	}
	return fiber.StatusInternalServerError, ErrorBody{Code: "internal", Message: "an internal error occurred"}
}
