package summary

import (
	"testing"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// findingsOf summarizes a hand-built recording of wallMs and returns its
// findings by id.
func findingsOf(t *testing.T, wallMs uint64, spawners []recording.ProcessInfo, events ...tracer.Event) map[FindingID]Finding {
	t.Helper()
	out, _ := findingsAndNotes(t, wallMs, spawners, events...)
	return out
}

// findingsAndNotes is findingsOf with the notes too.
func findingsAndNotes(t *testing.T, wallMs uint64, spawners []recording.ProcessInfo, events ...tracer.Event) (map[FindingID]Finding, map[FindingID]Finding) {
	t.Helper()
	rec := &recording.Recording{StartMonoNs: 1, EndMonoNs: 1 + wallMs*1e6, Events: events, Spawners: spawners,
		Host: recording.Host{THPMode: "madvise"}}
	for i := range rec.Events {
		rec.Events[i].TimeNs = uint64(i+1) * 1000
		if rec.Events[i].Pid == 0 {
			rec.Events[i].Pid, rec.Events[i].Tid = 10, 10
		}
	}
	s := summarized(t, rec)
	out, notes := map[FindingID]Finding{}, map[FindingID]Finding{}
	for _, f := range s.Findings {
		out[f.ID] = f
	}
	for _, f := range s.Notes {
		notes[f.ID] = f
	}
	return out, notes
}

func cloneEv(child int64, flags uint64, copyMs float64, rssMiB uint64) tracer.Event {
	ev := tracer.Event{Kind: tracer.KindSyscall, Nr: sysno.Clone, Ret: child, Args: []uint64{flags, 0}, DurNs: uint64(copyMs*1e6) + 50_000,
		CopyNs: uint64(copyMs * 1e6)}
	if rssMiB > 0 {
		ev.Parent = &tracer.ParentSize{RSSAnonBytes: rssMiB << 20}
	}
	return ev
}

func execEv(pid uint32, ret int64, durMs float64, env int) tracer.Event {
	return tracer.Event{Kind: tracer.KindSyscall, Nr: sysno.Execve, Pid: pid, Tid: pid, Ret: ret, DurNs: uint64(durMs * 1e6),
		Filename: "/usr/bin/true", EnvCount: env, EnvBytes: env * 40}
}

const glibcFork = 0x01200011 // CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD
const vforkFlags = 0x4111    // CLONE_VM|CLONE_VFORK|SIGCHLD

func TestFindingForkCopyAndTHP(t *testing.T) {
	var evs []tracer.Event
	for i := 0; i < 10; i++ {
		evs = append(evs, cloneEv(int64(100+i), glibcFork, 20, 1024), execEv(uint32(100+i), 0, 40, 20))
		evs[len(evs)-1].TeardownNs = 15e6
	}
	f := findingsOf(t, 1000, []recording.ProcessInfo{{Pid: 10, AnonHugeBytes: 0}}, evs...)
	fc, ok := f[FindForkCopy]
	if !ok || fc.ForkCopy == nil {
		t.Fatalf("no fork-copy finding: %v", f)
	}
	// 10 x (20 ms copy + 15 ms teardown), measured: not capped.
	x := fc.ForkCopy
	if fc.SavingNs != 350e6 || fc.Basis != BasisCopyTeardown || fc.Capped || x.Spawns != 10 || x.CopyNs != 200e6 ||
		x.TeardownNs != 150e6 || x.RSSMedianBytes != 1024<<20 || len(x.Signatures) != 1 ||
		x.Signatures[0] != (SigCount{"glibc fork()", 10}) {
		t.Errorf("fork-copy = %+v, %+v", fc, x)
	}
	thp, ok := f[FindTHP]
	if !ok || thp.SavingNs != 315e6 || thp.THP.THPMode != "madvise" || thp.Basis != BasisHugePageRatio || !thp.Basis.Rough() ||
		thp.THP.CopyNs != 200e6 || thp.THP.TeardownNs != 150e6 {
		t.Errorf("thp = %+v, want 90%% of the 200 ms of copies and 150 ms of teardowns, a rough estimate", thp)
	}
}

// TestFindingSavingCapped: a saving is never more than the spawns' own
// time (spawn to exec), nor the run's wall time.
func TestFindingSavingCapped(t *testing.T) {
	var evs []tracer.Event
	for i := 0; i < 10; i++ {
		// A teardown (as an older kernel side measured it, preemption
		// included) longer than the exec that contained it.
		evs = append(evs, cloneEv(int64(100+i), glibcFork, 20, 1024), execEv(uint32(100+i), 0, 10, 20))
		evs[len(evs)-1].TeardownNs = 100e6
	}
	fc := findingsOf(t, 2000, nil, evs...)[FindForkCopy]
	// Each spawn's own time: the exec ends 10 ms after its start, ~10 us
	// after the clone's: ~10.02 ms... at most the clone (20.05 ms).
	var own uint64
	for i := 0; i < 10; i++ {
		own += 20_050_000
	}
	if !fc.Capped || fc.SavingNs != own || fc.ForkCopy.OwnNs != own {
		t.Errorf("fork-copy saving %d ns (capped %v, own %d ns), want capped at the spawns' own %d ns", fc.SavingNs, fc.Capped, fc.ForkCopy.OwnNs, own)
	}
	// A 100 ms run: the saving is cut to it.
	fc = findingsOf(t, 100, nil, evs...)[FindForkCopy]
	if !fc.Capped || fc.SavingNs != 100e6 {
		t.Errorf("fork-copy saving %d ns in a 100 ms run (capped %v)", fc.SavingNs, fc.Capped)
	}
}

func TestFindingTHPNotWhenHugePagesUsed(t *testing.T) {
	var evs []tracer.Event
	for i := 0; i < 10; i++ {
		evs = append(evs, cloneEv(int64(100+i), glibcFork, 20, 1024))
	}
	f := findingsOf(t, 1000, []recording.ProcessInfo{{Pid: 10, AnonHugeBytes: 1000 << 20}}, evs...)
	if _, ok := f[FindTHP]; ok {
		t.Errorf("thp finding for a parent in huge pages: %v", f[FindTHP])
	}
	if _, ok := f[FindForkCopy]; !ok {
		t.Errorf("the copy itself still costs 200 ms: %v", f)
	}
}

// TestFindingTHPFromPageTables: without smaps_rollup, a parent's huge
// pages are what its page tables leave unmapped in 4 KiB pages: 2 MiB of
// them map 1 GiB (no huge pages), 8 KiB almost none of it (all huge).
func TestFindingTHPFromPageTables(t *testing.T) {
	forks := func(pgtables uint64) []tracer.Event {
		var evs []tracer.Event
		for i := 0; i < 10; i++ {
			ev := cloneEv(int64(100+i), glibcFork, 20, 1024)
			ev.Parent.PgtablesBytes = pgtables
			evs = append(evs, ev)
		}
		return evs
	}
	thp, ok := findingsOf(t, 1000, nil, forks(2<<20)...)[FindTHP]
	if !ok || !thp.THP.HugeFromPgtables || thp.THP.HugeBytes != 0 || thp.SavingNs != 180e6 {
		t.Errorf("thp = %+v, %+v; want no huge pages by the page tables", thp, thp.THP)
	}
	if thp, ok := findingsOf(t, 1000, nil, forks(8<<10)...)[FindTHP]; ok {
		t.Errorf("thp finding for a parent whose page tables map 4 MiB of its 1 GiB: %+v", thp.THP)
	}
	if thp, ok := findingsOf(t, 1000, nil, forks(0)...)[FindTHP]; ok {
		t.Errorf("thp finding without page tables nor smaps_rollup: %+v", thp.THP)
	}
}

func TestNoFindingsWhenNegligible(t *testing.T) {
	// Small forks in a long run: 10 x 0.05 ms copies in 10 s.
	var evs []tracer.Event
	for i := 0; i < 10; i++ {
		evs = append(evs, cloneEv(int64(100+i), glibcFork, 0.05, 2), execEv(uint32(100+i), -2, 0.01, 20), execEv(uint32(100+i), 0, 0.2, 20))
	}
	if f := findingsOf(t, 10_000, nil, evs...); len(f) != 0 {
		t.Errorf("findings for negligible costs: %v", f)
	}
}

func TestFindingPathSearch(t *testing.T) {
	var evs []tracer.Event
	for i := 0; i < 5; i++ {
		pid := uint32(100 + i)
		evs = append(evs, cloneEv(int64(pid), vforkFlags, 0, 0))
		for j := 0; j < 4; j++ {
			evs = append(evs, execEv(pid, -2, 1, 20))
		}
		evs = append(evs, execEv(pid, 0, 0.2, 20))
	}
	ps, ok := findingsOf(t, 100, nil, evs...)[FindPathSearch]
	if !ok || ps.SavingNs != 20e6 || ps.Basis != BasisFailedExecs || !ps.UpperBound || ps.PathSearch.FailedExecs != 20 || ps.PathSearch.Spawns != 5 {
		t.Errorf("path-search = %+v", ps)
	}
	if ps.PathSearch.Example != "/usr/bin/true" {
		t.Errorf("example %q, want the absolute path", ps.PathSearch.Example)
	}
	// Preempted for 0.75 ms of each 1 ms failed exec: the load, not the
	// search, and not what an absolute path saves; the time on CPU is.
	for i := range evs {
		if evs[i].Nr == sysno.Execve && evs[i].Ret != 0 {
			evs[i].BlockedNs = 0.75e6
		}
	}
	ps = findingsOf(t, 100, nil, evs...)[FindPathSearch]
	if ps.SavingNs != 5e6 || ps.PathSearch.FailedExecNs != 5e6 {
		t.Errorf("path-search with failed execs 3/4 off CPU = %+v, want 5 ms on CPU", ps)
	}
}

// TestFindingPathSearchExample: the example is the program that made most
// failed execs, not the first one seen nor one whose single failed exec the
// machine slowed; under the threshold the search is still said, as a note.
func TestFindingPathSearchExample(t *testing.T) {
	var evs []tracer.Event
	pid := uint32(100)
	spawn := func(exe string, failed int) {
		evs = append(evs, cloneEv(int64(pid), vforkFlags, 0, 0))
		for j := 0; j < failed; j++ {
			evs = append(evs, execEv(pid, -2, 0.05, 20))
		}
		if exe == "/usr/bin/stalled" { // one failed exec slowed by the machine, not by the search
			evs[len(evs)-1].DurNs = 40e6
		}
		ok := execEv(pid, 0, 0.2, 20)
		ok.Filename = exe
		evs = append(evs, ok)
		pid++
	}
	spawn("/root/.pyenv/libexec/pyenv-version-name", 15)
	spawn("/root/.pyenv/libexec/pyenv-version-name", 15)
	spawn("/usr/bin/stalled", 2)
	for i := 0; i < 40; i++ {
		spawn("/usr/bin/sleep", 16)
	}
	ps := findingsOf(t, 100, nil, evs...)[FindPathSearch]
	if x := ps.PathSearch; x == nil || x.Example != "/usr/bin/sleep" || x.ExampleSpawns != 40 || x.ExampleFailedExecs != 640 {
		t.Errorf("path-search = %+v, want /usr/bin/sleep's 40 spawns as the example", x)
	}
	// The same in a 10 s run: 73.6 ms of failed execs, under 1%.
	f, notes := findingsAndNotes(t, 10_000, nil, evs...)
	if _, ok := f[FindPathSearch]; ok {
		t.Errorf("path-search ranked at 0.3%% of the run")
	}
	if n, ok := notes[FindPathSearch]; !ok || n.PathSearch.Example != "/usr/bin/sleep" || n.PathSearch.FailedExecs != 672 {
		t.Errorf("no path-search note under the threshold: %+v", notes)
	}
}

func TestFindingRustFallback(t *testing.T) {
	sp := tracer.Event{Kind: tracer.KindSyscall, Nr: sysno.Socketpair, Args: []uint64{1, 5 | 0x80000, 0, 0}}
	evs := []tracer.Event{sp, cloneEv(101, glibcFork, 2, 64), execEv(101, 0, 0.2, 20), sp, cloneEv(102, glibcFork, 2, 64)}
	f := findingsOf(t, 100, nil, evs...)
	if r, ok := f[FindRustFallback]; !ok || r.RustFallback.Spawns != 2 || r.SavingNs != 4e6 {
		t.Errorf("rust-fallback = %+v (all: %v)", r, f)
	}
	// Their copies are rust-fallback's saving, not fork-copy's too: one
	// cost is ranked once.
	if c, ok := f[FindForkCopy]; ok {
		t.Errorf("fork-copy counts rust-fallback's spawns again: %+v", c.ForkCopy)
	}
	// Rust before 1.64 (Debian 12's 1.63) opens pipe2(O_CLOEXEC) instead.
	pipe := tracer.Event{Kind: tracer.KindSyscall, Nr: sysno.Pipe2, Args: []uint64{0x7ffc0000, 0x80000}}
	f = findingsOf(t, 100, nil, pipe, cloneEv(101, glibcFork, 2, 64), pipe, cloneEv(102, glibcFork, 2, 64))
	if r, ok := f[FindRustFallback]; !ok || r.RustFallback.Spawns != 2 {
		t.Errorf("rust-fallback after pipe2(O_CLOEXEC) = %+v (all: %v)", r, f)
	}
	// A pipe2 without O_CLOEXEC is not Rust's.
	pipe.Args[1] = 0
	f = findingsOf(t, 100, nil, pipe, cloneEv(101, glibcFork, 2, 64), pipe, cloneEv(102, glibcFork, 2, 64))
	if _, ok := f[FindRustFallback]; ok {
		t.Errorf("rust-fallback after pipe2(0)")
	}
	// The same forks without the socketpair are plain glibc forks.
	f = findingsOf(t, 100, nil, cloneEv(101, glibcFork, 2, 64), cloneEv(102, glibcFork, 2, 64))
	if _, ok := f[FindRustFallback]; ok {
		t.Errorf("rust-fallback without a socketpair")
	}
	if c, ok := f[FindForkCopy]; !ok || c.ForkCopy.Spawns != 2 || c.SavingNs != 4e6 {
		t.Errorf("fork-copy of plain forks = %+v", c)
	}
}

// TestFindingRustFallbackOnlyRust: where the recording tells Rust programs
// apart, the fallback's calls (pipe2(O_CLOEXEC), then fork) name it only
// in a Rust program's spawns; a C program doing the same forks is
// fork-copy's.
func TestFindingRustFallbackOnlyRust(t *testing.T) {
	pipe := tracer.Event{Kind: tracer.KindSyscall, Nr: sysno.Pipe2, Args: []uint64{0x7ffc0000, 0x80000}}
	for _, c := range []struct {
		exe  string
		rust bool
	}{{"/usr/bin/cprog", false}, {"/usr/bin/rustprog", true}} {
		start := execEv(10, 0, 0.2, 20)
		start.Filename = c.exe
		evs := []tracer.Event{start, pipe, cloneEv(101, glibcFork, 2, 64), pipe, cloneEv(102, glibcFork, 2, 64)}
		for i := range evs {
			evs[i].TimeNs = uint64(i+1) * 1000
			if evs[i].Pid == 0 {
				evs[i].Pid, evs[i].Tid = 10, 10
			}
		}
		rec := &recording.Recording{StartMonoNs: 1, EndMonoNs: 1 + 100e6, Events: evs, RustChecked: true,
			RustPrograms: []string{"/usr/bin/rustprog"}}
		s := summarized(t, rec)
		ids := map[FindingID]Finding{}
		for _, f := range s.Findings {
			ids[f.ID] = f
		}
		_, named := ids[FindRustFallback]
		fc, forkCopy := ids[FindForkCopy]
		if named != c.rust || forkCopy == c.rust {
			t.Errorf("%s, pipe2(O_CLOEXEC) then fork: rust-fallback named %v, fork-copy %v; want rust-fallback %v",
				c.exe, named, forkCopy, c.rust)
		}
		if !c.rust && forkCopy && (len(fc.ForkCopy.Signatures) != 1 || fc.ForkCopy.Signatures[0].Name != "glibc fork()") {
			t.Errorf("%s: fork-copy's signatures %+v, want glibc fork()", c.exe, fc.ForkCopy.Signatures)
		}
	}
}

func TestFindingLargeEnv(t *testing.T) {
	small, smallNotes := findingsAndNotes(t, 100, nil, cloneEv(101, vforkFlags, 0, 0), execEv(101, 0, 0.2, 20))
	if _, ok := small[FindLargeEnv]; ok {
		t.Errorf("large-env for 20 variables")
	}
	if _, ok := smallNotes[FindLargeEnv]; ok {
		t.Errorf("large-env note for 20 variables")
	}
	// No saving can be separated in one run: a note, never ranked.
	large, notes := findingsAndNotes(t, 100, nil, cloneEv(101, vforkFlags, 0, 0), execEv(101, 0, 0.2, 200))
	if _, ok := large[FindLargeEnv]; ok {
		t.Errorf("large-env ranked without a saving: %+v", large[FindLargeEnv])
	}
	if e, ok := notes[FindLargeEnv]; !ok || e.LargeEnv.MedianCount != 200 || e.SavingNs != 0 || e.Basis != BasisNone {
		t.Errorf("large-env note = %+v", e)
	}
}

// TestFindingVforkBlocking: a vfork-like spawn's wait until exec is what
// the fast path costs: a note. Only when one thread waits most of the run
// would a second thread save, and then it is a rough estimate.
func TestFindingVforkBlocking(t *testing.T) {
	var evs []tracer.Event
	for i := 0; i < 10; i++ {
		ev := cloneEv(int64(100+i), vforkFlags, 0, 0)
		ev.BlockedNs = 2e6
		evs = append(evs, ev)
	}
	// 20 ms of 100: a note, not a finding.
	f, notes := findingsAndNotes(t, 100, nil, evs...)
	if _, ok := f[FindVforkBlocking]; ok {
		t.Errorf("vfork-blocking ranked at 20%% of the run: %+v", f[FindVforkBlocking])
	}
	if n, ok := notes[FindVforkBlocking]; !ok || n.VforkBlocked.BlockedNs != 20e6 || n.VforkBlocked.Overlappable {
		t.Errorf("vfork-blocking note = %+v", n)
	}
	// 20 ms of a 30 ms run, all from one thread: still a note, saying a
	// second thread could overlap the waits.
	f, notes = findingsAndNotes(t, 30, nil, evs...)
	if b, ok := f[FindVforkBlocking]; ok {
		t.Errorf("vfork-blocking ranked: %+v", b)
	}
	if n, ok := notes[FindVforkBlocking]; !ok || !n.VforkBlocked.Overlappable {
		t.Errorf("vfork-blocking note at 20 of 30 ms = %+v", n)
	}
	// 20 ms blocked in a 10 s run is under 1%: nothing to say.
	f, notes = findingsAndNotes(t, 10_000, nil, evs...)
	if _, ok := f[FindVforkBlocking]; ok {
		t.Errorf("vfork-blocking reported at 0.2%% of the run")
	}
	if _, ok := notes[FindVforkBlocking]; ok {
		t.Errorf("vfork-blocking note at 0.2%% of the run")
	}
}

// TestFindingsRankedBySaving: 60 Rust fork-fallback spawns from a 1 GiB
// parent (80 ms each) rank above healthy posix_spawns' waits, which are
// no finding at all.
func TestFindingsRankedBySaving(t *testing.T) {
	sp := tracer.Event{Kind: tracer.KindSyscall, Nr: sysno.Socketpair, Args: []uint64{1, 5 | 0x80000, 0, 0}}
	var evs []tracer.Event
	pid := uint32(100)
	for i := 0; i < 60; i++ {
		ex := execEv(pid, 0, 60, 20)
		ex.TeardownNs = 40e6
		evs = append(evs, sp, cloneEv(int64(pid), glibcFork, 40, 1024), ex)
		pid++
	}
	for i := 0; i < 2000; i++ {
		ev := cloneEv(int64(pid), vforkFlags, 0, 0)
		ev.BlockedNs = 0.9e6
		evs = append(evs, ev, execEv(pid, 0, 0.5, 20))
		pid++
	}
	s := summarized(t, &recording.Recording{StartMonoNs: 1, EndMonoNs: 10e9, Events: evs})
	if len(s.Findings) == 0 || s.Findings[0].ID != FindRustFallback {
		t.Fatalf("findings = %+v, want the fork fallback's cost first", s.Findings)
	}
	for i, f := range s.Findings {
		if f.ID == FindVforkBlocking {
			t.Errorf("vfork-blocking is finding %d", i+1)
		}
		if i > 0 && f.SavingNs > s.Findings[i-1].SavingNs {
			t.Errorf("finding %d (%s, %d ns) ranked below a smaller saving", i, f.ID, f.SavingNs)
		}
	}
	if len(s.Notes) == 0 || s.Notes[0].ID != FindVforkBlocking {
		t.Errorf("notes = %+v, want the vfork wait said as a note", s.Notes)
	}
}

// TestFindingLockStall: stalls the kernel side charged to the forks (it
// counts only threads sharing the parent's mm) make a finding with their
// sum; a single-threaded parent's forks carry none, and make none.
func TestFindingLockStall(t *testing.T) {
	var evs []tracer.Event
	for i := 0; i < 8; i++ {
		ev := cloneEv(int64(100+i), glibcFork, 14, 1024)
		ev.LockStallNs = 12e6
		evs = append(evs, ev)
	}
	ls, ok := findingsOf(t, 1000, nil, evs...)[FindLockStall]
	if !ok || ls.LockStall.Forks != 8 || ls.LockStall.StallNs != 96e6 || ls.SavingNs != 96e6 || ls.Basis != BasisStall {
		t.Errorf("lock-stall = %+v", ls)
	}
	for i := range evs {
		evs[i].LockStallNs = 0
	}
	if ls, ok := findingsOf(t, 1000, nil, evs...)[FindLockStall]; ok {
		t.Errorf("lock-stall without stalls: %+v", ls)
	}
}
