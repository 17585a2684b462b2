// Package chartcache keeps answers about patients' charts (the summary, the
// printable report) as they were sent, each under the tag of what it was computed
// from (the chart's version, and the day), so that the answer about a chart that
// has not changed is sent again without reading the chart. It holds one answer per
// patient and kind of answer, the one of the newest tag, and a bounded number of
// bytes in all: past it, the answers used least recently are dropped first.
package chartcache

import (
	"container/list"
	"sync"
)

// Answer is an answer as it was sent: its body, its Content-Type, and its tag.
type Answer struct {
	Tag         string
	ContentType string
	Body        []byte
}

// size is what a holds, as the cache counts it.
func (a Answer) size() int { return len(a.Body) + len(a.Tag) + len(a.ContentType) }

// Cache keeps answers up to a number of bytes. It is safe for concurrent use.
type Cache struct {
	mu    sync.Mutex
	limit int
	size  int
	// used orders the entries, most recently used first.
	used  *list.List
	items map[key]*list.Element
}

// key names an answer: whose chart, and what kind of answer.
type key struct{ insuranceNo, kind string }

type entry struct {
	key    key
	answer Answer
}

// New returns an empty Cache of at most limit bytes of answers.
func New(limit int) *Cache {
	return &Cache{limit: limit, used: list.New(), items: map[key]*list.Element{}}
}

// Get returns the answer of kind about patient insuranceNo's chart kept under tag,
// and whether there is one.
func (c *Cache) Get(insuranceNo, kind, tag string) (Answer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key{insuranceNo, kind}]
	if !ok || el.Value.(*entry).answer.Tag != tag {
		return Answer{}, false
	}
	c.used.MoveToFront(el)
	return el.Value.(*entry).answer, true
}

// Put keeps a, the answer of kind about patient insuranceNo's chart, instead of the
// one kept before, and drops the answers used least recently while the cache holds
// more than its limit. An answer larger than the whole limit is not kept.
func (c *Cache) Put(insuranceNo, kind string, a Answer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := key{insuranceNo, kind}
	if el, ok := c.items[k]; ok {
		c.remove(el)
	}
	if a.size() > c.limit {
		return
	}
	c.items[k] = c.used.PushFront(&entry{key: k, answer: a})
	c.size += a.size()
	for c.size > c.limit {
		c.remove(c.used.Back())
	}
}

// Size returns the bytes of answers the cache holds.
func (c *Cache) Size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}

// remove drops el. The caller holds c.mu.
func (c *Cache) remove(el *list.Element) {
	e := el.Value.(*entry)
	c.used.Remove(el)
	delete(c.items, e.key)
	c.size -= e.answer.size()
}
