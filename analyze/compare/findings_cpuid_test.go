package compare

import (
	"testing"

	"github.com/spawntrace/spawntrace/analyze/fixture"
	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

func TestCompareStartupCPUID(t *testing.T) {
	withExecs := func(rec *recording.Recording) *recording.Recording {
		rec.Syscalls = []recording.SyscallStat{{Nr: sysno.Execve, Name: "execve", Calls: 130, Errors: 30}}
		return rec
	}
	vm := withExecs(fixture.StartupCPUID(40, 100, 0, "KVM (Firecracker)"))
	metal := withExecs(fixture.StartupCPUID(1, 100, 0, "none"))
	find := func(c *Comparison) *CompareFinding {
		for i := range c.Findings {
			if c.Findings[i].ID == "startup-cpuid" {
				return &c.Findings[i]
			}
		}
		return nil
	}
	f := find(compared(t, metal, vm, "metal", "vm"))
	if f == nil {
		t.Fatalf("no startup-cpuid finding comparing a VM with bare metal")
	}
	if f.Subject != "vm" || f.Other != "metal" || f.CPUID.PerExecNs != (Pair[float64]{4e6, 1e5}) || f.CostNs != 0 ||
		f.CPUID.Virtualization == nil || f.CPUID.Virtualization.B != "KVM (Firecracker)" {
		t.Errorf("finding %+v", f)
	}
	if f := find(compared(t, vm, withExecs(fixture.StartupCPUID(38, 100, 0, "KVM (Firecracker)")), "a", "b")); f != nil {
		t.Errorf("alike hosts: %+v", f)
	}
	unsampled := withExecs(fixture.StartupCPUID(1, 100, 0, "none"))
	unsampled.SampleHz = 0
	if f := find(compared(t, unsampled, vm, "a", "b")); f != nil {
		t.Errorf("one side without samples: %+v", f)
	}
}
