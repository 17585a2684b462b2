package audit

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/clinic/interactions/models"
)

// RefusedAction is the action of an event counting the requests a client address was
// refused past its rate limit.
const RefusedAction = "requests.refused"

// Refusals counts the requests refused per client address, to be recorded as one
// event per address and window instead of one write each: a flood must not cost a
// write per request, and must still show in the trail.
type Refusals struct {
	mu     sync.Mutex
	counts map[string]int
}

// Add counts one refused request from ip.
func (r *Refusals) Add(ip string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.counts == nil {
		r.counts = map[string]int{}
	}
	r.counts[ip]++
}

// Flush appends one event per address refused since the last flush, with how many
// requests were refused, dated now, through w. The counts of the events that could
// not be stored are kept for the next flush. It returns the first error of Append.
func (r *Refusals) Flush(ctx context.Context, w *Writer, now time.Time) error {
	r.mu.Lock()
	counts := r.counts
	r.counts = nil
	r.mu.Unlock()
	var first error
	for _, ip := range slices.Sorted(maps.Keys(counts)) {
		_, err := w.Append(ctx, models.AuditEvent{
			Time: now, Action: RefusedAction, Method: "-", Route: "/api/v1", Status: 429,
			ClientIP: ip, RequestID: "-", Counts: map[string]int{"refused": counts[ip]},
		})
		if err != nil {
			if first == nil {
				first = err
			}
			r.mu.Lock()
			if r.counts == nil {
				r.counts = map[string]int{}
			}
			r.counts[ip] += counts[ip]
			r.mu.Unlock()
		}
	}
	return first
}
