package summary

import (
	"math"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/spawn"
	"github.com/spawntrace/spawntrace/tracer"
)

// FuzzFitCopy: whatever copy times and parent sizes a recording holds, the
// fit is made of finite numbers, and a fit that calls itself usable
// predicts a positive copy time for a larger parent (the report prints
// "a fork from a 4 GiB parent would copy for ~N ms"): copy time cannot
// shrink to nothing, or below, as the parent grows.
func FuzzFitCopy(f *testing.F) {
	// Three forks each: RSS in MiB and copy time in µs.
	f.Add(uint32(64), uint32(1_100), uint32(512), uint32(9_000), uint32(1024), uint32(18_000))
	f.Add(uint32(100), uint32(2_000), uint32(100), uint32(2_100), uint32(101), uint32(1_900))
	f.Add(uint32(64), uint32(10_000), uint32(1024), uint32(1_000), uint32(2048), uint32(1))
	f.Add(uint32(0), uint32(0), uint32(1), uint32(1), uint32(0xffffffff), uint32(0xffffffff))
	f.Fuzz(func(t *testing.T, mib1, us1, mib2, us2, mib3, us3 uint32) {
		var spawns []spawn.Spawn
		for _, p := range [][2]uint32{{mib1, us1}, {mib2, us2}, {mib3, us3}} {
			spawns = append(spawns, spawn.Spawn{Mechanism: spawn.MechFork, CopyNs: uint64(p[1]) * 1000,
				Parent: &tracer.ParentSize{RSSAnonBytes: uint64(p[0]) << 20, PgtablesBytes: uint64(p[0]) << 11}})
		}
		fit := FitCopy(spawns)
		if fit == nil {
			return
		}
		for name, v := range map[string]float64{"slope": fit.SlopeMsPerGiB, "intercept": fit.InterceptMs, "R²": fit.R2,
			"page-table slope": fit.SlopeMsPerPgtableMiB, "page-table R²": fit.R2Pgtables} {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("%s is %v: %+v", name, v, fit)
			}
		}
		if fit.R2 < 0 || fit.R2 > 1+1e-9 {
			t.Errorf("R² %v out of [0, 1]", fit.R2)
		}
		if ok, _ := fit.Usable(); ok {
			if p := fit.PredictMs(4 << 30); !(p > 0) {
				t.Errorf("usable fit predicts %.3f ms of copy for a 4 GiB parent, from forks of %d MiB/%d µs, %d MiB/%d µs, %d MiB/%d µs: %+v",
					p, mib1, us1, mib2, us2, mib3, us3, fit)
			}
		}
	})
}
