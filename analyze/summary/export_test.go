package summary

import (
	"cmp"
	"slices"
	"sort"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/spawn"
)

// Test-only entry points: a summary's own code and its callers go through
// Summarize.

// SetSpawns gives a summary built by hand its rows,
// in time order: each one's Seq is set to its index. Stats, Fit, Classes
// and Findings are left as they are.
func (s *Summary) SetSpawns(rows []spawn.Spawn) {
	r := &spawnRows{mem: make([]spawn.Spawn, len(rows)), n: len(rows)}
	copy(r.mem, rows)
	for i := range r.mem {
		r.mem[i].Seq = i
	}
	s.rows = r
}

// FitCopy fits copy time against parent RSS; nil with fewer than 2 measured
// fork-like spawns.
func FitCopy(spawns []spawn.Spawn) *Fit {
	var a fitAcc
	for i := range spawns {
		a.add(i, &spawns[i])
	}
	return a.fit()
}

// Classes groups spawns by ClassKey, in the order each class first
// appears in time. (A summary's are in Summary.Classes, computed as its
// rows finished.)
func Classes(spawns []spawn.Spawn) []Class {
	// Other callers' spawns may not be in time order. (No index slice when
	// they are.)
	var order []int
	if !slices.IsSortedFunc(spawns, func(a, b spawn.Spawn) int { return cmp.Compare(a.TimeNs, b.TimeNs) }) {
		order = make([]int, len(spawns))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return spawns[order[a]].TimeNs < spawns[order[b]].TimeNs })
	}
	cs := newClassSet(newExactPool())
	var links classLinks
	var link classLink
	for seq := range spawns {
		i := seq
		if order != nil {
			i = order[seq]
		}
		sp := &spawns[i]
		links.open(&link, sp.ParentTid, sp.TimeNs)
		links.finish(&link, sp.ParentTid, cs.add(seq, sp), cs.addTotal)
	}
	return cs.classes()
}

// SpawnStacks counts the spawns' stacks and how many were truncated.
func SpawnStacks(rec *recording.Recording, spawns []spawn.Spawn) SpawnStackStats {
	st := SpawnStackStats{Spawns: len(spawns)}
	for i := range spawns {
		s := rec.StackOf(spawns[i].StackID)
		if s == nil {
			continue
		}
		st.WithStack++
		if s.Truncated() {
			st.Truncated++
		}
	}
	if rec.StackLoss != nil {
		st.Unsymbolized = rec.StackLoss.SpawnStacks
	}
	return st
}
