package summary

import (
	"cmp"
	"math"
	"slices"

	"github.com/spawntrace/spawntrace/analyze/spawn"
)

// SmallParentBytes is the parent RSS below which spawns share one size class:
// copying a parent this small costs well under a millisecond anywhere, and
// a runtime's own few MiB drift too much during a run to split them finer.
const SmallParentBytes = 16 << 20

// ClassKey is what makes spawns alike: how they were made, from how large a
// parent, with how large an environment, into which binary, and whether the
// child searched PATH (failed execs before the successful one).
type ClassKey struct {
	Signature string          `json:"signature,omitempty"`
	Mechanism spawn.Mechanism `json:"mechanism"`
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
	FailedExecs    int    `json:"failed_execs"` // in all spawns of the class, before their program was found

	Clone       Dist `json:"clone"`
	Copy        Dist `json:"copy"`     // only spawns whose copy was measured
	Teardown    Dist `json:"teardown"` // only spawns whose teardown was measured
	SpawnToExec Dist `json:"spawn_to_exec"`
	Blocked     Dist `json:"blocked"`
	FailedExec  Dist `json:"failed_exec"` // time in failed execs before the program was found, spawns that had any
	// Total is each spawn's share of a loop of like spawns: from its entry
	// to the entry of the same thread's next spawn when that one is of the
	// same class. It holds what the other columns leave out: the runtime's
	// work around the call, the child's run, waiting for it.
	Total Dist `json:"total"`

	rssApprox bool // RSSMedianBytes is from a histogram (see Dist.Approx)
}

// Approx says whether any of the class's medians or percentiles is
// approximate (Dist.Approx).
func (c *Class) Approx() bool {
	approx := c.rssApprox
	for _, d := range []Dist{c.Clone, c.Copy, c.Teardown, c.SpawnToExec, c.Blocked, c.FailedExec, c.Total} {
		approx = approx || d.Approx
	}
	return approx
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
func KeyOf(sp *spawn.Spawn) ClassKey {
	k := ClassKey{
		Signature: sp.Signature, Mechanism: sp.Mechanism, EnvCount: sp.EnvCount,
		Exe: sp.Exe,
	}
	if n, _ := sp.SearchFailedExecs(); n > 0 {
		k.PathSearch = true
	}
	if sp.Parent != nil {
		k.RSSKnown = true
		k.RSSBucketBytes = RSSBucket(sp.Parent.RSSBytes())
	}
	return k
}

// maxClasses bounds the classes of one summary: each holds a few KiB of
// distributions, and a recording (hostile input) can give every spawn a
// binary and an environment size of its own. Past it, a spawn of a class
// not seen yet joins the class of its signature, mechanism, parent size
// and PATH search whose Exe is OtherExe and EnvCount -1. A real run has a
// few hundred classes; a 200 000-spawn build, a few thousand.
const maxClasses = 1 << 14

// OtherExe is the Exe of the classes that gather spawns past maxClasses.
const OtherExe = "(other binaries: more than 16384 classes)"

// classSet accumulates classes as spawns finish, in any order.
type classSet struct {
	index map[ClassKey]int32
	accs  []*classAcc
	pool  *exactPool
}

type classAcc struct {
	*mechAcc             // the costs a mechanism's stats have too
	key                  ClassKey
	first                int // Seq of its first spawn
	failed               int
	rss, failedNs, total *valueDist
}

func newClassSet(pool *exactPool) *classSet {
	return &classSet{index: map[ClassKey]int32{}, pool: pool}
}

// add counts the spawn of time order seq in its class, and returns the
// class.
func (cs *classSet) add(seq int, sp *spawn.Spawn) int32 {
	k := KeyOf(sp)
	c, ok := cs.index[k]
	if !ok && len(cs.accs) >= maxClasses {
		// Of what is left, only the signature is a string, and only the
		// recognised ones are set: a bounded set of classes.
		k.Exe, k.EnvCount = OtherExe, -1
		c, ok = cs.index[k]
	}
	if !ok {
		c = int32(len(cs.accs))
		cs.index[k] = c
		p := cs.pool
		cs.accs = append(cs.accs, &classAcc{mechAcc: newMechAcc(p), key: k, first: seq,
			rss: newDist(p), failedNs: newDist(p), total: newDist(p)})
	}
	a := cs.accs[c]
	a.first = min(a.first, seq)
	if sp.Parent != nil {
		a.rss.add(sp.Parent.RSSBytes())
	}
	n, ns := sp.SearchFailedExecs()
	a.failed += n
	a.mechAcc.add(sp)
	if n > 0 {
		a.failedNs.add(ns)
	}
	return c
}

// addTotal adds one interval of Class.Total to class c.
func (cs *classSet) addTotal(c int32, ns uint64) { cs.accs[c].total.add(ns) }

// classes are the classes in order of first appearance.
func (cs *classSet) classes() []Class {
	accs := slices.Clone(cs.accs)
	slices.SortFunc(accs, func(a, b *classAcc) int { return cmp.Compare(a.first, b.first) })
	out := make([]Class, len(accs))
	for i, a := range accs {
		out[i] = Class{
			ClassKey: a.key, Count: a.clone.n, RSSMedianBytes: a.rss.median(), FailedExecs: a.failed,
			Clone: a.clone.dist(), Copy: a.cp.dist(), Teardown: a.teardown.dist(),
			SpawnToExec: a.s2e.dist(), Blocked: a.blocked.dist(), FailedExec: a.failedNs.dist(),
			Total: a.total.dist(), rssApprox: a.rss.hist != nil,
		}
	}
	return out
}

// Class.Total is the interval from a spawn to the same thread's next spawn
// when both are of one class; the class is known only when a spawn's row
// is finished (its exec decides Exe and PathSearch), and the two rows may
// finish in either order, long after. So each spawn is linked to its
// thread's previous one while either is open, and the interval is counted
// when the second of the two finishes. What this holds is bounded by the
// open rows and the live threads.

// classLink is one spawn's place in its thread's sequence of spawns.
type classLink struct {
	timeNs uint64
	// prev is the thread's previous spawn while its row is open; once it
	// is finished, prevDone holds its class and time instead.
	prev       *classLink
	prevDone   bool
	prevClass  int32
	prevTimeNs uint64
	// next is the thread's next spawn while its row is open; if it
	// finished first, nextDone holds its class and time.
	next       *classLink
	nextDone   bool
	nextClass  int32
	nextTimeNs uint64
}

// classLinks holds each live thread's last spawn. A thread that exits is
// dropped (threadExit): a thread given its tid later is another one.
type classLinks struct {
	last map[uint32]threadLast
}

// threadLast is a thread's last spawn: open, or finished with its class.
type threadLast struct {
	open   *classLink
	class  int32
	timeNs uint64
}

// open links k, a new spawn of thread tid at timeNs, to the thread's
// previous one.
func (l *classLinks) open(k *classLink, tid uint32, timeNs uint64) {
	*k = classLink{timeNs: timeNs}
	if l.last == nil {
		l.last = map[uint32]threadLast{}
	}
	if t, ok := l.last[tid]; ok {
		if t.open != nil {
			k.prev, t.open.next = t.open, k
		} else {
			k.prevDone, k.prevClass, k.prevTimeNs = true, t.class, t.timeNs
		}
	}
	l.last[tid] = threadLast{open: k}
}

// finish unlinks k, the spawn of thread tid now finished in class c, and
// counts the intervals to its neighbours that are finished too: each
// interval goes to the later spawn's class, when the earlier one's is the
// same.
func (l *classLinks) finish(k *classLink, tid uint32, c int32, total func(c int32, ns uint64)) {
	if p := k.prev; p != nil {
		p.next = nil
		p.nextDone, p.nextClass, p.nextTimeNs = true, c, k.timeNs
	} else if k.prevDone && k.prevClass == c && k.timeNs > k.prevTimeNs {
		total(c, k.timeNs-k.prevTimeNs)
	}
	if n := k.next; n != nil {
		n.prev = nil
		n.prevDone, n.prevClass, n.prevTimeNs = true, c, k.timeNs
	} else if k.nextDone && k.nextClass == c && k.nextTimeNs > k.timeNs {
		total(c, k.nextTimeNs-k.timeNs)
	}
	if t, ok := l.last[tid]; ok && t.open == k {
		l.last[tid] = threadLast{class: c, timeNs: k.timeNs}
	}
	*k = classLink{}
}

// threadExit forgets a thread that exited.
func (l *classLinks) threadExit(tid uint32) { delete(l.last, tid) }
