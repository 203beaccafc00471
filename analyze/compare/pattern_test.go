package compare

import (
	"testing"

	"github.com/spawntrace/spawntrace/analyze/fixture"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// TestPatternsBoundedAfterFlood: a recording (hostile input) whose spawns
// each have clone flags of their own holds at most maxPatternGroups
// patterns, and a pattern that repeats after the flood is still counted
// and ranked first. (300 000 such spawns took compare from 90 to 142 MB;
// growing with the spawns, a large file passed the 600 MiB a recording is
// read within.)
func TestPatternsBoundedAfterFlood(t *testing.T) {
	const flood, repeated = 2*maxPatternGroups + 100, 1000
	rec := fixture.Recording(fixture.Spawns{Fork: true, N: flood + repeated, CloneNs: 100_000, CopyNs: 50_000,
		ExecNs: 300_000, S2ENs: 500_000, RSSBytes: 1 << 30, Env: 10, IntervalNs: 1_000_000})
	i := uint64(0)
	for j := range rec.Events {
		ev := &rec.Events[j]
		if ev.Kind == tracer.KindSyscall && ev.Nr64() == sysno.Clone {
			if i < flood {
				ev.Args[0] |= (i + 1) << 32 // a pattern of its own
			}
			i++
		}
	}
	if i != flood+repeated {
		t.Fatalf("%d clone calls, want %d", i, flood+repeated)
	}
	patterns, _, err := spawnPatterns(rec)
	if err != nil {
		t.Fatal(err)
	}
	if len(patterns) == 0 || patterns[0].Spawns != repeated || patterns[0].Steps[0].Flags>>32 != 0 {
		t.Fatalf("patterns %+v: want the repeated one first, with %d spawns", patterns, repeated)
	}
}

func TestSweepSingles(t *testing.T) {
	m := map[string]int{"a": 1, "b": 1, "c": 2, "d": 5}
	if !sweepSingles(m, func(n int) bool { return n == 1 }) || len(m) != 2 || m["c"] != 2 || m["d"] != 5 {
		t.Errorf("half seen once: swept to %v, want c and d left", m)
	}
	m = map[string]int{"a": 1, "c": 2, "d": 5}
	if sweepSingles(m, func(n int) bool { return n == 1 }) || len(m) != 3 {
		t.Errorf("one of three seen once: %v, want nothing swept", m)
	}
}
