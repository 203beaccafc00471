package recording

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"

	"github.com/spawntrace/spawntrace/analyze/internal/spill"
	"github.com/spawntrace/spawntrace/tracer"
)

// A binary recording's events are checked in three stages: one goroutine
// reads the records in chunks, workers decode and check each chunk's
// events on their own (checkChunk), and the caller's goroutine takes the
// chunks in file order for the checks that follow the order (addChecked:
// live tasks, stack references, the reorder window). Decoding is most of
// loading and needs nothing of the events before (measured: its share of
// loading 200k spawns' recording, 0.34 s of 0.45 s), so it spreads over
// the CPUs there are.

// Chunks hold about loadChunkBytes of payloads, or loadChunkEvents events.
const (
	loadChunkBytes  = 256 << 10
	loadChunkEvents = 2048
)

// loadChunk is a run of consecutive records.
type loadChunk struct {
	first int    // index of its first event
	buf   []byte // the payloads, back to back
	ends  []int  // the end of each payload in buf
	// Filled by a worker, up to bad: the first event that failed its own
	// checks (len(ends) when none did), whose error is badErr.
	checked []checkedEvent
	bad     int
	badErr  error
	// readErr is the reading's failure after the chunk's records; end,
	// that the end mark followed them.
	readErr     error
	end         bool
	recordBytes int64 // of the file, length prefixes included
	done        chan struct{}
}

func (c *loadChunk) payload(j int) []byte {
	start := 0
	if j > 0 {
		start = c.ends[j-1]
	}
	return c.buf[start:c.ends[j]]
}

// readBinaryEvents streams the event records into a new spill, checking
// each as readEvents does; a bad one stops the reading (the version, read
// first, already said whether this build can read them). A version 1
// record gains the PathEntries (0: not recorded) that version 2 ends with.
// With view, the records are not copied: the spill reads them in view
// from eventsAt, where br reads them. br is read no further than the end
// mark, and not at all once this returns.
func readBinaryEvents(br *bufio.Reader, version uint64, view *os.File, eventsAt int64) (*eventStream, error) {
	var evs *eventStream
	var err error
	if view != nil {
		evs = newEventView()
	} else if evs, err = newEventStream(); err != nil {
		return nil, err
	}
	workers := min(runtime.GOMAXPROCS(0), 4)
	ordered := make(chan *loadChunk, 2*workers+2)
	work := make(chan *loadChunk, workers)
	free := make(chan *loadChunk, 2*workers+4)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1 + workers)
	go func() {
		defer wg.Done()
		defer close(work)
		defer close(ordered)
		readChunks(br, version, ordered, work, free, stop)
	}()
	for range workers {
		go func() {
			defer wg.Done()
			dec := eventDecoder{spill.Decoder{CheckOnly: true}} // strings are checked, not read
			var ev, keep tracer.Event
			for c := range work {
				checkChunk(&dec, &ev, &keep, c)
				close(c.done)
			}
		}()
	}
	finish := func() {
		close(stop)
		for range ordered { // let the reader end
		}
		wg.Wait()
	}
	eventsBytes := int64(0)
	for c := range ordered {
		<-c.done
		for j := range c.bad {
			err := evs.addChecked(c.first+j, &c.checked[j], c.payload(j), nil)
			if err == nil && evs.err != nil {
				err = fmt.Errorf("corrupt recording: %w", evs.err)
			}
			if err != nil {
				finish()
				evs.close()
				return nil, err
			}
		}
		err := c.readErr
		if c.bad < len(c.ends) {
			err = fmt.Errorf("corrupt recording: %w", c.badErr)
		}
		if err != nil {
			finish()
			evs.close()
			return nil, err
		}
		eventsBytes += c.recordBytes
		if c.end {
			finish()
			if view != nil {
				evs.spill.events = spill.View(view, eventsAt, eventsBytes)
			}
			return evs, nil
		}
		select {
		case free <- c:
		default:
		}
	}
	// The reader ends every run of chunks with an error or the end mark.
	finish()
	evs.close()
	return nil, fmt.Errorf("reading recording: %w", io.ErrUnexpectedEOF)
}

// readChunks reads records from br into chunks and hands each to the
// checks (ordered) and to a worker (work), until the end mark, a failure
// to read (in the last chunk's readErr) or stop.
func readChunks(br *bufio.Reader, version uint64, ordered, work chan<- *loadChunk, free <-chan *loadChunk, stop <-chan struct{}) {
	i := 0
	for {
		var c *loadChunk
		select {
		case c = <-free:
			c.buf, c.ends, c.checked = c.buf[:0], c.ends[:0], c.checked[:0]
			c.readErr, c.end, c.recordBytes, c.badErr = nil, false, 0, nil
		default:
			c = &loadChunk{}
		}
		c.first = i
		c.done = make(chan struct{})
		for len(c.buf) < loadChunkBytes && len(c.ends) < loadChunkEvents {
			n, k, err := readUvarint(br)
			if err != nil {
				c.readErr = binaryErr(err)
				break
			}
			if n == 0 {
				c.end = true
				break
			}
			if n > MaxEventBytes {
				c.readErr = &LimitError{What: fmt.Sprintf("an event takes more than %d KiB", MaxEventBytes>>10)}
				break
			}
			at := len(c.buf)
			c.buf = append(c.buf, make([]byte, n)...)
			if _, err := io.ReadFull(br, c.buf[at:]); err != nil {
				c.buf = c.buf[:at]
				c.readErr = binaryErr(err)
				break
			}
			if version < 2 {
				c.buf = append(c.buf, 0) // PathEntries, a varint 0
			}
			c.ends = append(c.ends, len(c.buf))
			c.recordBytes += int64(k) + int64(n)
			i++
		}
		for _, ch := range []chan<- *loadChunk{ordered, work} {
			select {
			case ch <- c:
			case <-stop:
				return
			}
		}
		if c.end || c.readErr != nil {
			return
		}
	}
}

// checkChunk decodes c's events into ev, and checks each on its own, as
// far as the first that fails. keep holds the arrays and structs ev had,
// which decode drops for an event without them: handed back before each
// decode, they are reused, and checking allocates nothing per event
// (measured: 211 of the 720 MB a report of 1M spawns allocated).
func checkChunk(dec *eventDecoder, ev, keep *tracer.Event, c *loadChunk) {
	c.checked = c.checked[:0]
	c.bad = len(c.ends)
	for j := range c.ends {
		i := c.first + j
		payload := c.payload(j)
		ev.Args, ev.Fds, ev.Argv, ev.UserStack = keep.Args, keep.Fds, keep.Argv, keep.UserStack
		ev.Clone3, ev.Parent = keep.Clone3, keep.Parent
		err := dec.decode(payload, ev)
		keepArrays(keep, ev)
		if err == nil {
			err = checkDecoded(ev)
		}
		if err != nil {
			c.bad, c.badErr = j, fmt.Errorf("event %d: %w", i, err)
			return
		}
		if err := validateEvent(i, ev); err != nil {
			c.bad, c.badErr = j, err
			return
		}
		c.checked = append(c.checked, checkedOf(ev, len(payload)))
	}
}

// keepArrays takes into keep what ev holds of each array and struct: the
// largest array seen of each kind, up to keptArrayMax elements (a large
// event's are not kept for the rest of the load).
func keepArrays(keep, ev *tracer.Event) {
	if c := cap(ev.Args); c > cap(keep.Args) && c <= keptArrayMax {
		keep.Args = ev.Args
	}
	if c := cap(ev.Fds); c > cap(keep.Fds) && c <= keptArrayMax {
		keep.Fds = ev.Fds
	}
	if c := cap(ev.Argv); c > cap(keep.Argv) && c <= keptArrayMax {
		keep.Argv = ev.Argv
	}
	if c := cap(ev.UserStack); c > cap(keep.UserStack) && c <= keptArrayMax {
		keep.UserStack = ev.UserStack
	}
	if ev.Clone3 != nil {
		keep.Clone3 = ev.Clone3
	}
	if ev.Parent != nil {
		keep.Parent = ev.Parent
	}
}

// keptArrayMax is the largest array keepArrays keeps, as EachEvent's
// release does.
const keptArrayMax = 256
