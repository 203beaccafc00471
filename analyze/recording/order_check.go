package recording

// orderCheck replays, on event times alone, what a time-ordered pass
// through a reorder window of the same size (EachEvent) would release,
// and counts the events that pass would release after later-timed ones.
// Decoding a recording runs it to know whether the window gives the exact
// order before the events are read back; it holds window times and sizes
// (256 KiB for ReorderWindow), not events. The window is bounded by count
// and by bytes (ReorderWindowBytes), as the pass's is.
//
// An event is released late exactly when its time is below that of the
// latest in-order release when it arrives: all the events waiting then are
// no earlier than that release, so an event no earlier than it comes out
// no later than itself, and one earlier comes out after it.
//
// Most times arrive in order: those go to run, kept sorted by only ever
// appending to it; the others to a min-heap, as reorder keeps its events
// (measured: loading 200k spawns took 0.09 s less than with one heap of
// every time waiting).
type orderCheck struct {
	window   int
	maxBytes int // the window's bound in heldBytes, as reorder's
	bytes    int
	run      []timedSize // in order; run[head:] waits
	head     int
	heap     []timedSize // min-heap of the other times waiting
	lastNs   uint64      // the latest time released in order
	late     int
}

// timedSize is an event's time and heldBytes.
type timedSize struct {
	timeNs uint64
	bytes  int
}

// push adds an event's time and heldBytes and releases as reorder.push does.
func (c *orderCheck) push(timeNs uint64, size int) {
	if timeNs < c.lastNs {
		c.late++
	}
	it := timedSize{timeNs, size}
	c.bytes += size
	if n := len(c.run); n == c.head || timeNs >= c.run[n-1].timeNs {
		c.run = append(c.run, it)
	} else {
		c.heapPush(it)
	}
	if len(c.run)-c.head+len(c.heap) > c.window {
		c.release()
	}
	for c.bytes > c.maxBytes && len(c.run)-c.head+len(c.heap) > 0 {
		c.release()
	}
}

// release removes the earliest time waiting, as reorder.pop would.
func (c *orderCheck) release() {
	var it timedSize
	if c.head < len(c.run) && (len(c.heap) == 0 || c.run[c.head].timeNs <= c.heap[0].timeNs) {
		it = c.run[c.head]
		c.head++
		// Move the waiting part down once the released part is the larger.
		if c.head > len(c.run)/2 && c.head > 64 {
			n := copy(c.run, c.run[c.head:])
			c.run, c.head = c.run[:n], 0
		}
	} else {
		it = c.heapPop()
	}
	c.bytes -= it.bytes
	c.lastNs = max(c.lastNs, it.timeNs)
}

func (c *orderCheck) heapPush(it timedSize) {
	h := append(c.heap, it)
	for i := len(h) - 1; i > 0; {
		parent := (i - 1) / 2
		if h[parent].timeNs <= h[i].timeNs {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
	c.heap = h
}

func (c *orderCheck) heapPop() timedSize {
	h := c.heap
	min := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		m, l, r := i, 2*i+1, 2*i+2
		if l < len(h) && h[l].timeNs < h[m].timeNs {
			m = l
		}
		if r < len(h) && h[r].timeNs < h[m].timeNs {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	c.heap = h
	return min
}
