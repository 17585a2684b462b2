package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Client sends a load test's requests to an HTTP server, with a connection kept for
// each concurrent client.
type Client struct {
	// Base is the server's base URL, without a trailing slash.
	Base string
	// Key, when set, is sent as a bearer token with each request.
	Key     string
	timeout time.Duration
	http    *http.Client
}

// NewClient returns a client of the server at base for clients concurrent clients;
// each request may take timeout at most.
func NewClient(base string, clients int, timeout time.Duration) *Client {
	transport := &http.Transport{
		// Straight to the server: a proxy would be measured with it.
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        2 * clients,
		MaxIdleConnsPerHost: 2 * clients,
		IdleConnTimeout:     90 * time.Second,
	}
	return &Client{Base: base, timeout: timeout, http: &http.Client{Transport: transport}}
}

// Answer is what a request got.
type Answer struct {
	Status int
	Header http.Header
	// Body is read only when the request asked to keep it.
	Body []byte
}

// Send sends one request with the key and headers (name, value, ...), and returns
// its answer, with the body when keep is set. It returns the transport's errors.
func (c *Client) Send(ctx context.Context, method, path string, body []byte, keep bool, headers ...string) (Answer, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, bytes.NewReader(body))
	if err != nil {
		return Answer{}, err
	}
	if c.Key != "" {
		req.Header.Set("Authorization", "Bearer "+c.Key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := c.http.Do(req)
	if err != nil {
		return Answer{}, err
	}
	defer res.Body.Close()
	ans := Answer{Status: res.StatusCode, Header: res.Header}
	if keep {
		ans.Body, err = io.ReadAll(res.Body)
	} else {
		_, err = io.Copy(io.Discard, res.Body)
	}
	return ans, err
}

// Expect sends a request that must answer want, keeping its body. It returns an
// error naming the request and its answer otherwise.
func (c *Client) Expect(ctx context.Context, want int, method, path string, body []byte) (Answer, error) {
	ans, err := c.Send(ctx, method, path, body, true)
	if err != nil {
		return ans, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if ans.Status != want {
		return ans, fmt.Errorf("%s %s answered %d, want %d: %s", method, path, ans.Status, want, bytes.TrimSpace(ans.Body))
	}
	return ans, nil
}

// OutcomeOf tells Run what a request got: its answer, or the error of sending it.
func OutcomeOf(ans Answer, err error) Outcome {
	if err != nil {
		return Outcome{Err: err}
	}
	return Outcome{
		Status:       ans.Status,
		NoRetryAfter: ans.Status == http.StatusServiceUnavailable && ans.Header.Get("Retry-After") == "",
	}
}
