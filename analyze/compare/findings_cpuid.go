package compare

// Thresholds for naming a start-up CPUID difference between two hosts.
const (
	cpuidDiffMinNs = 20_000 // per exec, on the slower side
	cpuidDiffRatio = 2.0
)

// findStartupCPUIDDiff: new programs' start-up CPUID costs differ between
// the hosts (a hypervisor that traps it on one). It is spent after the
// exec, in the new program, so no part of the spawn cost holds it: the
// finding gives it per exec and claims no share of the difference.
func findStartupCPUIDDiff(c *Comparison) *CompareFinding {
	a, okA := c.A.head.cpuidNs, c.A.head.cpuidOK
	b, okB := c.B.head.cpuidNs, c.B.head.cpuidOK
	if !okA || !okB {
		return nil
	}
	slow, fast, slowNs, fastNs := &c.B, &c.A, b, a
	if a > b {
		slow, fast, slowNs, fastNs = &c.A, &c.B, a, b
	}
	if slowNs < cpuidDiffMinNs || slowNs < cpuidDiffRatio*fastNs {
		return nil
	}
	f := &CPUIDFacts{PerExecNs: Pair[float64]{slowNs, fastNs}}
	if d := hostDiffs(c, "virtualization"); len(d) > 0 {
		f.Virtualization = &d[0]
	}
	return &CompareFinding{ID: IDStartupCPUID, Subject: slow.Name, Other: fast.Name, CPUID: f}
}
