package handlers

import (
	"mime"
	"slices"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/records"
)

// body parses the request body as one JSON document. It returns a Fiber 415 error for
// a body that is not JSON and the errors of models.ParseDocument otherwise.
func body(c *fiber.Ctx) (models.Document, error) {
	if ct := c.Get(fiber.HeaderContentType); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != fiber.MIMEApplicationJSON && !strings.HasSuffix(mt, "+json")) {
			return nil, fiber.ErrUnsupportedMediaType
		}
	}
	return models.ParseDocument(c.Body())
}

// identifierParam returns a copy of the path parameter name, or a validation error when
// it cannot be an identifier.
func identifierParam(c *fiber.Ctx, name string) (string, error) {
	v := strings.Clone(c.Params(name))
	if !models.ValidIdentifier(v) {
		return "", models.Invalid(name, "is not a valid identifier")
	}
	return v, nil
}

// versionParam reads the version path parameter: an integer of 1 or more.
func versionParam(c *fiber.Ctx) (int, error) {
	v, err := strconv.Atoi(c.Params("version"))
	if err != nil || v < 1 {
		return 0, models.Invalid("version", "must be an integer of 1 or more")
	}
	return v, nil
}

// queryParams are the values of a request's query parameters, copied out of Fiber's
// reused buffers.
type queryParams map[string][]string

// one returns the single value of key, or "".
func (p queryParams) one(key string) string {
	if v := p[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// readQuery copies the query parameters, noting in errs each one that is not allowed
// and each one but label that is repeated.
func readQuery(c *fiber.Ctx, errs *models.ValidationError, allowed ...string) queryParams {
	params := queryParams{}
	c.Context().QueryArgs().VisitAll(func(k, v []byte) {
		key := string(k)
		switch {
		case !slices.Contains(allowed, key):
			errs.Add(key, "unknown parameter; this route takes "+strings.Join(allowed, ", "))
		case len(params[key]) > 0 && key != "label":
			errs.Add(key, "must be given at most once")
		default:
			params[key] = append(params[key], string(v))
		}
	})
	return params
}

// pageLimit reads the limit parameter: 1 to models.MaxPageSize, models.DefaultPageSize
// when absent.
func pageLimit(params queryParams, errs *models.ValidationError) int {
	return intParam(params, errs, "limit", 1, models.MaxPageSize, models.DefaultPageSize)
}

// intParam reads the integer parameter name, from lo to hi; def when absent.
func intParam(params queryParams, errs *models.ValidationError, name string, lo, hi, def int) int {
	v, ok := params[name]
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v[0])
	if err != nil || n < lo || n > hi {
		errs.Add(name, "must be an integer from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi))
		return def
	}
	return n
}

// cursorParam reads the cursor parameter, when given, with parse, noting in errs a
// cursor parse refuses. It returns parse's result, or the zero value when there is
// no cursor.
func cursorParam[T any](params queryParams, errs *models.ValidationError, parse func(string) (T, error)) T {
	var zero T
	v, ok := params["cursor"]
	if !ok {
		return zero
	}
	cur, err := parse(v[0])
	if err != nil {
		errs.Add("cursor", "is not a cursor this service issued; use next_cursor from a previous page")
		return zero
	}
	return cur
}

// checkCursor notes in errs a cursor issued for a query other than the one whose
// key is query: used with another filter, it would skip or repeat items.
func checkCursor(errs *models.ValidationError, cursorQuery, query string) {
	if cursorQuery != "" && cursorQuery != query {
		errs.Add("cursor", "was issued for another query; pass it with the parameters of the page that gave it")
	}
}

// versionsQuery reads the limit and cursor of the version history of the record
// whose key is record.
func versionsQuery(c *fiber.Ctx, record string) (limit int, before int, err error) {
	errs := &models.ValidationError{}
	params := readQuery(c, errs, "limit", "cursor")
	limit = pageLimit(params, errs)
	cur := cursorParam(params, errs, models.ParseVersionCursor)
	checkCursor(errs, cur.Query, record)
	return limit, cur.Version, errs.Err()
}

// versionsCursor returns the next_cursor of a page of the versions of the record
// whose key is record that continues below version next, or nil when next is 0: the
// last page.
func versionsCursor(next int, record string) *string {
	if next == 0 {
		return nil
	}
	s := models.VersionCursor{Version: next, Query: record}.Encode()
	return &s
}

// etag returns the entity tag of a record's version.
func etag(version int) string { return `"` + strconv.Itoa(version) + `"` }

// setETag gives the response the entity tag of version.
func setETag(c *fiber.Ctx, version int) {
	c.Set(fiber.HeaderETag, etag(version))
}

// matchesETag reports whether an If-Match header value, one entity tag, names
// version. A weak tag never matches, as RFC 9110 requires for If-Match.
func matchesETag(header string, version int) bool {
	return strings.TrimSpace(header) == etag(version)
}

// wellFormedETags reports whether header is "*" or a comma-separated list of entity
// tags: each in double quotes, optionally weak (W/"..."), as RFC 9110 writes them.
func wellFormedETags(header string) bool {
	if strings.TrimSpace(header) == "*" {
		return true
	}
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if len(tag) < 2 || tag[0] != '"' || tag[len(tag)-1] != '"' || strings.ContainsAny(tag[1:len(tag)-1], "\" ") {
			return false
		}
	}
	return true
}

// matchesETagWeak reports whether an If-None-Match header value names the entity tag
// want, comparing weakly (W/"3" matches "3").
func matchesETagWeak(header, want string) bool {
	want = strings.TrimPrefix(want, "W/")
	for _, tag := range strings.Split(header, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || tag == want {
			return true
		}
	}
	return false
}

// notModified answers 304 and reports true when If-None-Match names version.
func notModified(c *fiber.Ctx, version int) bool { return notModifiedTag(c, etag(version)) }

// notModifiedTag answers 304 with ETag tag and reports true when If-None-Match
// names tag.
func notModifiedTag(c *fiber.Ctx, tag string) bool {
	inm := c.Get(fiber.HeaderIfNoneMatch)
	if inm == "" || !matchesETagWeak(inm, tag) {
		return false
	}
	c.Set(fiber.HeaderETag, tag)
	c.Status(fiber.StatusNotModified)
	return true
}

// ifMatch reads If-Match as the version a change may be made to. It returns
// models.ErrPreconditionRequired without one or with "*", which names no version,
// a *models.ValidationError for one that is not a list of entity tags, and a
// *models.MalformedRequestError for a list of more than one: a list naming the
// current version among others would pass whatever the version is, a blind
// overwrite under another spelling. A weak tag is one tag, which never matches.
func ifMatch(c *fiber.Ctx) (records.Match, error) {
	header := strings.Clone(c.Get(fiber.HeaderIfMatch))
	if strings.TrimSpace(header) == "" || strings.TrimSpace(header) == "*" {
		// "*" would match any version: a blind overwrite of a medical record.
		return nil, models.ErrPreconditionRequired
	}
	if !wellFormedETags(header) {
		return nil, models.Invalid(fiber.HeaderIfMatch,
			`must be the ETag of the version you are changing, with its quotes, as ETag gives it: "2", not 2`)
	}
	if strings.Contains(header, ",") {
		return nil, &models.MalformedRequestError{Fields: map[string]string{fiber.HeaderIfMatch: `must be exactly one ETag, the version you are changing ("2"), not a list`}}
	}
	return func(version int) bool { return matchesETag(header, version) }, nil
}

// changeRequest reads what every change of a record carries: the record's id from
// the path parameter param, If-Match, and the reason query parameter.
func changeRequest(c *fiber.Ctx, param string) (id string, match records.Match, reason string, err error) {
	if id, err = identifierParam(c, param); err != nil {
		return "", nil, "", err
	}
	if match, err = ifMatch(c); err != nil {
		return "", nil, "", err
	}
	errs := &models.ValidationError{}
	reason = readQuery(c, errs, "reason").one("reason")
	if err := errs.Err(); err != nil {
		return "", nil, "", err
	}
	return id, match, reason, nil
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
