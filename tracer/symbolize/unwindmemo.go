package symbolize

import (
	"container/list"
	"sync"

	"github.com/spawntrace/spawntrace/tracer/unwind"
)

// A process spawns from the same few call sites over and over (a shell's
// loop, make's job runner): their copies share the registers and the
// words an unwind reads (return-address slots, saved registers) and differ
// in locals only. unwindMemo keeps each site's last unwind, to be reused
// where the new copy holds the same words: exactly what unwinding it
// again would give, at the cost of comparing a few words.

// Bounds of the memo: a site's entry is ~0.5 KiB (its PCs and words).
const (
	unwindMemoEntries  = 4096
	unwindMemoMaxBytes = 4 << 20
	unwindMemoOverhead = 160 // an entry's own fields, its list element, its map slot
)

// unwindKey is what an unwind is a function of, besides the words it read.
// image is the Image's id (never reused: a pid reused, or one that exec'd,
// has another image); mapsGen changes whenever its map is read again (a
// library mapped since may change which CFI covers an address); the copy's
// length decides which reads fall short of it.
type unwindKey struct {
	image    uint64
	mapsGen  uint32
	stackLen int
	regs     unwind.Regs
}

type unwindMemoEntry struct {
	key   unwindKey
	words []unwind.Word
	res   unwind.Result // PCs owned by the entry
	named *unwindFrames // nil until UnwindUser named them
	bytes int
}

// unwindFrames are an unwind's frames as User named them.
type unwindFrames struct {
	list []Frame
	e    error
}

func (f *unwindFrames) frames() []Frame {
	if f == nil {
		return nil
	}
	return f.list
}

func (f *unwindFrames) err() error {
	if f == nil {
		return nil
	}
	return f.e
}

// frameBytes is what a memoized Frame holds besides its strings, which
// are the symbol tables'.
const frameBytes = 96

// unwindMemo is guarded by its own lock: Exit and Exec drop an image's
// entries on the reader goroutine, which must not wait behind s.mu.
type unwindMemo struct {
	mu      sync.Mutex
	byImage map[uint64]map[unwindKey]*list.Element
	lru     list.List // of *unwindMemoEntry, most recent first
	used    int       // bytes
	hits    int
	misses  int
}

// get returns the result memoized under key when stack holds the words it
// read, its PCs appended to dst[:0], and its frames if they were named.
func (m *unwindMemo) get(key unwindKey, stack []byte, dst []uint64) (unwind.Result, *unwindFrames, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.byImage[key.image][key]
	if !ok {
		m.misses++
		return unwind.Result{}, nil, false
	}
	e := el.Value.(*unwindMemoEntry)
	if !unwind.SameWords(key.regs.Arch, e.words, stack) {
		m.misses++
		return unwind.Result{}, nil, false
	}
	m.hits++
	m.lru.MoveToFront(el)
	res := e.res
	res.PCs = append(dst[:0], e.res.PCs...)
	return res, e.named, true
}

// name adds the frames to key's entry, if it is still there.
func (m *unwindMemo) name(key unwindKey, named *unwindFrames) {
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.byImage[key.image][key]
	if !ok {
		return
	}
	e := el.Value.(*unwindMemoEntry)
	if add := frameBytes * len(named.list); e.named == nil && m.used+add <= unwindMemoMaxBytes {
		e.named = named
		e.bytes += add
		m.used += add
	}
}

// put keeps res (its PCs copied), the words it read and its frames (nil:
// not named) under key, in place
// and frames of the site's earlier entry, unless img has no process left.
func (m *unwindMemo) put(img *Image, key unwindKey, res unwind.Result, words []unwind.Word, named *unwindFrames) {
	e := &unwindMemoEntry{key: key, words: append([]unwind.Word(nil), words...), res: res, named: named}
	e.res.PCs = append([]uint64(nil), res.PCs...)
	e.bytes = unwindMemoOverhead + 8*len(e.res.PCs) + 16*len(e.words) + frameBytes*len(named.frames())
	if e.bytes > unwindMemoMaxBytes {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if img.procs.Load() == 0 {
		// Exit dropped its entries already: a stack queued before its
		// process ended must not leave one behind.
		return
	}
	if old, ok := m.byImage[key.image][key]; ok {
		m.remove(old)
	}
	for m.lru.Len() > 0 && (m.lru.Len() >= unwindMemoEntries || m.used+e.bytes > unwindMemoMaxBytes) {
		m.remove(m.lru.Back())
	}
	if m.byImage == nil {
		m.byImage = map[uint64]map[unwindKey]*list.Element{}
	}
	sites := m.byImage[key.image]
	if sites == nil {
		sites = map[unwindKey]*list.Element{}
		m.byImage[key.image] = sites
	}
	sites[key] = m.lru.PushFront(e)
	m.used += e.bytes
}

func (m *unwindMemo) remove(el *list.Element) {
	e := m.lru.Remove(el).(*unwindMemoEntry)
	m.used -= e.bytes
	sites := m.byImage[e.key.image]
	delete(sites, e.key)
	if len(sites) == 0 {
		delete(m.byImage, e.key.image)
	}
}

// drop forgets the entries of an image no process has any more.
func (m *unwindMemo) drop(image uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, el := range m.byImage[image] {
		m.remove(el)
	}
}

// UnwindMemoStats says how many unwinds reused a memoized one (hits) and
// how many walked the stack (misses), and the memo's size.
func (s *Symbolizer) UnwindMemoStats() (hits, misses, entries, bytes int) {
	m := &s.memo
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hits, m.misses, m.lru.Len(), m.used
}
