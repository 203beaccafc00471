package spawn

import (
	"cmp"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// Signatures of well-known spawners, named in reports and findings.
const (
	SigPosixSpawn   = "glibc posix_spawn"
	SigGlibcFork    = "glibc fork()"
	SigGoExec       = "Go os/exec"
	SigShellVfork   = "sh vfork()"
	SigVfork        = "vfork()"
	SigRustFallback = "Rust std fork fallback"
	SigPython       = "Python subprocess"
	SigFork         = "fork()"
)

// RustSocketpairWindowNs bounds how long before a fork Rust's socketpair
// (or pipe2) is still part of the same spawn.
const RustSocketpairWindowNs = 50_000_000

// signature recognises the spawn pattern of a runtime or library from the
// call, its flags and the same thread's calls just before. maybeRust says
// the parent may run a Rust program: it does, or the recording could not
// tell (a C program that opens a pipe2(O_CLOEXEC) and forks has Rust's
// pattern too).
func signature(ev *tracer.Event, sp *Spawn, socketpair *tracer.Event, maybeRust bool) string {
	flags := sp.Flags
	python := strings.HasPrefix(sp.Comm, "python")
	switch {
	case python:
		// Before the Rust case: subprocess opens a pipe2(O_CLOEXEC) for the
		// child's exec error too.
		return SigPython + " (" + string(sp.Mechanism) + ")"
	case maybeRust && sp.Mechanism == MechFork && socketpair != nil && isRustSocketpair(socketpair) &&
		ev.TimeNs-socketpair.TimeNs < RustSocketpairWindowNs:
		return SigRustFallback
	case ev.Nr64() == sysno.Clone3 && sp.Mechanism == MechVfork && ev.Clone3 != nil && ev.Clone3.Stack != 0:
		// glibc >= 2.34 posix_spawn: clone3(CLONE_VM|CLONE_VFORK) on a
		// stack of its own.
		return SigPosixSpawn
	case ev.Nr64() == sysno.Clone && sp.Mechanism == MechVfork && flags&unix.CLONE_PIDFD != 0:
		return SigGoExec
	case ev.Nr64() == sysno.Clone && sp.Mechanism == MechVfork && len(ev.Args) > 1 && ev.Args[1] != 0:
		// clone(CLONE_VM|CLONE_VFORK) with a child stack: posix_spawn of
		// glibc 2.24-2.33 or musl.
		return "posix_spawn (clone)"
	case ev.Nr64() == sysno.Clone && sp.Mechanism == MechVfork:
		return SigGoExec
	case ev.Nr64() == sysno.Vfork && isShell(sp.Comm):
		return SigShellVfork
	case ev.Nr64() == sysno.Vfork:
		return SigVfork
	case ev.Nr64() == sysno.Clone && sp.Mechanism == MechFork &&
		flags&(unix.CLONE_CHILD_CLEARTID|unix.CLONE_CHILD_SETTID) == unix.CLONE_CHILD_CLEARTID|unix.CLONE_CHILD_SETTID:
		return SigGlibcFork
	case sp.Mechanism == MechFork:
		return SigFork
	}
	return ""
}

// isRustSocketpair tells the channel Rust's std opens before it forks, to
// read the child's exec error from: socketpair(AF_UNIX, SOCK_SEQPACKET|
// SOCK_CLOEXEC) since Rust 1.64 (its pidfd support), pipe2(O_CLOEXEC) before
// (Debian 12's rustc 1.63). glibc's fork() opens neither.
func isRustSocketpair(ev *tracer.Event) bool {
	if ev.Nr64() == sysno.Pipe2 {
		return len(ev.Args) > 1 && ev.Args[1] == unix.O_CLOEXEC
	}
	return len(ev.Args) > 1 && ev.Args[0] == unix.AF_UNIX &&
		ev.Args[1]&0xf == unix.SOCK_SEQPACKET && ev.Args[1]&unix.SOCK_CLOEXEC != 0
}

func isShell(comm string) bool {
	switch comm {
	case "sh", "dash", "bash", "ash", "zsh", "ksh", "busybox":
		return true
	}
	return false
}

// Tally counts the named signatures of spawns and when each first
// appeared (Spawn.Seq); the zero Tally is empty.
type Tally struct{ m map[string]*sigCount }

type sigCount struct {
	n     int
	first int // Seq
}

// Add counts signature sig of the spawn of time order seq ("" is none).
func (t *Tally) Add(seq int, sig string) {
	if sig == "" {
		return
	}
	if t.m == nil {
		t.m = map[string]*sigCount{}
	}
	c := t.m[sig]
	if c == nil {
		c = &sigCount{first: seq}
		t.m[sig] = c
	}
	c.n++
	c.first = min(c.first, seq)
}

// Names lists the signatures in order of first appearance.
func (t *Tally) Names() []string {
	names := make([]string, 0, len(t.m))
	for n := range t.m {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return cmp.Compare(t.m[a].first, t.m[b].first) })
	return names
}

// Count is how many spawns had signature sig.
func (t *Tally) Count(sig string) int {
	if c := t.m[sig]; c != nil {
		return c.n
	}
	return 0
}

// Ranked lists the signatures most common first, the earlier first among
// equals.
func (t *Tally) Ranked() []string {
	names := t.Names()
	slices.SortStableFunc(names, func(a, b string) int { return cmp.Compare(t.m[b].n, t.m[a].n) })
	return names
}
