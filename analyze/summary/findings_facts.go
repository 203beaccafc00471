package summary

import (
	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/spawn"
	"github.com/spawntrace/spawntrace/tracer"
)

// findingFacts is what the findings rules need of the rows, gathered as
// they finish, in any order: sums, counts, distributions, and where the
// rules name the first of something, its Seq.
type findingFacts struct {
	spawners map[uint32]recording.ProcessInfo // Recording.Spawners by pid

	// Fork-like spawns but Rust's fallback; own: spawn to exec, or the
	// call alone.
	forks                      int
	forkCopyNs, forkTeardownNs uint64
	forkOwnNs                  uint64
	forkRSS                    *valueDist // the parents' RSS, where recorded
	forkRSSLo, forkRSSHi       uint64
	forkSigs                   spawn.Tally

	// Copies from large parents with few huge pages (findTHP), and each
	// such parent's anonymous memory at its first of them.
	thpCopyNs, thpTeardownNs uint64
	thpParents               map[uint32]thpParent

	rustSpawns                 int
	rustCopyNs, rustTeardownNs uint64
	rustOwnNs                  uint64
	rustRSS                    *valueDist

	// Failed execs of searches that found their program, by the program
	// (what an absolute path avoids), and of those that found none, by the
	// name looked for (spawn.Spawn.NotFoundExecs).
	pathFound, pathNotFound failedTally

	vforks            int
	vforkBlockedNs    uint64
	vforkFailedExecNs uint64
	// Per spawning thread, its vfork-like spawns' blocked time (at most
	// maxSpawnThreads threads: more is as good as many), and the most of
	// any.
	vforkThreads            map[uint32]uint64
	vforkBlockedMaxThreadNs uint64

	stalls  int
	stallNs uint64

	envCounts, envBytes *valueDist // of the successful execs
}

// maxSpawnThreads and MaxFailedExes bound the per-thread and per-program
// tallies: past them a new thread or program is not counted apart.
const (
	maxSpawnThreads = 1024
	MaxFailedExes   = 4096
)

type thpParent struct {
	seq                  int
	anonBytes, hugeBytes uint64
	hugeFromPgtables     bool
}

func newFindingFacts(rec *recording.Recording, pool *exactPool) *findingFacts {
	f := &findingFacts{spawners: map[uint32]recording.ProcessInfo{}, thpParents: map[uint32]thpParent{},
		forkRSS: newDist(pool), rustRSS: newDist(pool), envCounts: newDist(pool), envBytes: newDist(pool),
		vforkThreads: map[uint32]uint64{}}
	for _, p := range rec.Spawners {
		f.spawners[p.Pid] = p
	}
	return f
}

// ownNs is a spawn's own time: from the call to the child's successful
// exec, or the call alone without one.
func ownNs(sp *spawn.Spawn) uint64 {
	if sp.ExecOK {
		return max(sp.SpawnToExecNs, sp.CloneDurNs)
	}
	return sp.CloneDurNs
}

func (f *findingFacts) add(sp *spawn.Spawn) {
	if sp.Mechanism == spawn.MechFork {
		f.addFork(sp)
	}
	if sp.Signature == spawn.SigRustFallback {
		f.rustSpawns++
		f.rustCopyNs += sp.CopyNs
		f.rustTeardownNs += sp.TeardownNs
		f.rustOwnNs += ownNs(sp)
		if sp.Parent != nil {
			f.rustRSS.add(sp.Parent.RSSBytes())
		}
	}
	if n, ns := sp.SearchFailedExecs(); n > 0 {
		f.pathFound.add(sp, sp.Exe, n, ns)
	}
	if sp.NotFoundExecs > 0 {
		f.pathNotFound.add(sp, sp.NotFound, sp.NotFoundExecs, sp.NotFoundExecNs)
	}
	if sp.Mechanism == spawn.MechVfork {
		f.vforks++
		f.vforkBlockedNs += sp.BlockedNs
		f.vforkFailedExecNs += sp.FailedExecNs
		if t, ok := f.vforkThreads[sp.ParentTid]; ok || len(f.vforkThreads) < maxSpawnThreads {
			f.vforkThreads[sp.ParentTid] = t + sp.BlockedNs
			f.vforkBlockedMaxThreadNs = max(f.vforkBlockedMaxThreadNs, t+sp.BlockedNs)
		}
	}
	if sp.LockStallNs > 0 {
		f.stalls++
		f.stallNs += sp.LockStallNs
	}
	if sp.ExecOK {
		f.envCounts.addInt(sp.EnvCount)
		f.envBytes.addInt(sp.EnvBytes)
	}
}

// addFork counts a fork-like spawn. Rust's fork fallback is counted by
// rust-fallback alone, which names its cause: in fork-copy too, the same
// copies would be ranked twice.
func (f *findingFacts) addFork(sp *spawn.Spawn) {
	rust := sp.Signature == spawn.SigRustFallback
	if !rust {
		f.forks++
		f.forkCopyNs += sp.CopyNs
		f.forkTeardownNs += sp.TeardownNs
		f.forkOwnNs += ownNs(sp)
		f.forkSigs.Add(sp.Seq, sp.Signature)
	}
	x := sp.Parent
	if x == nil {
		return
	}
	rss := x.RSSBytes()
	if !rust {
		if f.forkRSS.n == 0 {
			f.forkRSSLo = rss
		}
		f.forkRSS.add(rss)
		f.forkRSSLo, f.forkRSSHi = min(f.forkRSSLo, rss), max(f.forkRSSHi, rss)
	}

	huge, fromPgtables, ok := hugeBytesOf(x, f.spawners, sp.ParentPid)
	if !ok || x.RSSAnonBytes < largeParentBytes || float64(huge) >= hugePageShareLow*float64(x.RSSAnonBytes) {
		return
	}
	f.thpCopyNs += sp.CopyNs
	f.thpTeardownNs += sp.TeardownNs
	if q, seen := f.thpParents[sp.ParentPid]; !seen || sp.Seq < q.seq {
		f.thpParents[sp.ParentPid] = thpParent{sp.Seq, x.RSSAnonBytes, huge, fromPgtables}
	}
}

// bytesPerPageTableByte: a 4 KiB page table holds 512 entries of 8 bytes, each
// mapping a 4 KiB page; memory in 2 MiB huge pages needs none of them.
const bytesPerPageTableByte = 4096 / 8

// hugeBytesOf is a forking parent's memory in transparent huge pages:
// AnonHugePages when user space read smaps_rollup (recordings made before
// that read was dropped: it holds the parent's mmap lock for ~20 ms per
// GiB), else estimated from the page tables the kernel side read at the
// fork: the RSS that its page tables could not map in 4 KiB pages.
// fromPgtables says it was estimated; ok is false when neither is known.
func hugeBytesOf(x *tracer.ParentSize, spawners map[uint32]recording.ProcessInfo, pid uint32) (huge uint64, fromPgtables, ok bool) {
	if p, read := spawners[pid]; read {
		return p.AnonHugeBytes, false, true
	}
	if x.PgtablesBytes == 0 {
		return 0, false, false
	}
	mapped := x.PgtablesBytes * bytesPerPageTableByte
	rss := x.RSSBytes()
	if mapped >= rss {
		return 0, true, true
	}
	return min(rss-mapped, x.RSSAnonBytes), true, true
}

// sigCounts are the signatures' counts, in order of first appearance.
func sigCounts(t *spawn.Tally) []SigCount {
	var out []SigCount
	for _, n := range t.Names() {
		out = append(out, SigCount{Name: n, Count: t.Count(n)})
	}
	return out
}
