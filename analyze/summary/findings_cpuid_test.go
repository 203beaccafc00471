package summary

import (
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/fixture"
	"github.com/spawntrace/spawntrace/analyze/recording"
)

func TestFindingStartupCPUID(t *testing.T) {
	rec := fixture.StartupCPUID(40, 100, 20, "KVM (Firecracker)")
	var f *Finding
	for _, x := range summarized(t, rec).Findings {
		if x.ID == "startup-cpuid" {
			f = &x
		}
	}
	if f == nil {
		t.Fatalf("no startup-cpuid finding")
	}
	// 40 samples at 100 Hz: 400 ms of CPU over 100 execs.
	x := f.StartupCPUID
	if f.SavingNs != 400e6 || f.Basis != BasisCPUSamples || x.CPUNs != 400e6 || x.Samples != 40 || x.TotalSamples != 160 ||
		x.Execs != 100 || x.Virtualization != "KVM (Firecracker)" || strings.Join(x.Funcs, ", ") != "handle_amd, init_cpu_features" {
		t.Errorf("startup-cpuid = %+v, %+v", f, x)
	}
}

func TestFindingStartupCPUIDNotWhen(t *testing.T) {
	for name, rec := range map[string]*recording.Recording{
		"not sampled":   func() *recording.Recording { r := fixture.StartupCPUID(40, 100, 20, "none"); r.SampleHz = 0; return r }(),
		"insignificant": fixture.StartupCPUID(1, 1000, 20, "none"), // 10 ms, under 1% of the 2 s run
		"kernel leaf":   fixture.StartupCPUID(0, 100, 400, "none"),
	} {
		for _, x := range summarized(t, rec).Findings {
			if x.ID == "startup-cpuid" {
				t.Errorf("%s: startup-cpuid finding %+v", name, x)
			}
		}
	}
}

func TestIsStartupCPUID(t *testing.T) {
	for fn, want := range map[string]bool{
		"handle_amd": true, "init_cpu_features.constprop.0": true, "update_active.isra.0": true,
		"handle_amd_x": false, "main": false, "": false, "__libc_start_main": false,
	} {
		if got := isStartupCPUID(fn); got != want {
			t.Errorf("isStartupCPUID(%q) = %v", fn, got)
		}
	}
}

// TestCompareStartupCPUID: the VM side's children spend 4 ms per exec in
// start-up CPUID, the bare-metal side's 0.1 ms: compare names it, per
// exec, with the hosts' virtualization; alike hosts, or a side without
// samples, give no such finding.
