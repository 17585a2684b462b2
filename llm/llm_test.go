package llm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinic/interactions/summary"
	"github.com/clinic/interactions/synthetic"
)

// fakeModel answers every chat completion with status and content (as the
// assistant's message), or with body as it is when set, after delay; it keeps the
// requests' bodies.
type fakeModel struct {
	status  int
	content string
	body    string
	delay   time.Duration

	mu   sync.Mutex
	got  []string
	auth []string
}

// requests returns the bodies and Authorization headers received so far.
func (f *fakeModel) requests() (bodies, auth []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got), slices.Clone(f.auth)
}

func (f *fakeModel) serve(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.got = append(f.got, string(data))
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		f.mu.Unlock()
		if r.URL.Path != "/v1/chat/completions" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		select {
		case <-time.After(f.delay):
		case <-r.Context().Done():
			return
		}
		w.WriteHeader(f.status)
		if f.body != "" {
			_, _ = io.WriteString(w, f.body)
			return
		}
		answer, _ := json.Marshal(map[string]any{"choices": []any{map[string]any{"message": map[string]string{"role": "assistant", "content": f.content}}}})
		_, _ = w.Write(answer)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

func client(t *testing.T, f *fakeModel) *Client {
	t.Helper()
	return clientSending(t, f, false)
}

// clientSending is client with the free text of the records sent or not.
func clientSending(t *testing.T, f *fakeModel, freeText bool) *Client {
	t.Helper()
	return New(Config{BaseURL: f.serve(t) + "/", Model: "test-model", APIKey: "sk-test", Timeout: 200 * time.Millisecond,
		SendFreeText: freeText})
}

const paragraph = "A 36-year-old female patient seen over 4 visits, with no vital sign recorded."

func TestSummarize(t *testing.T) {
	tests := []struct {
		name    string
		model   *fakeModel
		want    string
		wantErr error
	}{
		{"answer", &fakeModel{status: 200, content: "  " + paragraph + "\n"}, paragraph, nil},
		{"server error", &fakeModel{status: 500, content: paragraph}, "", nil},
		{"time-out", &fakeModel{status: 200, content: paragraph, delay: time.Second}, "", context.DeadlineExceeded},
		{"garbage", &fakeModel{status: 200, body: "<html>oops"}, "", ErrUnusable},
		{"no choice", &fakeModel{status: 200, body: `{"choices":[]}`}, "", ErrUnusable},
		{"empty answer", &fakeModel{status: 200, content: "   "}, "", ErrUnusable},
		{"too short", &fakeModel{status: 200, content: "Fine."}, "", ErrUnusable},
		{"JSON instead of text", &fakeModel{status: 200, content: `{"summary": "` + paragraph + `"}`}, "", ErrUnusable},
		{"too long", &fakeModel{status: 200, content: strings.Repeat("word ", 500)}, "", ErrUnusable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := client(t, tc.model)
			got, err := c.Summarize(context.Background(), summary.Facts{Age: new(36), Sex: "F", Visits: 4})
			switch {
			case tc.want != "":
				if err != nil || got != tc.want {
					t.Errorf("got %q, %v; want %q", got, err, tc.want)
				}
			case err == nil:
				t.Errorf("got %q, want an error", got)
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Errorf("error %v, want %v", err, tc.wantErr)
			}
			bodies, auth := tc.model.requests()
			if len(bodies) != 1 || auth[0] != "Bearer sk-test" {
				t.Fatalf("%d requests, auth %v", len(bodies), auth)
			}
			var req chatRequest
			if err := json.Unmarshal([]byte(bodies[0]), &req); err != nil || req.Model != "test-model" || len(req.Messages) != 2 ||
				req.Messages[1].Content != `{"age":36,"sex":"female","visits":4,"span_days":0,"vitals":null}` {
				t.Errorf("request %s", bodies[0])
			}
		})
	}
}

func TestRankQuestions(t *testing.T) {
	candidates := []string{"Since when?", "Contact with sick people?", "Vaccinated?"}
	tests := []struct {
		name   string
		answer string
		want   []int
	}{
		{"a permutation", "[2, 3, 1]", []int{1, 2, 0}},
		{"text around it", "Here: [2,3,1]", nil},
		{"one left out", "[2,1]", nil},
		{"one repeated", "[2,2,1]", nil},
		{"out of range", "[0,1,2]", nil},
		{"beyond the end", "[1,2,4]", nil},
		{"strings", `["1","2","3"]`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeModel{status: 200, content: tc.answer}
			got, err := client(t, f).RankQuestions(context.Background(), "influenza", []string{"fever"}, candidates)
			if tc.want == nil {
				if !errors.Is(err, ErrUnusable) {
					t.Errorf("got %v, %v; want ErrUnusable", got, err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Errorf("got %v, %v; want %v", got, err, tc.want)
			}
			if bodies, _ := f.requests(); !strings.Contains(bodies[0], `"Candidates:\n1. Since when?\n2. Contact with sick people?\n3. Vaccinated?\n"`) {
				t.Errorf("request %s", bodies[0])
			}
		})
	}
}

func TestNew(t *testing.T) {
	for _, cfg := range []Config{{}, {BaseURL: "http://x"}, {Model: "m"}} {
		if New(cfg) != nil || cfg.Enabled() {
			t.Errorf("%+v gives a client", cfg)
		}
	}
	if c := New(Config{BaseURL: "http://x/", Model: "m"}); c == nil || c.cfg.Timeout != 10*time.Second || c.cfg.BaseURL != "http://x" {
		t.Errorf("client %+v", c)
	}
}

// chart are the facts of a patient with every kind of fact, free text included.
var chart = summary.Facts{
	Age: new(52), Sex: "male", BloodType: "B+", Visits: 2, SpanDays: 1200,
	Ailments: []summary.Count{{Name: "Hypertension", Count: 2}}, Labels: []summary.Count{{Name: "cardio", Count: 2}},
	PreExistingConditions: []string{"Chronic kidney disease"}, PreExistingMedications: []string{"Metformin 500mg"},
	Vitals: []summary.VitalFact{
		{Metric: "systolic_bp", Latest: 150, Unit: "mmHg", Trend: "falling"},
		{Metric: "diastolic_bp", Latest: 95, Unit: "mmHg", Trend: "falling"},
		{Metric: "temperature", Latest: 36.6, Unit: "°C"},
		{Metric: "health_status", Latest: 7, Trend: "rising"},
	},
	CurrentMedications: []string{"Amlodipine 5mg"}, PendingTests: []string{"ECG"}, NextVisit: "scheduled",
}

// freeText are the free text of chart, which goes to the model only when
// SendFreeText says so.
var freeText = []string{"Hypertension", "cardio", "Chronic kidney", "Metformin", "Amlodipine", "ECG"}

// TestSummarizeSendsFreeTextOnlyWhenAllowed checks what the model is given: the
// coded facts (age, sex, blood type, counts, vital signs, the next visit's status)
// always, and the ailments, labels, conditions, medications and tests, which a
// clinic writes in its own words, only with SendFreeText; likewise the ailment and
// labels of a visit whose questions it orders.
func TestSummarizeSendsFreeTextOnlyWhenAllowed(t *testing.T) {
	for _, allowed := range []bool{false, true} {
		t.Run(fmt.Sprintf("SendFreeText=%v", allowed), func(t *testing.T) {
			f := &fakeModel{status: 200, content: "[2,1]"}
			c := clientSending(t, f, allowed)
			_, _ = c.Summarize(context.Background(), chart)
			_, _ = c.RankQuestions(context.Background(), "influenza", []string{"fever"}, []string{"Since when?", "Vaccinated?"})
			bodies, _ := f.requests()
			if len(bodies) != 2 {
				t.Fatalf("%d requests, want 2", len(bodies))
			}
			var req chatRequest
			if err := json.Unmarshal([]byte(bodies[0]), &req); err != nil {
				t.Fatal(err)
			}
			sent := req.Messages[1].Content
			for _, coded := range []string{`"age":52`, `"sex":"male"`, `"blood_type":"B+"`, `"visits":2`, `"span_days":1200`,
				`"metric":"systolic_bp","latest":150,"unit":"mmHg","trend":"falling"`, `"next_visit":"scheduled"`} {
				if !strings.Contains(sent, coded) {
					t.Errorf("the facts sent lack %s: %s", coded, sent)
				}
			}
			for _, text := range append(freeText, "influenza", "fever") {
				if body := strings.Join(bodies, "\n"); strings.Contains(body, text) != allowed {
					t.Errorf("%q sent: %v, want %v:\n%s", text, !allowed, allowed, body)
				}
			}
			if !strings.Contains(bodies[1], `1. Since when?\n2. Vaccinated?`) {
				t.Errorf("the questions were not sent: %s", bodies[1])
			}
		})
	}
	// A sex recorded in other words than the codes is free text too.
	f := &fakeModel{status: 200, content: paragraph}
	_, _ = client(t, f).Summarize(context.Background(), summary.Facts{Sex: "Zebulon", Visits: 1})
	if bodies, _ := f.requests(); strings.Contains(bodies[0], "Zebulon") {
		t.Errorf("a sex that is not a code was sent: %s", bodies[0])
	}
}

// TestSummarizeKeepsToTheFacts checks the model's paragraph against the facts it
// was given: every number in them (whatever the spelling: 150.0, 1,200), every word
// in them or in the vocabulary; an answer naming anything else (a drug, an ailment
// or a number it was not given, a word of its own) is unusable, and the error says
// what kind of thing, never the thing.
func TestSummarizeKeepsToTheFacts(t *testing.T) {
	const intro = "A 52-year-old male patient, blood type B+, seen over 2 visits in 1,200 days; "
	for _, tc := range []struct {
		name     string
		freeText bool
		answer   string
		unusable string // what the error names; "" for an answer that is used
	}{
		{"the coded facts", false, intro + "blood pressure 150/95 mmHg and falling, temperature 36.6 °C, health status 7 and rising; next visit scheduled.", ""},
		{"numbers spelt otherwise", false, intro + "blood pressure 150.0/95.00 mmHg, temperature 36.60 °C.", ""},
		{"a number not given", false, intro + "blood pressure 160/95 mmHg.", "number"},
		{"a year not given", false, intro + "hypertensive since 2019.", "number"},
		{"a drug not given", false, intro + "blood pressure 150/95 mmHg on amlodipine.", "word"},
		{"an ailment not sent", false, intro + "followed for hypertension.", "word"},
		{"a word of its own", false, intro + "the patient reports dizziness.", "word"},
		{"free text sent", true, intro + "followed for hypertension, on amlodipine 5 mg, with chronic kidney disease; ECG pending.", ""},
		{"a drug not given, free text sent", true, intro + "blood pressure 150/95 mmHg on lisinopril.", "word"},
		{"a dose not given, free text sent", true, intro + "on amlodipine 10 mg.", "number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeModel{status: 200, content: tc.answer}
			got, err := clientSending(t, f, tc.freeText).Summarize(context.Background(), chart)
			if tc.unusable == "" {
				if err != nil || got != tc.answer {
					t.Errorf("got %q, %v; want the answer", got, err)
				}
				return
			}
			if !errors.Is(err, ErrUnusable) || !strings.Contains(err.Error(), tc.unusable) {
				t.Fatalf("got %q, %v; want ErrUnusable naming a %s", got, err, tc.unusable)
			}
			for _, private := range []string{"160", "2019", "amlodipine", "hypertension", "dizziness", "lisinopril", "10"} {
				if strings.Contains(strings.ToLower(err.Error()), private) {
					t.Errorf("the error repeats %q of the answer: %v", private, err)
				}
			}
		})
	}
}

// TestSummarizeNamesOnlyTheVitalsGiven checks that a paragraph may call a vital
// sign by its name (systolic_bp is blood pressure) only when the facts give it.
func TestSummarizeNamesOnlyTheVitalsGiven(t *testing.T) {
	const answer = "A 52-year-old male patient seen over 2 visits; blood pressure 150 mmHg and falling."
	for _, tc := range []struct {
		name   string
		vitals []summary.VitalFact
		used   bool
	}{
		{"given", []summary.VitalFact{{Metric: "systolic_bp", Latest: 150, Unit: "mmHg", Trend: "falling"}}, true},
		{"not given", []summary.VitalFact{{Metric: "weight", Latest: 150, Unit: "mmHg", Trend: "falling"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeModel{status: 200, content: answer}
			got, err := client(t, f).Summarize(context.Background(), summary.Facts{Age: new(52), Sex: "M", Visits: 2, Vitals: tc.vitals})
			if used := err == nil && got == answer; used != tc.used {
				t.Errorf("got %q, %v; want it used: %v", got, err, tc.used)
			}
		})
	}
}

// TestVocabulary checks the words a paragraph may use without the facts holding
// them: lower-case words, sorted, once each; and no ailment, condition, medication,
// test or label the synthetic generator writes is made of them alone, so that a
// paragraph cannot name one the model was not given.
func TestVocabulary(t *testing.T) {
	if !slices.IsSorted(vocabulary) || len(slices.Compact(slices.Clone(vocabulary))) != len(vocabulary) {
		t.Error("the vocabulary is not sorted, or repeats a word")
	}
	known := map[string]bool{}
	for _, w := range vocabulary {
		if w != strings.ToLower(w) || len(words(w)) != 1 || words(w)[0] != w {
			t.Errorf("%q is not one lower-case word", w)
		}
		known[w] = true
	}
	patients, visits, err := synthetic.Generate(1, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), 300)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, p := range patients {
		for _, n := range append(slices.Clone(p.PreExistingConditions), p.PreExistingMedications...) {
			names[n] = true
		}
	}
	for _, v := range visits {
		names[v.Ailment] = true
		for _, n := range v.Label {
			names[n] = true
		}
		if v.NextSteps != nil {
			for _, n := range append(slices.Clone(v.NextSteps.PrescribedMeds), v.NextSteps.PrescribedTests...) {
				names[n] = true
			}
		}
	}
	if len(names) < 50 {
		t.Fatalf("the generator wrote %d names, too few to check", len(names))
	}
	for name := range names {
		if ws := words(name); len(ws) > 0 && !slices.ContainsFunc(ws, func(w string) bool { return !known[w] && !known[stem(w)] }) {
			t.Errorf("%q is made of the vocabulary's words alone: a paragraph could name it without the facts", name)
		}
	}
}
