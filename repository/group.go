package repository

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clinic/interactions/deadline"
)

// maxGroup bounds how many documents one group insert holds: the embedded store
// commits up to 100 documents of an insertMany in one transaction, and, when one of
// them fails (a duplicate _id), inserts each of those 100 again on its own.
const maxGroup = 100

// groupInserts inserts the documents that concurrent callers insert into one
// collection together (group commit): one unordered insertMany of those waiting
// while the one before ran. On a store that commits one write at a time, as the
// embedded store does, each commit waits for the disk; a group costs one commit
// where single inserts cost one each. Each caller gets its own document's outcome,
// as an insertOne would give it, once that insertMany has answered. It is safe for
// concurrent use; it runs a goroutine only while documents wait.
type groupInserts struct {
	coll *mongo.Collection
	// write admits each insert (see DB.write).
	write func(ctx context.Context, op func() error) error

	mu      sync.Mutex
	queue   []*insertion
	running bool
}

// insertion is a caller's document, and where its outcome goes.
type insertion struct {
	ctx  context.Context
	doc  any
	done chan error
}

// insertOne inserts doc with the documents of concurrent calls. It returns the
// driver's error of doc as insertOne would (a mongo.WriteException for a write
// error of its own, such as a duplicate _id), and ctx's error when ctx ends first,
// in which case doc may still be stored.
func (g *groupInserts) insertOne(ctx context.Context, doc any) error {
	in := &insertion{ctx: ctx, doc: doc, done: make(chan error, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, in)
	if !g.running {
		g.running = true
		go g.run()
	}
	g.mu.Unlock()
	select {
	case err := <-in.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("group insert: %w", ctx.Err())
	}
}

// run inserts what is queued, maxGroup at a time, until nothing is.
func (g *groupInserts) run() {
	for {
		g.mu.Lock()
		group := g.queue[:min(len(g.queue), maxGroup)]
		g.queue = g.queue[len(group):]
		if len(group) == 0 {
			g.queue, g.running = nil, false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		g.insert(group)
	}
}

// insert inserts the documents of group whose callers still wait, and answers each.
func (g *groupInserts) insert(group []*insertion) {
	live := group[:0]
	for _, in := range group {
		if err := in.ctx.Err(); err != nil {
			in.done <- fmt.Errorf("group insert: %w", err)
			continue
		}
		live = append(live, in)
	}
	if len(live) == 0 {
		return
	}
	ctxs := make([]context.Context, len(live))
	docs := make([]any, len(live))
	for i, in := range live {
		ctxs[i], docs[i] = in.ctx, in.doc
	}
	ctx, cancel := deadline.Shared(ctxs...)
	defer cancel()
	err := g.write(ctx, func() error {
		_, err := g.coll.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
		return err
	})
	var bulk mongo.BulkWriteException
	if err == nil || !errors.As(err, &bulk) || bulk.WriteConcernError != nil {
		for _, in := range live {
			in.done <- err
		}
		return
	}
	failed := map[int]mongo.WriteError{}
	for _, we := range bulk.WriteErrors {
		failed[we.Index] = we.WriteError
	}
	for i, in := range live {
		if we, ok := failed[i]; ok {
			we.Index = 0
			in.done <- mongo.WriteException{WriteErrors: mongo.WriteErrors{we}, Labels: bulk.Labels}
			continue
		}
		in.done <- nil
	}
}
