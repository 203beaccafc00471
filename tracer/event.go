package tracer

import (
	"fmt"
	"math"
	"math/bits"

	"golang.org/x/sys/unix"
)

// Kind says what an Event records: bpf/spawntrace.h's enum event_kind.
type Kind uint8

const (
	// KindSyscall is a spawn-related syscall (clone, clone3, fork, vfork,
	// execve, execveat, socketpair, pipe2), entry and exit paired in the kernel.
	KindSyscall = Kind(spawntraceEventKindEV_SYSCALL)
	// KindFork is a new task of the tree (sched_process_fork): a process or a thread.
	KindFork = Kind(spawntraceEventKindEV_FORK)
	// KindExec is a successful exec (sched_process_exec).
	KindExec = Kind(spawntraceEventKindEV_EXEC)
	// KindExit is a task of the tree exiting (sched_process_exit).
	KindExit = Kind(spawntraceEventKindEV_EXIT)
)

var kindNames = map[Kind]string{KindSyscall: "syscall", KindFork: "fork", KindExec: "exec", KindExit: "exit"}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// MarshalText writes the kind by name, so recordings stay readable.
func (k Kind) MarshalText() ([]byte, error) {
	if _, ok := kindNames[k]; !ok {
		return nil, fmt.Errorf("unknown event kind %d", uint8(k))
	}
	return []byte(k.String()), nil
}

// UnmarshalText accepts the names MarshalText writes.
func (k *Kind) UnmarshalText(b []byte) error {
	for kind, name := range kindNames {
		if name == string(b) {
			*k = kind
			return nil
		}
	}
	return fmt.Errorf("unknown event kind %q", b)
}

// Clone3Args is the part of clone3's struct clone_args that spawntrace keeps.
type Clone3Args struct {
	Flags      uint64 `json:"flags"`
	ExitSignal uint64 `json:"exit_signal"`
	Stack      uint64 `json:"stack,omitempty"`
	StackSize  uint64 `json:"stack_size,omitempty"`
	Pidfd      uint64 `json:"pidfd,omitempty"`
	ChildTid   uint64 `json:"child_tid,omitempty"`
	ParentTid  uint64 `json:"parent_tid,omitempty"`
	TLS        uint64 `json:"tls,omitempty"`
}

// Event is one observation of the traced tree, in plain Go: no generated
// names or fixed byte arrays leave this package.
//
// Every id (Tid, Pid, PPid, ChildTid, ChildPid, OldTid, SupersededBy) is as
// spawntrace's own pid namespace numbers it: what the user, /proc, ps and
// strace -f see there. Inside a container, HostPid and HostChildPid keep
// the initial namespace's numbers beside them (unset outside one, where
// the two are the same).
type Event struct {
	Kind   Kind   `json:"kind"`
	TimeNs uint64 `json:"t_ns"`             // CLOCK_MONOTONIC: syscall entry, or the moment of fork/exec/exit
	DurNs  uint64 `json:"dur_ns,omitempty"` // syscall entry to exit
	Tid    uint32 `json:"tid"`
	Pid    uint32 `json:"pid"` // thread group id
	PPid   uint32 `json:"ppid,omitempty"`
	Comm   string `json:"comm,omitempty"`

	// ABI is the table Nr is a number of (KindSyscall): i386 for a 32-bit
	// program's calls and for int $0x80.
	ABI ABI `json:"abi,omitempty"`
	// ExecABI is the table the new program's calls go through, after a
	// successful exec (KindExec, and execve/execveat returning 0): an
	// execve through x86_64's table can start a 32-bit program.
	ExecABI      ABI    `json:"exec_abi,omitempty"`
	HostPid      uint32 `json:"host_pid,omitempty"`
	HostChildPid uint32 `json:"host_child_pid,omitempty"`

	// KindSyscall
	Nr     int         `json:"nr,omitempty"` // syscall number in ABI's table (Nr64 gives x86_64's)
	Ret    int64       `json:"ret,omitempty"`
	Args   []uint64    `json:"args,omitempty"`
	Clone3 *Clone3Args `json:"clone3,omitempty"`
	Fds    []int32     `json:"fds,omitempty"` // socketpair's or pipe2's two descriptors

	// Spawn anatomy (clone, clone3, fork, vfork; TeardownNs on execve).
	// Zero when not measured; Parent is nil when the parent's size is unknown.
	CopyNs       uint64      `json:"copy_ns,omitempty"`        // dup_mmap on CPU: the parent's mmap write lock held, less preemption
	CopyOffCPUNs uint64      `json:"copy_offcpu_ns,omitempty"` // the copying thread preempted while holding that lock
	LockStallNs  uint64      `json:"lock_stall_ns,omitempty"`  // the parent's other threads waiting for that lock
	BlockedNs    uint64      `json:"blocked_ns,omitempty"`     // the calling thread off CPU during the call
	TeardownNs   uint64      `json:"teardown_ns,omitempty"`    // execve: the old address space torn down
	Parent       *ParentSize `json:"parent,omitempty"`

	// UserStack is the spawning thread's user stack (return addresses, leaf
	// first) on clone/clone3/fork/vfork events, for the symbolizer, when the
	// kernel gave no build IDs (else see UserFrames): raw addresses mean
	// nothing once the process is gone, so only StackID, assigned when the
	// stack is symbolized, is saved.
	UserStack []uint64 `json:"-"`
	StackID   int      `json:"stack_id,omitempty"`
	// userFrames is that stack as build ID and file offset (UserFrames).
	// Unexported: it is never saved or spilled, only symbolized.
	userFrames []UserFrame
	// stackCopy is the caller's registers and stack bytes (StackCopy), for
	// unwinding; never saved either.
	stackCopy *StackCopy

	// KindFork; ChildPid also on a clone-family call that made a process
	// (the kernel's fork, whatever the call returned: see SpawnedChild).
	ChildTid uint32 `json:"child_tid,omitempty"`
	ChildPid uint32 `json:"child_pid,omitempty"`
	Thread   bool   `json:"thread,omitempty"`

	// KindExec: OldTid is the tid that called execve (a non-leader thread
	// takes the leader's tid when it execs).
	OldTid uint32 `json:"old_tid,omitempty"`
	// execFile is the file the exec started (ExecFile); never saved.
	execFile FileID

	// KindExit
	ExitCode  int32 `json:"exit_code,omitempty"` // wait(2) status form
	GroupDead bool  `json:"group_dead,omitempty"`
	// SupersededBy is set on a thread-group leader that died because
	// another thread of its process called execve: that thread's tid
	// (which then takes the leader's). strace prints
	// "+++ superseded by execve in pid N +++".
	SupersededBy uint32 `json:"superseded_by,omitempty"`

	// execve / execveat (failed calls) and KindExec
	Filename      string   `json:"filename,omitempty"`
	NameUnread    bool     `json:"name_unread,omitempty"`
	Argv          []string `json:"argv,omitempty"`
	ArgvTruncated bool     `json:"argv_truncated,omitempty"`
	// ArgvUnread: a failed exec whose argv and envp were not read (the
	// kernel has no bpf_loop); Argv and EnvCount are then unknown, not empty.
	ArgvUnread bool `json:"argv_unread,omitempty"`
	Argc       int  `json:"argc,omitempty"`
	EnvCount   int  `json:"env_count,omitempty"`
	EnvBytes   int  `json:"env_bytes,omitempty"`
	// PathEntries (KindExec) counts the entries of PATH in the new
	// program's environment, empty ones included: the directories
	// posix_spawnp and execvp try in turn. -1 when it has no PATH; 0 when
	// not read (recordings made before it was, kernels without bpf_loop).
	PathEntries int `json:"path_entries,omitempty"`
}

// SpawnedChild is the process a clone, clone3, fork or vfork call made, as
// spawntrace's pid namespace numbers it: ChildPid, which the kernel's fork
// gave the call, or, in recordings made before it did, the call's return
// value. The return value is the caller's namespace's number, another
// process's in spawntrace's when the workload made a pid namespace of its
// own (unshare -fp, a container runtime). 0 when the call made none.
func (ev *Event) SpawnedChild() uint32 {
	if ev.ChildPid != 0 {
		return ev.ChildPid
	}
	if ev.Ret > 0 && ev.Ret <= 1<<32-1 {
		return uint32(ev.Ret)
	}
	return 0
}

// UserFrames is a spawn event's user stack (leaf first) as build ID and
// file offset where the kernel could, as CPU samples have it; nil when the
// kernel gave bare addresses (UserStack) or no stack.
func (ev *Event) UserFrames() []UserFrame { return ev.userFrames }

// ExecFile is the file a KindExec event's process runs now, as the kernel
// names it (what /proc/PID/exe opens); zero when unknown.
func (ev *Event) ExecFile() FileID { return ev.execFile }

// FileID names a file by its device's major and minor numbers and its
// inode number, as stat(2) gives them (a file's identity while it exists:
// a program replaced on disk by another file has another), and the version
// of its contents seen by its change time and size: a file rewritten in
// place (cp over it, a build that truncates its output) keeps its inode
// but not its change time, which every write, truncate and chmod moves.
type FileID struct {
	Major, Minor uint32
	Ino          uint64
	// CtimeNs is the change time, ns since the epoch (stat's st_ctim);
	// 0 when unknown (a kernel whose struct inode has none of the fields
	// the BPF side reads): the file is then named by its inode alone.
	CtimeNs   uint64
	SizeBytes uint64
}

// IsZero tells an unknown file.
func (f FileID) IsZero() bool { return f == FileID{} }

// Inode is the file without its version: what a line of /proc/PID/maps
// names.
func (f FileID) Inode() FileID { return FileID{Major: f.Major, Minor: f.Minor, Ino: f.Ino} }

// FileIDOfStat names the file stat(2) or fstat(2) described, as the
// kernel's exec events name theirs.
func FileIDOfStat(st *unix.Stat_t) FileID {
	return FileID{Major: unix.Major(st.Dev), Minor: unix.Minor(st.Dev), Ino: st.Ino,
		CtimeNs: uint64(st.Ctim.Sec)*1e9 + uint64(st.Ctim.Nsec), SizeBytes: uint64(st.Size)}
}

// Sample is one on-CPU sample of a thread of the tree (perf cpu-clock).
type Sample struct {
	TimeNs      uint64
	Pid, Tid    uint32
	CPU         uint32
	Comm        string
	KernelStack []uint64 // leaf first; nil when it could not be read
	UserStack   []UserFrame
}

// UserFrame is one frame of a sampled user stack. Where the kernel could,
// it names the file the frame is in by build ID, and the offset in that
// file: enough to name the frame after its process has exited. Otherwise
// only the address is known, which the process's memory map places.
type UserFrame struct {
	BuildID BuildID // zero when only Addr is known
	Offset  uint64  // in the file, when BuildID is set
	Addr    uint64  // when BuildID is zero
}

// BuildID is an ELF file's GNU build ID as the kernel reads it: at most 20
// bytes, zero-padded.
type BuildID [20]byte

// IsZero tells a frame the kernel gave only an address for.
func (b BuildID) IsZero() bool { return b == BuildID{} }

// Sink receives what the kernel side sends; Sample may be nil when
// sampling is off, Drained nil when not needed. All run on the reader
// goroutine, one call at a time; the value pointed to is reused after the
// call returns (its slices are not).
type Sink struct {
	Event  func(*Event)
	Sample func(*Sample)
	// Drained is called after a batch of events and samples: what was
	// waiting has been read, and the reader will wait for more. Work
	// handed to other goroutines once per batch wakes them once.
	Drained func()
}

// ParentSize is the spawning process's memory at the moment of a fork.
type ParentSize struct {
	RSSAnonBytes  uint64 `json:"rss_anon_bytes"`
	RSSFileBytes  uint64 `json:"rss_file_bytes"`
	RSSShmemBytes uint64 `json:"rss_shmem_bytes"`
	PgtablesBytes uint64 `json:"pgtables_bytes"`
	MapCount      int    `json:"map_count"`
}

// RSSBytes is the resident set: anonymous, file-backed and shared memory.
func (p *ParentSize) RSSBytes() uint64 {
	return p.RSSAnonBytes + p.RSSFileBytes + p.RSSShmemBytes
}

// Probe is one kernel attachment point and whether it could be used.
type Probe struct {
	Name      string `json:"name"`
	Available bool   `json:"available"`
	Reason    string `json:"reason,omitempty"` // why not, when unavailable
	// Fallback, when set, is what measured the same where the first way
	// could not (Reason says why): the probe is available.
	Fallback string `json:"fallback,omitempty"`
	// Attached, when set, names the tracepoints its programs ran on, where
	// they are not those Name says (--spawns-only's spawn calls).
	Attached string `json:"attached,omitempty"`
}

// SyscallStat is the kernel's tally of one syscall over the traced tree.
type SyscallStat struct {
	ABI    ABI    `json:"abi,omitempty"` // the table Nr is a number of
	Nr     int    `json:"nr"`
	Calls  uint64 `json:"calls"`
	Errors uint64 `json:"errors"`
	TimeNs uint64 `json:"time_ns"` // wall time, entry to exit, summed (an estimate when TimedCalls < Calls)
	// TimedCalls is how many of the calls were timed: the BPF backend
	// times a number's first calls on each CPU, then a random 1 in
	// TimeSampleEvery, whose mean stands for the calls not timed.
	TimedCalls uint64 `json:"timed_calls"`
}

// Lost counts what the kernel side could not deliver or follow.
type Lost struct {
	Events        uint64 `json:"events"`         // ring buffer full: detailed events dropped
	SyscallSlots  uint64 `json:"syscall_slots"`  // syscalls not timed (no task storage for their slot)
	SpawnSlots    uint64 `json:"spawn_slots"`    // spawn calls not paired (map full)
	TrackedLimits uint64 `json:"tracked_limits"` // processes not followed (map full)
	// Skipped holds the runs of programs the kernel skipped and no second
	// program made up for, by program; recordings made before they were
	// kept have none.
	Skipped []Skip `json:"kernel_skipped,omitempty"`
	// --spawns-only: 32-bit clone-family calls made before the raw pair
	// that sees 32-bit calls was attached, seen only at their fork (what
	// else the tree did through the i386 table meanwhile is not counted).
	CompatCalls uint64 `json:"compat_calls,omitempty"`
}

// Total is every loss of any kind. It saturates at the largest uint64
// rather than wrap: counts read from a recording can be anything, and a sum
// that wrapped to 0 would say nothing was lost.
func (l Lost) Total() uint64 {
	var t uint64
	for _, n := range []uint64{l.Events, l.SyscallSlots, l.SpawnSlots, l.TrackedLimits, l.CompatCalls} {
		t = SatAdd(t, n)
	}
	for _, s := range l.Skipped {
		t = SatAdd(t, s.Runs)
	}
	return t
}

// Skip is how often the kernel did not run a program: another task was
// inside the same program on that CPU (preempted there, where the kernel
// runs tracepoint programs preemptibly) or it recursed. The kernel counts
// a program's skips for every task of the machine, so what they cost the
// traced tree is at most Runs of Measure.
type Skip struct {
	Prog    string `json:"prog"`    // the program (the first, for a program and its second)
	Point   string `json:"point"`   // where it is attached: sched:sched_process_exec, kprobe:up_write
	Measure string `json:"measure"` // what a skipped run leaves out: one of the Skip* below
	Runs    uint64 `json:"runs"`
}

// What a run of a program that the kernel skipped leaves out (Skip.Measure).
const (
	SkipSyscalls  = "syscalls"   // a syscall not counted (its entry or its exit unseen)
	SkipForks     = "forks"      // a new process not followed
	SkipExecs     = "execs"      // a successful exec not recorded (a spawn without its program)
	SkipExits     = "exits"      // an exit not recorded
	SkipCopies    = "copies"     // a page-table copy or an exec teardown not timed
	SkipLockWaits = "lock-waits" // a thread's wait on a forking parent's mmap lock not measured
	SkipBlocked   = "blocked"    // a context switch unseen: a spawning thread's blocked time
)

// SatAdd is a+b, or the largest uint64 when that would wrap.
func SatAdd(a, b uint64) uint64 {
	if s, carry := bits.Add64(a, b, 0); carry == 0 {
		return s
	}
	return math.MaxUint64
}
