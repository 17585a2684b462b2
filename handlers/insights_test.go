package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/summary"
)

// fakeRecords hands visits and patients over, or fails with err, and notes the
// queries. A model of the records may go on reading them after its request has
// answered (see package analytics), hence the lock.
type fakeRecords struct {
	visits   []models.Interaction
	patients []models.Patient
	err      error
	mu       sync.Mutex
	queries  []models.ScanQuery
}

func (f *fakeRecords) EachVisit(_ context.Context, q models.ScanQuery, fn func(models.Interaction) error) error {
	f.mu.Lock()
	f.queries = append(f.queries, q)
	f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	for _, in := range f.visits {
		if q.Matches(in) {
			if err := fn(in); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *fakeRecords) EachPatient(_ context.Context, fn func(models.Patient) error) error {
	if f.err != nil {
		return f.err
	}
	for _, p := range f.patients {
		if err := fn(p); err != nil {
			return err
		}
	}
	return nil
}

// fakeWriter answers as the language model would, or fails with err; it keeps what
// it was given.
type fakeWriter struct {
	text  string
	order []int
	err   error
	facts []summary.Facts
	asked [][]string
}

func (w *fakeWriter) Summarize(_ context.Context, facts summary.Facts) (string, error) {
	w.facts = append(w.facts, facts)
	return w.text, w.err
}

func (w *fakeWriter) RankQuestions(_ context.Context, _ string, _ []string, candidates []string) ([]int, error) {
	w.asked = append(w.asked, candidates)
	return w.order, w.err
}

func insightsApp(records *fakeRecords, writer Writer) *fiber.App {
	h := New(Services{Store: fakeStore{}, Patients: chartPatients{}, Interactions: &chartInteractions{}, Keys: fakeKeys{},
		Records: records, Writer: writer, Now: func() time.Time { return testNow }})
	app := newTestApp(h, &fakeAuditLog{})
	app.Post("/api/v1/suggestions/questions", h.Authenticate, h.SuggestQuestions)
	app.Get("/api/v1/patients/:insurance_no/summary", h.Authenticate, h.Summary)
	app.Get("/api/v1/patients/:insurance_no/similar", h.Authenticate, h.SimilarPatients)
	app.Get("/api/v1/analytics/cohorts", h.Authenticate, h.Cohorts)
	app.Get("/api/v1/analytics/labels", h.Authenticate, h.LabelCounts)
	return app
}

// asked returns a visit of ailment that asked questions, once each.
func asked(id, ailment string, questions ...string) models.Interaction {
	in := models.Interaction{ID: id, InsuranceNo: "A11", Ailment: ailment, InteractionDate: testNow, Label: []string{}}
	for _, q := range questions {
		in.QA = append(in.QA, bson.E{Key: q, Value: "yes"})
	}
	return in
}

func TestSuggestionsWithAModel(t *testing.T) {
	visits := []models.Interaction{asked("1", "flu", "A?", "B?", "C?"), asked("2", "flu", "A?", "B?"), asked("3", "flu", "B?")}
	tests := []struct {
		name   string
		writer *fakeWriter
		want   string
		source string
	}{
		{"reordered", &fakeWriter{order: []int{1, 0}}, "A?,B?,C?", summary.SourceLLM},
		{"failed", &fakeWriter{err: errors.New("the model answered status 500")}, "B?,A?,C?", summary.SourceDeterministic},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			records := &fakeRecords{visits: visits}
			a := send(t, insightsApp(records, tc.writer), "POST", "/api/v1/suggestions/questions", `{"ailment":"Flu"}`)
			var got QuestionSuggestions
			if err := json.Unmarshal([]byte(a.body), &got); err != nil || a.status != 200 {
				t.Fatalf("%d %s", a.status, a.body)
			}
			var qs []string
			for _, s := range got.Items {
				qs = append(qs, s.Question)
			}
			if strings.Join(qs, ",") != tc.want || got.Source != tc.source || got.SimilarVisits != 3 {
				t.Errorf("got %v by %s", qs, got.Source)
			}
			// C? was asked once: it is not shown to the model.
			if len(tc.writer.asked) != 1 || strings.Join(tc.writer.asked[0], ",") != "B?,A?" {
				t.Errorf("the model was asked %v", tc.writer.asked)
			}
			records.mu.Lock()
			q := records.queries
			records.mu.Unlock()
			if len(q) != 1 || q[0].AilmentKey != "flu" || !q[0].WithQA {
				t.Errorf("visits read with %+v", q)
			}
		})
	}
}

func TestSummaryTextWithAModel(t *testing.T) {
	for _, tc := range []struct {
		writer *fakeWriter
		source string
	}{
		{&fakeWriter{text: "A paragraph the model wrote."}, summary.SourceLLM},
		{&fakeWriter{err: context.DeadlineExceeded}, summary.SourceDeterministic},
	} {
		a := send(t, insightsApp(&fakeRecords{}, tc.writer), "GET", "/api/v1/patients/A11/summary?format=text", "")
		var s summary.Summary
		if err := json.Unmarshal([]byte(a.body), &s); err != nil || a.status != 200 {
			t.Fatalf("%d %s", a.status, a.body)
		}
		if s.TextSource != tc.source || (tc.source == summary.SourceLLM) != (s.Text == tc.writer.text) || s.Text == "" {
			t.Errorf("text by %s: %s", s.TextSource, s.Text)
		}
		if len(tc.writer.facts) != 1 || tc.writer.facts[0].Visits != 0 {
			t.Errorf("the model was given %+v", tc.writer.facts)
		}
	}
}

func TestInsightsStoreErrors(t *testing.T) {
	for _, path := range []string{"/api/v1/patients/A11/similar", "/api/v1/analytics/cohorts", "/api/v1/analytics/labels"} {
		app := insightsApp(&fakeRecords{err: models.ErrBusy}, nil)
		a := send(t, app, "GET", path, "")
		if a.status != 503 || errorCode(t, a) != "unavailable" {
			t.Errorf("%s: %d %s", path, a.status, a.body)
		}
	}
	a := send(t, insightsApp(&fakeRecords{}, nil), "GET", "/api/v1/patients/Z99/similar", "")
	if a.status != 404 || errorCode(t, a) != "patient_not_found" {
		t.Errorf("unknown patient: %d %s", a.status, a.body)
	}
	// A patient the records do not hold yet (created between the reads) is not found.
	a = send(t, insightsApp(&fakeRecords{}, nil), "GET", "/api/v1/patients/A11/similar", "")
	if a.status != 404 || errorCode(t, a) != "patient_not_found" {
		t.Errorf("patient missing from the records: %d %s", a.status, a.body)
	}
}

// pastDeadline gives the request a context already past its deadline, as the
// server's deadline middleware gives one whose time is up while the store, which
// answered just in time, hands its records over.
func pastDeadline(c *fiber.Ctx) error {
	ctx, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	c.SetUserContext(ctx)
	return c.Next()
}

// TestAnalyticsStopAtTheDeadline checks that the routes that compute over many
// records stop once the request's deadline has passed, and answer 503 as for a
// store that did not answer in time, instead of computing on for nobody.
func TestAnalyticsStopAtTheDeadline(t *testing.T) {
	visits := []models.Interaction{asked("1", "flu", "A?"), asked("2", "flu", "B?")}
	patients := []models.Patient{{InsuranceNo: "A11"}, {InsuranceNo: "B11"}}
	h := New(Services{Store: fakeStore{}, Patients: chartPatients{}, Interactions: &chartInteractions{visits: visits},
		Keys: fakeKeys{}, Records: &fakeRecords{visits: visits, patients: patients}, Now: func() time.Time { return testNow }})
	app := newTestApp(h, &fakeAuditLog{})
	for _, r := range []struct {
		method, path string
		handler      fiber.Handler
	}{
		{"POST", "/api/v1/suggestions/questions", h.SuggestQuestions},
		{"GET", "/api/v1/patients/:insurance_no/summary", h.Summary},
		{"GET", "/api/v1/patients/:insurance_no/report", h.Report},
		{"GET", "/api/v1/patients/:insurance_no/similar", h.SimilarPatients},
		{"GET", "/api/v1/analytics/cohorts", h.Cohorts},
		{"GET", "/api/v1/analytics/labels", h.LabelCounts},
		{"GET", "/api/v1/analytics/ailments", h.AilmentCounts},
	} {
		app.Add(r.method, r.path, pastDeadline, h.Authenticate, r.handler)
	}
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/api/v1/suggestions/questions", `{"ailment":"Flu"}`},
		{"GET", "/api/v1/patients/A11/summary", ""},
		{"GET", "/api/v1/patients/A11/report", ""},
		{"GET", "/api/v1/patients/A11/similar", ""},
		{"GET", "/api/v1/analytics/cohorts", ""},
		{"GET", "/api/v1/analytics/labels", ""},
		{"GET", "/api/v1/analytics/ailments", ""},
	} {
		if a := send(t, app, r.method, r.path, r.body); a.status != 503 || errorCode(t, a) != "unavailable" {
			t.Errorf("%s %s: %d %s", r.method, r.path, a.status, a.body)
		}
	}
}
