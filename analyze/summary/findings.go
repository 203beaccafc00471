package summary

import (
	"fmt"
	"sort"

	"github.com/spawntrace/spawntrace/analyze/recording"
)

// Finding is one cause of spawn cost, with its evidence in numbers and the
// time it is estimated to cost the workload in total.
type Finding struct {
	ID       string `json:"id"` // stable: fork-copy, thp, rust-fallback, path-search, large-env, vfork-blocking, lock-stall, startup-cpuid
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

// findings applies each rule to a summarized recording, ranked by cost:
// to what its rows showed (facts), gathered as they finished.
func findings(rec *recording.Recording, s *Summary, facts *findingFacts) []Finding {
	var out []Finding
	significant := func(costNs uint64) bool {
		return costNs >= minCostNs && float64(costNs) >= minCostShare*float64(s.WallNs)
	}
	for _, rule := range []func(*recording.Recording, *Summary, *findingFacts, func(uint64) bool) *Finding{
		findForkCopy, findTHP, findRustFallback, findPathSearch, findVforkBlocking, findLockStall, findLargeEnv,
		findStartupCPUID,
	} {
		if f := rule(rec, s, facts, significant); f != nil {
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

// rssRange words the parents' sizes: "1024 MiB" when they are alike,
// "8 MiB to 1024 MiB (median 256 MiB)" when the costly ones are not typical.
func rssRange(f *findingFacts) string {
	lo, hi := f.forkRSSLo, f.forkRSSHi
	med := f.forkRSS.median()
	if hi == 0 {
		return "unknown"
	}
	if hi-lo < hi/10 {
		return mib(med)
	}
	return fmt.Sprintf("%s to %s (median %s)", mib(lo), mib(hi), mib(med))
}

// findForkCopy: fork-like spawns pay for copying the parent's address space
// and, in the child's exec, for tearing the copy down; vfork-like ones pay
// for neither.
func findForkCopy(_ *recording.Recording, s *Summary, f *findingFacts, significant func(uint64) bool) *Finding {
	cost := f.forkCopyNs + f.forkTeardownNs
	rss := f.forkRSS.median()
	// Small parents copy cheaply; only a sizeable share of the run makes
	// their copies worth a finding.
	if f.forks == 0 || !significant(cost) || (rss < largeParentBytes/4 && float64(cost) < 0.05*float64(s.WallNs)) {
		return nil
	}
	ev := fmt.Sprintf("%d fork-like spawns from parents with RSS %s: address-space copy %s, "+
		"exec teardown of the copy %s; %s in all, %s", f.forks, rssRange(f),
		ms(f.forkCopyNs), ms(f.forkTeardownNs), ms(cost), ofRun(cost, s.WallNs))
	if sig := sigText(&f.forkSigs); sig != "" {
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
func findTHP(rec *recording.Recording, _ *Summary, f *findingFacts, significant func(uint64) bool) *Finding {
	var anon, huge uint64
	for pid, p := range f.thpParents {
		anon += p.anonBytes
		huge += f.spawners[pid].AnonHugeBytes
	}
	cost := uint64(float64(f.thpCopyNs) * thpCopySavingShare)
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
			"THP mode here: %s; their copies took %s", len(f.thpParents), mib(anon), mib(huge), pct(huge, anon), mode, ms(f.thpCopyNs)),
		Advice: "back the parent's heap with transparent huge pages (THP 'always', or madvise(MADV_HUGEPAGE) on it): " +
			"copies of huge-page memory were measured ~40x cheaper, saving up to about " + ms(cost),
		CostNs: cost,
	}
}

func findRustFallback(_ *recording.Recording, _ *Summary, f *findingFacts, _ func(uint64) bool) *Finding {
	if f.rustSpawns == 0 {
		return nil
	}
	return &Finding{
		ID:    "rust-fallback",
		Title: "Rust's Command falls back to fork",
		Evidence: fmt.Sprintf("%d spawns match Rust std's fallback: socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC) "+
			"then a fork-like clone; their copies and teardowns cost %s", f.rustSpawns, ms(f.rustCostNs)),
		Advice: "Rust uses posix_spawn only with glibc >= 2.24 and without options that need code in the child " +
			"(pre_exec, uid/gid, process_group, a cwd with a relative program path): drop those to get vfork-like spawns",
		CostNs: f.rustCostNs,
	}
}

func findPathSearch(_ *recording.Recording, _ *Summary, f *findingFacts, significant func(uint64) bool) *Finding {
	if f.failedExecs == 0 || !significant(f.failedExecNs) {
		return nil
	}
	advice := "spawn by absolute path, or put the binary's directory first in PATH"
	if f.pathExample != "" {
		advice = fmt.Sprintf("spawn by absolute path (e.g. %s), or put its directory first in PATH", recording.Printable(f.pathExample))
	}
	return &Finding{
		ID:    "path-search",
		Title: "execs search PATH",
		Evidence: fmt.Sprintf("%d failed execs before the binary was found, %.1f per spawn in %d spawns, %s in all",
			f.failedExecs, float64(f.failedExecs)/float64(f.spawnsWithFailed), f.spawnsWithFailed, ms(f.failedExecNs)),
		Advice: advice,
		CostNs: f.failedExecNs,
	}
}

func findVforkBlocking(_ *recording.Recording, s *Summary, f *findingFacts, significant func(uint64) bool) *Finding {
	n, blocked := f.vforks, f.vforkBlockedNs
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

func findLockStall(_ *recording.Recording, _ *Summary, f *findingFacts, significant func(uint64) bool) *Finding {
	if !significant(f.stallNs) {
		return nil
	}
	return &Finding{
		ID:    "lock-stall",
		Title: "forks stall the parent's other threads",
		Evidence: fmt.Sprintf("during %d forks, other threads of the parent waited %s in all for the mmap lock the copy held",
			f.stalls, ms(f.stallNs)),
		Advice: "spawn vfork-like, or from a small helper process, so the copy does not hold a busy process's lock",
		CostNs: f.stallNs,
	}
}

func findLargeEnv(_ *recording.Recording, _ *Summary, f *findingFacts, _ func(uint64) bool) *Finding {
	n := f.envCounts.n
	if n == 0 {
		return nil
	}
	c, b := f.envCounts.median(), f.envBytes.median()
	if c < largeEnvCount && b < largeEnvBytes {
		return nil
	}
	return &Finding{
		ID:    "large-env",
		Title: "a large environment is copied into every exec",
		Evidence: fmt.Sprintf("median environment of %d variables, %d bytes, in %d execs; runtimes copy it before each spawn and the kernel at each exec",
			c, b, n),
		Advice: "pass children only the variables they need (env -i, Command.env_clear, subprocess env=...); " +
			"its cost shows best when compared with a small-environment run (spawntrace compare)",
	}
}
