package summary

import "github.com/spawntrace/spawntrace/analyze/spawn"

// failedTally sums failed execs of spawns, in all and by a name (the
// program a search found, or the one it did not), for the findings that
// name an example. At most MaxFailedExes names are told apart.
type failedTally struct {
	execs, spawns int
	ns            uint64
	byName        map[string]*exeFailed
	// Spawns whose name came past MaxFailedExes others, and their failed
	// execs: counted in the sums, not by name.
	untalliedSpawns, untalliedFailed int
}

// exeFailed is what the failed execs of the spawns of one name cost;
// first is the first such spawn's Seq (ties).
type exeFailed struct {
	exe            string
	ns             uint64
	spawns, failed int
	first          int
}

// add counts a spawn's failed execs, n of them on CPU for ns, under
// name ("": in the sums only).
func (t *failedTally) add(sp *spawn.Spawn, name string, n int, ns uint64) {
	t.spawns++
	t.execs += n
	t.ns += ns
	if name == "" {
		return
	}
	e := t.byName[name]
	if e == nil {
		if len(t.byName) >= MaxFailedExes {
			t.untalliedSpawns++
			t.untalliedFailed += n
			return
		}
		if t.byName == nil {
			t.byName = map[string]*exeFailed{}
		}
		e = &exeFailed{exe: name, first: sp.Seq}
		t.byName[name] = e
	}
	e.ns += ns
	e.spawns++
	e.failed += n
	e.first = min(e.first, sp.Seq)
}

// example is the name whose spawns made most failed execs, then whose
// failed execs took longest, then the earliest seen; none when the names
// past the tally's bound may hold one that made more (they made as many
// in all). Counted, not timed first: on a loaded machine one failed exec
// preempted for 10 ms outweighed 600 of another program's (CI named a
// program spawned once as where most went).
func (t *failedTally) example() (exeFailed, bool) {
	var best *exeFailed
	for _, e := range t.byName {
		if best == nil || e.failed > best.failed || e.failed == best.failed &&
			(e.ns > best.ns || e.ns == best.ns && e.first < best.first) {
			best = e
		}
	}
	if best == nil || t.untalliedSpawns > 0 && best.failed <= t.untalliedFailed {
		return exeFailed{}, false
	}
	return *best, true
}
