package summary

import (
	"fmt"
	"strings"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/spawn"
)

// findingFacts is what the findings rules need of the rows, gathered as
// they finish, in any order: sums, counts, distributions, and where the
// rules word the first of something, its Seq.
type findingFacts struct {
	spawners map[uint32]recording.ProcessInfo // Recording.Spawners by pid

	// Fork-like spawns.
	forks                      int
	forkCopyNs, forkTeardownNs uint64
	forkRSS                    *valueDist // the parents' RSS, where recorded
	forkRSSLo, forkRSSHi       uint64
	forkSigs                   spawn.Tally

	// Copies from large parents with few huge pages (findTHP), and each
	// such parent's anonymous memory at its first of them.
	thpCopyNs  uint64
	thpParents map[uint32]thpParent

	rustSpawns int
	rustCostNs uint64

	// Failed execs, and the first spawn (in time) that had some and then
	// exec'd, as an example.
	failedExecs, spawnsWithFailed int
	failedExecNs                  uint64
	pathExample                   string
	pathExampleSeq                int

	vforks         int
	vforkBlockedNs uint64

	stalls  int
	stallNs uint64

	envCounts, envBytes *valueDist // of the successful execs
}

type thpParent struct {
	seq       int
	anonBytes uint64
}

func newFindingFacts(rec *recording.Recording, pool *exactPool) *findingFacts {
	f := &findingFacts{spawners: map[uint32]recording.ProcessInfo{}, thpParents: map[uint32]thpParent{},
		forkRSS: newDist(pool), envCounts: newDist(pool), envBytes: newDist(pool)}
	for _, p := range rec.Spawners {
		f.spawners[p.Pid] = p
	}
	return f
}

func (f *findingFacts) add(sp *spawn.Spawn) {
	if sp.Mechanism == spawn.MechFork {
		f.addFork(sp)
	}
	if sp.Signature == spawn.SigRustFallback {
		f.rustSpawns++
		f.rustCostNs += sp.CopyNs + sp.TeardownNs
	}
	if sp.FailedExecs > 0 {
		f.spawnsWithFailed++
		f.failedExecs += sp.FailedExecs
		f.failedExecNs += sp.FailedExecNs
		if sp.Exe != "" && (f.pathExample == "" || sp.Seq < f.pathExampleSeq) {
			f.pathExample, f.pathExampleSeq = sp.Exe, sp.Seq
		}
	}
	if sp.Mechanism == spawn.MechVfork {
		f.vforks++
		f.vforkBlockedNs += sp.BlockedNs
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

func (f *findingFacts) addFork(sp *spawn.Spawn) {
	f.forks++
	f.forkCopyNs += sp.CopyNs
	f.forkTeardownNs += sp.TeardownNs
	f.forkSigs.Add(sp.Seq, sp.Signature)
	x := sp.Parent
	if x == nil {
		return
	}
	rss := x.RSSBytes()
	if f.forkRSS.n == 0 {
		f.forkRSSLo = rss
	}
	f.forkRSS.add(rss)
	f.forkRSSLo, f.forkRSSHi = min(f.forkRSSLo, rss), max(f.forkRSSHi, rss)

	p, ok := f.spawners[sp.ParentPid]
	if !ok || x.RSSAnonBytes < largeParentBytes || float64(p.AnonHugeBytes) >= hugePageShareLow*float64(x.RSSAnonBytes) {
		return
	}
	f.thpCopyNs += sp.CopyNs
	if q, seen := f.thpParents[sp.ParentPid]; !seen || sp.Seq < q.seq {
		f.thpParents[sp.ParentPid] = thpParent{sp.Seq, x.RSSAnonBytes}
	}
}

// sigText words the signatures as "glibc fork() x10, fork() x2", in order
// of first appearance.
func sigText(t *spawn.Tally) string {
	var parts []string
	for _, n := range t.Names() {
		parts = append(parts, fmt.Sprintf("%s x%d", n, t.Count(n)))
	}
	return strings.Join(parts, ", ")
}
