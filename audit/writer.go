package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/clinic/interactions/deadline"
	"github.com/clinic/interactions/models"
)

// Store keeps the chains: their events and heads.
type Store interface {
	// AuditChainHeads returns the head of every chain.
	AuditChainHeads(ctx context.Context) ([]models.AuditChainHead, error)
	// StartAuditChain records a new chain's head; models.ErrConflict when it exists.
	StartAuditChain(ctx context.Context, head models.AuditChainHead) error
	// UpdateAuditChainHead moves a chain's head forward to head.
	UpdateAuditChainHead(ctx context.Context, head models.AuditChainHead) error
	// InsertAuditEvents stores events in order, stopping at the first that fails.
	InsertAuditEvents(ctx context.Context, events []models.AuditEvent) error
	// AuditEvent returns the event with the given id, or models.ErrNotFound.
	AuditEvent(ctx context.Context, id string) (models.AuditEvent, error)
}

// ErrClosed is the error of an Append to a closed Writer.
var ErrClosed = errors.New("audit writer closed")

// WriterOptions adjust a Writer. Zero fields take their defaults.
type WriterOptions struct {
	// Key keys the hashes (see Hash); without one they are plain SHA-256. The
	// chain's head names it by its id (see KeyID).
	Key []byte
	// Process names what writes the chain: "server", or a command.
	Process string
	// Now reads the time (default time.Now).
	Now func() time.Time
	// MaxBatch bounds how many events are stored together (default 256).
	MaxBatch int
	// Logger takes the failures that fail no request, such as a head not moved
	// (default: discarded).
	Logger *slog.Logger
}

// Writer appends the events of one process to a chain of its own. The events of
// concurrent callers are stored together, one ordered insert and one head update per
// batch (group commit), and each Append returns once its own event is stored, or when
// its context ends, whichever comes first.
//
// A write whose outcome is unknown (an error after the store may have applied it: a
// lost answer, a fail-over, a deadline) never blocks the chain: before it writes
// again, the writer reads back which of its events were stored and goes on from the
// last one. A head that could not be moved is moved by the next write.
type Writer struct {
	id    string
	store Store
	opts  WriterOptions

	queue   chan *pending
	closing chan *pending
	done    chan struct{}

	// The state of the chain, owned by the loop.
	started, uncertain bool
	startedAt          time.Time
	seq                int64
	last               string

	mu sync.Mutex // guards id, which the loop changes, and anchored
	// anchored holds, by chain, the end of each other chain this one recorded last.
	anchored map[string]models.AuditAnchor
}

type pending struct {
	ctx    context.Context
	event  models.AuditEvent
	result chan result
}

type result struct {
	event models.AuditEvent
	err   error
}

// NewWriter returns a writer of a new chain kept in store. It returns an error only
// when the system's random source fails.
func NewWriter(store Store, opts WriterOptions) (*Writer, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("new chain id: %w", err)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	w := &Writer{
		id: id.String(), store: store, opts: opts,
		queue: make(chan *pending), closing: make(chan *pending), done: make(chan struct{}),
	}
	go w.loop()
	return w, nil
}

// ID returns the chain's name.
func (w *Writer) ID() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.id
}

// Append links e to the chain and stores it, with the events of concurrent calls.
// Chain, Seq, ID, PrevHash and Hash are set here; Time is truncated to the store's
// millisecond precision, and the rest is cleaned (see Clean) before it is hashed.
// It returns ctx's error when ctx ends first (the event may still be stored),
// ErrClosed after Close, and the store's error otherwise.
func (w *Writer) Append(ctx context.Context, e models.AuditEvent) (models.AuditEvent, error) {
	p := &pending{ctx: ctx, event: e, result: make(chan result, 1)}
	select {
	case w.queue <- p:
	case <-ctx.Done():
		return models.AuditEvent{}, fmt.Errorf("append audit event: %w", ctx.Err())
	case <-w.done:
		return models.AuditEvent{}, ErrClosed
	}
	select {
	case r := <-p.result:
		return r.event, r.err
	case <-ctx.Done():
		return models.AuditEvent{}, fmt.Errorf("append audit event: %w", ctx.Err())
	}
}

// Anchor appends an event recording the ends of the other chains that moved since
// this chain last recorded them (the chain's first event records them all), so that
// removing what was there then is found. It returns the errors of the store and of
// Append.
func (w *Writer) Anchor(ctx context.Context, e models.AuditEvent) error {
	heads, err := w.store.AuditChainHeads(ctx)
	if err != nil {
		return fmt.Errorf("read audit chain heads: %w", err)
	}
	var moved []models.AuditAnchor
	w.mu.Lock()
	for _, a := range w.anchorsOf(heads) {
		if w.anchored[a.Chain] != a {
			moved = append(moved, a)
		}
	}
	w.mu.Unlock()
	if len(moved) == 0 {
		return nil
	}
	e.Action, e.Anchors = models.AuditAnchorNote, moved
	if _, err := w.Append(ctx, e); err != nil {
		return err
	}
	w.note(moved)
	return nil
}

// note records that the chain anchored anchors.
func (w *Writer) note(anchors []models.AuditAnchor) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.anchored == nil {
		w.anchored = map[string]models.AuditAnchor{}
	}
	for _, a := range anchors {
		w.anchored[a.Chain] = a
	}
}

// anchorsOf returns the ends of the chains of heads but this one (whose name the
// caller holds w.mu for, or owns as the loop), by chain.
func (w *Writer) anchorsOf(heads []models.AuditChainHead) []models.AuditAnchor {
	var anchors []models.AuditAnchor
	for _, h := range heads {
		if h.Chain != w.id && h.LastSeq > 0 {
			anchors = append(anchors, models.AuditAnchor{Chain: h.Chain, Seq: h.LastSeq, Hash: h.LastHash})
		}
	}
	slices.SortFunc(anchors, func(a, b models.AuditAnchor) int { return cmp.Compare(a.Chain, b.Chain) })
	return anchors
}

// Close seals the chain, when it has events: a last event, e (its action set to
// models.AuditChainSeal), and a head marked sealed, so that removing its end is
// found. Events queued before it are written first; Appends after it fail. It
// returns the store's error when the seal cannot be stored, and ctx's when ctx ends
// first.
func (w *Writer) Close(ctx context.Context, e models.AuditEvent) error {
	seal := &pending{ctx: ctx, event: e, result: make(chan result, 1)}
	seal.event.Action = models.AuditChainSeal
	select {
	case w.closing <- seal:
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case r := <-seal.result:
		<-w.done
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// loop writes what is queued, in batches, until Close has sealed the chain.
func (w *Writer) loop() {
	defer close(w.done)
	for {
		select {
		case p := <-w.queue:
			w.write(w.collect(p))
		case seal := <-w.closing:
			if !w.started && w.seq == 0 {
				seal.result <- result{} // nothing to seal
				return
			}
			// The seal is stored when the chain ends with it: one event after the
			// last, or two on a chain that starts with it.
			sealed := w.seq + 1
			if w.seq == 0 {
				sealed++
			}
			w.write([]*pending{seal})
			if w.seq == sealed && !w.uncertain {
				head := w.head()
				head.Sealed = true
				head.MAC = HeadMAC(w.opts.Key, head)
				// Within the closer's deadline, so that a stalled store does not hold
				// a shutdown past it.
				ctx, cancel := batchContext([]*pending{seal})
				if err := w.store.UpdateAuditChainHead(ctx, head); err != nil {
					w.opts.Logger.Warn("seal audit chain head", "chain", w.id, "error", err.Error())
				}
				cancel()
			}
			return
		}
	}
}

// collect returns first and what else is queued, up to MaxBatch.
func (w *Writer) collect(first *pending) []*pending {
	batch := []*pending{first}
	for len(batch) < w.opts.MaxBatch {
		select {
		case p := <-w.queue:
			batch = append(batch, p)
		default:
			return batch
		}
	}
	return batch
}

// write stores the events of batch whose callers still wait, and answers each.
func (w *Writer) write(batch []*pending) {
	live := batch[:0]
	for _, p := range batch {
		if err := p.ctx.Err(); err != nil {
			p.result <- result{err: fmt.Errorf("append audit event: %w", err)}
			continue
		}
		live = append(live, p)
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := batchContext(live)
	defer cancel()
	fail := func(err error) {
		for _, p := range live {
			p.result <- result{err: err}
		}
	}
	if err := w.prepare(ctx); err != nil {
		fail(err)
		return
	}
	var events []models.AuditEvent
	if w.seq == 0 {
		start, err := w.startEvent(ctx)
		if err != nil {
			fail(err)
			return
		}
		events = append(events, start)
	}
	first := len(events)
	seq, last := w.seq, w.last
	for _, p := range live {
		events = append(events, p.event)
	}
	for i := range events {
		e := &events[i]
		*e = Clean(*e)
		seq++
		e.Chain, e.Seq, e.ID = w.id, seq, EventID(w.id, seq)
		e.Time = models.StoreTime(e.Time)
		e.PrevHash = last
		e.Hash = Hash(w.opts.Key, *e)
		last = e.Hash
	}
	before := w.seq
	if err := w.store.InsertAuditEvents(ctx, events); err != nil {
		// The outcome is unknown: read back what was stored.
		w.uncertain = true
		if rerr := w.resync(ctx); rerr != nil {
			fail(fmt.Errorf("append audit events: %w", err))
			return
		}
	} else {
		w.seq, w.last = seq, last
	}
	stored := int(w.seq - before)
	if stored > 0 {
		// The head moves before anyone is answered, so that an answered request's
		// event is never beyond its chain's head.
		head := w.head()
		head.MAC = HeadMAC(w.opts.Key, head)
		if err := w.store.UpdateAuditChainHead(ctx, head); err != nil {
			w.opts.Logger.Warn("move audit chain head", "chain", w.id, "error", err.Error())
		}
	}
	for i, p := range live {
		if first+i < stored {
			p.result <- result{event: events[first+i]}
		} else {
			p.result <- result{err: errors.New("append audit events: not stored")}
		}
	}
}

// batchContext returns a context for the store's work on batch (see
// deadline.Shared): no caller waits on it longer than its own deadline.
func batchContext(batch []*pending) (context.Context, context.CancelFunc) {
	ctxs := make([]context.Context, len(batch))
	for i, p := range batch {
		ctxs[i] = p.ctx
	}
	return deadline.Shared(ctxs...)
}

// head returns the chain's head as the writer knows it, without its MAC.
func (w *Writer) head() models.AuditChainHead {
	return models.AuditChainHead{Chain: w.id, LastSeq: w.seq, LastHash: w.last, StartedAt: w.startedAt, Process: w.opts.Process,
		KeyID: KeyID(w.opts.Key)}
}

// prepare starts the chain when it has not started, and reads back what an earlier
// write of unknown outcome stored. It returns the store's errors.
func (w *Writer) prepare(ctx context.Context) error {
	if !w.started {
		w.startedAt = models.StoreTime(w.opts.Now())
		head := w.head()
		head.MAC = HeadMAC(w.opts.Key, head)
		// An earlier attempt may have stored the head and lost the answer: the chain's
		// id is this writer's alone, so a head found is its own.
		if err := w.store.StartAuditChain(ctx, head); err != nil && !errors.Is(err, models.ErrConflict) {
			// The outcome is unknown: look for the head.
			heads, herr := w.store.AuditChainHeads(ctx)
			if herr != nil || !slices.ContainsFunc(heads, func(h models.AuditChainHead) bool { return h.Chain == w.id }) {
				return fmt.Errorf("start audit chain: %w", err)
			}
		}
		w.started = true
		w.uncertain = true // a lost answer may have stored events too
	}
	if w.uncertain {
		return w.resync(ctx)
	}
	return nil
}

// resync reads back the events stored after the last the writer knows of, and goes
// on from the last of them. Only this writer writes its chain, so the events it
// finds link to what it knows; an event that does not was written by another, and
// the writer goes on in a new chain. It returns the store's errors.
func (w *Writer) resync(ctx context.Context) error {
	for {
		e, err := w.store.AuditEvent(ctx, EventID(w.id, w.seq+1))
		if errors.Is(err, models.ErrNotFound) {
			w.uncertain = false
			return nil
		}
		if err != nil {
			return fmt.Errorf("read back audit events: %w", err)
		}
		if e.PrevHash != w.last || !validMAC(e.Hash, Hash(w.opts.Key, e)) {
			// Another wrote at this chain's end: go on in a new chain, whose first
			// event anchors this one where it really ended.
			w.opts.Logger.Error("an audit event not written by this process is at its chain's end; going on in a new chain",
				"chain", w.id, "seq", e.Seq)
			return w.fork()
		}
		w.seq, w.last = e.Seq, e.Hash
		w.note(e.Anchors)
	}
}

// fork abandons the chain for a new one, which the next write starts. It returns an
// error only when the system's random source fails.
func (w *Writer) fork() error {
	id, err := uuid.NewV7()
	if err != nil {
		return fmt.Errorf("new chain id: %w", err)
	}
	w.mu.Lock()
	w.id, w.anchored = id.String(), nil
	w.mu.Unlock()
	w.started, w.uncertain, w.seq, w.last = false, false, 0, ""
	return nil
}

// startEvent returns the chain's first event: it records the ends of the other
// chains as the writer finds them.
func (w *Writer) startEvent(ctx context.Context) (models.AuditEvent, error) {
	heads, err := w.store.AuditChainHeads(ctx)
	if err != nil {
		return models.AuditEvent{}, fmt.Errorf("read audit chain heads: %w", err)
	}
	anchors := w.anchorsOf(heads)
	w.note(anchors)
	return models.AuditEvent{
		Time: w.startedAt, KeyName: w.opts.Process, Action: models.AuditChainStart,
		Method: "-", Route: "-", Status: 200, ClientIP: "-", RequestID: w.id, Anchors: anchors,
	}, nil
}
