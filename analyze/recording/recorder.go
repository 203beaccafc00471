package recording

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"

	"github.com/spawntrace/spawntrace/analyze/internal/spill"
	"github.com/spawntrace/spawntrace/analyze/syscalls"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// Recorder collects events as the tracer delivers them and writes each
// kept one to a spill file at once: memory holds only what is still open
// (live processes, exec details waiting for their execve's exit) and
// counters, whatever the length of the run. It is safe for one writer
// (the ring-buffer reader) and one SetSpawnStack caller (the symbolizer).
// Which processes of the tree still run is the kernel's tracked map's to
// say (tracer.Tracked), current with every fork, not the events read so far.
type Recorder struct {
	mu     sync.Mutex
	events *spill.File
	buf    []byte // one encoded event, reused
	n      int    // events written
	exits  exitCount
	// execDetails holds a successful exec's details (from sched_process_exec)
	// until the execve's exit arrives, which the kernel sends right after.
	execDetails map[uint32]tracer.Event
	// threads counts thread creations: fork and exec events are used here
	// and not kept, since the spawn calls carry what the reports need and
	// memory should grow with spawns, not with everything the tree does.
	threads int
	// countOnly keeps no event, only the counts (CountOnly).
	countOnly bool

	stackMu  sync.Mutex
	stacks   *spill.File // spawn stack IDs (SetSpawnStack)
	stackBuf [stackRecordBytes]byte
}

// NewRecorder starts an empty recording whose events go to a temporary
// file in os.TempDir().
func NewRecorder() (*Recorder, error) {
	return newRecorder(spill.CreateTemp)
}

// newRecorder takes the way to make a spill file, so tests can hand it a
// failing one.
func newRecorder(open func() (*os.File, error)) (*Recorder, error) {
	events, err := spill.NewFile(open)
	if err != nil {
		return nil, fmt.Errorf("recording events: %w", err)
	}
	stacks, err := spill.NewFile(open)
	if err != nil {
		events.Close()
		return nil, fmt.Errorf("recording events: %w", err)
	}
	return &Recorder{events: events, stacks: stacks, execDetails: map[uint32]tracer.Event{}}, nil
}

// CountOnly makes the recorder keep no events, only the counts of threads
// and exits: for a run that shows the syscall table alone (-c), whose
// events nothing reads. Called before the first Add.
func (r *Recorder) CountOnly() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.countOnly = true
}

// Add records one event (ev is not kept). It returns the first error
// writing the spill file: from then on nothing more is recorded, and
// Fill fails with the same error.
func (r *Recorder) Add(ev *tracer.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.countOnly {
		switch ev.Kind {
		case tracer.KindFork:
			if ev.Thread {
				r.threads++
			}
		case tracer.KindExit:
			r.exits.add(ev)
		}
		return r.writeErr()
	}
	switch ev.Kind {
	case tracer.KindExec:
		r.execDetails[ev.Tid] = *ev
		return r.writeErr()
	case tracer.KindSyscall:
		if nr := ev.Nr64(); (nr == sysno.Execve || nr == sysno.Execveat) && ev.Ret == 0 {
			if d, ok := r.execDetails[ev.Tid]; ok {
				delete(r.execDetails, ev.Tid)
				mergeExec(ev, &d)
			} else {
				// Its exec event was lost, or sched_process_exec is
				// unavailable: nothing of the new program was read.
				ev.NameUnread = true
			}
		}
	case tracer.KindFork:
		if ev.Thread {
			r.threads++
		}
		return r.writeErr()
	}
	// Raw addresses are not saved: the stack is symbolized already
	// (SetSpawnStack). Cleared only while ev is encoded: the caller's
	// other observers may still read it.
	stack := ev.UserStack
	ev.UserStack = nil
	err := r.spill(ev)
	ev.UserStack = stack
	return err
}

var errRecorderDone = errors.New("the recorder was closed")

// writeErr is the error that stopped recording, nil while it goes on; the
// caller holds mu.
func (r *Recorder) writeErr() error {
	if r.events == nil {
		return errRecorderDone
	}
	return r.events.Err()
}

// spill writes one kept event; the caller holds mu.
func (r *Recorder) spill(ev *tracer.Event) error {
	if err := r.writeErr(); err != nil {
		return err
	}
	b, err := appendEvent(r.buf[:0], ev)
	r.buf = b
	if err != nil {
		r.events.Fail(err)
		return err
	}
	if err := r.events.Write(b); err != nil {
		return err
	}
	r.n++
	if ev.Kind == tracer.KindExit {
		r.exits.add(ev)
	}
	return nil
}

// SetSpawnStack gives the spawn call of thread tid entered at timeNs its
// symbolized stack. Calls must come in the order the calls were added
// (the symbolizer's queue keeps it): reading joins the two in one pass.
func (r *Recorder) SetSpawnStack(tid uint32, timeNs uint64, stackID int) {
	if stackID == 0 {
		return
	}
	r.stackMu.Lock()
	defer r.stackMu.Unlock()
	if r.stacks == nil {
		return // after Fill: too late to join
	}
	b := r.stackBuf[:]
	binary.LittleEndian.PutUint32(b[0:], tid)
	binary.LittleEndian.PutUint64(b[4:], timeNs)
	binary.LittleEndian.PutUint32(b[12:], uint32(stackID))
	r.stacks.Write(b) // a failure is kept, and Fill returns it
}

// Threads is the number of threads the tree created.
func (r *Recorder) Threads() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.threads
}

// mergeExec gives a successful execve event the details that only the new
// program's stack still holds, so each event line stands on its own.
func mergeExec(call *tracer.Event, d *tracer.Event) {
	c := *call
	c.Filename = d.Filename
	c.NameUnread = d.NameUnread
	c.Argv = d.Argv
	c.Argc = d.Argc
	c.ArgvTruncated = d.ArgvTruncated
	c.EnvCount = d.EnvCount
	c.EnvBytes = d.EnvBytes
	c.PathEntries = d.PathEntries
	c.ExecABI = d.ExecABI
	*call = c
}

// Fill hands the events over to rec, which reads them from the spill
// file from now on (EachEvent, Encode) until rec.Close. The Recorder must
// not be used after. It fails with the first error writing the spill file:
// events would be missing.
func (r *Recorder) Fill(rec *Recording) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	// An exec whose execve exit never came (lost) still tells of a process;
	// in time order, so that the file does not depend on map order.
	lone := make([]tracer.Event, 0, len(r.execDetails))
	for _, d := range r.execDetails {
		lone = append(lone, d)
	}
	sort.Slice(lone, func(i, j int) bool {
		if lone[i].TimeNs != lone[j].TimeNs {
			return lone[i].TimeNs < lone[j].TimeNs
		}
		return lone[i].Tid < lone[j].Tid
	})
	for i := range lone {
		lone[i].UserStack = nil
		if err := r.spill(&lone[i]); err != nil {
			return fmt.Errorf("recording events: %w", err)
		}
	}
	r.execDetails = map[uint32]tracer.Event{}
	if err := r.events.Flush(); err != nil {
		return fmt.Errorf("recording events: %w", err)
	}
	r.stackMu.Lock()
	stacks := r.stacks
	err := stacks.Flush()
	if err == nil {
		r.stacks = nil // rec's now
	}
	r.stackMu.Unlock()
	if err != nil {
		return fmt.Errorf("recording spawn stacks: %w", err)
	}
	rec.spill = &eventSpill{events: r.events, stacks: stacks, n: r.n, window: ReorderWindow,
		windowBytes: ReorderWindowBytes, exits: r.exits}
	rec.Events = nil
	r.events = nil
	return nil
}

// Close releases the spill files of a Recorder whose events were never
// handed to a recording (Fill), as when the run failed.
func (r *Recorder) Close() error {
	r.mu.Lock()
	err := r.events.Close()
	r.events = nil
	r.mu.Unlock()
	r.stackMu.Lock()
	if serr := r.stacks.Close(); err == nil {
		err = serr
	}
	r.stacks = nil
	r.stackMu.Unlock()
	return err
}

// SyscallTable names and converts the kernel's per-syscall totals.
func SyscallTable(stats []tracer.SyscallStat) []SyscallStat {
	out := make([]SyscallStat, 0, len(stats))
	for _, s := range stats {
		row := SyscallStat{ABI: s.ABI, Nr: s.Nr, Name: syscalls.SyscallName(s.ABI, s.Nr), Calls: s.Calls, Errors: s.Errors, TimeNs: s.TimeNs}
		if s.TimedCalls < s.Calls {
			row.TimedCalls = max(s.TimedCalls, 1) // 0 would read as all timed
		}
		out = append(out, row)
	}
	return out
}
