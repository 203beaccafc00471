package analyze

import (
	"sync"

	"github.com/spawntrace/spawntrace/tracer"
)

// Recorder collects events as the tracer delivers them. It is safe for one
// writer (the ring-buffer reader) and concurrent Live queries.
type Recorder struct {
	mu     sync.Mutex
	events []tracer.Event
	// execDetails holds a successful exec's details (from sched_process_exec)
	// until the execve's exit arrives, which the kernel sends right after.
	execDetails map[uint32]tracer.Event
	// live holds the processes seen alive, so the caller can wait for the
	// whole tree to finish as strace -f does.
	live map[uint32]bool
	// threads counts thread creations: fork and exec events are used here
	// and not kept, since the spawn calls carry what the reports need and
	// memory should grow with spawns, not with everything the tree does.
	threads int
}

// NewRecorder starts an empty recording; roots are processes already alive
// (the workload, or -p's tree).
func NewRecorder(roots ...int) *Recorder {
	r := &Recorder{execDetails: map[uint32]tracer.Event{}, live: map[uint32]bool{}}
	for _, p := range roots {
		r.live[uint32(p)] = true
	}
	return r
}

// Add records one event; ev is copied.
func (r *Recorder) Add(ev *tracer.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch ev.Kind {
	case tracer.KindExec:
		r.execDetails[ev.Tid] = *ev
		return
	case tracer.KindSyscall:
		if (ev.Nr == NrExecve || ev.Nr == NrExecveat) && ev.Ret == 0 {
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
		} else {
			r.live[ev.ChildPid] = true
		}
		return
	case tracer.KindExit:
		if ev.GroupDead {
			delete(r.live, ev.Pid)
		}
	}
	kept := *ev
	kept.UserStack = nil // symbolized already (Event.StackID); raw addresses are not saved
	r.events = append(r.events, kept)
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
	*call = c
}

// Live returns the processes of the tree not yet seen to exit.
func (r *Recorder) Live() []uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]uint32, 0, len(r.live))
	for p := range r.live {
		out = append(out, p)
	}
	return out
}

// Forget drops a process from Live, for one found dead by other means
// (its exit event was lost).
func (r *Recorder) Forget(pid uint32) {
	r.mu.Lock()
	delete(r.live, pid)
	r.mu.Unlock()
}

// Events hands over what was recorded; the Recorder must not be used after.
func (r *Recorder) Events() []tracer.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	ev := r.events
	// An exec whose execve exit never came (lost) still tells of a process.
	for _, d := range r.execDetails {
		ev = append(ev, d)
	}
	r.events, r.execDetails = nil, map[uint32]tracer.Event{}
	return ev
}

// SyscallTable names and converts the kernel's per-syscall totals.
func SyscallTable(stats []tracer.SyscallStat) []SyscallStat {
	out := make([]SyscallStat, 0, len(stats))
	for _, s := range stats {
		out = append(out, SyscallStat{Nr: s.Nr, Name: SyscallName(s.Nr), Calls: s.Calls, Errors: s.Errors, TimeNs: s.TimeNs})
	}
	return out
}

// AddRoot marks a process alive that no fork event announced (the workload).
func (r *Recorder) AddRoot(pid uint32) {
	r.mu.Lock()
	r.live[pid] = true
	r.mu.Unlock()
}
