package reports

import (
	"bytes"
	"cmp"
	"errors"
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/summary"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// spawnSummary summarizes a run of 2.5 s: the workload (pid 4100) execs,
// starts 2 threads, and spawns 5 processes (a fork, two clone3 vforks
// whose children each fail 10 execs of a PATH search, a vfork whose child
// never execs, a clone-vm), one of them with a long path.
func spawnSummary() summary.Summary {
	const parent = 4100
	rec := &recording.Recording{StartMonoNs: 0, EndMonoNs: 2_500_000_000}
	add := func(ev tracer.Event) {
		if ev.Pid == 0 {
			ev.Pid, ev.Tid = parent, parent
		}
		ev.Kind = cmp.Or(ev.Kind, tracer.KindSyscall)
		rec.Events = append(rec.Events, ev)
	}
	exec := func(t uint64, pid uint32, exe string, ret int64) {
		add(tracer.Event{TimeNs: t, Pid: pid, Tid: pid, Nr: sysno.Execve, Ret: ret, Filename: exe})
	}
	exec(1, parent, "/usr/bin/python3", 0)
	for i := range 2 {
		add(tracer.Event{Kind: tracer.KindFork, TimeNs: 2, Thread: true, ChildPid: parent, ChildTid: parent + 100 + uint32(i)})
	}
	const sigchld, cloneVM, vfork = 17, 0x100, 0x4000
	spawns := []struct {
		nr     int
		flags  uint64
		durNs  uint64
		exe    string
		failed int
	}{
		{sysno.Clone, sigchld, 36_123_456, "/usr/bin/true", 0},
		{sysno.Clone3, cloneVM | vfork, 512_345, "/usr/bin/sleep", 10},
		{sysno.Clone3, cloneVM | vfork, 36_123_456, "/usr/bin/sleep", 10},
		{sysno.Vfork, 0, 700_001, "", 0},
		{sysno.Clone, cloneVM | sigchld, 90_000,
			"/opt/a/very/long/installation/prefix/that/goes/on/and/on/for/ever/and/a/bit/more/bin/tool", 0},
	}
	for i, sp := range spawns {
		t, child := uint64(i+1)*100_000_000, uint32(parent+1+i)
		ev := tracer.Event{TimeNs: t, DurNs: sp.durNs, Nr: sp.nr, Ret: int64(child)}
		switch sp.nr {
		case sysno.Clone:
			ev.Args = []uint64{sp.flags}
		case sysno.Clone3:
			ev.Clone3 = &tracer.Clone3Args{Flags: sp.flags, ExitSignal: sigchld}
		}
		add(ev)
		for k := range sp.failed {
			exec(t+1000+uint64(k), child, "/usr/local/bin/"+sp.exe, -2)
		}
		if sp.exe != "" {
			exec(t+50_000, child, sp.exe, 0)
		}
		add(tracer.Event{Kind: tracer.KindExit, TimeNs: t + 90_000_000, Pid: child, Tid: child, GroupDead: true})
	}
	return summarized(rec)
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
