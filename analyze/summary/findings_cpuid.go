package summary

import (
	"slices"
	"strings"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/spawn"
	"github.com/spawntrace/spawntrace/tracer"
)

// startupCPUIDFuncs are glibc's start-up CPU feature and cache detection
// (sysdeps/x86 cpu_features.c, dl-cacheinfo.h), run by ld.so in every new
// program before main: loops of CPUID instructions. On bare metal one
// CPUID is tens of nanoseconds; under a hypervisor every one traps (a VM
// exit, microseconds), and the sample lands on the instruction, in these
// functions. On this project's Firecracker VM they were ~21% of the CPU of
// a python3 subprocess loop's children (~0.3 ms per exec).
var startupCPUIDFuncs = map[string]bool{
	"init_cpu_features": true, "update_active": true, "get_common_indices": true, "get_extended_indices": true,
	"handle_amd": true, "handle_intel": true, "handle_zhaoxin": true, "intel_check_word": true,
	"get_common_cache_info": true, "dl_init_cacheinfo": true, "init_cacheinfo": true,
}

// isStartupCPUID reports whether a symbol is one of startupCPUIDFuncs,
// compiler suffixes (".constprop.0", ".isra.0") aside.
func isStartupCPUID(fn string) bool {
	base, _, _ := strings.Cut(fn, ".")
	return startupCPUIDFuncs[base]
}

// startupCPUID is what the CPU samples say of glibc's start-up detection.
type startupCPUID struct {
	samples, total int      // samples in it, and of the tree in all
	funcs          []string // the functions seen, most sampled first
}

// cpuOfStartupCPUID counts the samples whose innermost frame (on CPU, in
// user space: a VM exit is charged to the guest's instruction) is in
// glibc's start-up CPU detection. Stacks are few (one per distinct stack),
// so this reads no event.
func cpuOfStartupCPUID(rec *recording.Recording) startupCPUID {
	var c startupCPUID
	byFunc := map[string]int{}
	for _, s := range rec.CPUSamples {
		c.total += s.Count
		st := rec.StackOf(s.StackID)
		if st == nil || len(st.Frames) == 0 || st.Frames[0].Kernel {
			continue
		}
		if fn := st.Frames[0].Func; isStartupCPUID(fn) {
			c.samples += s.Count
			base, _, _ := strings.Cut(fn, ".")
			byFunc[base] += s.Count
		}
	}
	for fn := range byFunc {
		c.funcs = append(c.funcs, fn)
	}
	slices.SortFunc(c.funcs, func(a, b string) int {
		if d := byFunc[b] - byFunc[a]; d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return c
}

// findStartupCPUID: with CPU samples (--pprof), the children's time in
// glibc's start-up CPUID loops, per exec. It is the host's cost, not the
// workload's choice: large under a hypervisor, small on bare metal.
func findStartupCPUID(rec *recording.Recording, s *Summary, _ *findingFacts, significant func(uint64) bool) (*Finding, *Finding) {
	if rec.SampleHz <= 0 {
		return nil, nil
	}
	c := cpuOfStartupCPUID(rec)
	costNs := uint64(c.samples) * 1_000_000_000 / uint64(rec.SampleHz)
	if c.samples <= 0 || !significant(costNs) { // <= 0: a corrupt recording's counts
		return nil, nil
	}
	facts := &StartupCPUIDFacts{Samples: c.samples, TotalSamples: c.total, Funcs: c.funcs, CPUNs: costNs,
		Execs: s.ExecOK, Virtualization: rec.Host.Virtualization}
	return (&Finding{ID: FindStartupCPUID, StartupCPUID: facts}).saving(costNs, BasisCPUSamples, s.WallNs, 0), nil
}

// execsOf counts the successful execs of a recording from its syscall
// table (calls less errors of execve and execveat).
func execsOf(rec *recording.Recording) uint64 {
	var n uint64
	for _, s := range rec.Syscalls {
		if spawn.IsExec(s.ABI.Nr64(s.Nr)) {
			n = tracer.SatAdd(n, s.Calls-min(s.Errors, s.Calls))
		}
	}
	return n
}

// StartupCPUIDPerExecNs is a sampled recording's CPU in start-up CPUID per
// successful exec; ok is false without samples or execs.
func StartupCPUIDPerExecNs(rec *recording.Recording) (ns float64, ok bool) {
	execs := execsOf(rec)
	if rec.SampleHz <= 0 || execs == 0 {
		return 0, false
	}
	c := cpuOfStartupCPUID(rec)
	return float64(c.samples) * 1e9 / float64(rec.SampleHz) / float64(execs), true
}
