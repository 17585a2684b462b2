package audit

import (
	"context"
	"maps"
	"slices"
	"sync"
)

// Subject is whose data a request touched: a patient and an interaction, and the
// patients whose data its answer disclosed beyond those its answer names. The audit
// middleware puts an empty one in the request's context; the repository notes in it
// every patient and interaction the request reads or writes, and the routes whose
// answers disclose patients without naming them note those, so that no handler has to
// remember to note the patients its answer names.
type Subject struct {
	mu            sync.Mutex
	insuranceNo   string
	interactionID string
	disclosed     map[string]bool
	namesNone     bool
}

type subjectKey struct{}

// WithSubject returns ctx carrying a new, empty Subject, and that Subject.
func WithSubject(ctx context.Context) (context.Context, *Subject) {
	s := &Subject{}
	return context.WithValue(ctx, subjectKey{}, s), s
}

// subjectOf returns ctx's Subject, or nil.
func subjectOf(ctx context.Context) *Subject {
	s, _ := ctx.Value(subjectKey{}).(*Subject)
	return s
}

// Touch notes in ctx's Subject, when it has one, that the request touched the
// patient insuranceNo and the interaction interactionID. The first of each given
// is kept; empty values are ignored.
func Touch(ctx context.Context, insuranceNo, interactionID string) {
	s := subjectOf(ctx)
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.insuranceNo == "" {
		s.insuranceNo = insuranceNo
	}
	if s.interactionID == "" {
		s.interactionID = interactionID
	}
}

// Disclose notes in ctx's Subject, when it has one, that the request's answer
// discloses data of the patients insuranceNos without naming them, as an aggregate
// of few patients does; empty values are ignored.
func Disclose(ctx context.Context, insuranceNos ...string) {
	s := subjectOf(ctx)
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, no := range insuranceNos {
		if no == "" {
			continue
		}
		if s.disclosed == nil {
			s.disclosed = map[string]bool{}
		}
		s.disclosed[no] = true
	}
}

// DisclosesNone notes in ctx's Subject, when it has one, that the insurance numbers
// the request's answer names disclose nothing of those patients' records, as the
// audit trail's own do: the audit middleware then does not read the answer for them.
func DisclosesNone(ctx context.Context) {
	if s := subjectOf(ctx); s != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.namesNone = true
	}
}

// Noted returns the patient and interaction noted in ctx's Subject, if it has one.
func Noted(ctx context.Context) (insuranceNo, interactionID string) {
	s := subjectOf(ctx)
	if s == nil {
		return "", ""
	}
	return s.Get()
}

// Get returns the patient and interaction noted.
func (s *Subject) Get() (insuranceNo, interactionID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.insuranceNo, s.interactionID
}

// Disclosed returns the patients noted by Disclose, sorted, and whether the answer's
// own insurance numbers disclose them (false after DisclosesNone).
func (s *Subject) Disclosed() (insuranceNos []string, answerDiscloses bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.disclosed)), !s.namesNone
}
