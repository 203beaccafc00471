// Package spawn is the model of one new process of the tree: Spawn, how it
// was made (Mechanism, Signature), and Build, the one place that assembles
// spawns from a recording's events (a spawning call, its child's execs,
// its exit). The summary, compare, and the spawn profile use it alike.
package spawn

import (
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
	"golang.org/x/sys/unix"
)

// Mechanism is how a new process was made.
type Mechanism string

const (
	// MechFork: the child gets a copy of the parent's address space (fork(),
	// or clone/clone3 without CLONE_VM); the cost grows with the parent's RSS.
	MechFork Mechanism = "fork"
	// MechVfork: the child borrows the parent's address space until it execs
	// (vfork(), or clone/clone3 with CLONE_VM|CLONE_VFORK); the parent's
	// spawning thread is blocked meanwhile.
	MechVfork Mechanism = "vfork"
	// MechCloneVM: CLONE_VM without CLONE_VFORK (a process sharing memory,
	// not a thread): rare, counted apart.
	MechCloneVM Mechanism = "clone-vm"
)

// Spawn is one new process of the tree and what it cost.
//
// A summary holds a row only while its process lives (it may still exec,
// or fail to); finished rows go to a spill file (spawnRows), so a long
// run's summary does not grow with its spawns. Its strings are shared:
// Syscall and Mechanism are constants, Comm, Exe and Signature interned.
type Spawn struct {
	// Seq is the spawn's place in time order, from 0: rows are finished,
	// and handed out by Summary.EachSpawn, in another order.
	Seq       int       `json:"seq"`
	TimeNs    uint64    `json:"t_ns"` // entry of the spawning syscall
	ParentPid uint32    `json:"parent_pid"`
	ParentTid uint32    `json:"parent_tid"`
	Comm      string    `json:"comm"` // the parent's
	Syscall   string    `json:"syscall"`
	Flags     uint64    `json:"flags"`
	Mechanism Mechanism `json:"mechanism"`
	ChildPid  uint32    `json:"child_pid"`
	StackID   int       `json:"stack_id,omitempty"` // the spawning thread's stack (Recording.StackOf)
	// CloneDurNs is the spawning syscall's wall time in the parent: for
	// vfork-like spawns it includes the child's run up to its exec.
	CloneDurNs uint64 `json:"clone_dur_ns"`

	// Signature names the runtime or library the spawn pattern belongs to
	// (glibc posix_spawn, Go os/exec, ...), when recognised.
	Signature string `json:"signature,omitempty"`

	// Anatomy; zero when not measured (see Recording.Probes).
	CopyNs       uint64             `json:"copy_ns,omitempty"`        // the address-space copy (dup_mmap), on CPU
	CopyOffCPUNs uint64             `json:"copy_offcpu_ns,omitempty"` // the copying thread preempted meanwhile
	LockStallNs  uint64             `json:"lock_stall_ns,omitempty"`  // the parent's other threads waiting meanwhile
	BlockedNs    uint64             `json:"blocked_ns,omitempty"`     // the spawning thread off CPU in the call
	TeardownNs   uint64             `json:"teardown_ns,omitempty"`    // the child's exec tearing the copy down
	Parent       *tracer.ParentSize `json:"parent,omitempty"`
	// GapNs is the time since the same thread's previous spawn call
	// returned: user-space work between spawns (and waiting for children).
	GapNs uint64 `json:"gap_ns,omitempty"`

	Exe          string `json:"exe,omitempty"` // the child's successful exec
	ExecOK       bool   `json:"exec_ok"`
	FailedExecs  int    `json:"failed_execs"`
	FailedExecNs uint64 `json:"failed_exec_ns"` // on CPU: off CPU (BlockedNs) left out
	// NotFoundExecs are the failed execs after the child's last successful
	// exec, or all of them when none succeeded: a search that found no
	// program to run (a command not found), which no absolute path avoids.
	// They are counted in FailedExecs too, their time on CPU in
	// FailedExecNs and NotFoundExecNs.
	NotFoundExecs  int    `json:"not_found_execs,omitempty"`
	NotFoundExecNs uint64 `json:"not_found_exec_ns,omitempty"`
	// NotFound is the name the last of them looked for: its file name's
	// last element, as the workload wrote it (print through TermSafe).
	NotFound      string `json:"not_found,omitempty"`
	SpawnToExecNs uint64 `json:"spawn_to_exec_ns,omitempty"` // spawn entry to the child's successful exec
	EnvCount      int    `json:"env_count,omitempty"`
	EnvBytes      int    `json:"env_bytes,omitempty"`
	// PathEntries is PATH's length in the child's environment at its
	// successful exec: -1 unset, 0 not recorded (tracer.Event.PathEntries).
	PathEntries int `json:"path_entries,omitempty"`
}

// SearchFailedExecs are the failed execs that a later exec of the process
// made good (a PATH search's, before the program it found), and their time
// on CPU: what spawning by absolute path avoids.
func (sp *Spawn) SearchFailedExecs() (n int, onCPUNs uint64) {
	return sp.FailedExecs - sp.NotFoundExecs, sp.FailedExecNs - sp.NotFoundExecNs
}

// CloneFlags returns the clone flags of a spawning syscall event: fork()
// behaves as clone(SIGCHLD), vfork() as clone(CLONE_VM|CLONE_VFORK|SIGCHLD).
func CloneFlags(ev *tracer.Event) (flags uint64, ok bool) {
	switch ev.Nr64() {
	case sysno.Clone:
		if len(ev.Args) > 0 {
			return ev.Args[0], true
		}
	case sysno.Clone3:
		if ev.Clone3 != nil {
			return ev.Clone3.Flags | ev.Clone3.ExitSignal&0xff, true
		}
	case sysno.Fork:
		return uint64(unix.SIGCHLD), true
	case sysno.Vfork:
		return unix.CLONE_VM | unix.CLONE_VFORK | uint64(unix.SIGCHLD), true
	}
	return 0, false
}

// MechanismOf classifies clone flags; ok is false for threads, which are
// not spawns.
func MechanismOf(flags uint64) (m Mechanism, ok bool) {
	switch {
	case flags&unix.CLONE_THREAD != 0:
		return "", false
	case flags&unix.CLONE_VM != 0 && flags&unix.CLONE_VFORK != 0:
		return MechVfork, true
	case flags&unix.CLONE_VM != 0:
		return MechCloneVM, true
	default:
		return MechFork, true
	}
}

// IsSpawnCall reports whether a syscall is one spawntrace sends in detail
// (and the only ones counted with --spawns-only).
func IsSpawnCall(nr int) bool {
	switch nr {
	case sysno.Clone, sysno.Clone3, sysno.Fork, sysno.Vfork, sysno.Execve, sysno.Execveat, sysno.Socketpair, sysno.Pipe2:
		return true
	}
	return false
}

// IsExec reports whether a syscall number is execve or execveat.
func IsExec(nr int) bool { return nr == sysno.Execve || nr == sysno.Execveat }

// Mechanisms are the mechanisms in the order reports list them.
var Mechanisms = []Mechanism{MechFork, MechVfork, MechCloneVM}

// IsProcessSpawn reports whether ev is a spawning call that made a new
// process: a clone, clone3, fork or vfork that returned a child's pid, not
// a thread, not a failure. flags are its clone flags, m its mechanism.
func IsProcessSpawn(ev *tracer.Event) (flags uint64, m Mechanism, ok bool) {
	flags, isSpawn := CloneFlags(ev)
	if !isSpawn || ev.Ret <= 0 {
		return 0, "", false
	}
	m, ok = MechanismOf(flags)
	return flags, m, ok
}
