package recording

// orderCheck replays, on event times alone, what a time-ordered pass
// through a reorder window of the same size (EachEvent) would release,
// and counts the events that pass would release after later-timed ones.
// Decoding a recording runs it to know whether the window gives the exact
// order before the events are read back; it holds window times (128 KiB
// for ReorderWindow), not events.
//
// An event is released late exactly when its time is below that of the
// latest in-order release when it arrives: all the events waiting then are
// no earlier than that release, so an event no earlier than it comes out
// no later than itself, and one earlier comes out after it.
type orderCheck struct {
	window int
	heap   []uint64 // min-heap of the times waiting
	lastNs uint64   // the latest time released in order
	late   int
}

func (c *orderCheck) push(timeNs uint64) {
	if timeNs < c.lastNs {
		c.late++
	}
	h := append(c.heap, timeNs)
	for i := len(h) - 1; i > 0; {
		parent := (i - 1) / 2
		if h[parent] <= h[i] {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
	c.heap = h
	if len(h) > c.window {
		c.lastNs = max(c.lastNs, c.pop())
	}
}

// pop removes the earliest time waiting.
func (c *orderCheck) pop() uint64 {
	h := c.heap
	min := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		m, l, r := i, 2*i+1, 2*i+2
		if l < len(h) && h[l] < h[m] {
			m = l
		}
		if r < len(h) && h[r] < h[m] {
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
