package reports

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/spawn"
	"github.com/spawntrace/spawntrace/analyze/summary"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// posixSpawnpRecording: one thread posix_spawnp's /usr/bin/true n times
// through a PATH of 10 directories before it, in a run of wallMs.
func posixSpawnpRecording(n int, wallMs uint64) *recording.Recording {
	rec := &recording.Recording{StartMonoNs: 0, EndMonoNs: wallMs * 1e6,
		Probes: []tracer.Probe{{Name: tracer.CopyProbe, Available: true}, {Name: tracer.BlockedProbe, Available: true}}}
	t := uint64(1000)
	add := func(ev tracer.Event) {
		ev.TimeNs = t
		if ev.Pid == 0 {
			ev.Pid, ev.Tid, ev.Comm = 100, 100, "spawner"
		}
		rec.Events = append(rec.Events, ev)
		t += ev.DurNs + 1000
	}
	for i := 0; i < n; i++ {
		child := uint32(1000 + i)
		add(tracer.Event{Kind: tracer.KindSyscall, Nr: sysno.Clone3, Ret: int64(child),
			Clone3: &tracer.Clone3Args{Flags: 0x4100, ExitSignal: 17, Stack: 0x7f0000, StackSize: 0x9000},
			DurNs:  150_000, BlockedNs: 140_000})
		for j := 0; j < 10; j++ {
			add(tracer.Event{Kind: tracer.KindSyscall, Nr: sysno.Execve, Pid: child, Tid: child, Ret: -2, DurNs: 5_000,
				Filename: "/usr/local/bin/true"})
		}
		add(tracer.Event{Kind: tracer.KindSyscall, Nr: sysno.Execve, Pid: child, Tid: child, DurNs: 100_000,
			Filename: "/usr/bin/true", EnvCount: 20})
	}
	return rec
}

// TestFindingsNotes: a healthy posix_spawnp loop has no finding; its
// vfork wait and its PATH search (under the threshold) are a line each,
// and the spawn section names glibc's posix_spawn although there is one
// class only.
func TestFindingsNotes(t *testing.T) {
	rec := posixSpawnpRecording(300, 2000)
	s := summarized(rec)
	var b bytes.Buffer
	if err := WriteSpawnSection(&b, s, 0); err != nil {
		t.Fatal(err)
	}
	if err := WriteAnatomy(&b, rec, s); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if len(s.Classes) != 1 || len(s.Findings) != 0 {
		t.Fatalf("%d classes, findings %+v; want 1 and none", len(s.Classes), s.Findings)
	}
	for _, want := range []string{
		"Spawned by: " + spawn.SigPosixSpawn + " (vfork) x300",
		"Findings: none",
		"failed execs come from a PATH search: 3000, 10.0 per spawn in 300 spawns (most in spawns of /usr/bin/true), 15.0 ms in all (0.8% of the run, too little to rank)",
		"vfork-like spawns waited 42.0 ms in all (0.1 ms per spawn, 2% of the run) until each child exec'd, 15.0 ms of it in failed execs: the wait every vfork-like spawn has, not a cost to remove",
	} {
		if !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestFindingBasisWorded: each finding says in one line how its saving
// was estimated; rough ones say so, capped ones too.
func TestFindingBasisWorded(t *testing.T) {
	for basis, want := range map[summary.SavingBasis]string{
		summary.BasisCopyTeardown:  "estimate: the copy and teardown CPU time",
		summary.BasisFailedExecs:   "upper bound: the failed execs' time",
		summary.BasisStall:         "estimate: the other threads' wait",
		summary.BasisCPUSamples:    "rough estimate: on-CPU samples",
		summary.BasisHugePageRatio: "rough estimate: 90% of the measured copies and teardowns",
		summary.BasisOverlap:       "rough estimate: half the wait",
		summary.BasisNone:          "no estimate",
	} {
		f := summary.Finding{ID: "x", SavingNs: 1e6, Basis: basis, THP: &summary.THPFacts{SavingShare: 0.9}}
		if got := basisText(&f); !strings.HasPrefix(got, want) || strings.Contains(got, "capped") {
			t.Errorf("%q: %q, want it to start %q", basis, got, want)
		}
		if got := basisText(&f); strings.HasPrefix(got, "rough") != basis.Rough() {
			t.Errorf("%q: %q, rough %v", basis, got, basis.Rough())
		}
		if got := basisText(&f); strings.HasPrefix(got, "upper bound") != basis.UpperBound() {
			t.Errorf("%q: %q, upper bound %v", basis, got, basis.UpperBound())
		}
		f.Capped = true
		if got := basisText(&f); basis != summary.BasisNone && !strings.Contains(got, "capped") {
			t.Errorf("%q capped: %q", basis, got)
		}
	}
}
