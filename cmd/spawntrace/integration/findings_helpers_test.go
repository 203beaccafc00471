//go:build integration && linux

package integration

// Helpers of the findings tests (findings_*_test.go): a traced run read
// back through analyze/recording and analyze/summary, untraced runs timed
// against each other, and the Rust workload's build.

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spawntrace/spawntrace/analyze/summary"
)

// slowTest marks a test that takes tens of seconds: it runs in make test and
// under CI=true, and is left out of `go test -short` elsewhere.
func slowTest(t *testing.T) {
	t.Helper()
	if testing.Short() && os.Getenv("CI") != "true" {
		t.Skip("slow (untraced runs timed against each other); runs without -short")
	}
}

// smallEnv is a small, fixed environment for the workloads: the tests decide
// how large the environment and PATH are, not the shell that ran go test.
func smallEnv(extra ...string) []string {
	return append([]string{"PATH=/usr/bin:/bin", "HOME=/root", "LANG=C"}, extra...)
}

// tracedSummary runs argv under spawntrace with env, saving the recording, and
// returns the recording's summary as analyze/summary makes it.
func tracedSummary(t *testing.T, e *testEnv, env []string, argv ...string) summary.Summary {
	t.Helper()
	rec := filepath.Join(t.TempDir(), "rec.json")
	r := e.spawntrace(t, runOpts{env: env, timeout: 3 * time.Minute}, append([]string{"-w", rec, "--"}, argv...)...)
	if r.status != 0 {
		t.Fatalf("%s", r)
	}
	loaded := loadRecording(t, rec)
	if loaded.Lost.Total() > 0 {
		t.Fatalf("lost events: %+v", loaded.Lost)
	}
	s := summarized(t, loaded)
	var ids []string
	for _, f := range s.Findings {
		ids = append(ids, fmt.Sprintf("%s ~%.1f ms", f.ID, float64(savingNs(f))/1e6))
	}
	for _, f := range s.Notes {
		ids = append(ids, fmt.Sprintf("note %s", f.ID))
	}
	loop := ""
	if l, ok := parseLoopTime(r.stdout); ok {
		loop = fmt.Sprintf(" (loop %.1f ms, CPU %.1f ms)", float64(l.wall)/1e6, float64(l.cpu)/1e6)
	}
	t.Logf("traced %s: run %.1f ms%s; findings: %s", strings.Join(argv, " "), float64(s.WallNs)/1e6, loop, strings.Join(ids, ", "))
	return s
}

// medianClaim returns the summary of runs whose finding id claims the
// median saving, with that finding.
func medianClaim(t *testing.T, runs []summary.Summary, id summary.FindingID) (summary.Summary, *summary.Finding) {
	t.Helper()
	sort.Slice(runs, func(i, j int) bool {
		return savingNs(*findingOf(&runs[i], id)) < savingNs(*findingOf(&runs[j], id))
	})
	s := runs[len(runs)/2]
	f := findingOf(&s, id)
	t.Logf("%s: median claim %.1f ms of %d traced runs", id, float64(savingNs(*f))/1e6, len(runs))
	return s, f
}

// claimAndSaving measures a finding's claim and what its advice saves in
// the same rounds: each of loopRuns rounds runs argv traced, then asIs and
// advised untraced. The machine's pace drifts over a test (CI's untraced
// fork loop ran 233 ms in one round and 148-156 ms in the next four, after
// the traced runs), so claims taken before all untraced runs compared a
// slow moment with a fast one (1.50x); interleaved, both medians span the
// same moments. It returns the median claim's summary and finding, and the
// medians of asIs and advised as timeLoops does.
func claimAndSaving(t *testing.T, e *testEnv, env []string, id summary.FindingID, argv []string, asIs, advised loopVariant) (summary.Summary, *summary.Finding, []loopTime) {
	t.Helper()
	runs := make([]summary.Summary, loopRuns)
	loops := make([][]loopTime, 2)
	for i := range runs {
		runs[i] = tracedSummary(t, e, env, argv...)
		mustFinding(t, &runs[i], id)
		for j, v := range []loopVariant{asIs, advised} {
			loops[j] = append(loops[j], runLoop(t, v))
		}
	}
	s, f := medianClaim(t, runs, id)
	return s, f, loopMedians(t, []loopVariant{asIs, advised}, loops)
}

// findingOf returns the finding id of s, nil when s has none.
func findingOf(s *summary.Summary, id summary.FindingID) *summary.Finding {
	for i := range s.Findings {
		if s.Findings[i].ID == id {
			return &s.Findings[i]
		}
	}
	return nil
}

// mustFinding returns the finding id of s, failing the test when there is none.
func mustFinding(t *testing.T, s *summary.Summary, id summary.FindingID) *summary.Finding {
	t.Helper()
	f := findingOf(s, id)
	if f == nil {
		t.Fatalf("no %s finding; findings: %s", id, findingList(s))
	}
	return f
}

// findingList words a summary's findings for a failure message.
func findingList(s *summary.Summary) string {
	if len(s.Findings) == 0 {
		return "none"
	}
	var b strings.Builder
	for i, f := range s.Findings {
		fmt.Fprintf(&b, "\n %d. %s", i+1, describeFinding(&f))
	}
	return b.String()
}

// describeFinding is a finding in one line, for failure messages: its numbers
// as the recording's JSON has them (reports words them).
func describeFinding(f *summary.Finding) string {
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Sprintf("%s: %v", f.ID, err)
	}
	return string(b)
}

// savingNs is what a finding says its advice saves, in total over the run.
func savingNs(f summary.Finding) uint64 { return f.SavingNs }

// roughEstimate reports whether a finding says its saving is a rough
// estimate, as issue 11 asks of a finding whose saving cannot be checked
// against the run with its advice applied.
func roughEstimate(f *summary.Finding) bool { return f.Basis.Rough() }

// loopVariant is one way to run a workload untraced: its argv and environment.
type loopVariant struct {
	name string
	argv []string
	env  []string
}

// loopTime is one timed spawn loop, as the workloads print it: its wall time
// and the CPU time of the workload and its children meanwhile.
type loopTime struct{ wall, cpu time.Duration }

// timeLoops runs each variant runs times, interleaved (A B A B ...),
// untraced, and returns the medians of each one's loop times. Medians of
// interleaved runs hold on a loaded machine: a burst of other work slows
// one or two runs of each side, not a whole side.
func timeLoops(t *testing.T, runs int, vs ...loopVariant) []loopTime {
	t.Helper()
	loops := make([][]loopTime, len(vs))
	for i := 0; i < runs; i++ {
		for j, v := range vs {
			loops[j] = append(loops[j], runLoop(t, v))
		}
	}
	return loopMedians(t, vs, loops)
}

// runLoop runs one variant untraced and returns the loop time it printed.
func runLoop(t *testing.T, v loopVariant) loopTime {
	t.Helper()
	r := runCmd(t, runOpts{env: v.env, timeout: 2 * time.Minute}, v.argv...)
	if r.status != 0 {
		t.Fatalf("%s: %s", v.name, r)
	}
	l, ok := parseLoopTime(r.stdout)
	if !ok {
		t.Fatalf("%s printed %q, not `WALL_NS CPU_NS`", v.name, r.stdout)
	}
	return l
}

// parseLoopTime reads the `WALL_NS CPU_NS` line a workload prints.
func parseLoopTime(stdout []byte) (loopTime, bool) {
	f := strings.Fields(string(stdout))
	if len(f) != 2 {
		return loopTime{}, false
	}
	wall, werr := strconv.ParseInt(f[0], 10, 64)
	cpu, cerr := strconv.ParseInt(f[1], 10, 64)
	if werr != nil || cerr != nil || wall <= 0 || cpu <= 0 {
		return loopTime{}, false
	}
	return loopTime{time.Duration(wall), time.Duration(cpu)}, true
}

// loopMedians returns the medians of each variant's loop times, logged;
// with two variants, the second's is the first's less the median of the
// rounds' differences.
func loopMedians(t *testing.T, vs []loopVariant, loops [][]loopTime) []loopTime {
	t.Helper()
	meds := make([]loopTime, len(vs))
	for j, v := range vs {
		var walls, cpus []time.Duration
		for _, l := range loops[j] {
			walls, cpus = append(walls, l.wall), append(cpus, l.cpu)
		}
		meds[j] = loopTime{medianDur(walls), medianDur(cpus)}
		t.Logf("untraced %s: median wall %.1f ms of %v, CPU %.1f ms of %v", v.name,
			float64(meds[j].wall)/1e6, msList(walls), float64(meds[j].cpu)/1e6, msList(cpus))
	}
	if len(vs) == 2 {
		// The saving is the median of each round's difference: the
		// machine's pace drifts between rounds (+-15% per run on CI's
		// cores) more than within one, which two separate medians keep.
		var dWall, dCPU []time.Duration
		for i := range loops[0] {
			dWall = append(dWall, loops[0][i].wall-loops[1][i].wall)
			dCPU = append(dCPU, loops[0][i].cpu-loops[1][i].cpu)
		}
		meds[1] = loopTime{meds[0].wall - medianDur(dWall), meds[0].cpu - medianDur(dCPU)}
		t.Logf("round by round, %s saves: wall %v, CPU %v (ms); medians %.1f and %.1f ms", vs[1].name, msList(dWall), msList(dCPU),
			float64(medianDur(dWall))/1e6, float64(medianDur(dCPU))/1e6)
	}
	return meds
}

func medianDur(ds []time.Duration) time.Duration {
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	return sorted[len(sorted)/2]
}

func msList(ds []time.Duration) []string {
	var out []string
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%.1f", float64(d)/1e6))
	}
	return out
}

// savingTolerance is how far a finding's "saves about" may be from the
// saving measured by running the workload with its advice applied (issue 11).
const savingTolerance = 0.35

// upperBoundFactor is how far above the measured saving a finding's upper
// bound may be and still be worth stating: the PATH search's traced failed
// execs came out 0.96-1.95x their untraced saving (load 3-15 on 2 CPUs,
// where the untraced saving alone swung from 38 to 100 ms between runs).
const upperBoundFactor = 2.5

// savingClaim is how a finding words its saving and how far from the
// saving measured untraced (the ratio estimate/measured) it may be.
type savingClaim struct {
	words  string
	lo, hi float64
}

var (
	// savesAbout: an estimate, within the medians' tolerance.
	savesAbout = savingClaim{"saves about", 1 - savingTolerance, 1 + savingTolerance}
	// savesUpTo: an upper bound, not below the saving (by more than the
	// tolerance) and not more than upperBoundFactor times it.
	savesUpTo = savingClaim{"saves up to", 1 - savingTolerance, upperBoundFactor}
)

// checkSaving compares a finding's saving with the one measured: the
// untraced loop as it is minus the loop with the advice applied, in the
// time named by what ("CPU" or "wall").
func checkSaving(t *testing.T, f *summary.Finding, claim savingClaim, what string, as, advised time.Duration) {
	t.Helper()
	est := float64(savingNs(*f))
	measured := float64(as - advised)
	t.Logf("%s %s %.1f ms, measured %.1f ms (%s time %.1f -> %.1f ms untraced), estimate/measured %.2f",
		f.ID, claim.words, est/1e6, measured/1e6, what, float64(as)/1e6, float64(advised)/1e6, est/measured)
	if measured <= 0 {
		t.Fatalf("%s: applying the advice saved nothing (%s time %.1f ms as it is, %.1f ms advised), the finding %s %.1f ms",
			f.ID, what, float64(as)/1e6, float64(advised)/1e6, claim.words, est/1e6)
	}
	if est < claim.lo*measured || est > claim.hi*measured {
		t.Errorf("%s %s %.1f ms; applying its advice saved %.1f ms (untraced medians of %s time %.1f -> %.1f ms): "+
			"%.2fx, outside %.2f-%.2fx\n%s", f.ID, claim.words, est/1e6, measured/1e6, what, float64(as)/1e6,
			float64(advised)/1e6, est/measured, claim.lo, claim.hi, describeFinding(f))
	}
}

// ---- the Rust workload ----

// rustBuild is one rustc and the workload it built.
type rustBuild struct {
	rustc, version string
	bin            string // testdata/workloads/rust/rust_command.rs, built
}

var builtRust struct {
	once sync.Once
	bins []rustBuild
	err  error
}

// rustWorkloads builds rust_command.rs with Debian's rustc (/usr/bin/rustc,
// what CI installs) and, when PATH finds another (rustup's), with that one
// too: Rust's std changed its fork fallback (Debian 12's 1.63 opens a pipe2
// before the fork, later ones a socketpair), and spawntrace must name both.
func rustWorkloads(t *testing.T, e *testEnv) []rustBuild {
	t.Helper()
	var rustcs []string
	if _, err := os.Stat("/usr/bin/rustc"); err == nil {
		rustcs = append(rustcs, "/usr/bin/rustc")
	} else if os.Getenv("CI") == "true" {
		t.Fatal("/usr/bin/rustc not found; CI must install Debian's rustc (make deps)")
	}
	if p, err := exec.LookPath("rustc"); err == nil {
		if rp, _ := filepath.EvalSymlinks(p); rp != "/usr/bin/rustc" && p != "/usr/bin/rustc" {
			rustcs = append(rustcs, p)
		}
	}
	if len(rustcs) == 0 {
		requireTool(t, "rustc")
	}
	builtRust.once.Do(func() {
		src, err := filepath.Abs(filepath.Join("..", "..", "..", "testdata", "workloads", "rust", "rust_command.rs"))
		if err != nil {
			builtRust.err = err
			return
		}
		for i, rustc := range rustcs {
			v, err := exec.Command(rustc, "--version").Output()
			if err != nil {
				builtRust.err = fmt.Errorf("%s --version: %v", rustc, err)
				return
			}
			bin := filepath.Join(e.wl, fmt.Sprintf("rust_command_%d", i))
			out, err := exec.Command(rustc, "-O", "--edition", "2021", "-o", bin, src).CombinedOutput()
			if err != nil {
				builtRust.err = fmt.Errorf("%s %s: %v\n%s", rustc, src, err, out)
				return
			}
			builtRust.bins = append(builtRust.bins, rustBuild{rustc: rustc, version: strings.TrimSpace(string(v)), bin: bin})
		}
	})
	if builtRust.err != nil {
		t.Fatal(builtRust.err)
	}
	return builtRust.bins
}
