// Package analytics keeps what the insights draw from every patient's records —
// the patients' profiles, their feature space, and the k-means cohorts asked for —
// under the version of the records it was computed from (package dataversion), so
// that paging through a cohort's members, or asking for a patient's nearest
// patients, costs the page and not a read of the whole store.
//
// Each request reads the records' version and is answered from the model of that
// version, which is computed once, by one computation at a time, whatever the
// number of requests waiting for it:
//
//   - The first model is read whole: every patient, then every visit, the visits'
//     readings computed on every CPU and counted in the order they are read.
//   - When the records change, and the store tells which charts changed (the
//     embedded store: see dataversion), the profiles of those patients alone are
//     read again, into a copy of the profiles before; the feature space is then
//     made again from every profile. Otherwise the model is read whole again.
//   - The cohorts of each k are computed once per model, when first asked for.
//
// A computation is not bound to the request that started it: when the request's
// deadline comes first, the request answers 503 and the computation goes on, for
// Options.Budget in all, so that the next request finds it done. The answers are
// those the same records always gave: a patient's visits are counted in the order
// the store holds them, whether the whole store is read or their chart alone.
package analytics

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/clinic/interactions/dataversion"
	"github.com/clinic/interactions/deadline"
	"github.com/clinic/interactions/insights"
	"github.com/clinic/interactions/models"
)

// Records reads every patient's records, and tells their version and what changed
// (repository.DB).
type Records interface {
	// DataVersion returns the version of the records of the patients and their
	// interactions.
	DataVersion(ctx context.Context) (dataversion.Version, error)
	// ChangedSince returns the insurance numbers of the charts changed since v, or
	// false when the store cannot tell them.
	ChangedSince(ctx context.Context, v dataversion.Version) ([]string, bool, error)
	// EachPatient calls fn with every patient record.
	EachPatient(ctx context.Context, fn func(models.Patient) error) error
	// EachVisit calls fn with every interaction q selects, in the order the store
	// holds them.
	EachVisit(ctx context.Context, q models.ScanQuery, fn func(models.Interaction) error) error
	// EachChart calls patient with the records of the patients nos, then visit
	// with their interactions not entered in error, in the order EachVisit calls
	// it with them.
	EachChart(ctx context.Context, nos []string, patient func(models.Patient) error, visit func(models.Interaction) error) error
}

// Options adjust a Model.
type Options struct {
	// Base is the parent of every computation's context: when it ends (the server
	// shuts down), the computations stop. Nil means context.Background().
	Base context.Context
	// Budget bounds each computation, from its start, whatever the requests waiting
	// for it: it goes on past their deadlines for that long in all. Zero means
	// DefaultBudget.
	Budget time.Duration
	// Logger logs the computations that fail with nobody waiting for them; nil
	// discards.
	Logger *slog.Logger
	// Now reads the time; nil means time.Now.
	Now func() time.Time
}

// DefaultBudget is the Budget of Options that set none.
const DefaultBudget = 2 * time.Minute

// maxChangedShare is the largest share of the patients whose charts are read again
// one by one when the records change; past it, the model is read whole again, which
// reads each document once in the store's order.
const maxChangedShare = 0.2

// minChanged is the number of changed charts read one by one whatever the number of
// patients.
const minChanged = 200

// Model keeps the model of every patient under the version of the records it was
// computed from. It is safe for concurrent use.
type Model struct {
	records Records
	base    context.Context
	budget  time.Duration
	logger  *slog.Logger
	now     func() time.Time

	mu sync.Mutex
	// ready is the newest model computed.
	ready *state
	// running is the computation under way, if any, and started counts those
	// started: a request waits for one started after it read the version.
	running *pending[*state]
	started int64
}

// New returns a Model of records, computing nothing yet.
func New(records Records, opts Options) *Model {
	if opts.Base == nil {
		opts.Base = context.Background()
	}
	if opts.Budget <= 0 {
		opts.Budget = DefaultBudget
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Model{records: records, base: opts.Base, budget: opts.Budget, logger: opts.Logger, now: opts.Now}
}

// state is the model of one version of the records.
type state struct {
	version dataversion.Version
	// read is when the version was read, for dataversion.Version.Fresh.
	read     time.Time
	profiler *insights.Profiler
	space    *insights.Space

	mu sync.Mutex
	// cohorts holds the clustering of each k asked for, computed or under way.
	cohorts map[int]*pending[Cohorts]
}

// pending is the result of a computation that may still be under way.
type pending[T any] struct {
	done  chan struct{}
	value T
	err   error
	// id numbers the computation among those started.
	id int64
}

// wait returns p's result once it is there, or ctx's error once ctx ends first.
func (p *pending[T]) wait(ctx context.Context) (T, error) {
	select {
	case <-p.done:
		return p.value, p.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// Space returns the feature space of every patient, and the spelling of every
// ailment, under the records' version now. It returns ctx's error once ctx ends
// first (the computation goes on: see the package's documentation), and the
// errors of the records.
func (m *Model) Space(ctx context.Context) (*insights.Space, *insights.Names, error) {
	s, err := m.current(ctx)
	if err != nil {
		return nil, nil, err
	}
	return s.space, s.profiler.Names(), nil
}

// Cohorts is the clustering of every patient into k cohorts.
type Cohorts struct {
	Space      *insights.Space
	Clustering insights.Clustering
	// Described are the cohorts as insights.Space.Describe describes them.
	Described []insights.Cohort
	// Disclosed are the members of the cohorts too small to describe without
	// disclosing them (insights.Space.SmallCohortMembers).
	Disclosed []string
}

// Cohorts returns the clustering of every patient into k cohorts (insights.KMeans,
// from insights.KMeansSeed), described, under the records' version now. It returns
// what Space returns, and the clustering's errors.
func (m *Model) Cohorts(ctx context.Context, k int) (Cohorts, error) {
	s, err := m.current(ctx)
	if err != nil {
		return Cohorts{}, err
	}
	s.mu.Lock()
	p := s.cohorts[k]
	if p == nil {
		p = &pending[Cohorts]{done: make(chan struct{})}
		s.cohorts[k] = p
		go func() {
			defer close(p.done)
			work, cancel := context.WithTimeout(m.base, m.budget)
			defer cancel()
			p.value, p.err = s.cluster(work, k)
			if p.err != nil {
				s.mu.Lock()
				delete(s.cohorts, k) // the next request tries again
				s.mu.Unlock()
			}
		}()
	}
	s.mu.Unlock()
	return p.wait(ctx)
}

// cluster clusters s's space into k cohorts and describes them.
func (s *state) cluster(ctx context.Context, k int) (Cohorts, error) {
	c, err := insights.KMeans(ctx, s.space.Vectors, k, insights.KMeansSeed)
	if err != nil {
		return Cohorts{}, err
	}
	described, err := s.space.Describe(ctx, c, s.profiler.Names())
	if err != nil {
		return Cohorts{}, err
	}
	return Cohorts{Space: s.space, Clustering: c, Described: described, Disclosed: s.space.SmallCohortMembers(c)}, nil
}

// current returns the model of the records' version now: the one kept, the one
// under way, or a new one. It returns ctx's error once ctx ends first, the
// computation's error, and the errors of the records.
func (m *Model) current(ctx context.Context) (*state, error) {
	v, err := m.records.DataVersion(ctx)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	after := m.started // a computation numbered above read the version after this one
	m.mu.Unlock()
	for {
		m.mu.Lock()
		if r := m.ready; r != nil && r.version == v && v.Fresh(r.read, m.now()) {
			m.mu.Unlock()
			return r, nil
		}
		p := m.running
		if p == nil {
			p = m.start()
		}
		m.mu.Unlock()
		s, err := p.wait(ctx)
		if err != nil {
			return nil, err
		}
		if s.version == v || p.id > after {
			return s, nil
		}
		// That computation read an earlier version: the loop starts the next one.
	}
}

// start starts a computation of the model from the newest kept, and returns it. The
// caller holds m.mu.
func (m *Model) start() *pending[*state] {
	m.started++
	p := &pending[*state]{done: make(chan struct{}), id: m.started}
	m.running = p
	prev := m.ready
	go func() {
		defer close(p.done)
		work, cancel := context.WithTimeout(m.base, m.budget)
		defer cancel()
		p.value, p.err = m.compute(work, prev)
		m.mu.Lock()
		m.running = nil
		if p.err == nil {
			m.ready = p.value
		}
		m.mu.Unlock()
		if p.err != nil {
			m.logger.Warn("compute the model of the patients", "error", p.err.Error())
		}
	}()
	return p
}

// compute returns the model of the records' version now: prev itself when the
// records have not changed since, prev with the charts that changed read again when
// the store tells them and they are few, else the records read whole.
func (m *Model) compute(ctx context.Context, prev *state) (*state, error) {
	read := m.now()
	v, err := m.records.DataVersion(ctx)
	if err != nil {
		return nil, err
	}
	if prev != nil && prev.version == v && v.Fresh(prev.read, read) {
		return prev, nil
	}
	var b *insights.Profiler
	if prev != nil && v.Exact() {
		if b, err = m.update(ctx, prev); err != nil {
			return nil, err
		}
	}
	if b == nil {
		if b, err = m.readWhole(ctx); err != nil {
			return nil, err
		}
	}
	space, err := insights.NewSpace(ctx, b.Profiles())
	if err != nil {
		return nil, err
	}
	return &state{version: v, read: read, profiler: b, space: space, cohorts: map[int]*pending[Cohorts]{}}, nil
}

// update returns the profiles of prev with the charts changed since read again, or
// nil when the store cannot tell them, or they are too many.
func (m *Model) update(ctx context.Context, prev *state) (*insights.Profiler, error) {
	nos, ok, err := m.records.ChangedSince(ctx, prev.version)
	if err != nil || !ok || len(nos) > max(minChanged, int(maxChangedShare*float64(len(prev.space.Profiles)))) {
		return nil, err
	}
	b := prev.profiler.Clone()
	for _, no := range nos {
		b.Forget(no)
	}
	err = m.records.EachChart(ctx, nos, deadline.WhileRunning(ctx, b.AddPatient), deadline.WhileRunning(ctx, b.AddVisit))
	if err != nil {
		return nil, fmt.Errorf("read the charts changed: %w", err)
	}
	return b, nil
}

// readWhole reads every patient, then every visit not entered in error, into
// profiles. The visits' readings are computed on every CPU, and the visits are
// counted in the order they are read.
func (m *Model) readWhole(ctx context.Context) (*insights.Profiler, error) {
	b := insights.NewProfiler()
	if err := m.records.EachPatient(ctx, deadline.WhileRunning(ctx, b.AddPatient)); err != nil {
		return nil, err
	}
	visits := newReadings(runtime.GOMAXPROCS(0), b.Add)
	err := m.records.EachVisit(ctx, models.ScanQuery{ProfileFields: true}, deadline.WhileRunning(ctx, visits.add))
	visits.close()
	if err != nil {
		return nil, err
	}
	return b, nil
}
