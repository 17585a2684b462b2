package handlers

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/report"
	"github.com/clinic/interactions/summary"
)

// chartPatients knows patient A11 only.
type chartPatients struct{ Patients }

func (chartPatients) Get(_ context.Context, no string) (models.Patient, error) {
	if no != "A11" {
		return models.Patient{}, models.ErrNotFound
	}
	return models.Patient{InsuranceNo: "A11", FName: "Vernon"}, nil
}

// chartInteractions hands visits to Each, or fails with err, and notes the queries.
type chartInteractions struct {
	Interactions
	visits  []models.Interaction
	err     error
	queries []models.HistoryQuery
}

func (f *chartInteractions) Each(_ context.Context, q models.HistoryQuery, fn func(models.Interaction) error) error {
	f.queries = append(f.queries, q)
	if f.err != nil {
		return f.err
	}
	for _, in := range f.visits {
		if err := fn(in); err != nil {
			return err
		}
	}
	return nil
}

func chartApp(interactions *chartInteractions) *fiber.App {
	h := New(Services{Store: fakeStore{}, Patients: chartPatients{}, Interactions: interactions, Keys: fakeKeys{},
		Now: func() time.Time { return testNow }})
	app := newTestApp(h, &fakeAuditLog{})
	app.Get("/api/v1/patients/:insurance_no/summary", h.Authenticate, h.Summary)
	app.Get("/api/v1/patients/:insurance_no/report", h.Authenticate, h.Report)
	return app
}

func TestSummaryHandler(t *testing.T) {
	status := 6
	interactions := &chartInteractions{visits: []models.Interaction{
		{ID: "1", InsuranceNo: "A11", InteractionDate: testNow.AddDate(0, 0, -3), HealthStatus: &status, Label: []string{"fever"}},
	}}
	app := chartApp(interactions)

	a := send(t, app, "GET", "/api/v1/patients/A11/summary", "")
	if a.status != 200 {
		t.Fatalf("status %d: %s", a.status, a.body)
	}
	var s summary.Summary
	if err := json.Unmarshal([]byte(a.body), &s); err != nil {
		t.Fatal(err)
	}
	if !s.AsOf.Equal(testNow) || s.Visits.Count != 1 || s.Patient.FName != "Vernon" || len(s.HealthStatus.Points) != 1 {
		t.Errorf("summary %s", a.body)
	}
	// The whole chart, entered-in-error left out.
	if q := interactions.queries; len(q) != 1 || q[0].InsuranceNo != "A11" || q[0].IncludeEnteredInError || len(q[0].Labels) != 0 {
		t.Errorf("Each asked with %+v", q)
	}

	page := send(t, app, "GET", "/api/v1/patients/A11/report", "")
	if page.status != 200 || page.header["Content-Type"] != "text/html; charset=utf-8" ||
		page.header["Content-Security-Policy"] != report.ContentSecurityPolicy() || !strings.Contains(page.body, "<h1>Vernon</h1>") {
		t.Errorf("report: %d %v\n%.200s", page.status, page.header, page.body)
	}
}

func TestSummaryHandlerErrors(t *testing.T) {
	// The summary takes format (json or text), the report no parameter.
	for route, takes := range map[string]string{"summary": "format", "report": "none"} {
		t.Run(route, func(t *testing.T) {
			interactions := &chartInteractions{}
			app := chartApp(interactions)
			a := send(t, app, "GET", "/api/v1/patients/Z99/"+route, "")
			if a.status != 404 || errorCode(t, a) != "patient_not_found" {
				t.Errorf("unknown patient: %d %s", a.status, a.body)
			}
			if len(interactions.queries) != 0 {
				t.Error("the chart of an unknown patient was read")
			}
			a = send(t, app, "GET", "/api/v1/patients/A11/"+route+"?limit=5", "")
			if a.status != 400 || !strings.Contains(a.body, `"limit":"unknown parameter; this route takes `+takes+`"`) {
				t.Errorf("a query parameter: %d %s", a.status, a.body)
			}
			interactions.err = models.ErrUnavailable
			a = send(t, app, "GET", "/api/v1/patients/A11/"+route, "")
			if a.status != 503 || errorCode(t, a) != "unavailable" || a.header["Content-Security-Policy"] != "" {
				t.Errorf("a store that does not answer: %d %v %s", a.status, a.header, a.body)
			}
		})
	}
}
