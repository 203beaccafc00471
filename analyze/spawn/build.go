package spawn

import (
	"path"
	"slices"

	"github.com/spawntrace/spawntrace/analyze/internal/intern"
	"github.com/spawntrace/spawntrace/analyze/syscalls"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// Open is a spawn whose process still lives: its row may still change (an
// exec, a failed one). Ext is what a caller of Build keeps per spawn
// beside it (a summary its place among its thread's spawns, compare the
// calls of its pattern).
type Open[T any] struct {
	Spawn Spawn
	Ext   T
}

// Hooks are told of each spawn as Build assembles it; any may be nil.
type Hooks[T any] struct {
	// Spawned: ev, a call that made a new process, opened o (o.Spawn is
	// filled in). socketpair is the thread's last successful socketpair or
	// pipe2 since its previous spawn, nil for none; prevEndNs is when that
	// previous spawn call returned, 0 for none.
	Spawned func(o *Open[T], ev, socketpair *tracer.Event, prevEndNs uint64)
	// Exec: ev, an execve or execveat of o's process, was charged to
	// o.Spawn already (failed execs whenever they come, the first
	// successful one only).
	Exec func(o *Open[T], ev *tracer.Event)
	// Finished: o's process exited, or its pid was reused unseen, or the
	// recording ended with it alive (those in time order): o.Spawn changes
	// no more. o is reused after the call.
	Finished func(o *Open[T])
	// ThreadExit: thread tid exited; a thread given its tid later is
	// another one.
	ThreadExit func(tid uint32)
}

// Counts are what Build counts beside the spawns.
type Counts struct {
	ByMechanism map[Mechanism]int
	Spawns      int // process spawns: Spawn.Seq runs from 0 to Spawns-1
	Threads     int // thread creations (fork events of threads)
	ExecOK      int // successful execs, the workload's first included
	ExecFailed  int // failed execve/execveat calls
	Processes   int // distinct processes seen, the workload included
}

// Events are a recording's events in time order (*recording.Recording):
// an interface, so that the recording's own checks can ask this package
// what a spawn is.
type Events interface {
	EachEvent(fn func(ev *tracer.Event) error) error
}

// RustPrograms is what a recording may tell of its programs (an exec
// event's filename): whether one is a Rust program, and whether it was
// checked at all. Without it, or unchecked, the call pattern alone names
// Rust's fork fallback.
type RustPrograms interface {
	RustProgram(exe string) (rust, checked bool)
}

// Build reads rec's events in time order and assembles its spawns: this is
// where a Spawn is made. Its memory is what is open at each moment
// (processes alive, their spawns not finished yet, threads between
// spawns), not the events nor the spawns: a spawn is finished when its
// process exits (until then an exec may still come, or a failed one
// count). It returns the first error reading the events, with what it
// counted until then.
func Build[T any](rec Events, h Hooks[T]) (Counts, error) {
	b := builder[T]{h: h, byChild: map[uint32]*Open[T]{}, lastSpawnEnd: map[uint32]uint64{},
		lastSocketpair: map[uint32]*tracer.Event{}, rustOf: map[uint32]bool{}}
	b.programs, _ = rec.(RustPrograms)
	b.counts.ByMechanism = map[Mechanism]int{}
	err := rec.EachEvent(b.event)
	// Processes still alive at the end (or whose exit was lost), in time
	// order: what they add must not depend on map order.
	alive := make([]*Open[T], 0, len(b.byChild))
	for _, o := range b.byChild {
		alive = append(alive, o)
	}
	slices.SortFunc(alive, func(x, y *Open[T]) int { return x.Spawn.Seq - y.Spawn.Seq })
	for _, o := range alive {
		b.finish(o)
	}
	b.counts.Processes = b.procs.len()
	return b.counts, err
}

type builder[T any] struct {
	h      Hooks[T]
	counts Counts
	procs  pidSet
	// byChild finds the open spawn that made a process, to charge its
	// execs to, until the process exits.
	byChild map[uint32]*Open[T]
	// Per thread, until it exits: when its last spawn call returned, and
	// its last socketpair or pipe2 (half of Rust's fork-fallback signature).
	lastSpawnEnd   map[uint32]uint64
	lastSocketpair map[uint32]*tracer.Event
	strs           intern.Table
	// programs tells Rust programs apart, nil when the recording cannot;
	// rustOf is, per process whose exec was seen and checked, whether it
	// runs one (until it execs again or exits).
	programs RustPrograms
	rustOf   map[uint32]bool
	free     []*Open[T] // finished, for the next spawns to reuse
}

func (b *builder[T]) event(ev *tracer.Event) error {
	b.procs.add(ev.Pid)
	switch ev.Kind {
	case tracer.KindFork:
		if ev.Thread {
			b.counts.Threads++
		} else {
			b.procs.add(ev.ChildPid)
		}
	case tracer.KindExit:
		// A pid or tid used again later is another process or thread.
		if ev.GroupDead {
			if o := b.byChild[ev.Pid]; o != nil {
				delete(b.byChild, ev.Pid)
				b.finish(o)
			}
			b.procs.remove(ev.Pid)
			delete(b.rustOf, ev.Pid)
		}
		delete(b.lastSpawnEnd, ev.Tid)
		delete(b.lastSocketpair, ev.Tid)
		if b.h.ThreadExit != nil {
			b.h.ThreadExit(ev.Tid)
		}
	case tracer.KindSyscall:
		switch {
		case IsExec(ev.Nr64()):
			b.exec(ev)
		case ev.Nr64() == sysno.Socketpair || ev.Nr64() == sysno.Pipe2:
			if ev.Ret == 0 {
				b.lastSocketpair[ev.Tid] = socketpairCopy(ev)
			}
		default:
			b.spawn(ev)
		}
	}
	return nil
}

// spawn opens the spawn of ev when it made a new process.
func (b *builder[T]) spawn(ev *tracer.Event) {
	flags, mech, ok := IsProcessSpawn(ev)
	if !ok {
		return
	}
	b.counts.ByMechanism[mech]++
	// The kernel's fork names the child (the return value is the caller's
	// pid namespace's number: another process's here when the workload
	// made a namespace of its own).
	child := ev.SpawnedChild()
	if old := b.byChild[child]; old != nil {
		delete(b.byChild, child)
		b.finish(old) // its exit was not seen, and the pid is another process's now
	}
	var o *Open[T]
	if n := len(b.free); n > 0 {
		o, b.free = b.free[n-1], b.free[:n-1]
	} else {
		o = new(Open[T])
	}
	o.Spawn = Spawn{
		Seq: b.counts.Spawns, TimeNs: ev.TimeNs, ParentPid: ev.Pid, ParentTid: ev.Tid, Comm: b.strs.String(ev.Comm),
		Syscall: syscalls.SyscallName(ev.ABI, ev.Nr), Flags: flags, Mechanism: mech,
		ChildPid: child, CloneDurNs: ev.DurNs, StackID: ev.StackID,
		CopyNs: ev.CopyNs, CopyOffCPUNs: ev.CopyOffCPUNs, LockStallNs: ev.LockStallNs, BlockedNs: ev.BlockedNs, Parent: ev.Parent,
	}
	b.counts.Spawns++
	b.byChild[child] = o
	sp := &o.Spawn
	prevEnd, hadPrev := b.lastSpawnEnd[ev.Tid]
	if hadPrev && ev.TimeNs > prevEnd {
		sp.GapNs = ev.TimeNs - prevEnd
	}
	b.lastSpawnEnd[ev.Tid] = ev.TimeNs + ev.DurNs
	socketpair := b.lastSocketpair[ev.Tid]
	rust, known := b.rustOf[ev.Pid]
	sp.Signature = b.strs.String(signature(ev, sp, socketpair, rust || !known))
	delete(b.lastSocketpair, ev.Tid)
	if b.h.Spawned != nil {
		b.h.Spawned(o, ev, socketpair, prevEnd)
	}
}

// exec counts an exec and charges it to the spawn of its process: failed
// ones whenever they come, the first success only. A success also says
// that the failed execs before it found their program.
func (b *builder[T]) exec(ev *tracer.Event) {
	if ev.Ret != 0 {
		b.counts.ExecFailed++
	} else {
		b.counts.ExecOK++
		delete(b.rustOf, ev.Pid)
		if b.programs != nil {
			if rust, checked := b.programs.RustProgram(ev.Filename); checked {
				b.rustOf[ev.Pid] = rust
			}
		}
	}
	o, ok := b.byChild[ev.Pid]
	if !ok {
		return
	}
	sp := &o.Spawn
	switch {
	case ev.Ret != 0:
		// Failed execs count whenever they come: a program exec'd first may
		// search PATH itself (env, sh -c), and that search is this spawn's cost.
		// Their time on CPU, as the copy's and teardown's: time preempted
		// is the machine's load, which spawning by absolute path would not
		// save (the kernel side counts it in BlockedNs).
		onCPUNs := ev.DurNs - min(ev.BlockedNs, ev.DurNs)
		sp.FailedExecs++
		sp.FailedExecNs += onCPUNs
		// Not found until an exec of the process succeeds.
		sp.NotFoundExecs++
		sp.NotFoundExecNs += onCPUNs
		sp.NotFound = ""
		if ev.Filename != "" {
			sp.NotFound = b.strs.String(path.Base(ev.Filename))
		}
	default:
		sp.NotFoundExecs, sp.NotFoundExecNs, sp.NotFound = 0, 0, ""
	}
	if ev.Ret == 0 && !sp.ExecOK {
		sp.ExecOK = true
		sp.Exe = b.strs.String(ev.Filename)
		sp.TeardownNs = ev.TeardownNs
		sp.EnvCount = ev.EnvCount
		sp.EnvBytes = ev.EnvBytes
		sp.PathEntries = ev.PathEntries
		if end := ev.TimeNs + ev.DurNs; end > sp.TimeNs {
			sp.SpawnToExecNs = end - sp.TimeNs
		}
	}
	if b.h.Exec != nil {
		b.h.Exec(o, ev)
	}
}

// finish hands over a spawn that can change no more; o is reused after.
func (b *builder[T]) finish(o *Open[T]) {
	if b.h.Finished != nil {
		b.h.Finished(o)
	}
	*o = Open[T]{}
	b.free = append(b.free, o)
}

// socketpairCopy keeps of a socketpair or pipe2 what outlives EachEvent's call and
// what a spawn's signature and pattern read of it: its thread, time,
// number and arguments (the event's other arrays are reused).
func socketpairCopy(ev *tracer.Event) *tracer.Event {
	return &tracer.Event{Kind: ev.Kind, TimeNs: ev.TimeNs, DurNs: ev.DurNs, Tid: ev.Tid, Pid: ev.Pid, ABI: ev.ABI,
		Nr: ev.Nr, Ret: ev.Ret, Args: slices.Clone(ev.Args)}
}
