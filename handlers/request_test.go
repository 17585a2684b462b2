package handlers

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/clinic/interactions/models"
)

func TestETags(t *testing.T) {
	cases := []struct {
		header string
		strong bool // If-Match
		weak   bool // If-None-Match
	}{
		{`"3"`, true, true},
		{`W/"3"`, false, true},
		{`"1", "3"`, false, true}, // If-Match takes one tag (see ifMatch)
		{`*`, false, true},
		{`"4"`, false, false},
		{`3`, false, false},
		{``, false, false},
	}
	for _, tc := range cases {
		if got := matchesETag(tc.header, 3); got != tc.strong {
			t.Errorf("matchesETag(%q, 3) = %v", tc.header, got)
		}
		if got := matchesETagWeak(tc.header, etag(3)); got != tc.weak {
			t.Errorf("matchesETagWeak(%q, %s) = %v", tc.header, etag(3), got)
		}
	}
}

func TestEncodeJSON(t *testing.T) {
	cases := []struct {
		in   any
		want string
	}{
		{map[string]string{"m": "Bearer <key> & co"}, `{"m":"Bearer <key> & co"}`},
		{[]string{`\u003c is text`}, `["\\u003c is text"]`},
		{[]string{`a\`, `<`}, `["a\\","<"]`},
		{"\u2028", `"\u2028"`},
	}
	for _, tc := range cases {
		got, err := EncodeJSON(tc.in)
		if err != nil || string(got) != tc.want {
			t.Errorf("EncodeJSON(%q) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestWellFormedETags(t *testing.T) {
	for header, want := range map[string]bool{
		`"2"`: true, `W/"2"`: true, `"1", "2"`: true, `*`: true, ` "2" `: true,
		`2`: false, `"2`: false, `'2'`: false, `"2", 3`: false, `"a b"`: false, `""2""`: false, `W/2`: false,
	} {
		if got := wellFormedETags(header); got != want {
			t.Errorf("wellFormedETags(%q) = %v", header, got)
		}
	}
}

// TestErrorCodesAreDocumented checks that every code the error table answers with is
// in the enum the OpenAPI document gives for ErrorBody.code.
func TestErrorCodesAreDocumented(t *testing.T) {
	field, _ := reflect.TypeFor[ErrorBody]().FieldByName("Code")
	documented := strings.Split(field.Tag.Get("enums"), ",")
	errs := []error{
		&models.MalformedError{}, &models.MalformedRequestError{}, &models.LimitError{}, &models.ValidationError{}, &models.GoneError{}, &models.TooLargeError{}, errors.New("unexpected"),
		models.ErrPatientNotFound, models.ErrNotFound, models.ErrConflict, models.ErrUnauthenticated,
		models.ErrForbidden, models.ErrRateLimited, models.ErrPreconditionRequired, models.ErrPreconditionFailed,
		models.ErrIdempotencyKeyReused, models.ErrIdempotencyInProgress, models.ErrUnavailable,
		fiber.NewError(fiber.StatusTeapot),
	}
	for status := range statusErrors {
		errs = append(errs, fiber.NewError(status))
	}
	for _, err := range errs {
		if _, body := classify(err); !slices.Contains(documented, body.Code) {
			t.Errorf("%v answers code %q, which ErrorBody's enum lacks", err, body.Code)
		}
	}
}
