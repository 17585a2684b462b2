// Package llm asks a language model, behind an OpenAI-compatible chat completions
// endpoint, to refine what the service computes itself: to write a patient's
// summary in its own words and to reorder suggested questions. It sends only
// de-identified, structured data: the coded facts of a summary (summary.Facts
// without its free text) and questions other visits asked; the clinic's own words
// (ailments, labels, conditions, medications, tests) only when Config.SendFreeText
// allows it. It checks every answer, a paragraph against the facts it was given
// (see grounded): the caller keeps its own answer when the model fails, is slow or
// answers something unusable.
package llm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clinic/interactions/summary"
)

// Config says where the model is. A Config without BaseURL or Model turns the model
// off.
type Config struct {
	// BaseURL is the endpoint's base: BaseURL + "/chat/completions" is posted to.
	BaseURL string
	Model   string
	// APIKey, when set, is sent as a Bearer token.
	APIKey string
	// Timeout bounds each request to the model.
	Timeout time.Duration
	// SendFreeText lets the free text of the records go to the model: the names of
	// ailments, labels, conditions, medications and tests (see
	// summary.Facts.WithoutFreeText), and the ailment and labels of a visit whose
	// questions it orders.
	SendFreeText bool
}

// Enabled reports whether cfg names a model.
func (cfg Config) Enabled() bool { return cfg.BaseURL != "" && cfg.Model != "" }

// Limits of what the model may answer.
const (
	maxAnswerBytes  = 64 << 10
	maxSummaryRunes = 2000
	minSummaryRunes = 40
)

// ErrUnusable means the model answered something that cannot be used.
var ErrUnusable = errors.New("the model's answer is unusable")

// Client asks the model.
type Client struct {
	cfg  Config
	http *http.Client
}

// New returns a client of cfg's model, or nil when cfg names none.
func New(cfg Config) *Client {
	if !cfg.Enabled() {
		return nil
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	return &Client{cfg: cfg, http: &http.Client{Timeout: cfg.Timeout}}
}

type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type chatRequest struct {
	Model       string    `json:"model"`
	Messages    []message `json:"messages"`
	Temperature float64   `json:"temperature"`
}

type chatResponse struct {
	Choices []struct {
		Message message `json:"message"`
	} `json:"choices"`
}

// complete asks the model and returns its answer, trimmed. It returns the errors of
// the request, an error for a status other than 200, and ErrUnusable for a body
// that is not a chat completion or an empty answer.
func (c *Client) complete(ctx context.Context, system, user string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	body, err := json.Marshal(chatRequest{Model: c.cfg.Model, Temperature: 0,
		Messages: []message{{Role: "system", Content: system}, {Role: "user", Content: user}}})
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.BaseURL+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("ask the model: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	if c.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.APIKey)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("ask the model: %w", err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, maxAnswerBytes+1))
	if err != nil {
		return "", fmt.Errorf("read the model's answer: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("the model answered status %d", res.StatusCode)
	}
	var chat chatResponse
	if len(data) > maxAnswerBytes || json.Unmarshal(data, &chat) != nil || len(chat.Choices) == 0 {
		return "", fmt.Errorf("%w: not a chat completion", ErrUnusable)
	}
	answer := strings.TrimSpace(chat.Choices[0].Message.Content)
	if answer == "" {
		return "", fmt.Errorf("%w: empty", ErrUnusable)
	}
	return answer, nil
}

const summaryPrompt = "You are a clinical documentation assistant. Write one concise paragraph (at most 120 words) " +
	"summarising the patient for a physician, from the JSON facts the user gives: visits, main problems, " +
	"vitals and their trends, current medications, next steps. Use only those facts; do not invent any. " +
	"Write numbers in digits, only those the facts give, and no date. Name no drug, ailment, condition or test " +
	"the facts do not name. Answer with the paragraph alone, in plain text."

// Summarize returns the model's paragraph about a patient of whom facts are known:
// only their coded facts are sent, unless the client may send free text. It
// returns the errors of the request, and ErrUnusable for an answer that is not a
// paragraph of plain text of 40 to 2,000 characters, or that names a number or a
// word the facts sent do not hold (see grounded).
func (c *Client) Summarize(ctx context.Context, facts summary.Facts) (string, error) {
	if !c.cfg.SendFreeText {
		facts = facts.WithoutFreeText()
	}
	data, err := json.Marshal(facts)
	if err != nil {
		return "", err
	}
	answer, err := c.complete(ctx, summaryPrompt, string(data))
	if err != nil {
		return "", err
	}
	n := utf8.RuneCountInString(answer)
	if n < minSummaryRunes || n > maxSummaryRunes || !utf8.ValidString(answer) ||
		strings.ContainsAny(answer[:1], "{[<") || strings.Contains(answer, "```") {
		return "", fmt.Errorf("%w: not a paragraph of plain text", ErrUnusable)
	}
	metrics := make([]string, len(facts.Vitals))
	for i, v := range facts.Vitals {
		metrics[i] = v.Metric
	}
	if err := grounded(answer, string(data), metrics); err != nil {
		return "", err
	}
	return answer, nil
}

const questionsPrompt = "You help a physician decide what to ask a patient. The user gives numbered candidate " +
	"questions that doctors asked in visits similar to this one, and may give the visit's ailment and labels. " +
	"Order the candidates from most to least useful for this visit. Answer with a JSON array of the " +
	"candidates' numbers alone, for example [3,1,2]; leave out none, add none."

// RankQuestions returns the order the model gives candidates for a visit of
// ailment and labels, as indexes into candidates, each once. The ailment and labels
// are sent only when the client may send free text. It returns the errors of the
// request and ErrUnusable for an answer that is not such a permutation.
func (c *Client) RankQuestions(ctx context.Context, ailment string, labels, candidates []string) ([]int, error) {
	var user strings.Builder
	if c.cfg.SendFreeText {
		fmt.Fprintf(&user, "Ailment: %s\nLabels: %s\n", ailment, strings.Join(labels, ", "))
	}
	user.WriteString("Candidates:\n")
	for i, q := range candidates {
		fmt.Fprintf(&user, "%d. %s\n", i+1, q)
	}
	answer, err := c.complete(ctx, questionsPrompt, user.String())
	if err != nil {
		return nil, err
	}
	var numbers []int
	if err := json.Unmarshal([]byte(answer), &numbers); err != nil {
		return nil, fmt.Errorf("%w: not a JSON array of numbers", ErrUnusable)
	}
	order := make([]int, 0, len(numbers))
	for _, n := range numbers {
		if n < 1 || n > len(candidates) || slices.Contains(order, n-1) {
			return nil, fmt.Errorf("%w: %s is not a candidate's number, or repeats one", ErrUnusable, strconv.Itoa(n))
		}
		order = append(order, n-1)
	}
	if len(order) != len(candidates) {
		return nil, fmt.Errorf("%w: %d of %d candidates", ErrUnusable, len(order), len(candidates))
	}
	return order, nil
}
