package handlers

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/clinic/interactions/audit"
	"github.com/clinic/interactions/models"
)

// TestAuditRecordsDisclosures checks what the audit middleware records as disclosed:
// the patients a JSON answer names at any depth, the path's patient, the patient the
// request read, and those noted with audit.Disclose; none for an answer that failed,
// nor from an answer streamed, in another type or about the audit trail; and past
// models.MaxEventPatients, the count and digest of them all.
func TestAuditRecordsDisclosures(t *testing.T) {
	h := New(Services{Store: fakeStore{}, Keys: fakeKeys{}})
	log := &fakeAuditLog{}
	app := fiber.New(fiber.Config{ErrorHandler: ErrorHandler(slog.New(slog.NewJSONHandler(io.Discard, nil)))})
	route := func(path string, handler fiber.Handler) {
		app.Get(path, Audit(log, func() time.Time { return testNow }), h.Authenticate, handler)
	}
	many := make([]string, models.MaxEventPatients+20)
	for i := range many {
		many[i] = fmt.Sprintf("P%03d", i)
	}
	route("/page", func(c *fiber.Ctx) error {
		return c.JSON(fiber.Map{"items": []fiber.Map{{"insurance_no": "B2", "extra": fiber.Map{"insurance_no": "C3"}}, {"insurance_no": "B2"}}})
	})
	route("/patients/:insurance_no/chart", func(c *fiber.Ctx) error {
		audit.Touch(c.UserContext(), "A1", "")
		return c.JSON(fiber.Map{"insurance_no": "A1", "neighbours": []fiber.Map{{"insurance_no": "D4"}}})
	})
	route("/aggregate", func(c *fiber.Ctx) error {
		audit.Disclose(c.UserContext(), "E5", "F6")
		return c.JSON(fiber.Map{"count": 2})
	})
	route("/patients/:insurance_no/failed", func(c *fiber.Ctx) error {
		audit.Disclose(c.UserContext(), "E5")
		return models.ErrPatientNotFound
	})
	route("/patients/:insurance_no/stream", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		c.Context().SetBodyStream(strings.NewReader(`{"insurance_no":"G7"}`), -1)
		return nil
	})
	route("/patients/:insurance_no/page.html", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		return c.SendString(`{"insurance_no":"H8"}`)
	})
	route("/trail", func(c *fiber.Ctx) error {
		audit.DisclosesNone(c.UserContext())
		return c.JSON(fiber.Map{"items": []fiber.Map{{"insurance_no": "I9"}}})
	})
	route("/many", func(c *fiber.Ctx) error {
		items := []fiber.Map{}
		for _, no := range many {
			items = append(items, fiber.Map{"insurance_no": no})
		}
		return c.JSON(fiber.Map{"items": items})
	})
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/page", []string{"B2", "C3"}},
		{"/patients/Z1/chart", []string{"A1", "D4", "Z1"}},
		{"/aggregate", []string{"E5", "F6"}},
		{"/patients/Z2/failed", nil},
		{"/patients/Z3/stream", []string{"Z3"}},
		{"/patients/Z4/page.html", []string{"Z4"}},
		{"/trail", nil},
	} {
		t.Run(tc.path, func(t *testing.T) {
			send(t, app, "GET", tc.path, "")
			e := log.events[len(log.events)-1]
			if !slices.Equal(e.Patients, tc.want) || e.PatientsCount != 0 || e.PatientsDigest != "" {
				t.Errorf("recorded %v (%d, %q), want %v", e.Patients, e.PatientsCount, e.PatientsDigest, tc.want)
			}
		})
	}
	t.Run("more than an event lists", func(t *testing.T) {
		send(t, app, "GET", "/many", "")
		e := log.events[len(log.events)-1]
		if !slices.Equal(e.Patients, many[:models.MaxEventPatients]) || e.PatientsCount != len(many) ||
			e.PatientsDigest != models.PatientsDigest(many) || !slices.Equal(e.Disclosed(), many) {
			t.Errorf("recorded %d patients, count %d, digest %q", len(e.Patients), e.PatientsCount, e.PatientsDigest)
		}
	})
}
