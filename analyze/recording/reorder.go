package recording

import "github.com/spawntrace/spawntrace/tracer"

// ReorderWindow is how many events the time-order iteration of a spilled
// recording holds back. Events arrive nearly, not exactly, in time order:
// a call is sent at its exit stamped with its entry, from any CPU, so it
// comes after the events of everything that ran meanwhile (a vfork
// parent's clone after its child's execs). The window is 64 times the
// lateness seen on 2 CPUs, for hosts with more CPUs spawning at once, and
// costs about 6 MiB of ordinary events while a pass runs (large ones are
// bounded by ReorderWindowBytes).
//
// Beyond it, the late event comes out after events timed after it, and
// is counted (Recording.LateEvents): a spawn call later than its child's
// exec then goes without that exec (no Exe, no spawn-to-exec time), and
// its -o line is out of order. The saved recording (-w) keeps the arrival
// order, and `spawntrace report` sorts it exactly.
const ReorderWindow = 1 << 14

// ReorderWindowBytes bounds the same window by what its events hold
// (heldBytes): a recording's event may take up to MaxEventBytes, and a
// window of ReorderWindow such events was 16 GiB (measured: 300 events of
// 1 MiB held 302 MiB during a pass, 33 MiB with this bound). A window of
// spawntrace's own runs' events stays far below it (16 384 events of
// synthetic spawns, ~10 MiB); past it, the earliest waiting event is
// released as when the window is full.
const ReorderWindowBytes = 32 << 20

// heldBytes is about what a decoded event holds, from the size of its
// spill record (recordBytes): its strings' bytes are in the record, and
// each element of a slice takes a byte there but a header or a word in
// memory.
func heldBytes(recordBytes int, ev *tracer.Event) int {
	return recordBytes + 16*len(ev.Argv) + 8*(len(ev.Args)+len(ev.UserStack)) + 4*len(ev.Fds) + 256
}

// reorder releases events in (TimeNs, arrival) order once more than
// window of them wait. Most events arrive in order: those go to run, a
// queue kept sorted by only ever appending to it, at no cost; the others
// to a min-heap. The earlier of the two heads goes out first. The order
// is that of one heap of the window's size (the same events wait), at a
// fraction of its cost: the heap holds only the late events.
type reorder struct {
	window int
	// maxBytes bounds the heldBytes of the events waiting (bytes).
	maxBytes, bytes int
	run             []reorderItem // in order; run[head:] waits
	head            int
	heap            []reorderItem
	seq             uint64
	lastNs          uint64 // TimeNs of the last event released
	late            int    // events released after a later-timed one
}

// reorderItem holds its event's time itself: comparing through the
// pointer costs a cache miss per comparison.
type reorderItem struct {
	timeNs uint64
	seq    uint64 // arrival order: equal times come out as they arrived
	ev     *tracer.Event
	bytes  int // heldBytes
}

func (a *reorderItem) before(b *reorderItem) bool {
	if a.timeNs != b.timeNs {
		return a.timeNs < b.timeNs
	}
	return a.seq < b.seq
}

// push adds ev, which holds about size bytes (heldBytes), and, while the
// window is full, releases the earliest event.
func (r *reorder) push(ev *tracer.Event, size int, fn func(*tracer.Event) error) error {
	it := reorderItem{ev.TimeNs, r.seq, ev, size}
	r.seq++
	r.bytes += size
	// Not earlier than the last queued: seq grows, so equal times append.
	if n := len(r.run); n == r.head || ev.TimeNs >= r.run[n-1].timeNs {
		r.run = append(r.run, it)
	} else {
		r.heapPush(it)
	}
	if len(r.run)-r.head+len(r.heap) > r.window {
		if err := r.pop(fn); err != nil {
			return err
		}
	}
	for r.bytes > r.maxBytes && len(r.run)-r.head+len(r.heap) > 0 {
		if err := r.pop(fn); err != nil {
			return err
		}
	}
	return nil
}

// drain releases what is left, in order.
func (r *reorder) drain(fn func(*tracer.Event) error) error {
	for len(r.run) > r.head || len(r.heap) > 0 {
		if err := r.pop(fn); err != nil {
			return err
		}
	}
	return nil
}

func (r *reorder) pop(fn func(*tracer.Event) error) error {
	var ev *tracer.Event
	if r.head < len(r.run) && (len(r.heap) == 0 || r.run[r.head].before(&r.heap[0])) {
		ev = r.run[r.head].ev
		r.bytes -= r.run[r.head].bytes
		r.run[r.head] = reorderItem{}
		r.head++
		// Move the waiting part down once the released part is the larger:
		// each item moves at most once on average.
		if r.head > len(r.run)/2 && r.head > 64 {
			n := copy(r.run, r.run[r.head:])
			clear(r.run[n:])
			r.run, r.head = r.run[:n], 0
		}
	} else {
		r.bytes -= r.heap[0].bytes
		ev = r.heapPop()
	}
	if ev.TimeNs < r.lastNs {
		r.late++
	} else {
		r.lastNs = ev.TimeNs
	}
	return fn(ev)
}

func (r *reorder) heapPush(it reorderItem) {
	r.heap = append(r.heap, it)
	for i := len(r.heap) - 1; i > 0; {
		parent := (i - 1) / 2
		if !r.heap[i].before(&r.heap[parent]) {
			break
		}
		r.heap[i], r.heap[parent] = r.heap[parent], r.heap[i]
		i = parent
	}
}

func (r *reorder) heapPop() *tracer.Event {
	ev := r.heap[0].ev
	last := len(r.heap) - 1
	r.heap[0] = r.heap[last]
	r.heap[last] = reorderItem{}
	r.heap = r.heap[:last]
	for i := 0; ; {
		min, l, rt := i, 2*i+1, 2*i+2
		if l < len(r.heap) && r.heap[l].before(&r.heap[min]) {
			min = l
		}
		if rt < len(r.heap) && r.heap[rt].before(&r.heap[min]) {
			min = rt
		}
		if min == i {
			break
		}
		r.heap[i], r.heap[min] = r.heap[min], r.heap[i]
		i = min
	}
	return ev
}
