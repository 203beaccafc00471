package summary

import (
	"sort"

	"github.com/spawntrace/spawntrace/analyze/recording"
)

// FindingID names a cause of spawn cost; stable across versions (JSON,
// tests and the reports key on it).
type FindingID string

const (
	FindForkCopy      FindingID = "fork-copy"
	FindTHP           FindingID = "thp"
	FindRustFallback  FindingID = "rust-fallback"
	FindPathSearch    FindingID = "path-search"
	FindNotFound      FindingID = "not-found"
	FindVforkBlocking FindingID = "vfork-blocking"
	FindLockStall     FindingID = "lock-stall"
	FindLargeEnv      FindingID = "large-env"
	FindStartupCPUID  FindingID = "startup-cpuid"
)

// SavingBasis says how a finding's SavingNs was estimated.
type SavingBasis string

const (
	// BasisNone: no saving could be separated in one run.
	BasisNone SavingBasis = ""
	// BasisCopyTeardown: the address-space copies and exec teardowns
	// measured on CPU, both of which a vfork-like spawn skips.
	BasisCopyTeardown SavingBasis = "measured-copy+teardown"
	// BasisFailedExecs: the failed execs' measured time on CPU, none of
	// which an exec by absolute path makes. An upper bound: each failed
	// exec's time has spawntrace's own cost per call in it, which one run
	// cannot separate (it depends on the workload: see UpperBound).
	BasisFailedExecs SavingBasis = "measured-failed-execs"
	// BasisStall: the other threads' measured wait for the lock.
	BasisStall SavingBasis = "measured-stall"
	// BasisCPUSamples: on-CPU samples in the cause, times the period:
	// rough, as a saving. The time is measured, but what its advice saves
	// (a host where CPUID does not trap, or fewer execs) cannot be run
	// against it on the same host: a guest cannot turn its CPUID traps
	// off, and fewer execs save all of each exec, not its CPUID.
	BasisCPUSamples SavingBasis = "cpu-samples"
	// BasisHugePageRatio: the measured copies and teardowns times the
	// share huge pages saved on another machine: rough (it depends on
	// the huge pages the kernel can give).
	BasisHugePageRatio SavingBasis = "rough-huge-page-ratio"
	// BasisOverlap: the part of the blocked time a second spawning thread
	// could overlap, if the work allows it: rough.
	BasisOverlap SavingBasis = "rough-overlap"
)

// Rough reports whether the basis is a model rather than a time measured
// in this run.
func (b SavingBasis) Rough() bool {
	return b == BasisHugePageRatio || b == BasisOverlap || b == BasisCPUSamples
}

// UpperBound reports whether the basis is a time measured under tracing
// that includes the tracer's own cost per call: the saving without the
// tracer is smaller. The failed execs of a PATH search: the calls are
// short (~0.5-1 µs each), and the programs' work at each (the event with
// its filename, argv and environment count) slows the next lookup too, by
// how much depends on the workload (its PATH, its environment), not on a
// cost the tracer could measure once per run.
func (b SavingBasis) UpperBound() bool { return b == BasisFailedExecs }

// Finding is one cause of spawn cost: what was measured of it (one of the
// fact fields, by ID), and the time its advice is estimated to save. It
// holds numbers only; reports words it.
type Finding struct {
	ID FindingID `json:"id"`
	// SavingNs is the estimated saving, never more than the run's wall
	// time nor the concerned spawns' own time (Capped says it was cut to
	// that); 0 when it could not be separated (Basis is BasisNone).
	SavingNs uint64      `json:"saving_ns"`
	Basis    SavingBasis `json:"saving_basis,omitempty"`
	Capped   bool        `json:"capped,omitempty"`
	// UpperBound: the saving is at most SavingNs (Basis.UpperBound).
	UpperBound bool `json:"upper_bound,omitempty"`

	ForkCopy     *ForkCopyFacts     `json:"fork_copy,omitempty"`
	THP          *THPFacts          `json:"thp,omitempty"`
	RustFallback *RustFallbackFacts `json:"rust_fallback,omitempty"`
	PathSearch   *PathSearchFacts   `json:"path_search,omitempty"`
	NotFound     *NotFoundFacts     `json:"not_found,omitempty"`
	VforkBlocked *VforkBlockedFacts `json:"vfork_blocking,omitempty"`
	LockStall    *LockStallFacts    `json:"lock_stall,omitempty"`
	LargeEnv     *LargeEnvFacts     `json:"large_env,omitempty"`
	StartupCPUID *StartupCPUIDFacts `json:"startup_cpuid,omitempty"`
}

// ForkCopyFacts: fork-like spawns and what their copies cost.
type ForkCopyFacts struct {
	Spawns int `json:"spawns"`
	// The parents' RSS at the forks, where recorded (0 when none was).
	RSSMinBytes    uint64 `json:"rss_min_bytes"`
	RSSMaxBytes    uint64 `json:"rss_max_bytes"`
	RSSMedianBytes uint64 `json:"rss_median_bytes"`
	CopyNs         uint64 `json:"copy_ns"`     // on CPU, summed
	TeardownNs     uint64 `json:"teardown_ns"` // on CPU, summed
	// OwnNs is the spawns' own time (spawn to exec, or the call alone
	// when there was no exec), summed: what a saving cannot exceed.
	OwnNs      uint64     `json:"own_ns"`
	Signatures []SigCount `json:"signatures,omitempty"` // in order of first appearance
}

// SigCount is how many spawns of a signature there were.
type SigCount struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// THPFacts: large parents forking from 4 KiB pages.
type THPFacts struct {
	Parents   int    `json:"parents"`
	AnonBytes uint64 `json:"anon_bytes"` // their anonymous memory, at their first such fork
	HugeBytes uint64 `json:"huge_bytes"` // of it in transparent huge pages
	// HugeFromPgtables: HugeBytes is estimated from the parents' page
	// tables, not read from smaps_rollup.
	HugeFromPgtables bool   `json:"huge_from_pgtables,omitempty"`
	THPMode          string `json:"thp_mode"` // the host's, "" when unknown
	CopyNs           uint64 `json:"copy_ns"`  // their copies, summed
	// TeardownNs is their children's exec teardowns of the copies,
	// summed: huge pages make those cheap too.
	TeardownNs uint64 `json:"teardown_ns"`
	// SavingShare is the share of the copy and teardown time huge pages
	// were measured to save (on this project's machine, not this run's).
	SavingShare float64 `json:"saving_share"`
}

// RustFallbackFacts: spawns matching Rust std's fork fallback.
type RustFallbackFacts struct {
	Spawns     int    `json:"spawns"`
	CopyNs     uint64 `json:"copy_ns"`
	TeardownNs uint64 `json:"teardown_ns"`
	// RSSMedianBytes is the median parent RSS of those spawns.
	RSSMedianBytes uint64 `json:"rss_median_bytes"`
}

// PathSearchFacts: failed execs before the one that worked (those of
// searches that found nothing are NotFoundFacts').
type PathSearchFacts struct {
	FailedExecs  int    `json:"failed_execs"`
	Spawns       int    `json:"spawns"` // spawns with any
	FailedExecNs uint64 `json:"failed_exec_ns"`
	// Example is the program whose spawns made most failed execs in all,
	// with their cost, its spawns and their failed execs.
	Example             string `json:"example,omitempty"`
	ExampleFailedExecNs uint64 `json:"example_failed_exec_ns,omitempty"`
	ExampleSpawns       int    `json:"example_spawns,omitempty"`
	ExampleFailedExecs  int    `json:"example_failed_execs,omitempty"`
	// UntalliedSpawns exec'd programs that came after MaxFailedExes others
	// had failed execs: counted in the totals, not by program. No Example
	// then, unless it cost more than all of them did.
	UntalliedSpawns int `json:"untallied_spawns,omitempty"`
}

// NotFoundFacts: failed execs of searches that found no program (a
// command not found: spawn.Spawn.NotFoundExecs), which no absolute path
// avoids. Not in PathSearchFacts.
type NotFoundFacts struct {
	FailedExecs  int    `json:"failed_execs"`
	Spawns       int    `json:"spawns"` // spawns with any
	FailedExecNs uint64 `json:"failed_exec_ns"`
	// Example is the name looked for most, with its spawns and their
	// failed execs (as the workload wrote it: print through TermSafe).
	Example            string `json:"example,omitempty"`
	ExampleSpawns      int    `json:"example_spawns,omitempty"`
	ExampleFailedExecs int    `json:"example_failed_execs,omitempty"`
}

// VforkBlockedFacts: vfork-like spawns and how long their threads waited.
type VforkBlockedFacts struct {
	Spawns    int    `json:"spawns"`
	BlockedNs uint64 `json:"blocked_ns"` // summed over the spawns
	// Threads is how many threads made them (at most maxSpawnThreads).
	Threads int `json:"threads"`
	// FailedExecNs is the failed execs of those children, part of the
	// wait (the parent waits until the child's exec succeeds).
	FailedExecNs uint64 `json:"failed_exec_ns"`
	// Overlappable says whether spawning from more threads would save
	// time: one thread was blocked for most of the run.
	Overlappable bool `json:"overlappable"`
}

// LockStallFacts: the parent's other threads waiting on a fork's copy.
type LockStallFacts struct {
	Forks   int    `json:"forks"` // forks that stalled another thread
	StallNs uint64 `json:"stall_ns"`
}

// LargeEnvFacts: the environment copied into each exec.
type LargeEnvFacts struct {
	Execs       int `json:"execs"`
	MedianCount int `json:"median_count"`
	MedianBytes int `json:"median_bytes"`
}

// StartupCPUIDFacts: CPU samples in glibc's start-up CPU detection.
type StartupCPUIDFacts struct {
	Samples      int      `json:"samples"`
	TotalSamples int      `json:"total_samples"`
	Funcs        []string `json:"funcs"` // most sampled first
	CPUNs        uint64   `json:"cpu_ns"`
	Execs        int      `json:"execs"` // successful ones
	// Virtualization is the host's ("" unknown, "none" bare metal).
	Virtualization string `json:"virtualization,omitempty"`
}

// Thresholds below which a cause is negligible and not reported.
const (
	MinCostNs        = 1_000_000 // 1 ms in total ...
	MinCostShare     = 0.01      // ... and 1% of the run
	largeEnvCount    = 100
	largeEnvBytes    = 64 << 10
	largeParentBytes = 256 << 20
	hugePageShareLow = 0.10
	// thpSavingShare: forks from 1 GiB in huge pages took ~2 ms of CPU
	// each, copy and teardown, against ~40 ms in 4 KiB pages.
	thpSavingShare = 0.9
	// vforkOverlapShare: a thread blocked in vfork-like spawns for at
	// least this share of the run is what the run waits on; below it, the
	// wait is what every vfork-like spawn costs, and other work overlaps it.
	vforkOverlapShare = 0.5
)

// rule decides one finding from the facts; it returns nil for none, and
// a note (a finding not worth ranking) through the second result.
type rule func(rec *recording.Recording, s *Summary, f *findingFacts, significant func(uint64) bool) (finding, note *Finding)

// findings applies each rule to a summarized recording: the findings
// ranked by what their advice saves, and the notes, in rule order.
func findings(rec *recording.Recording, s *Summary, facts *findingFacts) (ranked, notes []Finding) {
	significant := func(costNs uint64) bool {
		return costNs >= MinCostNs && float64(costNs) >= MinCostShare*float64(s.WallNs)
	}
	for _, r := range []rule{
		findForkCopy, findTHP, findRustFallback, findPathSearch, findNotFound, findVforkBlocking, findLockStall, findLargeEnv,
		findStartupCPUID,
	} {
		f, n := r(rec, s, facts, significant)
		if f != nil {
			ranked = append(ranked, *f)
		}
		if n != nil {
			notes = append(notes, *n)
		}
	}
	sort.SliceStable(ranked, func(i, j int) bool { return ranked[i].SavingNs > ranked[j].SavingNs })
	return ranked, notes
}

// saving sets f's saving: est, cut to the run's wall time and to limitNs
// (the concerned spawns' own time; 0 for no such limit).
func (f *Finding) saving(est uint64, basis SavingBasis, wallNs, limitNs uint64) *Finding {
	f.SavingNs, f.Basis, f.UpperBound = est, basis, basis.UpperBound()
	for _, lim := range []uint64{wallNs, limitNs} {
		if lim > 0 && f.SavingNs > lim {
			f.SavingNs, f.Capped = lim, true
		}
	}
	return f
}

// findForkCopy: fork-like spawns pay for copying the parent's address space
// and, in the child's exec, for tearing the copy down; vfork-like ones pay
// for neither.
func findForkCopy(_ *recording.Recording, s *Summary, f *findingFacts, significant func(uint64) bool) (*Finding, *Finding) {
	cost := f.forkCopyNs + f.forkTeardownNs
	rss := f.forkRSS.median()
	// Small parents copy cheaply; only a sizeable share of the run makes
	// their copies worth a finding.
	if f.forks == 0 || !significant(cost) || (rss < largeParentBytes/4 && float64(cost) < 0.05*float64(s.WallNs)) {
		return nil, nil
	}
	facts := &ForkCopyFacts{Spawns: f.forks, CopyNs: f.forkCopyNs, TeardownNs: f.forkTeardownNs, OwnNs: f.forkOwnNs,
		Signatures: sigCounts(&f.forkSigs)}
	if f.forkRSSHi > 0 {
		facts.RSSMinBytes, facts.RSSMaxBytes, facts.RSSMedianBytes = f.forkRSSLo, f.forkRSSHi, rss
	}
	return (&Finding{ID: FindForkCopy, ForkCopy: facts}).saving(cost, BasisCopyTeardown, s.WallNs, f.forkOwnNs), nil
}

// findTHP: the copy walks page tables; a parent in 4 KiB pages has 512x
// more entries to copy than one in 2 MiB transparent huge pages.
func findTHP(rec *recording.Recording, s *Summary, f *findingFacts, significant func(uint64) bool) (*Finding, *Finding) {
	var anon, huge uint64
	estimated := false
	for _, p := range f.thpParents {
		anon += p.anonBytes
		huge += p.hugeBytes
		estimated = estimated || p.hugeFromPgtables
	}
	spent := f.thpCopyNs + f.thpTeardownNs
	cost := uint64(float64(spent) * thpSavingShare)
	if !significant(cost) {
		return nil, nil
	}
	facts := &THPFacts{Parents: len(f.thpParents), AnonBytes: anon, HugeBytes: huge, THPMode: rec.Host.THPMode,
		HugeFromPgtables: estimated, CopyNs: f.thpCopyNs, TeardownNs: f.thpTeardownNs, SavingShare: thpSavingShare}
	return (&Finding{ID: FindTHP, THP: facts}).saving(cost, BasisHugePageRatio, s.WallNs, spent), nil
}

// findRustFallback: Rust's Command forks when it cannot posix_spawn; from
// a large parent each such spawn pays the copy and the teardown.
func findRustFallback(_ *recording.Recording, s *Summary, f *findingFacts, _ func(uint64) bool) (*Finding, *Finding) {
	if f.rustSpawns == 0 {
		return nil, nil
	}
	facts := &RustFallbackFacts{Spawns: f.rustSpawns, CopyNs: f.rustCopyNs, TeardownNs: f.rustTeardownNs,
		RSSMedianBytes: f.rustRSS.median()}
	return (&Finding{ID: FindRustFallback, RustFallback: facts}).saving(f.rustCopyNs+f.rustTeardownNs, BasisCopyTeardown,
		s.WallNs, f.rustOwnNs), nil
}

// findPathSearch: failed execs before the binary was found. Below the
// threshold they are still worth a line: they say the spawns search PATH.
func findPathSearch(_ *recording.Recording, s *Summary, f *findingFacts, significant func(uint64) bool) (*Finding, *Finding) {
	t := &f.pathFound
	if t.execs == 0 {
		return nil, nil
	}
	facts := &PathSearchFacts{FailedExecs: t.execs, Spawns: t.spawns, FailedExecNs: t.ns, UntalliedSpawns: t.untalliedSpawns}
	if ex, ok := t.example(); ok {
		facts.Example, facts.ExampleFailedExecNs, facts.ExampleSpawns, facts.ExampleFailedExecs = ex.exe, ex.ns, ex.spawns, ex.failed
	}
	fd := (&Finding{ID: FindPathSearch, PathSearch: facts}).saving(t.ns, BasisFailedExecs, s.WallNs, 0)
	if !significant(t.ns) {
		return nil, fd
	}
	return fd, nil
}

// findNotFound: failed execs of searches that found nothing. A note,
// whatever their cost: what would save it (not spawning a program that is
// not there, or installing it) is the workload's to choose, and one run
// cannot measure it.
func findNotFound(_ *recording.Recording, _ *Summary, f *findingFacts, _ func(uint64) bool) (*Finding, *Finding) {
	t := &f.pathNotFound
	if t.execs == 0 {
		return nil, nil
	}
	facts := &NotFoundFacts{FailedExecs: t.execs, Spawns: t.spawns, FailedExecNs: t.ns}
	if ex, ok := t.example(); ok {
		facts.Example, facts.ExampleSpawns, facts.ExampleFailedExecs = ex.exe, ex.spawns, ex.failed
	}
	return nil, &Finding{ID: FindNotFound, NotFound: facts}
}

// findVforkBlocking: a vfork-like spawn's thread waits until the child
// execs. That wait is the price of the fast path: a note. When one thread
// spends most of the run in it, the note says a second thread could
// overlap the waits, without a number.
func findVforkBlocking(_ *recording.Recording, s *Summary, f *findingFacts, significant func(uint64) bool) (*Finding, *Finding) {
	n, blocked := f.vforks, f.vforkBlockedNs
	if n == 0 || !significant(blocked) {
		return nil, nil
	}
	threads := len(f.vforkThreads)
	facts := &VforkBlockedFacts{Spawns: n, BlockedNs: blocked, Threads: threads, FailedExecNs: min(f.vforkFailedExecNs, blocked)}
	fd := &Finding{ID: FindVforkBlocking, VforkBlocked: facts}
	// The busiest thread's wait, against the run: the wall time a second
	// thread could take half of.
	// Never ranked: what a second thread saves depends on idle CPUs, not
	// on anything this run measured.
	facts.Overlappable = threads == 1 && float64(f.vforkBlockedMaxThreadNs) >= vforkOverlapShare*float64(s.WallNs)
	return nil, fd
}

// findLockStall: while a fork copies, it holds the parent's mmap lock for
// writing; the parent's other threads that take it wait. The kernel side
// counts only threads of the forking process (sharing its mm).
func findLockStall(_ *recording.Recording, s *Summary, f *findingFacts, significant func(uint64) bool) (*Finding, *Finding) {
	if !significant(f.stallNs) {
		return nil, nil
	}
	return (&Finding{ID: FindLockStall, LockStall: &LockStallFacts{Forks: f.stalls, StallNs: f.stallNs}}).
		saving(f.stallNs, BasisStall, s.WallNs, 0), nil
}

// findLargeEnv: a large environment is copied at every spawn and exec.
// One run cannot separate what that costs, so it is a note, not ranked: a
// finding without a saving would rank with those that have one.
func findLargeEnv(_ *recording.Recording, _ *Summary, f *findingFacts, _ func(uint64) bool) (*Finding, *Finding) {
	n := f.envCounts.n
	if n == 0 {
		return nil, nil
	}
	c, b := f.envCounts.median(), f.envBytes.median()
	if c < largeEnvCount && b < largeEnvBytes {
		return nil, nil
	}
	return nil, &Finding{ID: FindLargeEnv, LargeEnv: &LargeEnvFacts{Execs: n, MedianCount: int(c), MedianBytes: int(b)}}
}
