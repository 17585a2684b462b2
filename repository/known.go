package repository

import (
	"strings"
	"sync"
)

// maxKnownPatients bounds how many patients a DB remembers as existing (see
// DB.PatientExists): at most 65,536 insurance numbers, measured at 4.3 MiB of heap
// for numbers of up to 16 bytes and 7.3 MiB for the longest (64 bytes).
const maxKnownPatients = 1 << 16

// known is a set of keys known to exist, bounded to max keys: it keeps those added
// or found most recently, in two generations of at most max/2 keys each; when the
// newer is full it becomes the older, and the older is dropped. A key found in the
// older moves to the newer. It is safe for concurrent use.
type known struct {
	mu           sync.Mutex
	max          int
	newer, older map[string]struct{}
}

// newKnown returns an empty set of at most limit keys.
func newKnown(limit int) *known {
	return &known{max: limit, newer: map[string]struct{}{}}
}

// has reports whether key is in the set.
func (k *known) has(key string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.newer[key]; ok {
		return true
	}
	if _, ok := k.older[key]; ok {
		delete(k.older, key)
		k.put(key)
		return true
	}
	return false
}

// add puts key in the set.
func (k *known) add(key string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.newer[key]; ok {
		return
	}
	delete(k.older, key)
	// A copy: the caller's string may share memory a request reuses.
	k.put(strings.Clone(key))
}

// put puts key in the newer generation, which becomes the older once it holds
// max/2 keys; k.mu is held.
func (k *known) put(key string) {
	k.newer[key] = struct{}{}
	if len(k.newer) >= max(1, k.max/2) {
		k.older, k.newer = k.newer, map[string]struct{}{}
	}
}

// len returns how many keys the set holds.
func (k *known) len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.newer) + len(k.older)
}
