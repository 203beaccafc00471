package recording

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"

	"github.com/spawntrace/spawntrace/analyze/internal/spill"
	"github.com/spawntrace/spawntrace/tracer"
)

// eventSpill is a recording run's events on disk, in the order they
// arrived (Recorder), with the stack IDs symbolized after they were
// written; or a loaded recording's, in the order of its file (Decode),
// whose events carry their stack IDs (no stacks file).
type eventSpill struct {
	events *spill.File
	stacks *spill.File // stackRecordBytes records, in the order of their events
	n      int         // events
	window int         // the reorder window, ReorderWindow unless a test says
	// windowBytes bounds the window's heldBytes, ReorderWindowBytes
	// unless a test says.
	windowBytes int
	late        int       // late events of the last time-ordered pass
	exits       exitCount // counted as the events were written
}

// exitCount counts exit events: of processes (the whole thread group
// dead) and of other threads.
type exitCount struct{ processes, threads int }

func (c *exitCount) add(ev *tracer.Event) {
	if ev.GroupDead {
		c.processes++
	} else {
		c.threads++
	}
}

// Exits is how many processes and other threads of the tree the
// recording saw exit (its exit events), counted as the events were
// recorded or loaded rather than in a pass over them.
func (rec *Recording) Exits() (processes, threads int) {
	c := exitCount{}
	if rec.spill != nil {
		c = rec.spill.exits
	} else {
		for i := range rec.Events {
			if rec.Events[i].Kind == tracer.KindExit {
				c.add(&rec.Events[i])
			}
		}
	}
	return c.processes, c.threads
}

// EachEvent calls fn with each event of the recording in time order
// (TimeNs, then the order they arrived) and stops at fn's first error,
// which it returns. fn must not change ev, nor keep it or its slices past
// the call, since the event and its arrays are reused: copy what must
// stay (its strings and Parent may be kept as they are).
//
// A recording held in memory (Events) is sorted exactly. A recording
// run's events, and a loaded recording's (Load), are read back from a
// spill file through a window of ReorderWindow events (see there), in
// bounded memory; a failure to read them is returned.
// For a loaded recording the window gives the exact order: Decode checked
// that it does, and sorted the spill when it did not (SortedLate).
func (rec *Recording) EachEvent(fn func(ev *tracer.Event) error) error {
	if rec.spill == nil {
		evs := make([]*tracer.Event, len(rec.Events))
		for i := range rec.Events {
			evs[i] = &rec.Events[i]
		}
		sort.SliceStable(evs, func(i, j int) bool { return evs[i].TimeNs < evs[j].TimeNs })
		for _, ev := range evs {
			if err := fn(ev); err != nil {
				return err
			}
		}
		return nil
	}
	// Each event goes back to the spill reader once fn is done with it:
	// a pass then allocates about a window's worth of events, not one per
	// event.
	var released []*tracer.Event
	p := newPipe()
	release := func(ev *tracer.Event) error {
		err := fn(ev)
		// Arrays of a large event are not kept for the next ones: a
		// window's worth of events could each keep one.
		if cap(ev.Argv) > 256 || cap(ev.Args) > 256 || cap(ev.Fds) > 256 || cap(ev.UserStack) > 256 {
			ev.Argv, ev.Args, ev.Fds, ev.UserStack = nil, nil, nil, nil
		}
		// Nor its strings, while it waits to be reused.
		ev.Filename = ""
		clear(ev.Argv)
		released = append(released, ev)
		if len(released) == pipeBatch {
			released = p.recycle(released)
		}
		return err
	}
	ro := reorder{window: rec.spill.window, maxBytes: rec.spill.windowBytes}
	go p.produce(rec.spill)
	err := p.consume(func(ev *tracer.Event, held int) error { return ro.push(ev, held, release) })
	if err == nil {
		err = ro.drain(release)
	}
	rec.spill.late = ro.late
	return err
}

// A batch between a pass's goroutines is pipeBatch events, or fewer
// holding pipeBatchBytes (heldBytes): the batches on their way add a few
// of them to what the reorder window holds.
const (
	pipeBatch      = 256
	pipeBatchBytes = 1 << 20
)

// pipe splits a time-ordered pass in two: one goroutine reads and decodes
// the spill (produce), the caller's orders the events and runs the pass's
// function on them (consume), on two CPUs where there are. Decoding was
// about half of a pass (measured: report of 1M spawns, 1.95 s of 4.45 s).
// Events travel in batches, and go back to the reader for reuse the same
// way, so that the pass still allocates about a window's worth of them.
type pipe struct {
	batches chan []pipeEvent
	free    chan []*tracer.Event
	stop    chan struct{} // closed when the consumer stops early
	readErr error         // the reader's, once batches is closed
}

type pipeEvent struct {
	ev   *tracer.Event
	held int // heldBytes
}

// errPipeStopped ends the reader when the consumer has stopped.
var errPipeStopped = errors.New("pass stopped")

func newPipe() *pipe {
	return &pipe{batches: make(chan []pipeEvent, 4), free: make(chan []*tracer.Event, 8), stop: make(chan struct{})}
}

// produce decodes s's events in batches until the end, an error or stop.
func (p *pipe) produce(s *eventSpill) {
	defer close(p.batches)
	var free []*tracer.Event
	batch := make([]pipeEvent, 0, pipeBatch)
	batchBytes := 0
	send := func() error {
		select {
		case p.batches <- batch:
			batch = make([]pipeEvent, 0, pipeBatch)
			batchBytes = 0
			return nil
		case <-p.stop:
			return errPipeStopped
		}
	}
	err := s.each(func() *tracer.Event {
		if len(free) == 0 {
			select {
			case free = <-p.free:
			default:
				return new(tracer.Event)
			}
		}
		ev := free[len(free)-1]
		free = free[:len(free)-1]
		return ev
	}, func(ev *tracer.Event, recordBytes int) error {
		held := heldBytes(recordBytes, ev)
		batch = append(batch, pipeEvent{ev, held})
		if batchBytes += held; len(batch) == pipeBatch || batchBytes >= pipeBatchBytes {
			return send()
		}
		return nil
	})
	// What was read before a failure is passed on first, as a serial pass
	// would have.
	if err != errPipeStopped && len(batch) > 0 {
		if serr := send(); serr != nil {
			err = serr
		}
	}
	p.readErr = err
}

// consume calls fn with each event the reader sends, in order; it returns
// fn's first error, else the reader's.
func (p *pipe) consume(fn func(ev *tracer.Event, held int) error) error {
	defer func() {
		close(p.stop)
		for range p.batches { // let the reader end
		}
	}()
	for batch := range p.batches {
		for _, e := range batch {
			if err := fn(e.ev, e.held); err != nil {
				return err
			}
		}
	}
	if p.readErr == errPipeStopped {
		return nil
	}
	return p.readErr
}

// recycle hands events fn is done with back to the reader, and returns
// the slice to gather the next ones in.
func (p *pipe) recycle(evs []*tracer.Event) []*tracer.Event {
	select {
	case p.free <- evs:
		return make([]*tracer.Event, 0, pipeBatch)
	default: // the reader has plenty: these go to the GC
		return evs[:0]
	}
}

// KeptCopy is a copy of ev that outlives EachEvent's call, for the few
// events kept a while (a thread's last socketpair).
func KeptCopy(ev *tracer.Event) *tracer.Event {
	c := *ev
	c.Args = slices.Clone(ev.Args)
	c.Fds = slices.Clone(ev.Fds)
	c.Argv = slices.Clone(ev.Argv)
	c.UserStack = slices.Clone(ev.UserStack)
	if ev.Clone3 != nil {
		c3 := *ev.Clone3
		c.Clone3 = &c3
	}
	return &c
}

// eachArrived calls fn with each event in the order it arrived (that of
// its file for a loaded recording), as a saved recording lists them.
func (rec *Recording) eachArrived(fn func(ev *tracer.Event) error) error {
	if rec.spill == nil {
		for i := range rec.Events {
			if err := fn(&rec.Events[i]); err != nil {
				return err
			}
		}
		return nil
	}
	var ev tracer.Event // one at a time: fn is done with it when it returns
	return rec.spill.each(func() *tracer.Event { return &ev }, func(ev *tracer.Event, _ int) error { return fn(ev) })
}

// errRead marks a failure to read the spill file, as opposed to an error
// of the function called with the events.
type errRead struct{ err error }

func (e errRead) Error() string { return "reading recorded events: " + e.err.Error() }
func (e errRead) Unwrap() error { return e.err }

// SortedLate is how many events of a loaded recording were out of time
// order beyond the reorder window, so that Decode sorted its spill file
// before the first pass (0: none were).
func (rec *Recording) SortedLate() int { return rec.sortedLate }

// LateEvents is how many events the last time-ordered pass over a
// recording run's events released after later-timed ones: they arrived
// more than ReorderWindow events late. Always 0 for a loaded recording.
func (rec *Recording) LateEvents() int {
	if rec.spill == nil {
		return 0
	}
	return rec.spill.late
}

// Close releases the spill file of a recording run or a loaded recording
// (nothing for one in memory); the recording has no events after.
func (rec *Recording) Close() error {
	if rec.spill == nil {
		return nil
	}
	err := rec.spill.events.Close()
	if serr := rec.spill.stacks.Close(); err == nil {
		err = serr
	}
	rec.spill = nil
	return err
}

// stackRecordBytes is a spawn's stack ID as the symbolizer found it: tid
// (4 bytes), the call's TimeNs (8), StackID (4), little-endian.
const stackRecordBytes = 16

// each decodes the events in arrival order into events alloc gives, and
// gives spawn calls their stack IDs: the stack records are in the order of their events (both
// follow the order the reader saw them), so one look-ahead joins them.
func (s *eventSpill) each(alloc func() *tracer.Event, fn func(ev *tracer.Event, recordBytes int) error) error {
	r := s.events.Reader()
	var stacks io.Reader = bytes.NewReader(nil) // a loaded recording's events carry their StackIDs
	if s.stacks != nil {
		stacks = s.stacks.Reader()
	}
	var next [stackRecordBytes]byte
	haveNext := false
	readStack := func() error {
		_, err := io.ReadFull(stacks, next[:])
		switch {
		case err == nil:
			haveNext = true
		case errors.Is(err, io.EOF):
			haveNext = false
		default:
			return errRead{fmt.Errorf("spawn stacks: %w", err)}
		}
		return nil
	}
	if err := readStack(); err != nil {
		return err
	}
	var dec eventDecoder
	var scratch []byte
	for i := 0; i < s.n; i++ {
		payload, err := spill.ReadRecord(r, &scratch)
		if err != nil {
			return errRead{fmt.Errorf("event %d of %d: %w", i, s.n, err)}
		}
		ev := alloc()
		if err := dec.decode(payload, ev); err != nil {
			return errRead{fmt.Errorf("event %d of %d: %w", i, s.n, err)}
		}
		if haveNext && ev.Kind == tracer.KindSyscall &&
			binary.LittleEndian.Uint32(next[0:]) == ev.Tid && binary.LittleEndian.Uint64(next[4:]) == ev.TimeNs {
			ev.StackID = int(binary.LittleEndian.Uint32(next[12:]))
			if err := readStack(); err != nil {
				return err
			}
		}
		if err := fn(ev, len(payload)); err != nil {
			return err
		}
	}
	return nil
}
