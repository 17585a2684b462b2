package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinic/interactions/app"
	"github.com/clinic/interactions/handlers"
	"github.com/clinic/interactions/llm"
	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/summary"
)

func TestSummaryText(t *testing.T) {
	e := chartEnv(t)
	res := e.as(models.RoleViewer).do("GET", "/api/v1/patients/S1/summary?format=text", "")
	if res.status != 200 {
		t.Fatalf("status %d: %s", res.status, res.body)
	}
	s := decode[summary.Summary](t, res)
	want := "Ada Byron, 36 years old, female, blood type O-, insurance number S1. 4 visits from 1 Sep 2024 to 1 Oct 2024. " +
		"Main problems: Influenza (2 visits). Most frequent labels: fever (3 visits), respiratory (2 visits). " +
		"Pre-existing conditions: Asthma. Latest readings: temperature 37 °C (falling), blood pressure 120/80 mmHg (falling), " +
		"heart rate 72 /min (falling), spo2 98 %, weight 68.5 kg, health status 7/10 (rising). " +
		"Current medications: Paracetamol 500mg, oseltamivir 75MG. Next steps: pending tests Chest X-ray, CRP; next visit 15 Jan 2099 (scheduled)."
	if s.Text != want || s.TextSource != summary.SourceDeterministic || s.Visits.Count != 4 {
		t.Errorf("text (%s)\n got %s\nwant %s", s.TextSource, s.Text, want)
	}
	plain := e.do("GET", "/api/v1/patients/S1/summary", "")
	if strings.Contains(string(plain.body), `"text"`) {
		t.Errorf("the summary without format=text has a text: %s", plain.body)
	}
	if json := e.do("GET", "/api/v1/patients/S1/summary?format=json", ""); json.status != 200 || strings.Contains(string(json.body), `"text"`) {
		t.Errorf("format=json: %d %s", json.status, json.body)
	}
	fields := assertError(t, e.doBeyondContract("GET", "/api/v1/patients/S1/summary?format=pdf", ""), 400, "validation_failed")
	if fields["format"] == nil {
		t.Errorf("fields %v", fields)
	}
	assertError(t, e.doBeyondContract("GET", "/api/v1/patients/S1/summary?as=text", ""), 400, "validation_failed")
	assertError(t, e.do("GET", "/api/v1/patients/NOPE/summary?format=text", ""), 404, "patient_not_found")
}

// fakeModel is an OpenAI-compatible chat completions endpoint that answers with
// the content answer gives the request's system prompt, after delay, or with
// status 500 or raw when set; it keeps every request body.
type fakeModel struct {
	mu     sync.Mutex
	bodies []string
	answer func(system string) string
	status int
	raw    string
	delay  time.Duration
}

func (f *fakeModel) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	data, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.bodies = append(f.bodies, string(data))
	f.mu.Unlock()
	select {
	case <-time.After(f.delay):
	case <-r.Context().Done():
		return
	}
	if f.status != 0 {
		w.WriteHeader(f.status)
	}
	if f.raw != "" {
		_, _ = io.WriteString(w, f.raw)
		return
	}
	var req struct {
		Messages []struct{ Content string } `json:"messages"`
	}
	_ = json.Unmarshal(data, &req)
	content := f.answer(req.Messages[0].Content)
	out, _ := json.Marshal(map[string]any{"choices": []any{map[string]any{"message": map[string]string{"role": "assistant", "content": content}}}})
	_, _ = w.Write(out)
}

// identified is a patient with every identifying field set, and a visit whose free
// text names them.
const identified = `{"insurance_no":"ZQ-77","fname":"Zebulon","lname":"Quixote","addr":"Hidden Lane 12, 10115 Berlin",
  "age":52,"sex":"M","ph_no":"0171 5550199","email":"zebulon.quixote@example.org","habits":["smoking"],
  "emergency_contact":{"name":"Dulcinea Quixote","phone":"0171 5550100"},"insurance_provider":"SECRET-INSURER",
  "pre_existing_conditions":["Hypertension"]}`

var identifying = []string{"ZQ-77", "Zebulon", "Quixote", "Hidden Lane", "10115", "5550199", "5550100", "example.org",
	"Dulcinea", "SECRET", "smoking", "zq-v", "2024-"}

// freeText is the free text of identified's records, which the model is sent only
// with LLM_SEND_FREE_TEXT.
var freeText = []string{"Hypertension", "hypertension", "Amlodipine", "cardio"}

func llmEnv(t *testing.T, model *fakeModel, sendFreeText bool) *env {
	t.Helper()
	srv := httptest.NewServer(model)
	t.Cleanup(srv.Close)
	e := newEnvWithConfig(t, app.ServerConfig{RequestTimeout: 10 * time.Second,
		LLM: llm.Config{BaseURL: srv.URL + "/v1", Model: "fake", APIKey: "sk-fake", Timeout: 300 * time.Millisecond,
			SendFreeText: sendFreeText}})
	e.mustDo(201, "POST", "/api/v1/patients", identified)
	for _, v := range []string{
		`{"id":"zq-v1","insurance_no":"ZQ-77","ailment":"Hypertension","symptoms":"Zebulon reports headaches at Hidden Lane",
		  "interaction_date":"2024-09-02T09:00:00Z","metrics":{"BP":"165/100","HR":80},"health_status":6,
		  "remarks":"SECRET remark: call Dulcinea Quixote on 0171 5550100","qa":{"Salt intake?":"high","Takes medication?":"yes"},
		  "next_steps":{"prescribed_meds":["Amlodipine 5mg"],"prescribed_tests":["ECG"]},"label":["cardio"]}`,
		`{"id":"zq-v2","insurance_no":"ZQ-77","ailment":"Hypertension","interaction_date":"2024-10-02T09:00:00Z",
		  "metrics":{"BP":"150/95"},"health_status":7,"qa":{"Salt intake?":"less","Takes medication?":"yes","Home readings?":"no"},"label":["cardio"]}`,
	} {
		e.mustDo(201, "POST", "/api/v1/interactions", v)
	}
	return e
}

// TestLanguageModel runs the summary's text and the suggested questions with a
// model that answers, fails, or answers what cannot be used, with the records' free
// text sent or not: the model's answer is given only when it is usable and keeps to
// the facts it was sent; otherwise the service's own, with a warning logged.
func TestLanguageModel(t *testing.T) {
	// What the model is sent of ZQ-77 by default: 52, male, 2 visits 30 days apart,
	// the latest blood pressure 150/95 mmHg and heart rate 80 /min, health status 7.
	const (
		written  = "A 52-year-old male patient seen over 2 visits in 30 days; blood pressure 150/95 mmHg, health status 7."
		withText = "A 52-year-old male patient followed for hypertension over 2 visits; blood pressure 150/95 mmHg on amlodipine."
	)
	answering := func(paragraph string) func(string) string {
		return func(system string) string {
			if strings.Contains(system, "JSON array") {
				return "[2,1]"
			}
			return paragraph
		}
	}
	const ranked, unranked = "Takes medication?,Salt intake?", "Salt intake?,Takes medication?"
	tests := []struct {
		name     string
		model    *fakeModel
		freeText bool
		// text is the summary's text the model wrote, "" for the service's own;
		// questions their order.
		text, questions string
	}{
		{"answers", &fakeModel{answer: answering(written)}, false, written, ranked},
		{"answers with the free text it was sent", &fakeModel{answer: answering(withText)}, true, withText, ranked},
		{"names a drug it was not sent", &fakeModel{answer: answering(withText)}, false, "", ranked},
		{"names a reading it was not sent", &fakeModel{answer: answering(strings.Replace(written, "150/95", "165/100", 1))}, true, "", ranked},
		{"times out", &fakeModel{answer: answering(written), delay: 2 * time.Second}, false, "", unranked},
		{"fails", &fakeModel{status: 500, raw: `{"error":"overloaded"}`}, false, "", unranked},
		{"answers garbage", &fakeModel{raw: "<html>not json"}, false, "", unranked},
		{"answers nothing", &fakeModel{answer: func(string) string { return " " }}, false, "", unranked},
		{"answers something else", &fakeModel{answer: func(string) string { return `{"text": 1}` }}, false, "", unranked},
	}
	by := func(model bool) string {
		if model {
			return summary.SourceLLM
		}
		return summary.SourceDeterministic
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := llmEnv(t, tc.model, tc.freeText)
			res := e.as(models.RoleViewer).do("GET", "/api/v1/patients/ZQ-77/summary?format=text", "")
			if res.status != 200 {
				t.Fatalf("summary: %d %s", res.status, res.body)
			}
			if tag := res.header.Get("ETag"); tag != "" {
				t.Errorf("a text the model may write again every time has an ETag: %s", tag)
			}
			s := decode[summary.Summary](t, res)
			want := tc.text
			if want == "" {
				want = s.Paragraph() // the templates' text, from the same summary
			}
			if s.TextSource != by(tc.text != "") || s.Text != want {
				t.Errorf("summary by %s: %s", s.TextSource, s.Text)
			}
			res = e.do("POST", "/api/v1/suggestions/questions", `{"ailment":"hypertension","labels":["cardio"]}`)
			got := decode[handlers.QuestionSuggestions](t, res)
			var qs []string
			for _, s := range got.Items {
				qs = append(qs, s.Question)
			}
			if got.Source != by(tc.questions == ranked) || strings.Join(qs, ",") != tc.questions+",Home readings?" {
				t.Errorf("questions by %s: %v, want %s", got.Source, qs, tc.questions)
			}
			tc.model.mu.Lock()
			defer tc.model.mu.Unlock()
			if len(tc.model.bodies) != 2 {
				t.Errorf("%d requests to the model, want 2", len(tc.model.bodies))
			}
			for _, body := range tc.model.bodies {
				if strings.Contains(body, "Home readings") {
					t.Errorf("the model was sent a question one visit asked: %s", body)
				}
				for _, value := range identifying {
					if strings.Contains(body, value) {
						t.Errorf("the model was sent %q: %s", value, body)
					}
				}
			}
			for _, value := range freeText {
				if sent := slices.ContainsFunc(tc.model.bodies, func(b string) bool { return strings.Contains(b, value) }); sent != tc.freeText {
					t.Errorf("the model was sent %q: %v, want %v (LLM_SEND_FREE_TEXT)", value, sent, tc.freeText)
				}
			}
			if tc.text == "" && !strings.Contains(e.logs.String(), "language model failed") {
				t.Error("the failure is not logged")
			}
		})
	}
}
