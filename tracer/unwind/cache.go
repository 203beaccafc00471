package unwind

import (
	"container/list"
	"fmt"
	"sync"
)

// Cache keeps the Tables of recently used objects within a memory budget,
// keyed by whatever identifies a file to the caller (package symbolize:
// tracer.FileID). Failures are kept too, so an object without CFI is
// read once. Safe for concurrent use.
type Cache[K comparable] struct {
	mu       sync.Mutex
	maxBytes int
	used     int
	entries  map[K]*list.Element
	lru      list.List // of *cacheEntry[K], most recent first
}

type cacheEntry[K comparable] struct {
	key   K
	t     *Table
	err   error
	bytes int
}

// failedEntryBytes is what a cached failure counts for.
const failedEntryBytes = 64

// NewCache makes a cache holding at most about maxBytes of tables.
func NewCache[K comparable](maxBytes int) *Cache[K] {
	return &Cache[K]{maxBytes: maxBytes, entries: map[K]*list.Element{}}
}

// Get returns the table of key, calling load for one not cached. A table
// larger than the whole budget is returned once, then an error.
func (c *Cache[K]) Get(key K, load func() (*Table, error)) (*Table, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.lru.MoveToFront(el)
		e := el.Value.(*cacheEntry[K])
		return e.t, e.err
	}
	t, err := load()
	e := &cacheEntry[K]{key: key, t: t, err: err, bytes: failedEntryBytes}
	if t != nil {
		e.bytes = t.SizeBytes()
	}
	if e.bytes > c.maxBytes {
		// Kept as a failure: a file whose CFI cannot be kept is not read
		// again for every stack.
		e = &cacheEntry[K]{key: key, err: fmt.Errorf("CFI of %d bytes, more than the cache's %d", e.bytes, c.maxBytes), bytes: failedEntryBytes}
	}
	for c.used+e.bytes > c.maxBytes && c.lru.Len() > 0 {
		old := c.lru.Remove(c.lru.Back()).(*cacheEntry[K])
		delete(c.entries, old.key)
		c.used -= old.bytes
	}
	c.entries[key] = c.lru.PushFront(e)
	c.used += e.bytes
	return t, err
}

// UsedBytes is the memory the cached tables hold.
func (c *Cache[K]) UsedBytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}
