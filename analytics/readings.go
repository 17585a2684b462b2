package analytics

import (
	"sync"

	"github.com/clinic/interactions/insights"
	"github.com/clinic/interactions/models"
)

// readingsBatch is how many visits a worker takes at a time.
const readingsBatch = 256

// readings computes what profiles count of visits (insights.NewVisit) on several
// workers, and hands the results to count one at a time, in the order the visits
// were added: the same order, and so the same profiles, as one goroutine gives.
type readings struct {
	count func(insights.Visit)
	// work goes to the workers, queue to the counter, in order.
	work, queue chan *visitBatch
	batch       *visitBatch
	workers     sync.WaitGroup
	counted     chan struct{}
}

// visitBatch is a batch of visits and what profiles count of them, once done is
// closed.
type visitBatch struct {
	visits []models.Interaction
	out    []insights.Visit
	done   chan struct{}
}

// newReadings starts workers workers (at least one) and the counter, which calls
// count.
func newReadings(workers int, count func(insights.Visit)) *readings {
	r := &readings{count: count, work: make(chan *visitBatch, 2*workers), queue: make(chan *visitBatch, 4*workers),
		counted: make(chan struct{})}
	for range max(1, workers) {
		r.workers.Add(1)
		go func() {
			defer r.workers.Done()
			var reader insights.VisitReader
			for b := range r.work {
				b.out = make([]insights.Visit, len(b.visits))
				for i, in := range b.visits {
					b.out[i] = reader.Visit(in)
				}
				b.visits = nil
				close(b.done)
			}
		}()
	}
	go func() {
		defer close(r.counted)
		for b := range r.queue {
			<-b.done
			for _, v := range b.out {
				r.count(v)
			}
		}
	}()
	return r
}

// add adds one visit.
func (r *readings) add(in models.Interaction) {
	if r.batch == nil {
		r.batch = &visitBatch{visits: make([]models.Interaction, 0, readingsBatch), done: make(chan struct{})}
	}
	r.batch.visits = append(r.batch.visits, in)
	if len(r.batch.visits) == readingsBatch {
		r.send()
	}
}

// send hands the batch under way to the counter and to a worker.
func (r *readings) send() {
	r.queue <- r.batch
	r.work <- r.batch
	r.batch = nil
}

// close hands the last batch over, and returns once every visit added is counted.
func (r *readings) close() {
	if r.batch != nil {
		r.send()
	}
	close(r.work)
	close(r.queue)
	r.workers.Wait()
	<-r.counted
}
