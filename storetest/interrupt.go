package storetest

import (
	"context"
	"errors"
	"sync"

	"github.com/clinic/interactions/models"
	"github.com/clinic/interactions/records"
)

// Step names a point between the writes of an amendment (see package records):
// version 1 is archived (first amendment only), the next version is archived as an
// intent, the record moves to it, and the archive marks it committed.
type Step string

// The steps, in order.
const (
	BeforeArchive Step = "before-archive"
	BeforeIntent  Step = "before-intent"
	BeforeCommit  Step = "before-commit"
	AfterCommit   Step = "after-commit"
)

// ErrInterrupted is the error of an interrupted amendment.
var ErrInterrupted = errors.New("interrupted")

// Interrupt returns versions whose next amendment stops at step with
// ErrInterrupted, as a crash or a store failure would stop it there, having made
// the writes before it; the amendments after it run whole.
func Interrupt[T models.Record](versions records.Versions[T], step Step) records.Versions[T] {
	return &interrupted[T]{Versions: versions, step: step}
}

type interrupted[T models.Record] struct {
	records.Versions[T]
	mu   sync.Mutex
	step Step
}

// at reports whether the amendment is at the step to stop at, once.
func (s *interrupted[T]) at(step Step) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.step != step {
		return false
	}
	s.step = ""
	return true
}

func (s *interrupted[T]) Archive(ctx context.Context, v models.Version[T]) error {
	step := BeforeIntent
	if v.Version == 1 {
		step = BeforeArchive
	}
	if s.at(step) {
		return ErrInterrupted
	}
	return s.Versions.Archive(ctx, v)
}

func (s *interrupted[T]) Commit(ctx context.Context, next T) error {
	if s.at(BeforeCommit) {
		return ErrInterrupted
	}
	if err := s.Versions.Commit(ctx, next); err != nil {
		return err
	}
	if s.at(AfterCommit) {
		return ErrInterrupted
	}
	return nil
}
