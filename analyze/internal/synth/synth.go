// Package synth makes the events of synthetic runs for the tests and
// benchmarks of analyze's packages.
package synth

import (
	"runtime"
	"strconv"

	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// Spawns sends n spawns as the ring buffer delivers them, sizes as
// seen in real recordings (python3 posix_spawn of a few programs): per
// spawn the child's fork, a failed PATH-search execve every fourth spawn,
// its exec details and successful execve, the parent's clone3 (a vfork:
// sent at its exit, after the child's exec) and the child's exit. Every
// parent size differs, as a growing parent's would, and every argv holds a
// unique argument.
func Spawns(n int, emit func(*tracer.Event)) {
	exes := []string{"/usr/bin/true", "/usr/bin/ls", "/usr/bin/sh", "/usr/local/bin/tool"}
	tm := uint64(1e12)
	for i := 0; i < n; i++ {
		child := uint32(1000 + i%4_000_000)
		exe := exes[i%len(exes)]
		emit(&tracer.Event{Kind: tracer.KindFork, TimeNs: tm + 20_000, Tid: 100, Pid: 100, PPid: 1, Comm: "python3",
			ChildTid: child, ChildPid: child})
		execAt := tm + 60_000
		if i%4 == 0 {
			emit(&tracer.Event{Kind: tracer.KindSyscall, TimeNs: execAt, DurNs: 9_000, Tid: child, Pid: child, PPid: 100,
				Comm: "python3", Nr: sysno.Execve, Ret: -2, Args: []uint64{0x55d0c0de0000, 0x7ffd1234, 0x7ffd5678, 0, 0, 0},
				Filename: "/usr/local/sbin/" + exe[len("/usr/"):]})
			execAt += 10_000
		}
		argv := []string{exe, "--job", "/work/build/obj/" + strconv.Itoa(i) + ".o"}
		emit(&tracer.Event{Kind: tracer.KindExec, TimeNs: execAt + 100_000, Tid: child, Pid: child, PPid: 100, Comm: "true",
			Filename: exe, Argv: argv, Argc: len(argv), EnvCount: 35, EnvBytes: 1303})
		emit(&tracer.Event{Kind: tracer.KindSyscall, TimeNs: execAt, DurNs: 150_000, Tid: child, Pid: child, PPid: 100,
			Comm: "python3", Nr: sysno.Execve, Args: []uint64{0x55d0c0de0000, 0x7ffd1234, 0x7ffd5678, 0, 0, 0},
			BlockedNs: 40_000, TeardownNs: 5_000})
		emit(&tracer.Event{Kind: tracer.KindSyscall, TimeNs: tm, DurNs: 300_000, Tid: 100, Pid: 100, PPid: 1, Comm: "python3",
			Nr: sysno.Clone3, Ret: int64(child),
			Clone3:    &tracer.Clone3Args{Flags: 0x4100, ExitSignal: 17, Stack: 0x7f3a12340000, StackSize: 36864},
			BlockedNs: 250_000, UserStack: []uint64{0x7f3a1, 0x7f3a2, 0x55d03, 0x55d04, 0x55d05, 0x55d06},
			Parent: &tracer.ParentSize{RSSAnonBytes: 8<<20 + uint64(i)*4096, RSSFileBytes: 12 << 20, PgtablesBytes: 262144, MapCount: 61}})
		emit(&tracer.Event{Kind: tracer.KindExit, TimeNs: tm + 700_000, Tid: child, Pid: child, PPid: 100, Comm: "true", GroupDead: true})
		tm += 1_000_000
	}
}

// HeapInUse is the Go heap's live bytes after a full collection.
func HeapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// PathSearchEvents are the events of a small posix_spawnp run: one clone3
// vfork-like spawn whose child fails two execs of a PATH search, then
// succeeds (recording's sampleRecording, and summary's).
func PathSearchEvents() []tracer.Event {
	return []tracer.Event{
		{Kind: tracer.KindSyscall, TimeNs: 1_001_000_000, DurNs: 9000, Tid: 10, Pid: 10, Comm: "spawn", Nr: sysno.Clone3, Ret: 11,
			Args: []uint64{0x7ffc0000, 88, 0, 0, 0, 0}, Clone3: &tracer.Clone3Args{Flags: 0x4100, ExitSignal: 17, Stack: 0x7f0000, StackSize: 0x9000}},
		{Kind: tracer.KindFork, TimeNs: 1_001_000_100, Tid: 10, Pid: 10, ChildTid: 11, ChildPid: 11},
		{Kind: tracer.KindSyscall, TimeNs: 1_001_001_000, DurNs: 500, Tid: 11, Pid: 11, Nr: sysno.Execve, Ret: -2, Filename: "/usr/local/bin/true", Argv: []string{"true"}, Argc: 1, EnvCount: 20},
		{Kind: tracer.KindSyscall, TimeNs: 1_001_002_000, DurNs: 700, Tid: 11, Pid: 11, Nr: sysno.Execve, Ret: -2, Filename: "/usr/sbin/true", Argv: []string{"true"}, Argc: 1, EnvCount: 20},
		{Kind: tracer.KindSyscall, TimeNs: 1_001_003_000, DurNs: 4000, Tid: 11, Pid: 11, Nr: sysno.Execve, Filename: "/usr/bin/true", Argv: []string{"true"}, Argc: 1, EnvCount: 20, EnvBytes: 900},
		{Kind: tracer.KindExit, TimeNs: 1_002_000_000, Tid: 11, Pid: 11, GroupDead: true},
	}
}
