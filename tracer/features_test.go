package tracer

import (
	"os"
	"testing"
	"time"
)

// TestProbeFeatures checks the probe against what this kernel is known to
// offer when run as root; elsewhere it only checks that it answers quickly
// and says why for what is missing.
func TestProbeFeatures(t *testing.T) {
	start := time.Now()
	f := ProbeFeatures()
	took := time.Since(start)
	t.Logf("features in %v: %+v", took, f)
	for name, ft := range map[string]Feature{
		"btf": f.BTF, "syscall tracepoints": f.SyscallTracepoints, "mmap_lock": f.MmapLockTracepoints,
		"fentry": f.Fentry, "kprobes": f.Kprobes,
	} {
		if !ft.Available && ft.Reason == "" {
			t.Errorf("%s: unavailable without a reason", name)
		}
		if ft.Available && ft.Reason != "" {
			t.Errorf("%s: available with a reason %q", name, ft.Reason)
		}
	}
	if os.Geteuid() != 0 {
		if !f.Fentry.Available && f.Fentry.Reason == "" {
			t.Error("fentry: no reason")
		}
		return
	}
	if _, err := os.Stat("/sys/kernel/btf/vmlinux"); err == nil && !f.BTF.Available {
		t.Errorf("BTF: /sys/kernel/btf/vmlinux exists but reported missing: %s", f.BTF.Reason)
	}
	// A second run gives the same answers: the first left nothing attached
	// that would change them.
	if g := ProbeFeatures(); g != f {
		t.Errorf("second probe differs: %+v", g)
	}
}

// TestHelperMissing: the kernel's enum bpf_func_id decides; this kernel
// (6.x) has bpf_loop, no kernel has the made-up helper, and a kernel
// without BTF says so.
func TestHelperMissing(t *testing.T) {
	k, err := kernelTypes.Kernel()
	if err != nil {
		t.Skipf("no kernel BTF here: %v", err)
	}
	if why := helperMissing(helperFeatures[0], k, nil); why != "" {
		t.Errorf("bpf_loop reported missing on this kernel: %s", why)
	}
	fake := helperFeature{name: "helper:fake", fn: "BPF_FUNC_no_such_helper_x", since: "9.9"}
	if why := helperMissing(fake, k, nil); why != "the kernel has no no_such_helper_x helper (Linux 9.9+)" {
		t.Errorf("a helper the kernel lacks: %q", why)
	}
	if why := helperMissing(fake, nil, os.ErrNotExist); why == "" {
		t.Errorf("no kernel BTF: no reason given")
	}
}
