package llm

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clinic/interactions/summary"
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
	return New(Config{BaseURL: f.serve(t) + "/", Model: "test-model", APIKey: "sk-test", Timeout: 200 * time.Millisecond})
}

const paragraph = "A 36-year-old woman seen four times for influenza; temperature falling, blood pressure normal."

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
				req.Messages[1].Content != `{"age":36,"sex":"F","visits":4,"span_days":0,"ailments":null,"labels":null,"pre_existing_conditions":null,"pre_existing_medications":null,"vitals":null,"current_medications":null,"pending_tests":null}` {
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
			if bodies, _ := f.requests(); !strings.Contains(bodies[0], `Ailment: influenza\nLabels: fever\nCandidates:\n1. Since when?\n2. Contact with sick people?\n3. Vaccinated?\n`) {
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
