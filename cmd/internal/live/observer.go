package live

import (
	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/tracer"
)

// Observer reads what the events alone do not carry and only a live
// process can tell: its memory map (to name stack frames), the C library
// it maps. Each of the session's observers (stackProbe, libcProbe) is
// one. None reads /proc/PID/smaps_rollup: it walks the page tables under
// the process's mmap lock (~20 ms per GiB), delaying its next fork.
type Observer interface {
	// Observe sees every event, on the ring-buffer reader's goroutine,
	// one call at a time, before the recorder keeps it. It must not
	// block: the reader, and so the ring buffer, waits for it. Reads that
	// take time go to the observer's own goroutine, behind a bounded
	// queue.
	Observe(ev *tracer.Event)
	// Finish is called once, after the reader has returned and before
	// the recorder hands its events over: it waits for the observer's
	// pending reads and puts what they found into rec.
	Finish(rec *recording.Recording)
}
