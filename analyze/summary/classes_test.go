package summary

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/fixture"
	"github.com/spawntrace/spawntrace/analyze/spawn"
	"github.com/spawntrace/spawntrace/tracer"
)

func TestRSSBucket(t *testing.T) {
	for _, c := range []struct{ rss, want uint64 }{
		{0, 0},
		{5 << 20, 0},
		{SmallParentBytes - 1, 0},
		{SmallParentBytes, 16 << 20},
		{69 << 20, 64 << 20},   // 64 MiB touched plus a runtime's own
		{90 << 20, 64 << 20},   // below 64·√2 = 90.5 MiB
		{91 << 20, 128 << 20},  // above it
		{517 << 20, 512 << 20}, // 512 MiB plus a runtime's own
		{(1 << 30) + 5<<20, 1 << 30},
		{3 << 30, 4 << 30}, // 3 GiB is above 2·√2 GiB
	} {
		if got := RSSBucket(c.rss); got != c.want {
			t.Errorf("RSSBucket(%d MiB) = %d MiB, want %d MiB", c.rss>>20, got>>20, c.want>>20)
		}
	}
}

// benchSpawn is a spawn as the bench worker makes them.
func benchSpawn(t uint64, sig string, m spawn.Mechanism, rssMiB uint64, env int, exe string, failed int, cloneUs, copyUs uint64) spawn.Spawn {
	sp := spawn.Spawn{
		TimeNs: t, ParentPid: 100, ParentTid: 100, Signature: sig, Mechanism: m,
		CloneDurNs: cloneUs * 1000, CopyNs: copyUs * 1000, EnvCount: env,
		Exe: exe, ExecOK: exe != "", FailedExecs: failed, FailedExecNs: uint64(failed) * 20_000,
		Parent: &tracer.ParentSize{RSSAnonBytes: rssMiB << 20},
	}
	if exe != "" {
		sp.SpawnToExecNs = sp.CloneDurNs + 300_000
	}
	if copyUs > 0 {
		sp.TeardownNs = copyUs * 1100
	}
	return sp
}

func TestClassesGroupsLikeSpawns(t *testing.T) {
	const ms = 1_000_000
	var spawns []spawn.Spawn
	at := uint64(1_000 * ms)
	add := func(n int, period uint64, f func(t uint64, i int) spawn.Spawn) {
		for i := range n {
			spawns = append(spawns, f(at, i))
			at += period
		}
	}
	// 3 Go os/exec spawns from a small parent, 2 ms apart.
	add(3, 2*ms, func(t uint64, i int) spawn.Spawn {
		return benchSpawn(t, spawn.SigGoExec, spawn.MechVfork, 5, 20, "/bin/true", 0, 400+uint64(i)*100, 0)
	})
	// 4 forks from a 1 GiB parent (RSS drifting by a few MiB), 40 ms apart.
	add(4, 40*ms, func(t uint64, i int) spawn.Spawn {
		return benchSpawn(t, spawn.SigFork, spawn.MechFork, 1024+5+uint64(i), 20, "/bin/true", 0, 36_000, 18_000+uint64(i)*1000)
	})
	// The same forks through PATH: another class.
	add(2, 41*ms, func(t uint64, i int) spawn.Spawn {
		return benchSpawn(t, spawn.SigFork, spawn.MechFork, 1029, 20, "/usr/bin/true", 3, 36_000, 18_000)
	})
	// The same with a larger environment: another class.
	add(2, 42*ms, func(t uint64, i int) spawn.Spawn {
		return benchSpawn(t, spawn.SigFork, spawn.MechFork, 1029, 200, "/bin/true", 0, 36_000, 18_000)
	})
	// A spawn of unknown parent size, and one from another thread.
	unknown := benchSpawn(at, spawn.SigGoExec, spawn.MechVfork, 0, 20, "/bin/true", 0, 500, 0)
	unknown.Parent = nil
	spawns = append(spawns, unknown)
	// Given out of time order: Classes sorts.
	spawns[0], spawns[len(spawns)-1] = spawns[len(spawns)-1], spawns[0]

	cs := Classes(spawns)
	if len(cs) != 5 {
		for _, c := range cs {
			t.Logf("%+v", c.ClassKey)
		}
		t.Fatalf("%d classes, want 5", len(cs))
	}
	goExec, fork1G, forkPath, forkEnv, noRSS := cs[0], cs[1], cs[2], cs[3], cs[4]

	if goExec.Count != 3 || goExec.Mechanism != spawn.MechVfork || goExec.Signature != spawn.SigGoExec ||
		goExec.RSSBucketBytes != 0 || !goExec.RSSKnown || goExec.EnvCount != 20 || goExec.PathSearch {
		t.Errorf("Go os/exec class = %+v", goExec)
	}
	if goExec.Clone.P50Ns != 500_000 || goExec.Copy.N != 0 || goExec.Teardown.N != 0 || goExec.SpawnToExec.N != 3 {
		t.Errorf("Go os/exec distributions: clone %+v copy %+v teardown %+v", goExec.Clone, goExec.Copy, goExec.Teardown)
	}
	// Three spawns 2 ms apart: two intervals.
	if goExec.Total.N != 2 || goExec.Total.P50Ns != 2*ms {
		t.Errorf("Go os/exec total = %+v, want 2 intervals of 2 ms", goExec.Total)
	}

	if fork1G.Count != 4 || fork1G.RSSBucketBytes != GiB || fork1G.RSSMedianBytes != (1024+5+2)<<20 {
		t.Errorf("1 GiB fork class = %+v", fork1G)
	}
	if fork1G.Copy.N != 4 || fork1G.Copy.P50Ns != 19_000_000 || fork1G.Copy.MaxNs != 21_000_000 || fork1G.Teardown.N != 4 {
		t.Errorf("1 GiB fork copy %+v teardown %+v", fork1G.Copy, fork1G.Teardown)
	}
	// The interval from the last fork to the first PATH fork belongs to
	// neither class.
	if fork1G.Total.N != 3 || fork1G.Total.P50Ns != 40*ms {
		t.Errorf("1 GiB fork total = %+v, want 3 intervals of 40 ms", fork1G.Total)
	}

	if !forkPath.PathSearch || forkPath.FailedExecs != 6 || forkPath.FailedExec.N != 2 ||
		forkPath.FailedExec.P50Ns != 60_000 || forkPath.Exe != "/usr/bin/true" {
		t.Errorf("PATH fork class = %+v", forkPath)
	}
	if forkEnv.EnvCount != 200 || forkEnv.Count != 2 || forkEnv.PathSearch {
		t.Errorf("large-env fork class = %+v", forkEnv)
	}
	if noRSS.RSSKnown || noRSS.Count != 1 || noRSS.RSSMedianBytes != 0 || noRSS.Total.N != 0 {
		t.Errorf("unknown-size class = %+v", noRSS)
	}
}

func TestClassesTotalPerThread(t *testing.T) {
	// Two threads spawning alike, interleaved: each thread's own intervals
	// count, not the time between the two threads' spawns.
	var spawns []spawn.Spawn
	for i := range 4 {
		for tid := uint32(1); tid <= 2; tid++ {
			sp := benchSpawn(uint64(i)*10_000_000+uint64(tid)*1_000_000, spawn.SigPosixSpawn, spawn.MechVfork, 5, 20, "/bin/true", 0, 300, 0)
			sp.ParentTid = tid
			spawns = append(spawns, sp)
		}
	}
	cs := Classes(spawns)
	if len(cs) != 1 || cs[0].Count != 8 {
		t.Fatalf("classes = %+v, want one of 8", cs)
	}
	if tot := cs[0].Total; tot.N != 6 || tot.P50Ns != 10_000_000 || tot.MaxNs != 10_000_000 {
		t.Errorf("total = %+v, want 6 intervals of 10 ms", tot)
	}
}

func TestClassesEmpty(t *testing.T) {
	if cs := Classes(nil); len(cs) != 0 {
		t.Errorf("Classes(nil) = %+v", cs)
	}
}

func TestClassesOfSummarizedRecording(t *testing.T) {
	// The path-search sample: one clone3 vfork that failed twice before
	// exec'ing /usr/bin/true.
	s := summarized(t, fixture.PathSearch())
	cs := Classes(rowsOf(t, &s))
	if !reflect.DeepEqual(cs, s.Classes) {
		t.Errorf("Classes of the rows = %+v, Summary.Classes = %+v", cs, s.Classes)
	}
	if len(cs) != 1 {
		t.Fatalf("classes = %+v, want 1", cs)
	}
	c := cs[0]
	if c.Mechanism != spawn.MechVfork || !c.PathSearch || c.FailedExecs != 2 || c.Exe != "/usr/bin/true" || c.Count != 1 {
		t.Errorf("class = %+v", c)
	}
}

// TestClassesBounded: a recording (hostile input) that gives each spawn a
// binary and an environment size of its own makes no more than maxClasses
// classes; the spawns past them join one class per signature, mechanism,
// parent size and PATH search, and every spawn is counted once. (A
// million such spawns took report and compare to 2.2 GB, against 80 MB
// for a million alike.)
func TestClassesBounded(t *testing.T) {
	const n = maxClasses + 5000
	spawns := make([]spawn.Spawn, n)
	for i := range spawns {
		exe := fmt.Sprintf("/bin/x%d", i)
		if i%2 == 0 {
			spawns[i] = benchSpawn(uint64(i+1)*1000, spawn.SigGlibcFork, spawn.MechFork, 1024, i, exe, 0, 900, 800)
		} else {
			spawns[i] = benchSpawn(uint64(i+1)*1000, spawn.SigPosixSpawn, spawn.MechVfork, 5, i, exe, 1, 300, 0)
		}
	}
	classes := Classes(spawns)
	if len(classes) != maxClasses+2 {
		t.Fatalf("%d classes, want %d and the two that gather the rest", len(classes), maxClasses)
	}
	total := 0
	others := map[spawn.Mechanism]int{}
	for _, c := range classes {
		total += c.Count
		if c.Exe == OtherExe {
			if c.EnvCount != -1 {
				t.Errorf("class %+v: EnvCount %d, want -1", c.ClassKey, c.EnvCount)
			}
			others[c.Mechanism] += c.Count
		}
	}
	if total != n {
		t.Errorf("classes count %d spawns, want %d", total, n)
	}
	if want := (n - maxClasses) / 2; others[spawn.MechFork] != want || others[spawn.MechVfork] != want {
		t.Errorf("gathered: %v, want %d of each mechanism", others, want)
	}
}
