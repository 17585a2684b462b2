package audit

import (
	"context"
	"sync"
)

// Subject is whose data a request touched: a patient and an interaction. The audit
// middleware puts an empty one in the request's context; the repository notes in
// it every patient and interaction the request reads or writes, so that no handler
// has to remember to.
type Subject struct {
	mu            sync.Mutex
	insuranceNo   string
	interactionID string
}

type subjectKey struct{}

// WithSubject returns ctx carrying a new, empty Subject, and that Subject.
func WithSubject(ctx context.Context) (context.Context, *Subject) {
	s := &Subject{}
	return context.WithValue(ctx, subjectKey{}, s), s
}

// Touch notes in ctx's Subject, when it has one, that the request touched the
// patient insuranceNo and the interaction interactionID. The first of each given
// is kept; empty values are ignored.
func Touch(ctx context.Context, insuranceNo, interactionID string) {
	s, _ := ctx.Value(subjectKey{}).(*Subject)
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

// Noted returns the patient and interaction noted in ctx's Subject, if it has one.
func Noted(ctx context.Context) (insuranceNo, interactionID string) {
	s, _ := ctx.Value(subjectKey{}).(*Subject)
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
