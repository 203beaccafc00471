package reports

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/spawn"
	"github.com/spawntrace/spawntrace/analyze/summary"
	"github.com/spawntrace/spawntrace/tracer"
)

func spawnSummary() summary.Summary {
	sp := func(t uint64, sc string, m spawn.Mechanism, durNs uint64, parent, child uint32, exe string, failed int) spawn.Spawn {
		return spawn.Spawn{TimeNs: t, Syscall: sc, Mechanism: m, CloneDurNs: durNs, ParentPid: parent,
			ParentTid: parent, ChildPid: child, Exe: exe, ExecOK: exe != "", FailedExecs: failed}
	}
	s := summary.Summary{
		ByMechanism: map[spawn.Mechanism]int{spawn.MechFork: 1, spawn.MechVfork: 3, spawn.MechCloneVM: 1},
		Threads:     2,
		ExecOK:      5,
		ExecFailed:  20,
		Processes:   6,
		WallNs:      2_500_000_000,
	}
	s.SetSpawns([]spawn.Spawn{
		sp(1, "clone", spawn.MechFork, 36_123_456, 4100, 4101, "/usr/bin/true", 0),
		sp(2, "clone3", spawn.MechVfork, 512_345, 4100, 4102, "/usr/bin/sleep", 10),
		sp(3, "clone3", spawn.MechVfork, 36_123_456, 4100, 4103, "/usr/bin/sleep", 10),
		sp(4, "vfork", spawn.MechVfork, 700_001, 4100, 4104, "", 0),
		sp(5, "clone", spawn.MechCloneVM, 90_000, 4100, 4105,
			"/opt/a/very/long/installation/prefix/that/goes/on/and/on/for/ever/and/a/bit/more/bin/tool", 0),
	})
	return s
}

func TestSpawnSection(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteSpawnSection(&buf, spawnSummary(), 5); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(buf.String(), "\n") {
		if len(line) > lineWidth {
			t.Errorf("line longer than %d columns: %q", lineWidth, line)
		}
	}
	golden(t, "spawns.golden", buf.Bytes())

	// No spawns, no failed execs, no list.
	buf.Reset()
	s := summary.Summary{Processes: 1, ExecOK: 1, Threads: 1, WallNs: 1e6}
	if err := WriteSpawnSection(&buf, s, 5); err != nil {
		t.Fatal(err)
	}
	golden(t, "spawns_none.golden", buf.Bytes())
}

func TestLostWarning(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteLostWarning(&buf, tracer.Lost{}); err != nil || buf.Len() != 0 {
		t.Errorf("nothing lost: wrote %q, %v; want nothing", buf.String(), err)
	}
	if err := WriteLostWarning(&buf, tracer.Lost{Events: 7, SyscallSlots: 2, SpawnSlots: 1, TrackedLimits: 4}); err != nil {
		t.Fatal(err)
	}
	want := "spawntrace: warning: lost events: 14 (7 events dropped on a full ring buffer, 2 syscalls not timed, " +
		"1 spawn call not paired, 4 processes not followed); counts and spawns are incomplete\n"
	if buf.String() != want {
		t.Errorf("got  %q\nwant %q", buf.String(), want)
	}
}

func TestSummaryWriteError(t *testing.T) {
	if err := WriteSpawnSection(failWriter{}, spawnSummary(), 3); !errors.Is(err, errFull) {
		t.Errorf("WriteSpawnSection: %v, want %v", err, errFull)
	}
	if err := WriteLostWarning(failWriter{}, tracer.Lost{Events: 1}); !errors.Is(err, errFull) {
		t.Errorf("WriteLostWarning: %v, want %v", err, errFull)
	}
}
