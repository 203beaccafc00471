package analyze

import "sort"

// distOf summarizes the non-zero values, or all values when keepZero.
func distOf(vals []uint64) Dist {
	var d Dist
	if len(vals) == 0 {
		return d
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	d.N = len(vals)
	for _, v := range vals {
		d.SumNs += v
	}
	d.P50Ns = percentile(vals, 50)
	d.P90Ns = percentile(vals, 90)
	d.P99Ns = percentile(vals, 99)
	d.MaxNs = vals[len(vals)-1]
	return d
}

// percentile of sorted values, nearest rank.
func percentile(sorted []uint64, p int) uint64 {
	rank := (p*len(sorted) + 99) / 100
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

var mechanismOrder = []Mechanism{MechFork, MechVfork, MechCloneVM}

// mechanismStats gives each mechanism used its distributions. Copy and
// teardown count only spawns where they were measured (non-zero).
func mechanismStats(spawns []Spawn) []MechanismStats {
	var out []MechanismStats
	for _, m := range mechanismOrder {
		// Sized exactly: on a long run these are a million values each.
		n := 0
		for i := range spawns {
			if spawns[i].Mechanism == m {
				n++
			}
		}
		if n == 0 {
			continue
		}
		clone, blocked := make([]uint64, 0, n), make([]uint64, 0, n)
		var cp, s2e, teardown []uint64
		for i := range spawns {
			sp := &spawns[i]
			if sp.Mechanism != m {
				continue
			}
			clone = append(clone, sp.CloneDurNs)
			blocked = append(blocked, sp.BlockedNs)
			if sp.CopyNs > 0 {
				cp = append(cp, sp.CopyNs)
			}
			if sp.ExecOK {
				s2e = append(s2e, sp.SpawnToExecNs)
			}
			if sp.TeardownNs > 0 {
				teardown = append(teardown, sp.TeardownNs)
			}
		}
		if len(clone) == 0 {
			continue
		}
		out = append(out, MechanismStats{
			Mechanism: m, Count: len(clone), Clone: distOf(clone), Copy: distOf(cp),
			SpawnToExec: distOf(s2e), Blocked: distOf(blocked), Teardown: distOf(teardown),
		})
	}
	return out
}
