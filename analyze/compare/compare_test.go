package compare

import (
	"github.com/spawntrace/spawntrace/analyze/fixture"
	"math"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/spawn"
	"github.com/spawntrace/spawntrace/tracer"
)

type sideSpec = fixture.Spawns

func buildRecording(s sideSpec) *recording.Recording { return fixture.Recording(s) }

// The published figures: the same program spawns 10 000 processes with a
// 1 GiB parent in 0.64 s on a laptop (glibc 2.35, kernel 5.15, vfork-like
// posix_spawn) and in 5.8 s on an HPC node (glibc 2.17, kernel 3.10, which
// forks).
func laptopSpec() sideSpec {
	return sideSpec{
		Host: recording.Host{Hostname: "laptop", KernelRelease: "5.15.0-91-generic", Distro: "Ubuntu 22.04.3 LTS", CPUs: 8,
			Virtualization: "none", Libc: &recording.Libc{Name: "glibc", Version: "2.35"}, THPMode: "madvise"},
		N: 10_000, CloneNs: 40_000, BlockedNs: 30_000, ExecNs: 30_000, S2ENs: 64_000,
		RSSBytes: 1 << 30, Env: 20, Path: 5, IntervalNs: 64_000,
	}
}

func clusterSpec() sideSpec {
	return sideSpec{
		Host: recording.Host{Hostname: "node017", KernelRelease: "3.10.0-1160.el7.x86_64", Distro: "CentOS Linux 7 (Core)", CPUs: 128,
			Virtualization: "none", Libc: &recording.Libc{Name: "glibc", Version: "2.17"}, THPMode: "always"},
		Fork: true, N: 10_000, CloneNs: 490_000, CopyNs: 400_000, BlockedNs: 20_000, TeardownNs: 60_000,
		ExecNs: 80_000, S2ENs: 580_000, RSSBytes: 1 << 30, Env: 20, Path: 5, IntervalNs: 580_000,
	}
}

func findingByID(c *Comparison, id string) *CompareFinding {
	for i := range c.Findings {
		if c.Findings[i].ID == id {
			return &c.Findings[i]
		}
	}
	return nil
}

func sharesSum(c *Comparison) float64 {
	var s float64
	for _, r := range c.Breakdown {
		s += r.Share
	}
	return s
}

func TestComparePublishedFigures(t *testing.T) {
	a, b := buildRecording(laptopSpec()), buildRecording(clusterSpec())
	c := compared(t, a, b, "laptop", "cluster")
	if c.A.WallNs != 640_000_000 || c.B.WallNs != 5_800_000_000 {
		t.Fatalf("walls %d and %d ns, want 0.64 s and 5.8 s", c.A.WallNs, c.B.WallNs)
	}
	if c.A.MeanNs != 64_000 || c.B.MeanNs != 580_000 || c.DiffNs != 516_000 {
		t.Errorf("mean spawn cost %v and %v ns, diff %v; want 64 µs, 580 µs, 516 µs", c.A.MeanNs, c.B.MeanNs, c.DiffNs)
	}
	// Each side's parts add up to its mean, and the shares to 100%.
	var sumA, sumB float64
	for _, r := range c.Breakdown {
		sumA += r.ANs
		sumB += r.BNs
	}
	if math.Abs(sumA-c.A.MeanNs) > 1 || math.Abs(sumB-c.B.MeanNs) > 1 {
		t.Errorf("parts add up to %v and %v, want %v and %v", sumA, sumB, c.A.MeanNs, c.B.MeanNs)
	}
	if s := sharesSum(c); math.Abs(s-100) > 0.5 {
		t.Errorf("shares add up to %.2f%%", s)
	}
	want := map[string]float64{PartCopy: 400_000, PartTeardown: 60_000, PartCall: 60_000, PartBlocked: -10_000, PartChild: 6_000}
	for _, r := range c.Breakdown {
		if w, ok := want[r.Part]; ok && math.Abs(r.DiffNs-w) > 1 {
			t.Errorf("%s: diff %v ns, want %v", r.Part, r.DiffNs, w)
		}
	}
	m := findingByID(c, "mechanism")
	if m == nil {
		t.Fatalf("no mechanism finding: %+v", c.Findings)
	}
	if mf := m.Mechanism; m.Subject != "cluster" || m.Other != "laptop" || mf == nil || mf.Cause != CauseOldGlibc ||
		mf.Libc != (Pair[string]{"glibc 2.17", "glibc 2.35"}) || mf.ParentRSSBytes != 1<<30 || !mf.CopyMeasured ||
		math.Abs(m.CostNs-460_000) > 1 || math.Round(m.Share) != 89 || !c.Explained {
		t.Errorf("mechanism finding %+v (%+v)", m, m.Mechanism)
	}
	if c.Findings[0].ID != "mechanism" {
		t.Errorf("first finding %s, want mechanism", c.Findings[0].ID)
	}
	h := findingByID(c, "host")
	if h == nil || h.Host == nil || len(h.Host.Diffs) != 1 || h.Host.Diffs[0].B != "3.10.0-1160.el7.x86_64" ||
		math.Abs(h.Share-11.6) > 0.1 || h.Host.CallNs == nil || h.Host.CallNs.Subject != 70_000 || h.Host.Syscall.Name != "execve" {
		t.Errorf("host finding = %+v", h)
	}
	if f := findingByID(c, "path-search"); f != nil {
		t.Errorf("unexpected path finding: %+v", f)
	}
	if f := findingByID(c, "environment"); f != nil {
		t.Errorf("unexpected environment finding: %+v", f)
	}
	if len(c.Notes) != 0 {
		t.Errorf("notes: %+v", c.Notes)
	}
	pa, pb := c.A.Patterns, c.B.Patterns
	if len(pa) != 1 || len(pb) != 1 || pa[0].Spawns != 10_000 || pa[0].Key() != "clone3/0x4100/0/0 -> execve/0x0/0/0" ||
		pb[0].Key() != "clone/0x11/0/0 -> execve/0x0/0/0" {
		t.Errorf("patterns %+v and %+v", pa, pb)
	}
	// The syscall table is sorted by the time per spawn each call adds.
	if r := c.Syscalls[0]; r.Name != "clone" || r.DiffNs != 490_000 || r.CallsB != 1 {
		t.Errorf("first syscall row %+v, want clone at +490 µs per spawn", r)
	}
}

// The small-parent figures: 10 000 spawns in 0.07 s on the laptop and in
// 0.41 s on the cluster.
func TestCompareSmallParentFigures(t *testing.T) {
	la, cl := laptopSpec(), clusterSpec()
	la.RSSBytes, la.CloneNs, la.BlockedNs, la.ExecNs, la.S2ENs, la.IntervalNs = 8<<20, 5000, 3000, 2000, 7000, 7000
	cl.RSSBytes, cl.CloneNs, cl.CopyNs, cl.BlockedNs, cl.TeardownNs, cl.ExecNs, cl.S2ENs, cl.IntervalNs =
		8<<20, 30_000, 20_000, 1000, 5000, 8000, 41_000, 41_000
	c := compared(t, buildRecording(la), buildRecording(cl), "laptop", "cluster")
	if c.A.WallNs != 70_000_000 || c.B.WallNs != 410_000_000 {
		t.Fatalf("walls %d and %d ns", c.A.WallNs, c.B.WallNs)
	}
	m := findingByID(c, "mechanism")
	if m == nil || m.Mechanism.Cause != CauseOldGlibc || m.Mechanism.ParentRSSBytes != 8<<20 {
		t.Fatalf("mechanism finding = %+v", m)
	}
	if math.Abs(m.CostNs-25_000) > 1 || math.Abs(m.Share-100*25.0/34) > 0.1 {
		t.Errorf("mechanism cost %v ns, share %.1f%%; want 25 µs, 73.5%%", m.CostNs, m.Share)
	}
	if s := sharesSum(c); math.Abs(s-100) > 0.5 {
		t.Errorf("shares add up to %.2f%%", s)
	}
}

func TestComparePathAndEnvironment(t *testing.T) {
	a, b := fixture.PathAndEnvironment(laptopSpec())
	c := compared(t, buildRecording(a), buildRecording(b), "short", "long")
	p := findingByID(c, "path-search")
	if p == nil {
		t.Fatalf("no path-search finding: %+v", c.Findings)
	}
	if f := p.PathSearch; p.Subject != "long" || p.Other != "short" || f.FailedPerSpawn != (Pair[float64]{13, 1}) ||
		f.PathEntries != (Pair[int]{14, 2}) || p.CostNs != 48_000 {
		t.Errorf("path finding %+v (%+v)", p, p.PathSearch)
	}
	e := findingByID(c, "environment")
	if e == nil {
		t.Fatalf("no environment finding: %+v", c.Findings)
	}
	if f := e.Environment; e.Subject != "long" || f.Vars != (Pair[int]{200, 20}) || !f.Separable || e.CostNs != 15_000 {
		t.Errorf("environment finding %+v (%+v)", e, e.Environment)
	}
	// The host rows give the workload's environment as its execs saw it.
	rows := map[string]HostRow{}
	for _, r := range c.Host {
		rows[r.Fact] = r
	}
	if r := rows["PATH entries"]; r.A != "2" || r.B != "14" || !r.Differs {
		t.Errorf("PATH row %+v", r)
	}
	if r := rows["environment variables"]; r.A != "20" || r.B != "200" || !r.Differs {
		t.Errorf("environment row %+v", r)
	}
	if f := findingByID(c, "mechanism"); f != nil {
		t.Errorf("unexpected mechanism finding: %+v", f)
	}
	if s := sharesSum(c); math.Abs(s-100) > 0.5 {
		t.Errorf("shares add up to %.2f%%", s)
	}
	// The failed execs happen inside the vfork parent's wait: counted once.
	for _, r := range c.Breakdown {
		if r.Part == PartFailed && r.DiffNs != 48_000 {
			t.Errorf("failed execs diff %v, want 48 µs", r.DiffNs)
		}
		if r.Part == PartBlocked && r.DiffNs != 0 {
			t.Errorf("blocked diff %v, want 0 once the failed execs are taken out", r.DiffNs)
		}
	}
	if got := c.B.Patterns[0].Key(); got != "clone3/0x4100/0/0 -> execve/0x0/0/2x13 -> execve/0x0/0/0" {
		t.Errorf("pattern %s", got)
	}
}

func TestCompareRustFallback(t *testing.T) {
	a, b := laptopSpec(), clusterSpec()
	b.Rust = true
	b.Host.Libc = &recording.Libc{Name: "glibc", Version: "2.35"}
	c := compared(t, buildRecording(a), buildRecording(b), "A", "B")
	m := findingByID(c, "mechanism")
	if m == nil || m.Subject != "B" || m.Mechanism.Cause != CauseRustFallback {
		t.Fatalf("mechanism finding = %+v", m)
	}
	if p := c.B.Patterns[0]; !p.HasSocketpair() || len(p.Steps) != 3 {
		t.Errorf("pattern %+v, want socketpair -> clone -> execve", p)
	}
}

func TestCompareSameLibcForkVsSpawn(t *testing.T) {
	a, b := laptopSpec(), clusterSpec()
	b.Host = a.Host
	c := compared(t, buildRecording(a), buildRecording(b), "spawn", "fork")
	m := findingByID(c, "mechanism")
	if m == nil || m.Mechanism.Cause != CauseProgramChoice ||
		m.Mechanism.Spawner != (Pair[string]{"glibc fork()", "glibc posix_spawn"}) {
		t.Fatalf("mechanism finding = %+v", m)
	}
	if f := findingByID(c, "host"); f != nil {
		t.Errorf("host finding on identical hosts: %+v", f)
	}
}

func TestCompareNoSpawnsAndOtherWorkload(t *testing.T) {
	a := buildRecording(laptopSpec())
	empty := laptopSpec()
	empty.N, empty.Command = 0, []string{"/bin/true"}
	b := buildRecording(empty)
	b.EndMonoNs = b.StartMonoNs + 1e6
	b.Syscalls = []recording.SyscallStat{{Nr: 12, Name: "brk", Calls: 3, TimeNs: 3000}}
	c := compared(t, a, b, "A", "B")
	var sawEmpty, sawWorkload bool
	for _, n := range c.Notes {
		sawEmpty = sawEmpty || n == Note{ID: NoteNoSpawns, Side: "B"}
		sawWorkload = sawWorkload || n.ID == NoteDifferentWorkloads
	}
	if !sawEmpty || !sawWorkload {
		t.Errorf("notes %+v: want no spawns and different workloads", c.Notes)
	}
	if c.PerSpawn || len(c.Breakdown) != 0 || len(c.Syscalls) == 0 || len(c.Host) == 0 {
		t.Errorf("per spawn %v, breakdown %d rows, syscalls %d, host %d", c.PerSpawn, len(c.Breakdown), len(c.Syscalls), len(c.Host))
	}
	// Per run, then: B's three brk calls.
	for _, r := range c.Syscalls {
		if r.Name == "brk" && r.CallsB != 3 {
			t.Errorf("brk row %+v", r)
		}
	}
}

func TestCompareLostAndUnmeasured(t *testing.T) {
	a, b := laptopSpec(), clusterSpec()
	b.Lost = tracer.Lost{Events: 1234}
	b.NoCopyProbe = true
	b.CopyNs, b.TeardownNs = 0, 0
	c := compared(t, buildRecording(a), buildRecording(b), "A", "B")
	l := findingByID(c, "lost-events")
	if l == nil || l.Subject != "B" || l.Lost.Events != 1234 || l.CostNs != 0 {
		t.Errorf("lost finding = %+v", l)
	}
	m := findingByID(c, "mechanism")
	if m == nil || m.CostNs != 0 || m.Mechanism.CopyMeasured {
		t.Errorf("mechanism finding = %+v", m)
	}
	var note bool
	for _, n := range c.Notes {
		note = note || n == Note{ID: NoteCopyUnmeasured, Side: "B"}
	}
	if !note {
		t.Errorf("notes %+v", c.Notes)
	}
	for _, r := range c.Breakdown {
		if r.Part == PartCopy && r.Measured {
			t.Error("copy row marked measured")
		}
	}
}

func TestCompareHostRows(t *testing.T) {
	a, b := buildRecording(laptopSpec()), buildRecording(clusterSpec())
	b.Host.Libc = nil
	rows := map[string]HostRow{}
	for _, r := range compared(t, a, b, "A", "B").Host {
		rows[r.Fact] = r
	}
	if r := rows["kernel"]; !r.Differs {
		t.Errorf("kernel row %+v", r)
	}
	if r := rows["libc"]; r.Differs || r.A != "glibc 2.35" || r.B != "" {
		t.Errorf("libc row %+v: unknown on one side is not a difference", r)
	}
	if r := rows["virtualization"]; r.Differs || r.A != "none" {
		t.Errorf("virtualization row %+v", r)
	}
}

func TestLibcVersions(t *testing.T) {
	for _, c := range []struct {
		l             *recording.Libc
		before, known bool
	}{
		{&recording.Libc{Name: "glibc", Version: "2.17"}, true, true},
		{&recording.Libc{Name: "glibc", Version: "2.24"}, false, true},
		{&recording.Libc{Name: "glibc", Version: "2.36", Approx: true}, false, true},
		{&recording.Libc{Name: "glibc", Version: "3.1"}, false, true},
		{&recording.Libc{Name: "musl", Version: "1.2.4"}, false, false},
		{&recording.Libc{Name: "glibc"}, false, false},
		{nil, false, false},
	} {
		before, known := c.l.GlibcBefore(2, 24)
		if before != c.before || known != c.known {
			t.Errorf("%v: before 2.24 = %v, %v; want %v, %v", c.l, before, known, c.before, c.known)
		}
	}
	if s := (&recording.Libc{Name: "glibc", Version: "2.36", Approx: true}).String(); s != "glibc >= 2.36" {
		t.Errorf("String = %q", s)
	}
}

// A side recorded with --spawns-only has no other syscalls: compare leaves
// them out on both sides rather than show them as missing on one.
func TestCompareSpawnsOnlySide(t *testing.T) {
	a, b := buildRecording(laptopSpec()), buildRecording(clusterSpec())
	b.SpawnCallsOnly = true
	var kept []recording.SyscallStat
	for _, s := range b.Syscalls {
		if spawn.IsSpawnCall(s.Nr) {
			kept = append(kept, s)
		}
	}
	b.Syscalls = kept
	c := compared(t, a, b, "laptop", "cluster")
	if len(c.Syscalls) == 0 {
		t.Fatal("no syscall rows")
	}
	for _, r := range c.Syscalls {
		if r.Name == "wait4" || r.Name == "rt_sigaction" {
			t.Errorf("row %s compared although B did not count it", r.Name)
		}
	}
	// laptop: clone3 + execve per spawn; cluster: clone + execve.
	if c.A.SyscallsPerSpawn != 2 || c.B.SyscallsPerSpawn != 2 {
		t.Errorf("syscalls per spawn %v and %v, want 2 and 2 (spawn-related calls only)", c.A.SyscallsPerSpawn, c.B.SyscallsPerSpawn)
	}
	noted := false
	for _, n := range c.Notes {
		noted = noted || n.ID == NoteSpawnsOnly
	}
	if !noted {
		t.Errorf("no note says a side was recorded with --spawns-only: %+v", c.Notes)
	}
}

// compared is Compare for a test, which it fails on an error.
func compared(t testing.TB, a, b *recording.Recording, nameA, nameB string) *Comparison {
	t.Helper()
	c, err := Compare(a, b, nameA, nameB)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A forking thread off CPU longer waited for a CPU or a lock, not for its
// child: it is named off-cpu; vfork-blocking only where the side vforks.
func TestCompareOffCPUNamedByMechanism(t *testing.T) {
	a, b := clusterSpec(), clusterSpec()
	b.CloneNs, b.BlockedNs, b.S2ENs, b.IntervalNs = 690_000, 220_000, 780_000, 780_000
	c := compared(t, buildRecording(a), buildRecording(b), "quiet", "loaded")
	if f := findingByID(c, IDVforkBlocking); f != nil {
		t.Errorf("vfork-blocking on two fork-only sides: %+v", f)
	}
	f := findingByID(c, IDOffCPU)
	if f == nil || f.Subject != "loaded" || f.OffCPU.Mechanism != spawn.MechFork || f.CostNs != 200_000 ||
		f.OffCPU.OffCPUNs != (Pair[float64]{220_000, 20_000}) {
		t.Fatalf("off-cpu finding %+v; findings %+v", f, c.Findings)
	}

	a, b = laptopSpec(), laptopSpec()
	b.CloneNs, b.BlockedNs, b.S2ENs, b.IntervalNs = 240_000, 230_000, 264_000, 264_000
	c = compared(t, buildRecording(a), buildRecording(b), "short", "long")
	if f := findingByID(c, IDVforkBlocking); f == nil || f.Subject != "long" || f.OffCPU.Mechanism != spawn.MechVfork {
		t.Errorf("vfork-blocking finding %+v; findings %+v", f, c.Findings)
	}
	if f := findingByID(c, IDOffCPU); f != nil {
		t.Errorf("off-cpu on vfork sides: %+v", f)
	}
}

// A forked child's exec does more than a vfork child's besides the
// environment: across mechanisms the environment is named, its cost not
// claimed.
func TestCompareEnvironmentAcrossMechanisms(t *testing.T) {
	a, b := laptopSpec(), clusterSpec()
	b.Env = 200
	c := compared(t, buildRecording(a), buildRecording(b), "laptop", "cluster")
	e := findingByID(c, IDEnvironment)
	if e == nil || e.Subject != "cluster" || e.Environment.Separable || e.CostNs != 0 ||
		e.Environment.Mechanisms != (Pair[spawn.Mechanism]{spawn.MechFork, spawn.MechVfork}) {
		t.Fatalf("environment finding %+v (%+v)", e, e.Environment)
	}
}

// Failed execs that differ while the PATHs are as long are not a longer
// PATH; and a difference in them that costs nothing of the difference, or
// works against it, names no cause at all.
func TestComparePathSearchCauses(t *testing.T) {
	base := func() sideSpec {
		s := laptopSpec()
		s.Path, s.Failed, s.FailedNs = 13, 1, 4000
		s.S2ENs, s.IntervalNs = 64_000+4000, 68_000
		// With vfork the parent waits through the child's failed execs.
		s.CloneNs, s.BlockedNs = 44_000, 34_000
		return s
	}
	// B fails one more exec per spawn, but its failed execs are cheaper:
	// B is slower for another reason (off CPU longer).
	a, b := base(), base()
	b.Failed, b.FailedNs = 2, 1900
	b.CloneNs, b.BlockedNs = 140_000, 130_000
	b.S2ENs, b.IntervalNs = 64_000+100_000-200, 168_000
	c := compared(t, buildRecording(a), buildRecording(b), "a", "ps")
	if !c.Explained {
		t.Fatalf("difference %v ns not explained", c.DiffNs)
	}
	if f := findingByID(c, IDPathSearch); f != nil {
		t.Errorf("path-search finding with equal PATHs and a failed-exec cost of %v ns (%.1f%%): %+v", f.CostNs,
			f.Share, f.PathSearch)
	}
	// B fails one more exec per spawn at the same cost, PATHs of 13 entries
	// on both: the program comes later in B's PATH.
	b = base()
	b.Failed = 2
	b.S2ENs, b.IntervalNs = 64_000+8000, 72_000
	b.CloneNs, b.BlockedNs = 48_000, 38_000
	c = compared(t, buildRecording(a), buildRecording(b), "a", "ps")
	f := findingByID(c, IDPathSearch)
	if f == nil || f.Subject != "ps" || f.PathSearch.Cause != CauseLaterInPath || f.Share < minShownShare {
		t.Fatalf("path-search finding %+v, want ps's program later in PATH", f)
	}
	// A longer PATH only when it is longer.
	b.Path = 20
	c = compared(t, buildRecording(a), buildRecording(b), "a", "ps")
	if f := findingByID(c, IDPathSearch); f == nil || f.PathSearch.Cause != CauseLongerPath {
		t.Fatalf("path-search finding %+v, want a longer PATH", f)
	}
	// B's children mostly never find the program: every exec fails.
	b = base()
	b.Failed, b.NotFound = 13, 9000
	b.S2ENs, b.IntervalNs = 64_000+13*4000, 116_000
	b.CloneNs, b.BlockedNs = 92_000, 82_000
	c = compared(t, buildRecording(a), buildRecording(b), "a", "ps")
	f = findingByID(c, IDPathSearch)
	if f == nil || f.PathSearch.Cause != CauseNotFound || f.PathSearch.NotFoundPerSpawn.Subject != 11.7 {
		t.Fatalf("path-search finding %+v, want ps's program not found", f)
	}
}

// A cause that works against the difference is no cause of it: B is slower
// (its copy), A's thread waits off CPU 40 µs longer: no off-cpu finding.
func TestCompareNoFindingAgainstTheDifference(t *testing.T) {
	a, b := clusterSpec(), clusterSpec()
	a.BlockedNs, a.CloneNs, a.S2ENs, a.IntervalNs = 60_000, 530_000, 620_000, 620_000
	b.CopyNs, b.CloneNs, b.S2ENs, b.IntervalNs = 800_000, 890_000, 980_000, 980_000
	c := compared(t, buildRecording(a), buildRecording(b), "a", "b")
	if c.DiffNs <= 0 || !c.Explained {
		t.Fatalf("difference %v ns, explained %v", c.DiffNs, c.Explained)
	}
	if f := findingByID(c, IDOffCPU); f != nil {
		t.Errorf("off-cpu finding against the difference: %+v (%.1f%%)", f, f.Share)
	}
	if f := findingByID(c, IDForkCopy); f == nil || f.Subject != "b" {
		t.Errorf("fork-copy finding %+v, want b's", f)
	}
}
