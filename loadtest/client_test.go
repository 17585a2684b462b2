package loadtest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestClient sends requests to a server that echoes what it got: the key, the
// content type and the headers given go with them, the body comes back only when
// kept, and Expect names a request that answered otherwise.
func TestClient(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen", strings.Join([]string{r.Method, r.URL.Path, r.Header.Get("Authorization"),
			r.Header.Get("Content-Type"), r.Header.Get("Idempotency-Key"), string(body)}, "|"))
		switch r.URL.Path {
		case "/busy":
			w.WriteHeader(http.StatusServiceUnavailable)
		case "/slow": // answers once the client has given up
			<-r.Context().Done()
		}
		_, _ = io.WriteString(w, " the answer \n")
	}))
	defer server.Close()
	c := NewClient(server.URL, 2, 5*time.Second)
	ctx := context.Background()

	ans, err := c.Send(ctx, "GET", "/a", nil, false)
	if err != nil || ans.Status != 200 || ans.Body != nil || ans.Header.Get("X-Seen") != "GET|/a||||" {
		t.Errorf("Send without key or body = %+v, %v", ans, err)
	}
	c.Key = "ck_test"
	ans, err = c.Send(ctx, "POST", "/b", []byte(`{"x":1}`), true, "Idempotency-Key", "k1")
	if err != nil || string(ans.Body) != " the answer \n" || ans.Header.Get("X-Seen") != `POST|/b|Bearer ck_test|application/json|k1|{"x":1}` {
		t.Errorf("Send with key, body and header = %+v (%s), %v", ans, ans.Body, err)
	}

	if _, err := c.Expect(ctx, 200, "GET", "/a", nil); err != nil {
		t.Errorf("Expect 200 of a 200: %v", err)
	}
	if _, err := c.Expect(ctx, 201, "GET", "/busy", nil); err == nil || err.Error() != "GET /busy answered 503, want 201: the answer" {
		t.Errorf("Expect 201 of a 503: %v", err)
	}

	short := NewClient(server.URL, 1, 50*time.Millisecond)
	if _, err := short.Expect(ctx, 200, "GET", "/slow", nil); !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "GET /slow: ") {
		t.Errorf("Expect past the timeout: %v", err)
	}
}

func TestOutcomeOf(t *testing.T) {
	failed := errors.New("connection refused")
	for _, tc := range []struct {
		name string
		ans  Answer
		err  error
		want Outcome
	}{
		{"an answer", Answer{Status: 201, Header: http.Header{}}, nil, Outcome{Status: 201}},
		{"503 with Retry-After", Answer{Status: 503, Header: http.Header{"Retry-After": {"1"}}}, nil, Outcome{Status: 503}},
		{"503 without Retry-After", Answer{Status: 503, Header: http.Header{}}, nil, Outcome{Status: 503, NoRetryAfter: true}},
		{"no answer", Answer{}, failed, Outcome{Err: failed}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := OutcomeOf(tc.ans, tc.err); got != tc.want {
				t.Errorf("OutcomeOf = %+v, want %+v", got, tc.want)
			}
		})
	}
}
