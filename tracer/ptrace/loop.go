package ptrace

import (
	"fmt"
	"time"

	"golang.org/x/sys/unix"

	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// task is one traced thread.
type task struct {
	tid, tgid uint32
	// started: its first stop (the kernel stops a new tracee before its
	// first instruction) has been seen and it runs.
	started bool
	// call is the spawn-related call it is in, from its seccomp stop to
	// its syscall-exit stop.
	call *call
	// exitNs is when it began to exit (PTRACE_EVENT_EXIT), 0 before.
	exitNs uint64
	// quiet: a thread of the shim's Go runtime, which the workload's
	// exec ends; not the workload's, so its end is not an event.
	quiet bool
}

// proc is one traced process.
type proc struct {
	pid, ppid uint32
	comm      string
	// active: part of the tree since the workload's first execve. The
	// shim's Go runtime threads and calls before it are not the workload's.
	active  bool
	threads int
}

// loopState is the tracing thread's view of the tree.
type loopState struct {
	t     *Tracer
	root  int
	tasks map[uint32]*task
	procs map[uint32]*proc
	// held are new tracees whose first stop came before their parent's
	// fork event: they wait, so that nothing of a child is seen before the
	// fork that made it.
	held map[uint32]bool
	// entryStops: before Linux 4.8 the seccomp stop comes before the
	// syscall-entry stop, so PTRACE_SYSCALL from it stops at the entry
	// first, then at the exit.
	entryStops bool
	clock      monoClock
	regs       unix.PtraceRegs
	batch      []tracer.Event // events not yet handed to the reader
	rootDone   bool
}

// loop waits for every stop of the tree and resumes it, until no tracee
// is left.
func (t *Tracer) loop(root int) error {
	s := &loopState{
		t: t, root: root,
		tasks:      map[uint32]*task{},
		procs:      map[uint32]*proc{},
		held:       map[uint32]bool{},
		entryStops: kernelBefore(4, 8),
		clock:      newMonoClock(),
	}
	s.tasks[uint32(root)] = &task{tid: uint32(root), tgid: uint32(root), started: true}
	s.procs[uint32(root)] = &proc{pid: uint32(root), ppid: uint32(unix.Getpid()), comm: "spawntrace", threads: 1}
	t.setLive(uint32(root), 1)
	defer func() {
		if !s.rootDone {
			close(t.rootDone)
		}
	}()
	defer s.flush()
	for {
		var ws unix.WaitStatus
		// Another stop already waiting is handled first; the batch goes
		// to the reader when there is none.
		wpid, err := unix.Wait4(-1, &ws, unix.WALL|unix.WNOHANG, nil)
		if wpid == 0 && err == nil {
			s.flush()
			wpid, err = unix.Wait4(-1, &ws, unix.WALL, nil)
		}
		if err == unix.EINTR {
			continue
		}
		if err == unix.ECHILD {
			return nil
		}
		if err != nil {
			return fmt.Errorf("ptrace: wait4: %w", err)
		}
		if err := s.handle(uint32(wpid), ws); err != nil {
			return err
		}
	}
}

// Stop kinds (the status wait4 gives).
const (
	sigSyscallStop = int(unix.SIGTRAP) | 0x80 // PTRACE_O_TRACESYSGOOD
)

func (s *loopState) handle(tid uint32, ws unix.WaitStatus) error {
	if ws.Exited() || ws.Signaled() {
		s.died(tid, ws)
		return nil
	}
	if !ws.Stopped() {
		return nil
	}
	sig := int(ws>>8) & 0xff
	event := int(ws>>16) & 0xff
	tk := s.tasks[tid]
	if tk == nil {
		// A new tracee whose parent's fork event is still to come.
		s.held[tid] = true
		return nil
	}
	if !tk.started {
		tk.started = true
		return s.resume(tk, 0)
	}
	switch {
	case sig == sigSyscallStop:
		return s.syscallStop(tk)
	case sig == int(unix.SIGTRAP) && event == unix.PTRACE_EVENT_SECCOMP:
		return s.seccompStop(tk)
	case sig == int(unix.SIGTRAP) && (event == unix.PTRACE_EVENT_FORK || event == unix.PTRACE_EVENT_VFORK || event == unix.PTRACE_EVENT_CLONE):
		return s.forkStop(tk)
	case sig == int(unix.SIGTRAP) && event == unix.PTRACE_EVENT_EXEC:
		return s.execStop(tk)
	case sig == int(unix.SIGTRAP) && event == unix.PTRACE_EVENT_EXIT:
		tk.exitNs = s.clock.now()
		if tk.call != nil && tk.call.isClone() && len(s.held) > 0 {
			s.adoptHeld()
		}
		tk.call = nil // exit and exit_group never return; nor does a call the exit cut
		return s.resume(tk, 0)
	case event == unix.PTRACE_EVENT_STOP:
		if isStopSignal(sig) {
			// Group-stop: stay stopped as job control wants, yet let the
			// tracer hear of the SIGCONT that ends it.
			return ignoreGone(ptrace(unix.PTRACE_LISTEN, int(tid), 0, 0))
		}
		return s.resume(tk, 0)
	default:
		// Signal-delivery-stop: the signal goes on to the tracee.
		return s.resume(tk, sig)
	}
}

func isStopSignal(sig int) bool {
	switch unix.Signal(sig) {
	case unix.SIGSTOP, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU:
		return true
	}
	return false
}

// resume restarts a stopped tracee: to its next syscall stop when it is in
// a spawn call (its exit is to be timed), else until the next event.
func (s *loopState) resume(tk *task, sig int) error {
	req := unix.PTRACE_CONT
	if tk.call != nil {
		req = unix.PTRACE_SYSCALL
	}
	return ignoreGone(ptrace(req, int(tk.tid), 0, uintptr(sig)))
}

func ptrace(req int, pid int, addr, data uintptr) error {
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, uintptr(req), uintptr(pid), addr, data, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// ignoreGone: a tracee killed meanwhile (SIGKILL takes it out of its stop)
// is no error; its death is reported next.
func ignoreGone(err error) error {
	if err == unix.ESRCH {
		return nil
	}
	return err
}

func (s *loopState) emit(ev tracer.Event) {
	s.batch = append(s.batch, ev)
	if len(s.batch) >= maxBatch {
		s.flush()
	}
}

// flush hands the batch to the reader: waking the reader for every event
// would cost a wake-up and a context switch per stop, on the CPUs the
// workload runs on.
func (s *loopState) flush() {
	if len(s.batch) > 0 {
		s.t.events <- s.batch
		s.batch = nil
	}
}

// header fills the fields every event has, for task tk.
func (s *loopState) header(kind tracer.Kind, tk *task, ns uint64) tracer.Event {
	ev := tracer.Event{Kind: kind, TimeNs: ns, Tid: tk.tid, Pid: tk.tgid}
	if p := s.procs[tk.tgid]; p != nil {
		ev.PPid, ev.Comm = p.ppid, p.comm
	}
	return ev
}

func (s *loopState) active(tk *task) bool {
	p := s.procs[tk.tgid]
	return p != nil && p.active
}

// seccompStop is a spawn-related call's entry: its arguments are read now,
// and it is timed from here to its syscall-exit stop.
func (s *loopState) seccompStop(tk *task) error {
	data, err := unix.PtraceGetEventMsg(int(tk.tid))
	if err != nil {
		return ignoreGone(err)
	}
	if err := getRegs(tk.tid, &s.regs); err != nil {
		return ignoreGone(err)
	}
	c := newCall(abiOfData(data), &s.regs)
	if c.abi == tracer.ABII386 && c.sysNr == sysno.I386Socketcall {
		c.socketcall(tk.tid)
	}
	p := s.procs[tk.tgid]
	if p != nil && !p.active {
		if tk.tgid != uint32(s.root) || !c.isExec() {
			// The shim's own calls (its Go runtime starting threads).
			return s.resume(tk, 0)
		}
		p.active = true
		for _, o := range s.tasks {
			if o.tgid == tk.tgid && o != tk {
				o.quiet = true
			}
		}
	}
	c.readArgs(tk)
	tk.call = c
	c.entryNs = s.clock.now()
	return s.resume(tk, 0)
}

// forkStop: the call made a task; its id is the event message.
func (s *loopState) forkStop(tk *task) error {
	msg, err := unix.PtraceGetEventMsg(int(tk.tid))
	if err != nil {
		return ignoreGone(err)
	}
	child := uint32(msg)
	now := s.clock.now()
	thread := false
	if c := tk.call; c != nil {
		thread = c.cloneFlags()&unix.CLONE_THREAD != 0
	} else {
		// A clone the filter did not stop (the shim's runtime, before the
		// filter): ask the kernel.
		thread = tgidOf(child) == tk.tgid
	}
	ct := &task{tid: child, tgid: child}
	if thread {
		ct.tgid = tk.tgid
	}
	s.tasks[child] = ct
	parent := s.procs[tk.tgid]
	if thread {
		if parent != nil {
			parent.threads++
		}
	} else {
		np := &proc{pid: child, ppid: tk.tgid, threads: 1}
		if parent != nil {
			np.comm, np.active = parent.comm, parent.active
		}
		s.procs[child] = np
	}
	s.t.setLive(ct.tgid, 1)
	if c := tk.call; c != nil && !thread {
		c.childPid = child
	}
	if s.active(tk) {
		ev := s.header(tracer.KindFork, tk, now)
		ev.ChildTid, ev.ChildPid, ev.Thread = child, ct.tgid, thread
		s.emit(ev)
	}
	if s.held[child] {
		delete(s.held, child)
		ct.started = true
		if err := s.resume(ct, 0); err != nil {
			return err
		}
	}
	if c := tk.call; c != nil {
		c.heldNs += s.clock.now() - now
	}
	return s.resume(tk, 0)
}

// execStop: a successful exec, before its syscall-exit stop. The event
// message is the tid that called it, which a non-leader thread's exec
// replaces with the leader's.
func (s *loopState) execStop(tk *task) error {
	msg, err := unix.PtraceGetEventMsg(int(tk.tid))
	if err != nil {
		return ignoreGone(err)
	}
	now := s.clock.now()
	oldTid := uint32(msg)
	if oldTid != tk.tid {
		if old := s.tasks[oldTid]; old != nil {
			// The execing thread takes the leader's tid; the leader is
			// gone without a death report of its own.
			if s.active(tk) {
				ev := s.header(tracer.KindExit, tk, now)
				ev.SupersededBy = oldTid
				s.emit(ev)
			}
			tk.call = old.call
			delete(s.tasks, oldTid)
			s.t.setLive(tk.tgid, -1)
			if p := s.procs[tk.tgid]; p != nil {
				p.threads--
			}
		}
	}
	c := tk.call
	if c == nil || !s.active(tk) {
		return s.resume(tk, 0)
	}
	p := s.procs[tk.tgid]
	p.comm = commOf(c.bprmFilename())
	ev := s.header(tracer.KindExec, tk, now)
	ev.OldTid = oldTid
	ev.Filename = c.bprmFilename()
	ev.NameUnread = c.nameUnread
	if err := getRegs(tk.tid, &s.regs); err == nil {
		if s.regs.Cs == i386CodeSegment {
			ev.ExecABI = tracer.ABII386
		}
		if !readNewStack(tk.tid, s.regs.Rsp, ev.ExecABI == tracer.ABII386, &ev) {
			readExecStrings(tk.tgid, &ev)
		}
	} else {
		readExecStrings(tk.tgid, &ev)
	}
	s.emit(ev)
	// The exec has succeeded: it returns 0 at once. Ending the call here
	// spares the tree its syscall-exit stop.
	s.finish(tk, 0, now)
	return s.resume(tk, 0)
}

// i386CodeSegment is the user code segment selector of 32-bit programs
// on x86_64 (__USER32_CS).
const i386CodeSegment = 0x23

// syscallStop is the exit of the spawn call tk is in.
func (s *loopState) syscallStop(tk *task) error {
	c := tk.call
	if c == nil {
		return s.resume(tk, 0)
	}
	if s.entryStops && !c.sawEntryStop {
		c.sawEntryStop = true
		return s.resume(tk, 0)
	}
	now := s.clock.now()
	if err := getRegs(tk.tid, &s.regs); err != nil {
		return ignoreGone(err)
	}
	ret := int64(s.regs.Rax)
	if c.abi == tracer.ABII386 {
		ret = int64(int32(ret))
	}
	s.finish(tk, ret, now)
	return s.resume(tk, 0)
}

// finish ends the call tk is in, which returned ret (seen at nowNs): it is
// counted, and sent with what was read of it.
func (s *loopState) finish(tk *task, ret int64, nowNs uint64) {
	c := tk.call
	tk.call = nil
	dur := nowNs - c.entryNs
	if c.heldNs < dur {
		dur -= c.heldNs
	}
	key := statKey{c.abi, c.sysNr}
	st := s.t.stats[key]
	if st == nil {
		st = &tracer.SyscallStat{ABI: c.abi, Nr: c.sysNr}
		s.t.stats[key] = st
	}
	st.Calls++
	st.TimedCalls++
	st.TimeNs += dur
	if ret < 0 && ret >= -4095 {
		st.Errors++
	}
	ev := s.header(tracer.KindSyscall, tk, c.entryNs)
	c.fill(&ev, tk, ret, dur)
	s.emit(ev)
}

// died is a tracee's end, as wait4 reports it: a thread-group leader's
// comes after every other thread of its process has ended.
func (s *loopState) died(tid uint32, ws unix.WaitStatus) {
	if tid == uint32(s.root) && !s.rootDone {
		s.t.rootStatus = ws
		s.rootDone = true
		close(s.t.rootDone)
	}
	delete(s.held, tid)
	tk := s.tasks[tid]
	if tk == nil {
		return
	}
	if tk.call != nil && tk.call.isClone() && len(s.held) > 0 {
		s.adoptHeld()
	}
	delete(s.tasks, tid)
	s.t.setLive(tk.tgid, -1)
	p := s.procs[tk.tgid]
	groupDead := false
	if p != nil {
		p.threads--
		groupDead = p.threads <= 0
	}
	if s.active(tk) && !tk.quiet {
		ns := tk.exitNs
		if ns == 0 {
			ns = s.clock.now()
		}
		ev := s.header(tracer.KindExit, tk, ns)
		ev.ExitCode = int32(ws)
		ev.GroupDead = groupDead
		s.emit(ev)
	}
	if groupDead {
		delete(s.procs, tk.tgid)
	}
}

// adoptHeld lets go the new tracees still waiting for their parent's fork
// event: a parent killed inside its clone call (SIGKILL) never stops at
// that event, and its child would wait forever. Their process is asked of
// /proc; their parent is unknown.
func (s *loopState) adoptHeld() {
	for tid := range s.held {
		delete(s.held, tid)
		tgid := tgidOf(tid)
		if tgid == 0 {
			tgid = tid
		}
		s.tasks[tid] = &task{tid: tid, tgid: tgid, started: true}
		if p := s.procs[tgid]; p != nil {
			p.threads++
		} else {
			s.procs[tgid] = &proc{pid: tgid, active: true, threads: 1}
		}
		s.t.setLive(tgid, 1)
		ignoreGone(ptrace(unix.PTRACE_CONT, int(tid), 0, 0))
	}
}

// setLive counts a process's live tasks for Tracked.
func (t *Tracer) setLive(tgid uint32, delta int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := t.live[tgid] + delta; n > 0 {
		t.live[tgid] = n
	} else {
		delete(t.live, tgid)
	}
}

// monoClock reads CLOCK_MONOTONIC, the clock of the BPF tracer's events,
// through Go's monotonic clock (the vDSO) rather than a syscall per stop.
type monoClock struct {
	base     time.Time
	baseMono uint64
}

func newMonoClock() monoClock {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return monoClock{base: time.Now(), baseMono: uint64(ts.Nano())}
}

func (c monoClock) now() uint64 { return c.baseMono + uint64(time.Since(c.base)) }
