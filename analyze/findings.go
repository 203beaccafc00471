package analyze

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Finding is one cause of spawn cost, with its evidence in numbers and the
// time it is estimated to cost the workload in total.
type Finding struct {
	ID       string `json:"id"` // stable: fork-copy, thp, rust-fallback, path-search, large-env, vfork-blocking, lock-stall
	Title    string `json:"title"`
	Evidence string `json:"evidence"`
	Advice   string `json:"advice,omitempty"`
	CostNs   uint64 `json:"cost_ns"` // estimated total; 0 when it could not be separated
}

// Thresholds below which a cause is negligible and not reported.
const (
	minCostNs          = 1_000_000 // 1 ms in total ...
	minCostShare       = 0.01      // ... and 1% of the run
	largeEnvCount      = 100
	largeEnvBytes      = 64 << 10
	largeParentBytes   = 256 << 20
	hugePageShareLow   = 0.10
	thpCopySavingShare = 0.9 // huge pages measured here: ~0.4 ms instead of ~18 ms per GiB
)

// Findings applies each rule to a summarized recording, ranked by cost.
func Findings(rec *Recording, s *Summary) []Finding {
	var out []Finding
	significant := func(costNs uint64) bool {
		return costNs >= minCostNs && float64(costNs) >= minCostShare*float64(s.WallNs)
	}
	for _, rule := range []func(*Recording, *Summary, func(uint64) bool) *Finding{
		findForkCopy, findTHP, findRustFallback, findPathSearch, findVforkBlocking, findLockStall, findLargeEnv,
	} {
		if f := rule(rec, s, significant); f != nil {
			out = append(out, *f)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CostNs > out[j].CostNs })
	return out
}

func ms(ns uint64) string { return fmt.Sprintf("%.1f ms", float64(ns)/1e6) }

func mib(b uint64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func pct(part, whole uint64) string {
	if whole == 0 {
		return "?%"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(part)/float64(whole))
}

// ofRun words a time's share of the run. Time summed over threads that ran
// at once can exceed the run's wall time; that is said, not shown as 109%.
func ofRun(ns, wallNs uint64) string {
	if ns > wallNs && wallNs > 0 {
		return "more than the run's wall time, summed over threads that overlapped"
	}
	return pct(ns, wallNs) + " of the run"
}

func forks(s *Summary) []*Spawn {
	var out []*Spawn
	for i := range s.Spawns {
		if s.Spawns[i].Mechanism == MechFork {
			out = append(out, &s.Spawns[i])
		}
	}
	return out
}

func medianRSS(sp []*Spawn) uint64 {
	var v []uint64
	for _, x := range sp {
		if x.Parent != nil {
			v = append(v, x.Parent.RSSBytes())
		}
	}
	if len(v) == 0 {
		return 0
	}
	sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
	return v[len(v)/2]
}

// rssRange words the parents' sizes: "1024 MiB" when they are alike,
// "8 MiB to 1024 MiB (median 256 MiB)" when the costly ones are not typical.
func rssRange(sp []*Spawn) string {
	lo, hi := uint64(math.MaxUint64), uint64(0)
	for _, x := range sp {
		if x.Parent != nil {
			lo, hi = min(lo, x.Parent.RSSBytes()), max(hi, x.Parent.RSSBytes())
		}
	}
	med := medianRSS(sp)
	if hi == 0 {
		return "unknown"
	}
	if hi-lo < hi/10 {
		return mib(med)
	}
	return fmt.Sprintf("%s to %s (median %s)", mib(lo), mib(hi), mib(med))
}

func signatures(sp []*Spawn) string {
	names, count := countSignatures(sp)
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s x%d", n, count[n]))
	}
	return strings.Join(parts, ", ")
}

// countSignatures counts the named signatures, listed in order of first
// appearance.
func countSignatures(sp []*Spawn) (names []string, count map[string]int) {
	count = map[string]int{}
	for _, x := range sp {
		if x.Signature == "" {
			continue
		}
		if count[x.Signature] == 0 {
			names = append(names, x.Signature)
		}
		count[x.Signature]++
	}
	return names, count
}

// findForkCopy: fork-like spawns pay for copying the parent's address space
// and, in the child's exec, for tearing the copy down; vfork-like ones pay
// for neither.
func findForkCopy(_ *Recording, s *Summary, significant func(uint64) bool) *Finding {
	fk := forks(s)
	var copyNs, teardownNs uint64
	for _, x := range fk {
		copyNs += x.CopyNs
		teardownNs += x.TeardownNs
	}
	cost := copyNs + teardownNs
	rss := medianRSS(fk)
	// Small parents copy cheaply; only a sizeable share of the run makes
	// their copies worth a finding.
	if len(fk) == 0 || !significant(cost) || (rss < largeParentBytes/4 && float64(cost) < 0.05*float64(s.WallNs)) {
		return nil
	}
	ev := fmt.Sprintf("%d fork-like spawns from parents with RSS %s: address-space copy %s, "+
		"exec teardown of the copy %s; %s in all, %s", len(fk), rssRange(fk),
		ms(copyNs), ms(teardownNs), ms(cost), ofRun(cost, s.WallNs))
	if sig := signatures(fk); sig != "" {
		ev += " (" + sig + ")"
	}
	return &Finding{
		ID:       "fork-copy",
		Title:    "fork-like spawns copy the parent's address space",
		Evidence: ev,
		Advice:   "spawn vfork-like (posix_spawn, vfork, clone CLONE_VM|CLONE_VFORK) to skip the copy and the teardown: saves about " + ms(cost),
		CostNs:   cost,
	}
}

// findTHP: the copy walks page tables; a parent in 4 KiB pages has 512x
// more entries to copy than one in 2 MiB transparent huge pages.
func findTHP(rec *Recording, s *Summary, significant func(uint64) bool) *Finding {
	info := map[uint32]ProcessInfo{}
	for _, p := range rec.Spawners {
		info[p.Pid] = p
	}
	var copyNs, anon, huge uint64
	seen := map[uint32]bool{}
	for _, x := range forks(s) {
		p, ok := info[x.ParentPid]
		if x.Parent == nil || !ok || x.Parent.RSSAnonBytes < largeParentBytes {
			continue
		}
		if float64(p.AnonHugeBytes) >= hugePageShareLow*float64(x.Parent.RSSAnonBytes) {
			continue
		}
		copyNs += x.CopyNs
		if !seen[x.ParentPid] {
			seen[x.ParentPid] = true
			anon += x.Parent.RSSAnonBytes
			huge += p.AnonHugeBytes
		}
	}
	cost := uint64(float64(copyNs) * thpCopySavingShare)
	if !significant(cost) {
		return nil
	}
	mode := rec.Host.THPMode
	if mode == "" {
		mode = "unknown"
	}
	return &Finding{
		ID:    "thp",
		Title: "large parents fork from 4 KiB pages",
		Evidence: fmt.Sprintf("%d parent(s) with %s anonymous memory had %s in transparent huge pages (%s); "+
			"THP mode here: %s; their copies took %s", len(seen), mib(anon), mib(huge), pct(huge, anon), mode, ms(copyNs)),
		Advice: "back the parent's heap with transparent huge pages (THP 'always', or madvise(MADV_HUGEPAGE) on it): " +
			"copies of huge-page memory were measured ~40x cheaper, saving up to about " + ms(cost),
		CostNs: cost,
	}
}

func findRustFallback(_ *Recording, s *Summary, _ func(uint64) bool) *Finding {
	var n int
	var cost uint64
	for i := range s.Spawns {
		x := &s.Spawns[i]
		if x.Signature == SigRustFallback {
			n++
			cost += x.CopyNs + x.TeardownNs
		}
	}
	if n == 0 {
		return nil
	}
	return &Finding{
		ID:    "rust-fallback",
		Title: "Rust's Command falls back to fork",
		Evidence: fmt.Sprintf("%d spawns match Rust std's fallback: socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC) "+
			"then a fork-like clone; their copies and teardowns cost %s", n, ms(cost)),
		Advice: "Rust uses posix_spawn only with glibc >= 2.24 and without options that need code in the child " +
			"(pre_exec, uid/gid, process_group, a cwd with a relative program path): drop those to get vfork-like spawns",
		CostNs: cost,
	}
}

func findPathSearch(rec *Recording, s *Summary, significant func(uint64) bool) *Finding {
	var failed, spawnsWith int
	var cost uint64
	var example string
	for i := range s.Spawns {
		x := &s.Spawns[i]
		if x.FailedExecs == 0 {
			continue
		}
		spawnsWith++
		failed += x.FailedExecs
		cost += x.FailedExecNs
		if example == "" && x.Exe != "" {
			example = Printable(x.Exe)
		}
	}
	if failed == 0 || !significant(cost) {
		return nil
	}
	advice := "spawn by absolute path, or put the binary's directory first in PATH"
	if example != "" {
		advice = fmt.Sprintf("spawn by absolute path (e.g. %s), or put its directory first in PATH", example)
	}
	return &Finding{
		ID:    "path-search",
		Title: "execs search PATH",
		Evidence: fmt.Sprintf("%d failed execs before the binary was found, %.1f per spawn in %d spawns, %s in all",
			failed, float64(failed)/float64(spawnsWith), spawnsWith, ms(cost)),
		Advice: advice,
		CostNs: cost,
	}
}

func findVforkBlocking(_ *Recording, s *Summary, significant func(uint64) bool) *Finding {
	var n int
	var blocked uint64
	for i := range s.Spawns {
		x := &s.Spawns[i]
		if x.Mechanism == MechVfork {
			n++
			blocked += x.BlockedNs
		}
	}
	if n == 0 || !significant(blocked) || float64(blocked) < 0.05*float64(s.WallNs) {
		return nil
	}
	return &Finding{
		ID:    "vfork-blocking",
		Title: "vfork blocks the spawning thread",
		Evidence: fmt.Sprintf("%d vfork-like spawns kept their thread off CPU for %s in all (%s per spawn), %s, "+
			"until each child exec'd", n, ms(blocked), ms(blocked/uint64(n)), ofRun(blocked, s.WallNs)),
		Advice: "spawns from one thread are serialized by vfork: spawn from several threads to overlap them, " +
			"and keep the child's work before exec short",
		CostNs: blocked,
	}
}

func findLockStall(_ *Recording, s *Summary, significant func(uint64) bool) *Finding {
	var stall uint64
	var n int
	for i := range s.Spawns {
		if s.Spawns[i].LockStallNs > 0 {
			stall += s.Spawns[i].LockStallNs
			n++
		}
	}
	if !significant(stall) {
		return nil
	}
	return &Finding{
		ID:    "lock-stall",
		Title: "forks stall the parent's other threads",
		Evidence: fmt.Sprintf("during %d forks, other threads of the parent waited %s in all for the mmap lock the copy held",
			n, ms(stall)),
		Advice: "spawn vfork-like, or from a small helper process, so the copy does not hold a busy process's lock",
		CostNs: stall,
	}
}

func findLargeEnv(_ *Recording, s *Summary, _ func(uint64) bool) *Finding {
	var counts, bytes []int
	for i := range s.Spawns {
		if s.Spawns[i].ExecOK {
			counts = append(counts, s.Spawns[i].EnvCount)
			bytes = append(bytes, s.Spawns[i].EnvBytes)
		}
	}
	if len(counts) == 0 {
		return nil
	}
	sort.Ints(counts)
	sort.Ints(bytes)
	c, b := counts[len(counts)/2], bytes[len(bytes)/2]
	if c < largeEnvCount && b < largeEnvBytes {
		return nil
	}
	return &Finding{
		ID:    "large-env",
		Title: "a large environment is copied into every exec",
		Evidence: fmt.Sprintf("median environment of %d variables, %d bytes, in %d execs; runtimes copy it before each spawn and the kernel at each exec",
			c, b, len(counts)),
		Advice: "pass children only the variables they need (env -i, Command.env_clear, subprocess env=...); " +
			"its cost shows best when compared with a small-environment run (spawntrace compare)",
	}
}
