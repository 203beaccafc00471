// Package ptrace is spawntrace's backend for hosts where BPF cannot load
// (3.10-era kernels, no BTF, locked-down hosts, unprivileged users): it
// follows the workload's tree with ptrace and stops it only at the
// spawn-related syscalls, which a seccomp filter selects. It gives the
// live session the same tracer.Event stream as the BPF tracer, so
// recordings, report and compare work alike; what it cannot measure
// (the address-space copy apart from the clone call, the other syscalls,
// blocked time) it names in Probes. It never imports cilium/ebpf.
package ptrace

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/spawntrace/spawntrace/tracer"
)

// Name is the backend's name, as recordings and outputs give it.
const Name = tracer.BackendPtrace

// ptraceOptions: every new task of the tree is traced from birth, the
// seccomp filter's stops are reported, and the tree is killed when
// spawntrace dies (a process left with the filter and no tracer would get
// ENOSYS from every spawn call).
const ptraceOptions = unix.PTRACE_O_TRACESYSGOOD | unix.PTRACE_O_TRACESECCOMP |
	unix.PTRACE_O_TRACEFORK | unix.PTRACE_O_TRACEVFORK | unix.PTRACE_O_TRACECLONE |
	unix.PTRACE_O_TRACEEXEC | unix.PTRACE_O_TRACEEXIT | unix.PTRACE_O_EXITKILL

// eventQueue is how many batches of events the tracing thread gets ahead
// of the reader before it waits: the tree then waits too, so nothing is
// lost.
const eventQueue = 64

// maxBatch bounds a batch: the tracing thread hands events over when it
// has no stop to handle, or when this many wait.
const maxBatch = 256

// Config is the workload to start.
type Config struct {
	// Path is the program, resolved; Argv its argv (Argv[0] as the user gave it).
	Path string
	Argv []string
	// Cred runs the workload as another user (-u), nil for spawntrace's own.
	Cred *syscall.Credential
}

// Tracer runs one workload under ptrace. Its methods other than Start are
// those of the BPF tracer that a live session reads from.
type Tracer struct {
	cfg    Config
	events chan []tracer.Event
	// started delivers the workload's pid, or why it could not start.
	started chan startResult
	// rootDone is closed when the workload's own process has ended;
	// rootStatus is then its wait status.
	rootDone   chan struct{}
	rootStatus unix.WaitStatus
	// loopDone is closed when the tracing thread has returned; loopErr is
	// then why it stopped early, or nil.
	loopDone chan struct{}
	loopErr  error

	mu   sync.Mutex
	live map[uint32]int // tgid -> live traced tasks, for Tracked

	// Owned by the tracing thread until loopDone.
	stats map[statKey]*tracer.SyscallStat
	lost  tracer.Lost
}

type startResult struct {
	pid int
	err error
}

type statKey struct {
	abi tracer.ABI
	nr  int
}

// New prepares a tracer; Start runs it.
func New(cfg Config) *Tracer {
	return &Tracer{
		cfg:      cfg,
		events:   make(chan []tracer.Event, eventQueue),
		started:  make(chan startResult, 1),
		rootDone: make(chan struct{}),
		loopDone: make(chan struct{}),
		live:     map[uint32]int{},
		stats:    map[statKey]*tracer.SyscallStat{},
	}
}

// Start launches the workload through the shim on a thread of its own,
// which does every ptrace call, and returns its pid once the workload's
// program is about to run (the shim has installed the filter and called
// execve), or why it could not start.
func (t *Tracer) Start() (int, error) {
	goR, goW, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("starting ptrace shim: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		goR.Close()
		goW.Close()
		return 0, fmt.Errorf("starting ptrace shim: %w", err)
	}
	go t.run(goR, goW, errW)
	res := <-t.started
	if res.err != nil {
		errR.Close()
		return 0, res.err
	}
	// The shim writes why it failed, or its exec closes the pipe.
	msg := make([]byte, 4096)
	n, _ := errR.Read(msg)
	errR.Close()
	if n > 0 {
		return res.pid, fmt.Errorf("ptrace shim: %s", msg[:n])
	}
	return res.pid, nil
}

// run is the tracing thread: all ptrace calls come from it, since the
// kernel ties a tracee to the thread that attached it.
func (t *Tracer) run(goR, goW, errW *os.File) {
	runtime.LockOSThread()
	// Never unlocked: the thread ends with the goroutine, and with it any
	// tracee left (there is none once wait4 says ECHILD).
	defer close(t.loopDone)
	defer close(t.events)
	pid, err := t.launch(goR, goW, errW)
	t.started <- startResult{pid, err}
	if err != nil {
		close(t.rootDone)
		t.loopErr = err
		return
	}
	t.loopErr = t.loop(pid)
}

// launch starts the shim and seizes it; the shim waits for goW to close
// before it does anything a tracer must see.
func (t *Tracer) launch(goR, goW, errW *os.File) (int, error) {
	defer goW.Close()
	args := shimArgs(t.cfg.Path, t.cfg.Argv, t.cfg.Cred)
	pid, err := syscall.ForkExec("/proc/self/exe", args, &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2, goR.Fd(), errW.Fd()},
	})
	goR.Close()
	errW.Close()
	if err != nil {
		return 0, fmt.Errorf("starting ptrace shim: %w", err)
	}
	if err := seize(pid); err != nil {
		unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		unix.Wait4(pid, &ws, 0, nil)
		return 0, fmt.Errorf("ptrace: seizing pid %d: %w", pid, err)
	}
	return pid, nil
}

func seize(pid int) error {
	_, _, e := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_SEIZE, uintptr(pid), 0, ptraceOptions, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

// WaitRoot waits for the workload's own process to end and gives its
// wait status.
func (t *Tracer) WaitRoot() unix.WaitStatus {
	<-t.rootDone
	return t.rootStatus
}

// Tracked lists the tree's live processes (pids as spawntrace's namespace
// numbers them).
func (t *Tracer) Tracked() []uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]uint32, 0, len(t.live))
	for pid := range t.live {
		out = append(out, pid)
	}
	return out
}

// Read delivers the events until the tree has ended (Flush ends it early)
// and every event has been read, then returns why tracing stopped early,
// or nil.
func (t *Tracer) Read(sink tracer.Sink) error {
	for batch := range t.events {
		for i := range batch {
			sink.Event(&batch[i])
		}
		if sink.Drained != nil {
			sink.Drained()
		}
	}
	<-t.loopDone
	return t.loopErr
}

// Flush ends tracing: the tree's processes still alive are killed, since
// a process left with the seccomp filter and no tracer would have every
// spawn call fail with ENOSYS. Read returns once their ends are read.
func (t *Tracer) Flush() error {
	select {
	case <-t.loopDone:
		return nil
	default:
	}
	for _, pid := range t.Tracked() {
		unix.Kill(int(pid), unix.SIGKILL)
	}
	select {
	case <-t.loopDone:
	case <-time.After(5 * time.Second):
		return errors.New("ptrace: the traced processes did not end within 5 s of SIGKILL")
	}
	return nil
}

// SyscallStats are the spawn-related calls' totals: the only calls the
// filter stops at. Valid once Read has returned.
func (t *Tracer) SyscallStats() ([]tracer.SyscallStat, error) {
	out := make([]tracer.SyscallStat, 0, len(t.stats))
	for _, s := range t.stats {
		out = append(out, *s)
	}
	return out, nil
}

// Lost is always zero: the tracing thread waits for the reader rather
// than drop an event, and the tree waits for the tracing thread.
func (t *Tracer) Lost() (tracer.Lost, error) { return t.lost, nil }

// Probes names what this backend measures and what it cannot, in the
// BPF tracer's terms, so that the reports say "not measured" alike.
func (t *Tracer) Probes() []tracer.Probe {
	const why = "ptrace backend"
	return []tracer.Probe{
		{Name: tracer.ForkProbe, Available: true},
		{Name: tracer.ExitProbe, Available: true},
		{Name: tracer.ExecProbe, Available: true},
		{Name: SpawnStopsProbe, Available: true},
		{Name: tracer.CopyProbe, Reason: why + ": only the clone call's wall time is measured"},
		{Name: tracer.BlockedProbe, Reason: why},
	}
}

// SpawnStopsProbe names the seccomp stops at the spawn-related calls, the
// ptrace backend's counterpart of tracer.SyscallsProbe.
const SpawnStopsProbe = "seccomp:spawn-call-stops"

// ProbeAvailable reports whether Probes lists name as available.
func (t *Tracer) ProbeAvailable(name string) bool {
	for _, p := range t.Probes() {
		if p.Name == name {
			return p.Available
		}
	}
	return false
}
