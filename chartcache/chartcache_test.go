package chartcache

import (
	"strings"
	"testing"
)

func answer(tag string, n int) Answer {
	return Answer{Tag: tag, ContentType: "t", Body: []byte(strings.Repeat("x", n))}
}

func TestCacheKeepsTheNewestAnswerOfEachChart(t *testing.T) {
	c := New(1000)
	c.Put("A1", "summary", answer("v1", 100))
	if a, ok := c.Get("A1", "summary", "v1"); !ok || len(a.Body) != 100 {
		t.Fatalf("the answer kept: %v, %v", a, ok)
	}
	for _, miss := range []struct{ no, kind, tag string }{
		{"A1", "summary", "v2"}, {"A1", "report", "v1"}, {"B1", "summary", "v1"},
	} {
		if _, ok := c.Get(miss.no, miss.kind, miss.tag); ok {
			t.Errorf("%v: found", miss)
		}
	}
	c.Put("A1", "summary", answer("v2", 200))
	if _, ok := c.Get("A1", "summary", "v1"); ok {
		t.Error("the answer of an earlier tag is still kept")
	}
	if a, ok := c.Get("A1", "summary", "v2"); !ok || len(a.Body) != 200 || c.Size() != 203 {
		t.Errorf("the newest answer: %v, %v; size %d", a, ok, c.Size())
	}
}

func TestCacheDropsTheLeastRecentlyUsed(t *testing.T) {
	c := New(1000)
	for _, no := range []string{"A", "B", "C"} {
		c.Put(no, "report", answer("v", 298)) // 300 bytes each
	}
	c.Get("A", "report", "v") // B is now the least recently used
	c.Put("D", "report", answer("v", 298))
	for no, kept := range map[string]bool{"A": true, "B": false, "C": true, "D": true} {
		if _, ok := c.Get(no, "report", "v"); ok != kept {
			t.Errorf("%s kept: %v, want %v", no, ok, kept)
		}
	}
	if c.Size() != 900 {
		t.Errorf("size %d, want 900", c.Size())
	}
	c.Put("E", "report", answer("v", 2000))
	if _, ok := c.Get("E", "report", "v"); ok || c.Size() != 900 {
		t.Errorf("an answer over the limit was kept, or dropped others: size %d", c.Size())
	}
}
