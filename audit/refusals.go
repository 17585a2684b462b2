package audit

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/clinic/interactions/models"
)

// The actions of the events that count refused requests, one event per kind of
// refusal, client address (and key name) and window.
const (
	// RefusedAction counts requests refused with 429 before their key was looked
	// up: past the client address's rate limit ("refused"), or past its limit of
	// failed authentications ("auth_failure_limit").
	RefusedAction = "requests.refused"
	// UnauthenticatedAction counts requests answered 401: without a valid key
	// ("unauthenticated"), or with a revoked key ("revoked_key"), whose name the
	// event gives.
	UnauthenticatedAction = "requests.unauthenticated"
	// MalformedAction counts requests answered 400 because their request line is
	// not valid UTF-8 ("malformed_request").
	MalformedAction = "requests.malformed"
)

// Refusal is what one event counting refused requests is about: the kind of
// refusal (its action and status), the client address and, for attempts with a
// revoked key, the key's name.
type Refusal struct {
	Action   string
	Status   int
	ClientIP string
	KeyName  string
}

// maxRefusals bounds how many events one flush writes: refusals of further
// addresses are counted together, under the address "*".
const maxRefusals = 1000

// Refusals counts refused requests by Refusal and reason, to be recorded as one
// event per Refusal and window instead of one write each: a flood must not cost a
// write per request, and must still show in the trail. What it records of a request
// is bounded: its address, and a key name the store gave.
type Refusals struct {
	mu     sync.Mutex
	counts map[Refusal]map[string]int
}

// Add counts one request refused as r, for reason (such as "refused").
func (r *Refusals) Add(what Refusal, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.add(what, map[string]int{reason: 1})
}

// add adds counts to what's; the caller holds r.mu.
func (r *Refusals) add(what Refusal, counts map[string]int) {
	if r.counts == nil {
		r.counts = map[Refusal]map[string]int{}
	}
	if _, ok := r.counts[what]; !ok && len(r.counts) >= maxRefusals {
		what.ClientIP, what.KeyName = "*", ""
	}
	if r.counts[what] == nil {
		r.counts[what] = map[string]int{}
	}
	for reason, n := range counts {
		r.counts[what][reason] += n
	}
}

// Flush appends one event per Refusal counted since the last flush, with how many
// requests were refused for each reason, dated now, through w. The counts of the
// events that could not be stored are kept for the next flush. It returns the first
// error of Append.
func (r *Refusals) Flush(ctx context.Context, w *Writer, now time.Time) error {
	r.mu.Lock()
	counts := r.counts
	r.counts = nil
	r.mu.Unlock()
	var first error
	order := func(a, b Refusal) int {
		return cmp.Or(cmp.Compare(a.Action, b.Action), cmp.Compare(a.ClientIP, b.ClientIP), cmp.Compare(a.KeyName, b.KeyName))
	}
	for _, what := range slices.SortedFunc(maps.Keys(counts), order) {
		_, err := w.Append(ctx, models.AuditEvent{
			Time: now, KeyName: what.KeyName, Action: what.Action, Method: "-", Route: "/api/v1", Status: what.Status,
			ClientIP: what.ClientIP, RequestID: "-", Counts: counts[what],
		})
		if err != nil {
			if first == nil {
				first = err
			}
			r.mu.Lock()
			r.add(what, counts[what])
			r.mu.Unlock()
		}
	}
	return first
}
