package summary

import (
	"math"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/spawn"
	"github.com/spawntrace/spawntrace/tracer"
)

func forkSpawn(rssMiB uint64, copyMs float64) spawn.Spawn {
	return spawn.Spawn{Mechanism: spawn.MechFork, CopyNs: uint64(copyMs * 1e6),
		Parent: &tracer.ParentSize{RSSAnonBytes: rssMiB << 20, PgtablesBytes: rssMiB << 11}}
}

func TestFitLine(t *testing.T) {
	// 18 ms per GiB plus 0.2 ms, as measured here, with a little noise.
	var spawns []spawn.Spawn
	for i, mib := range []uint64{64, 256, 512, 1024, 64, 256, 512, 1024} {
		noise := []float64{0.05, -0.05}[i%2]
		spawns = append(spawns, forkSpawn(mib, 18*float64(mib)/1024+0.2+noise))
	}
	spawns = append(spawns, spawn.Spawn{Mechanism: spawn.MechVfork, CloneDurNs: 1e6}) // not in the fit
	f := FitCopy(spawns)
	if f == nil || f.N != 8 || f.ThroughOrigin {
		t.Fatalf("fit = %+v, want a line over 8 forks", f)
	}
	if math.Abs(f.SlopeMsPerGiB-18) > 0.2 || math.Abs(f.InterceptMs-0.2) > 0.1 || f.R2 < 0.99 {
		t.Errorf("slope %.3f ms/GiB intercept %.3f R² %.4f, want ~18, ~0.2, >0.99", f.SlopeMsPerGiB, f.InterceptMs, f.R2)
	}
	if got := f.PredictMs(4 << 30); math.Abs(got-72.2) > 1 {
		t.Errorf("4 GiB prediction %.1f ms, want ~72.2", got)
	}
}

func TestFitOneSizeGoesThroughOrigin(t *testing.T) {
	f := FitCopy([]spawn.Spawn{forkSpawn(1024, 30), forkSpawn(1024, 34), forkSpawn(1030, 32)})
	if f == nil || !f.ThroughOrigin || f.R2 != 0 {
		t.Fatalf("fit = %+v, want a line through the origin", f)
	}
	if math.Abs(f.SlopeMsPerGiB-32) > 0.5 {
		t.Errorf("slope %.2f, want ~32 ms/GiB", f.SlopeMsPerGiB)
	}
}

func TestFitNeedsTwoMeasuredForks(t *testing.T) {
	unmeasured := forkSpawn(1024, 0)
	if f := FitCopy([]spawn.Spawn{forkSpawn(1024, 30), unmeasured, {Mechanism: spawn.MechVfork}}); f != nil {
		t.Errorf("fit from one measured fork: %+v", f)
	}
}

// One definition of a fit whose slope means something: parents of
// several sizes, a line that explains the copies and grows with RSS.
func TestFitUsable(t *testing.T) {
	for _, c := range []struct {
		name   string
		spawns []spawn.Spawn
		why    string
	}{
		{"one size", []spawn.Spawn{forkSpawn(1024, 30), forkSpawn(1024, 34), forkSpawn(1030, 32)}, "parents all about the same size"},
		// -28 ms per GiB, R² ~0: a slope through noise.
		{"within 25%", []spawn.Spawn{forkSpawn(256, 5), forkSpawn(270, 4.5), forkSpawn(262, 5.5), forkSpawn(258, 4.8),
			forkSpawn(266, 5.2), forkSpawn(260, 5)}, "parents all about the same size"},
		{"negative", []spawn.Spawn{forkSpawn(256, 9), forkSpawn(512, 7), forkSpawn(1024, 5)}, "the copy does not grow with RSS in these forks"},
		{"noise", []spawn.Spawn{forkSpawn(256, 5), forkSpawn(512, 1), forkSpawn(1024, 9), forkSpawn(256, 9),
			forkSpawn(512, 9), forkSpawn(1024, 5)}, "RSS does not explain the copy times (R² 0.00)"},
		{"two forks", []spawn.Spawn{forkSpawn(256, 5), forkSpawn(1024, 18)}, "2 forks"},
		{"small", []spawn.Spawn{forkSpawn(8, 0.1), forkSpawn(32, 0.3), forkSpawn(16, 0.2)}, "parents of at most 32 MiB: the copy cost there is fixed overhead, not size"},
		{"line", []spawn.Spawn{forkSpawn(256, 4.7), forkSpawn(512, 9.2), forkSpawn(1024, 18.1)}, ""},
	} {
		f := FitCopy(c.spawns)
		ok, why := f.Usable()
		if why != c.why || ok != (c.why == "") {
			t.Errorf("%s: usable %v (%q), want %q; fit %+v", c.name, ok, why, c.why, f)
		}
	}
	f := FitCopy([]spawn.Spawn{forkSpawn(1024, 30), forkSpawn(1024, 34)})
	if math.Abs(f.MeanCopyMs-32) > 1e-9 || f.MeanRSSBytes != 1<<30 {
		t.Errorf("mean copy %v ms at %d bytes, want 32 ms at 1 GiB", f.MeanCopyMs, f.MeanRSSBytes)
	}
}
