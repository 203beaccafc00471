package summary

import (
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// findingsOf summarizes a hand-built recording of wallMs and returns its
// findings by id.
func findingsOf(t *testing.T, wallMs uint64, spawners []recording.ProcessInfo, events ...tracer.Event) map[string]Finding {
	t.Helper()
	rec := &recording.Recording{StartMonoNs: 1, EndMonoNs: 1 + wallMs*1e6, Events: events, Spawners: spawners,
		Host: recording.Host{THPMode: "madvise"}}
	for i := range rec.Events {
		rec.Events[i].TimeNs = uint64(i+1) * 1000
		if rec.Events[i].Pid == 0 {
			rec.Events[i].Pid, rec.Events[i].Tid = 10, 10
		}
	}
	out := map[string]Finding{}
	for _, f := range summarized(t, rec).Findings {
		out[f.ID] = f
	}
	return out
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
		evs = append(evs, cloneEv(int64(100+i), glibcFork, 20, 1024), execEv(uint32(100+i), 0, 0.3, 20))
		evs[len(evs)-1].TeardownNs = 15e6
	}
	f := findingsOf(t, 1000, []recording.ProcessInfo{{Pid: 10, AnonHugeBytes: 0}}, evs...)
	fc, ok := f["fork-copy"]
	if !ok {
		t.Fatalf("no fork-copy finding: %v", f)
	}
	// 10 x (20 ms copy + 15 ms teardown)
	if fc.CostNs != 350e6 || !strings.Contains(fc.Evidence, "1024 MiB") || !strings.Contains(fc.Evidence, "glibc fork() x10") {
		t.Errorf("fork-copy = %+v", fc)
	}
	thp, ok := f["thp"]
	if !ok || thp.CostNs != 180e6 || !strings.Contains(thp.Evidence, "madvise") {
		t.Errorf("thp = %+v, want 90%% of the 200 ms of copies", thp)
	}
}

func TestFindingTHPNotWhenHugePagesUsed(t *testing.T) {
	var evs []tracer.Event
	for i := 0; i < 10; i++ {
		evs = append(evs, cloneEv(int64(100+i), glibcFork, 20, 1024))
	}
	f := findingsOf(t, 1000, []recording.ProcessInfo{{Pid: 10, AnonHugeBytes: 1000 << 20}}, evs...)
	if _, ok := f["thp"]; ok {
		t.Errorf("thp finding for a parent in huge pages: %v", f["thp"])
	}
	if _, ok := f["fork-copy"]; !ok {
		t.Errorf("the copy itself still costs 200 ms: %v", f)
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
	f := findingsOf(t, 100, nil, evs...)
	ps, ok := f["path-search"]
	if !ok || ps.CostNs != 20e6 || !strings.Contains(ps.Evidence, "20 failed execs") || !strings.Contains(ps.Evidence, "4.0 per spawn") {
		t.Errorf("path-search = %+v", ps)
	}
	if !strings.Contains(ps.Advice, "/usr/bin/true") {
		t.Errorf("advice does not name the absolute path: %q", ps.Advice)
	}
}

func TestFindingRustFallback(t *testing.T) {
	sp := tracer.Event{Kind: tracer.KindSyscall, Nr: sysno.Socketpair, Args: []uint64{1, 5 | 0x80000, 0, 0}}
	evs := []tracer.Event{sp, cloneEv(101, glibcFork, 2, 64), execEv(101, 0, 0.2, 20), sp, cloneEv(102, glibcFork, 2, 64)}
	f := findingsOf(t, 100, nil, evs...)
	if r, ok := f["rust-fallback"]; !ok || !strings.Contains(r.Evidence, "2 spawns") {
		t.Errorf("rust-fallback = %+v (all: %v)", r, f)
	}
	// The same forks without the socketpair are plain glibc forks.
	f = findingsOf(t, 100, nil, cloneEv(101, glibcFork, 2, 64), cloneEv(102, glibcFork, 2, 64))
	if _, ok := f["rust-fallback"]; ok {
		t.Errorf("rust-fallback without a socketpair")
	}
}

func TestFindingLargeEnv(t *testing.T) {
	small := findingsOf(t, 100, nil, cloneEv(101, vforkFlags, 0, 0), execEv(101, 0, 0.2, 20))
	if _, ok := small["large-env"]; ok {
		t.Errorf("large-env for 20 variables")
	}
	large := findingsOf(t, 100, nil, cloneEv(101, vforkFlags, 0, 0), execEv(101, 0, 0.2, 200))
	if e, ok := large["large-env"]; !ok || !strings.Contains(e.Evidence, "200 variables") {
		t.Errorf("large-env = %+v", e)
	}
}

func TestFindingVforkBlocking(t *testing.T) {
	var evs []tracer.Event
	for i := 0; i < 10; i++ {
		ev := cloneEv(int64(100+i), vforkFlags, 0, 0)
		ev.BlockedNs = 2e6
		evs = append(evs, ev)
	}
	if b, ok := findingsOf(t, 100, nil, evs...)["vfork-blocking"]; !ok || b.CostNs != 20e6 {
		t.Errorf("vfork-blocking = %+v", b)
	}
	// 20 ms blocked in a 10 s run is under 1%: nothing to report.
	if _, ok := findingsOf(t, 10_000, nil, evs...)["vfork-blocking"]; ok {
		t.Errorf("vfork-blocking reported at 0.2%% of the run")
	}
}

func TestFindingsRanked(t *testing.T) {
	var evs []tracer.Event
	for i := 0; i < 5; i++ {
		pid := uint32(100 + i)
		evs = append(evs, cloneEv(int64(pid), glibcFork, 20, 1024), execEv(pid, -2, 3, 20), execEv(pid, 0, 0.2, 20))
	}
	fs := summarized(t, &recording.Recording{StartMonoNs: 1, EndMonoNs: 1e9, Events: evs}).Findings
	if len(fs) < 2 {
		t.Fatalf("findings = %v", fs)
	}
	for i := 1; i < len(fs); i++ {
		if fs[i].CostNs > fs[i-1].CostNs {
			t.Errorf("finding %d (%s, %d ns) ranked below a cheaper one", i, fs[i].ID, fs[i].CostNs)
		}
	}
}

func TestFindingVforkBlockingOverlappingThreads(t *testing.T) {
	// Four threads each blocked 30 ms in a 100 ms run: 120 ms of thread time.
	var evs []tracer.Event
	for i := 0; i < 4; i++ {
		ev := cloneEv(int64(100+i), vforkFlags, 0, 0)
		ev.BlockedNs = 30e6
		evs = append(evs, ev)
	}
	b, ok := findingsOf(t, 100, nil, evs...)["vfork-blocking"]
	if !ok || strings.Contains(b.Evidence, "120%") || !strings.Contains(b.Evidence, "overlapped") {
		t.Errorf("vfork-blocking = %+v, want the overlap said, not a share over 100%%", b)
	}
}
