package reports

import (
	"math"
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/compare"
	"github.com/spawntrace/spawntrace/analyze/fixture"
	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/tracer"
)

// findingWords returns the title and evidence of the finding id, failing
// the test when there is none.
func findingWords(t *testing.T, c *compare.Comparison, id string) string {
	t.Helper()
	for i := range c.Findings {
		if c.Findings[i].ID == id {
			title, ev := FindingText(c, &c.Findings[i])
			return title + ": " + ev
		}
	}
	t.Fatalf("no %s finding: %+v", id, c.Findings)
	return ""
}

func wantWords(t *testing.T, text string, words ...string) {
	t.Helper()
	for _, w := range words {
		if !strings.Contains(text, w) {
			t.Errorf("lacks %q: %s", w, text)
		}
	}
}

func laptopSide() fixture.Spawns {
	return fixture.Spawns{Host: recording.Host{Hostname: "laptop", KernelRelease: "5.15", Libc: &recording.Libc{Name: "glibc", Version: "2.35"}},
		N: 100, CloneNs: 40_000, BlockedNs: 30_000, ExecNs: 30_000, S2ENs: 64_000, RSSBytes: 1 << 30, Env: 20, Path: 5,
		IntervalNs: 64_000}
}

func clusterSide() fixture.Spawns {
	return fixture.Spawns{Host: recording.Host{Hostname: "node017", KernelRelease: "3.10", Libc: &recording.Libc{Name: "glibc", Version: "2.17"}},
		Fork: true, N: 100, CloneNs: 490_000, CopyNs: 400_000, BlockedNs: 20_000, TeardownNs: 60_000, ExecNs: 80_000,
		S2ENs: 580_000, RSSBytes: 1 << 30, Env: 20, Path: 5, IntervalNs: 580_000}
}

func TestFindingTextMechanism(t *testing.T) {
	c := compared(fixture.Recording(laptopSide()), fixture.Recording(clusterSide()), "laptop", "cluster")
	wantWords(t, findingWords(t, c, compare.IDMechanism), "cluster forks where laptop uses vfork: ",
		"cluster's glibc 2.17 is older than 2.24", "fall back to fork", "1.00 GiB", "0.46 ms per spawn",
		"89% of the difference", "(cluster: 100 fork-like; laptop: 100 vfork-like)")
	wantWords(t, findingWords(t, c, compare.IDHost), "kernel (5.15 on laptop, 3.10 on cluster)",
		"takes 10.0 µs per spawn on laptop and 70.0 µs on cluster, 12% of the difference",
		"execve takes 30.0 µs per call on laptop, 80.0 µs on cluster")

	same := clusterSide()
	same.Host = laptopSide().Host
	c = compared(fixture.Recording(laptopSide()), fixture.Recording(same), "spawn", "fork")
	wantWords(t, findingWords(t, c, compare.IDMechanism), "both run glibc 2.35, so the program chose it",
		"fork spawns with glibc fork(), spawn with glibc posix_spawn")

	rust := same
	rust.Rust = true
	c = compared(fixture.Recording(laptopSide()), fixture.Recording(rust), "A", "B")
	wantWords(t, findingWords(t, c, compare.IDMechanism), "B's Rust Command falls back to fork")

	unmeasured := clusterSide()
	unmeasured.CopyNs, unmeasured.TeardownNs, unmeasured.Lost = 0, 0, tracer.Lost{Events: 1234}
	rec := fixture.Recording(unmeasured)
	rec.Probes[0].Available = false
	c = compared(fixture.Recording(laptopSide()), rec, "A", "B")
	wantWords(t, findingWords(t, c, compare.IDMechanism), "B's copy was not measured")
	wantWords(t, findingWords(t, c, compare.IDLostEvents), "B lost events: B lost 1234 events", "weaker",
		"larger --ring-bytes")
}

func TestFindingTextPathAndEnvironment(t *testing.T) {
	a, b := fixture.PathAndEnvironment(laptopSide())
	c := compared(fixture.Recording(a), fixture.Recording(b), "short", "long")
	wantWords(t, findingWords(t, c, compare.IDPathSearch), "long searches a longer PATH: ",
		"long's children fail 13.0 execs per spawn", "short's 1.0", "long's PATH has 14 entries, short's 2",
		"48.0 µs per spawn", "spawn by absolute path")
	wantWords(t, findingWords(t, c, compare.IDEnvironment), "long passes a larger environment: ",
		"long's children get 200 environment variables (9.8 KiB) where short's get 20 (1000 B)", "15.0 µs per spawn")

	// PATH lengths not recorded (an older recording): the counts alone.
	a.Path, b.Path = 0, 0
	c = compared(fixture.Recording(a), fixture.Recording(b), "short", "long")
	if w := findingWords(t, c, compare.IDPathSearch); strings.Contains(w, "entries") {
		t.Errorf("PATH entries claimed without a record of them: %s", w)
	}
	for _, r := range c.Host {
		if r.Fact == "PATH entries" && (hostValue(r, r.A) != "not recorded" || hostValue(r, r.B) != "not recorded") {
			t.Errorf("PATH row %+v", r)
		}
	}
}

// PATHs as long on both sides: more failed execs are not a longer PATH.
func TestFindingTextPathSameLength(t *testing.T) {
	a, b := laptopSide(), laptopSide()
	a.Failed, a.FailedNs, a.Path = 1, 4000, 13
	b.Failed, b.FailedNs, b.Path = 2, 4000, 13
	a.S2ENs, a.IntervalNs = 64_000+4000, 68_000
	b.S2ENs, b.IntervalNs = 64_000+8000, 72_000
	a.CloneNs, a.BlockedNs = 44_000, 34_000
	b.CloneNs, b.BlockedNs = 48_000, 38_000
	c := compared(fixture.Recording(a), fixture.Recording(b), "a", "ps")
	w := findingWords(t, c, compare.IDPathSearch)
	wantWords(t, w, "ps's children find their program later in PATH: ", "ps's children fail 2.0 execs per spawn "+
		"before finding the program, a's 1.0, though ps's PATH has 13 entries and a's 13", "4.0 µs per spawn, 100% of the difference")
	if strings.Contains(w, "longer") || strings.Contains(w, "-0%") {
		t.Errorf("equal PATHs worded as a longer one: %s", w)
	}
	// Children that never exec'd: the program was not found.
	f := &compare.CompareFinding{ID: compare.IDPathSearch, Subject: "ps", Other: "a", CostNs: 4000,
		PathSearch: &compare.PathSearchFacts{Cause: compare.CauseNotFound, FailedPerSpawn: compare.Pair[float64]{Subject: 13, Other: 1},
			NotFoundPerSpawn: compare.Pair[float64]{Subject: 11.7}, PathEntries: compare.Pair[int]{Subject: 13, Other: 13}}}
	title, ev := FindingText(c, f)
	wantWords(t, title+": "+ev, "ps's children do not find their program: ", "11.7 of them per spawn are of "+
		"searches that found no program to run", "check the program's name and PATH on ps")
	if strings.Contains(title+ev, "longer") {
		t.Errorf("a program not found worded as a longer PATH: %s: %s", title, ev)
	}
}

// A fork-only side's off-CPU time is not vfork blocking.
func TestFindingTextOffCPU(t *testing.T) {
	a, b := clusterSide(), clusterSide()
	b.CloneNs, b.BlockedNs, b.S2ENs, b.IntervalNs = 690_000, 220_000, 780_000, 780_000
	c := compared(fixture.Recording(a), fixture.Recording(b), "quiet", "loaded")
	w := findingWords(t, c, compare.IDOffCPU)
	wantWords(t, w, "loaded's spawning thread waits longer off CPU (run queue, contention)",
		"off CPU 0.22 ms per spawn on loaded against 20.0 µs on quiet", "does not wait for the child")
	if strings.Contains(w, "vfork") {
		t.Errorf("a fork-only side's off-CPU time charged to vfork: %s", w)
	}
	if math.Abs(c.Findings[0].Share-100) > 1 {
		t.Errorf("share %.1f%%, want 100%%", c.Findings[0].Share)
	}
}

func TestDurText(t *testing.T) {
	for ns, want := range map[float64]string{460_000: "0.46 ms", 7000: "7.0 µs", 5.8e9: "5.80 s", -20_000: "-20.0 µs", 100_000: "0.10 ms"} {
		if got := durText(ns); got != want {
			t.Errorf("durText(%v) = %q, want %q", ns, got, want)
		}
	}
}

// A share that rounds to 0 is left out, never printed as "-0%".
func TestFindingTagNoNegativeZero(t *testing.T) {
	a, b := laptopSide(), laptopSide()
	b.CloneNs, b.S2ENs, b.IntervalNs = 140_000, 164_000, 164_000
	c := compared(fixture.Recording(a), fixture.Recording(b), "a", "b")
	f := &compare.CompareFinding{ID: compare.IDHost, Subject: "b", Other: "a", CostNs: -200, Share: c.Share(-200)}
	if got, want := findingTag(c, f), "host, -0.2 µs per spawn"; got != want {
		t.Errorf("tag %q, want %q", got, want)
	}
	if got := sharePhrase(c, -200); got != "" {
		t.Errorf("share phrase %q for %.2f%%", got, c.Share(-200))
	}
}
