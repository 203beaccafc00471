package analyze

import (
	"cmp"
	"math"
	"slices"
	"sort"
)

// SmallParentBytes is the parent RSS below which spawns share one size class:
// copying a parent this small costs well under a millisecond anywhere, and
// a runtime's own few MiB drift too much during a run to split them finer.
const SmallParentBytes = 16 << 20

// ClassKey is what makes spawns alike: how they were made, from how large a
// parent, with how large an environment, into which binary, and whether the
// child searched PATH (failed execs before the successful one).
type ClassKey struct {
	Signature string    `json:"signature,omitempty"`
	Mechanism Mechanism `json:"mechanism"`
	// RSSBucketBytes is the parent's RSS rounded to the nearest power of
	// two (in log scale), 0 below SmallParentBytes; RSSKnown is false when
	// the parent's size was not recorded.
	RSSBucketBytes uint64 `json:"rss_bucket_bytes"`
	RSSKnown       bool   `json:"rss_known"`
	EnvCount       int    `json:"env_count"`
	Exe            string `json:"exe,omitempty"`
	PathSearch     bool   `json:"path_search"`
}

// Class is a group of like spawns and what they cost.
type Class struct {
	ClassKey
	Count int `json:"count"`
	// RSSMedianBytes is the median recorded parent RSS (0 when unknown).
	RSSMedianBytes uint64 `json:"rss_median_bytes"`
	FailedExecs    int    `json:"failed_execs"` // in all spawns of the class

	Clone       Dist `json:"clone"`
	Copy        Dist `json:"copy"`     // only spawns whose copy was measured
	Teardown    Dist `json:"teardown"` // only spawns whose teardown was measured
	SpawnToExec Dist `json:"spawn_to_exec"`
	Blocked     Dist `json:"blocked"`
	FailedExec  Dist `json:"failed_exec"` // time in failed execs, spawns that had any
	// Total is each spawn's share of a loop of like spawns: from its entry
	// to the entry of the same thread's next spawn when that one is of the
	// same class. It holds what the other columns leave out: the runtime's
	// work around the call, the child's run, waiting for it.
	Total Dist `json:"total"`
}

// RSSBucket rounds a parent's RSS to its size class: the nearest power of
// two in log scale (72 MiB -> 64 MiB, 100 MiB -> 128 MiB), 0 below
// SmallParentBytes.
func RSSBucket(rss uint64) uint64 {
	if rss < SmallParentBytes {
		return 0
	}
	return 1 << uint(math.Round(math.Log2(float64(rss))))
}

// KeyOf is the class of one spawn.
func KeyOf(sp *Spawn) ClassKey {
	k := ClassKey{
		Signature: sp.Signature, Mechanism: sp.Mechanism, EnvCount: sp.EnvCount,
		Exe: sp.Exe, PathSearch: sp.FailedExecs > 0,
	}
	if sp.Parent != nil {
		k.RSSKnown = true
		k.RSSBucketBytes = RSSBucket(sp.Parent.RSSBytes())
	}
	return k
}

// Classes groups spawns by ClassKey, in the order each class first
// appears in time.
func Classes(spawns []Spawn) []Class {
	// A summary's spawns are in time order already; other callers' may
	// not be. (No index slice for the common case: a long run has a
	// million spawns.)
	var order []int
	if !slices.IsSortedFunc(spawns, func(a, b Spawn) int { return cmp.Compare(a.TimeNs, b.TimeNs) }) {
		order = make([]int, len(spawns))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return spawns[order[a]].TimeNs < spawns[order[b]].TimeNs })
	}
	each := func(fn func(i int)) {
		if order == nil {
			for i := range spawns {
				fn(i)
			}
			return
		}
		for _, i := range order {
			fn(i)
		}
	}

	type acc struct {
		key                                                ClassKey
		n                                                  int
		rss                                                []uint64
		failed                                             int
		clone, cp, teardown, s2e, blocked, failedNs, total []uint64
	}
	var accs []*acc
	index := map[ClassKey]int32{}
	// First pass: each spawn's class and each class's size, so that the
	// value slices below are made at their final size.
	classOf := make([]int32, len(spawns))
	each(func(i int) {
		k := KeyOf(&spawns[i])
		c, ok := index[k]
		if !ok {
			c = int32(len(accs))
			index[k] = c
			accs = append(accs, &acc{key: k})
		}
		classOf[i] = c
		accs[c].n++
	})
	for _, a := range accs {
		a.clone, a.blocked = make([]uint64, 0, a.n), make([]uint64, 0, a.n)
	}
	// lastOfThread is each thread's previous spawn, for Total.
	lastOfThread := map[uint32]int{}
	each(func(i int) {
		sp := &spawns[i]
		c := classOf[i]
		a := accs[c]
		if sp.Parent != nil {
			a.rss = append(a.rss, sp.Parent.RSSBytes())
		}
		a.failed += sp.FailedExecs
		a.clone = append(a.clone, sp.CloneDurNs)
		a.blocked = append(a.blocked, sp.BlockedNs)
		if sp.CopyNs > 0 {
			a.cp = append(a.cp, sp.CopyNs)
		}
		if sp.TeardownNs > 0 {
			a.teardown = append(a.teardown, sp.TeardownNs)
		}
		if sp.ExecOK {
			a.s2e = append(a.s2e, sp.SpawnToExecNs)
		}
		if sp.FailedExecs > 0 {
			a.failedNs = append(a.failedNs, sp.FailedExecNs)
		}
		if prev, ok := lastOfThread[sp.ParentTid]; ok && classOf[prev] == c && sp.TimeNs > spawns[prev].TimeNs {
			a.total = append(a.total, sp.TimeNs-spawns[prev].TimeNs)
		}
		lastOfThread[sp.ParentTid] = i
	})

	out := make([]Class, len(accs))
	for i, a := range accs {
		out[i] = Class{
			ClassKey: a.key, Count: len(a.clone), RSSMedianBytes: classMedian(a.rss), FailedExecs: a.failed,
			Clone: distOf(a.clone), Copy: distOf(a.cp), Teardown: distOf(a.teardown),
			SpawnToExec: distOf(a.s2e), Blocked: distOf(a.blocked), FailedExec: distOf(a.failedNs),
			Total: distOf(a.total),
		}
	}
	return out
}

// classMedian is the median of the values, the upper one of an even count; 0 for none.
func classMedian(v []uint64) uint64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]uint64(nil), v...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
