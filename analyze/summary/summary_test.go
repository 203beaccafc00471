package summary

import (
	"testing"

	"github.com/spawntrace/spawntrace/analyze/fixture"
	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/spawn"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

func TestSummarizePathSearch(t *testing.T) {
	s := summarized(t, fixture.PathSearch())
	rows := rowsOf(t, &s)
	if len(rows) != 1 {
		t.Fatalf("spawns = %d, want 1", len(rows))
	}
	sp := rows[0]
	if sp.Mechanism != spawn.MechVfork || sp.Syscall != "clone3" || sp.ChildPid != 11 {
		t.Errorf("spawn = %+v, want a clone3 vfork of pid 11", sp)
	}
	if !sp.ExecOK || sp.Exe != "/usr/bin/true" || sp.FailedExecs != 2 || sp.FailedExecNs != 1200 {
		t.Errorf("exec accounting = %+v, want /usr/bin/true after 2 failures of 1200ns", sp)
	}
	// clone3 entry at 1_001_000_000 to the end of the exec at 1_001_007_000.
	if sp.SpawnToExecNs != 7000 {
		t.Errorf("spawn to exec = %d ns, want 7000", sp.SpawnToExecNs)
	}
	if s.ExecOK != 1 || s.ExecFailed != 2 || s.Processes != 2 || s.WallNs != 50_000_000 {
		t.Errorf("totals = %+v", s)
	}
}

func TestSummarizeMechanisms(t *testing.T) {
	ev := func(nr int, ret int64, args ...uint64) tracer.Event {
		return tracer.Event{Kind: tracer.KindSyscall, Tid: 1, Pid: 1, Nr: nr, Ret: ret, Args: args}
	}
	rec := &recording.Recording{Events: []tracer.Event{
		ev(sysno.Fork, 2),
		ev(sysno.Vfork, 3),
		ev(sysno.Clone, 4, 0x01200011),   // glibc fork(): CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD
		ev(sysno.Clone, 5, 0x00004111),   // CLONE_VM|CLONE_VFORK|SIGCHLD
		ev(sysno.Clone, 6, 0x003d0f00),   // pthread_create: CLONE_THREAD among others
		ev(sysno.Clone, 7, 0x00000111),   // CLONE_VM without CLONE_VFORK
		ev(sysno.Clone, -11, 0x00000011), // failed: EAGAIN, not a spawn
		{Kind: tracer.KindFork, Pid: 1, ChildTid: 6, ChildPid: 1, Thread: true},
	}}
	s := summarized(t, rec)
	want := map[spawn.Mechanism]int{spawn.MechFork: 2, spawn.MechVfork: 2, spawn.MechCloneVM: 1}
	for m, n := range want {
		if s.ByMechanism[m] != n {
			t.Errorf("%s = %d, want %d (all: %v)", m, s.ByMechanism[m], n, s.ByMechanism)
		}
	}
	if s.SpawnCount() != 5 || s.Threads != 1 {
		t.Errorf("spawns = %d threads = %d, want 5 and 1", s.SpawnCount(), s.Threads)
	}
}

// summarized is Summarize for a test, which it fails on an error.
func summarized(t testing.TB, rec *recording.Recording) Summary {
	t.Helper()
	s, err := Summarize(rec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
