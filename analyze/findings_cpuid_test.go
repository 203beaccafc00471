package analyze

import (
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/syscalls"
)

// cpuidRecording: 100 execs, and CPU samples at 100 Hz of which cpuid
// samples land in glibc's start-up detection (user leaf), other in user
// code elsewhere, and kernel in the kernel with a detection function
// further up (not the detection's own time).
func cpuidRecording(cpuid, other, kernel int, virt string) *recording.Recording {
	rec := &recording.Recording{StartMonoNs: 1, EndMonoNs: 1 + 2e9, SampleHz: 100, Host: recording.Host{Virtualization: virt}}
	for i := 0; i < 100; i++ {
		rec.Events = append(rec.Events, execEv(uint32(100+i), 0, 0.3, 20))
		rec.Events[i].TimeNs = uint64(i+1) * 1000
	}
	rec.Stacks = []recording.Stack{
		{Frames: []recording.Frame{{Func: "handle_amd"}, {Func: "dl_init_cacheinfo"}}},
		{Frames: []recording.Frame{{Func: "init_cpu_features.constprop.0"}}},
		{Frames: []recording.Frame{{Func: "_PyEval_EvalFrameDefault"}}},
		{Frames: []recording.Frame{{Func: "exc_page_fault", Kernel: true}, {Func: "handle_amd"}}},
	}
	rec.CPUSamples = []recording.CPUSample{
		{Pid: 100, StackID: 1, Count: cpuid - cpuid/4},
		{Pid: 101, StackID: 2, Count: cpuid / 4},
		{Pid: 102, StackID: 3, Count: other},
		{Pid: 103, StackID: 4, Count: kernel},
	}
	return rec
}

func TestFindingStartupCPUID(t *testing.T) {
	rec := cpuidRecording(40, 100, 20, "KVM (Firecracker)")
	var f *Finding
	for _, x := range Summarize(rec).Findings {
		if x.ID == "startup-cpuid" {
			f = &x
		}
	}
	if f == nil {
		t.Fatalf("no startup-cpuid finding")
	}
	// 40 samples at 100 Hz: 400 ms of CPU, 4 ms per exec over 100 execs.
	if f.CostNs != 400e6 {
		t.Errorf("cost %d ns, want 400 ms", f.CostNs)
	}
	for _, want := range []string{"40 of 160 on-CPU samples", "(25%)", "handle_amd, init_cpu_features", "~4000 µs per exec over 100 execs",
		"virtual machine (KVM (Firecracker))"} {
		if !strings.Contains(f.Evidence, want) {
			t.Errorf("evidence lacks %q: %s", want, f.Evidence)
		}
	}
}

func TestFindingStartupCPUIDNotWhen(t *testing.T) {
	for name, rec := range map[string]*recording.Recording{
		"not sampled":   func() *recording.Recording { r := cpuidRecording(40, 100, 20, "none"); r.SampleHz = 0; return r }(),
		"insignificant": cpuidRecording(1, 1000, 20, "none"), // 10 ms, under 1% of the 2 s run
		"kernel leaf":   cpuidRecording(0, 100, 400, "none"),
	} {
		for _, x := range Summarize(rec).Findings {
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
func TestCompareStartupCPUID(t *testing.T) {
	withExecs := func(rec *recording.Recording) *recording.Recording {
		rec.Syscalls = []recording.SyscallStat{{Nr: syscalls.NrExecve, Name: "execve", Calls: 130, Errors: 30}}
		return rec
	}
	vm := withExecs(cpuidRecording(40, 100, 0, "KVM (Firecracker)"))
	metal := withExecs(cpuidRecording(1, 100, 0, "none"))
	find := func(c *Comparison) *CompareFinding {
		for i := range c.Findings {
			if c.Findings[i].ID == "startup-cpuid" {
				return &c.Findings[i]
			}
		}
		return nil
	}
	f := find(Compare(metal, vm, "metal", "vm"))
	if f == nil {
		t.Fatalf("no startup-cpuid finding comparing a VM with bare metal")
	}
	for _, want := range []string{"4.00 ms of CPU per exec", "on vm", "0.10 ms on metal", "virtualization (none on metal, KVM (Firecracker) on vm)"} {
		if !strings.Contains(f.Evidence, want) {
			t.Errorf("evidence lacks %q: %s", want, f.Evidence)
		}
	}
	if f.Title != "program start-up is slower on vm (CPUID)" || f.CostNs != 0 {
		t.Errorf("finding %+v", f)
	}
	if f := find(Compare(vm, withExecs(cpuidRecording(38, 100, 0, "KVM (Firecracker)")), "a", "b")); f != nil {
		t.Errorf("alike hosts: %+v", f)
	}
	unsampled := withExecs(cpuidRecording(1, 100, 0, "none"))
	unsampled.SampleHz = 0
	if f := find(Compare(unsampled, vm, "a", "b")); f != nil {
		t.Errorf("one side without samples: %+v", f)
	}
}
