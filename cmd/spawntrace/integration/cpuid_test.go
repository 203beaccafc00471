//go:build integration && linux

package integration

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/summary"
)

// TestStartupCPUIDFinding: on a KVM guest (this project's CI machines),
// CPUID traps to the hypervisor, and glibc runs loops of it in every new
// program: with --pprof, the summary names it with a cost per exec, and
// cpu.pb.gz holds the functions. On other hosts the finding must not
// claim a hypervisor. go tool pprof is the oracle for the functions'
// share.
func TestStartupCPUIDFinding(t *testing.T) {
	e := setupEnv(t)
	py := requireTool(t, "python3")
	dir := openDir(t)
	rec := filepath.Join(dir, "rec.json")
	prof := filepath.Join(dir, "prof")
	r := e.spawntrace(t, runOpts{}, "-w", rec, "--pprof", prof, "--", py, "-c",
		`import subprocess; [subprocess.run(["/bin/true"]) for _ in range(300)]`)
	if r.status != 0 {
		t.Fatalf("%s", r)
	}
	loaded := loadRecording(t, rec)
	sum := summarized(t, loaded)
	var found *summary.Finding
	for i := range sum.Findings {
		if sum.Findings[i].ID == "startup-cpuid" {
			found = &sum.Findings[i]
		}
	}

	// The oracle: go tool pprof's flat share (the samples whose leaf is
	// the function) of glibc's detection functions.
	top, err := exec.Command(goCmd(), "tool", "pprof", "-top", "-nodecount=100000", filepath.Join(prof, "cpu.pb.gz")).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof: %v\n%s", err, top)
	}
	var flatPct float64
	for _, line := range strings.Split(string(top), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || !strings.HasSuffix(f[1], "%") {
			continue
		}
		base, _, _ := strings.Cut(f[5], ".")
		switch base {
		case "init_cpu_features", "update_active", "get_common_indices", "get_extended_indices", "handle_amd",
			"handle_intel", "handle_zhaoxin", "intel_check_word", "get_common_cache_info", "dl_init_cacheinfo", "init_cacheinfo":
			v, err := strconv.ParseFloat(strings.TrimSuffix(f[1], "%"), 64)
			if err == nil {
				flatPct += v
			}
		}
	}
	t.Logf("virtualization %q; %.1f%% of samples in start-up CPUID (go tool pprof); finding: %+v", loaded.Host.Virtualization, flatPct, found)

	if !strings.Contains(loaded.Host.Virtualization, "KVM") {
		if found != nil && strings.Contains(strings.Join(strings.Fields(string(r.stderr)), " "), "is a virtual machine") {
			t.Errorf("not a KVM guest (%q), yet the summary says it is one:\n%s", loaded.Host.Virtualization, r.stderr)
		}
		return
	}
	// A KVM guest: at least 5% of the children's CPU in CPUID loops, by
	// pprof's count, and the finding says so.
	if flatPct < 5 {
		t.Fatalf("a KVM guest, but go tool pprof puts only %.1f%% of samples in glibc's start-up CPUID:\n%s", flatPct, top)
	}
	if found == nil {
		t.Fatalf("no startup-cpuid finding; findings: %+v", sum.Findings)
	}
	// The summary wraps its lines: compare with single spaces.
	summaryText := strings.Join(strings.Fields(string(r.stderr)), " ")
	// Its saving cannot be checked here against the advice applied (a
	// guest cannot stop CPUID from trapping): it says it is rough.
	if !roughEstimate(found) {
		t.Errorf("startup-cpuid does not say its saving is a rough estimate: %s", describeFinding(found))
	}
	for _, want := range []string{"virtual machine (KVM", "µs per exec", "rough estimate: on-CPU samples"} {
		if !strings.Contains(summaryText, want) {
			t.Errorf("the summary lacks %q:\n%s", want, r.stderr)
		}
	}
	// The finding's share of samples is pprof's, to the rounding of both.
	x := found.StartupCPUID
	if x == nil || x.TotalSamples == 0 {
		t.Fatalf("no samples in the finding: %+v", found)
	}
	if share := 100 * float64(x.Samples) / float64(x.TotalSamples); share < flatPct-1.5 || share > flatPct+1.5 {
		t.Errorf("the finding says %.1f%% of samples, go tool pprof %.1f%%", share, flatPct)
	}
	if !strings.Contains(string(r.stderr), "[startup-cpuid,") {
		t.Errorf("the summary on stderr does not list the finding:\n%s", r.stderr)
	}
}
