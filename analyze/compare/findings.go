package compare

import (
	"math"
	"sort"

	"github.com/spawntrace/spawntrace/analyze/spawn"
	"github.com/spawntrace/spawntrace/analyze/summary"
	"github.com/spawntrace/spawntrace/tracer"
)

// Finding IDs: stable, one per cause.
const (
	IDMechanism   = "mechanism"   // one side forks where the other vforks
	IDForkCopy    = "fork-copy"   // both fork; one copies larger parents
	IDCopySpeed   = "copy-speed"  // the same copy costs more per GiB on one host
	IDPathSearch  = "path-search" // one side's children fail more execs (PathSearchFacts.Cause says why)
	IDEnvironment = "environment" // one side passes a larger environment
	// IDOffCPU: a forking thread is off CPU longer in the call. A fork does
	// not wait for its child: that is time waiting for a CPU (run queue)
	// or for locks and memory (contention).
	IDOffCPU = "off-cpu"
	// IDVforkBlocking: a vfork-like spawner waits longer for its children
	// to exec, which it does by design.
	IDVforkBlocking = "vfork-blocking"
	IDHost          = "host"          // the kernels or their virtualization differ
	IDStartupCPUID  = "startup-cpuid" // new programs' CPUID start-up costs more on one host
	IDLostEvents    = "lost-events"   // a side lost events
)

// Why a side forks where the other vforks (MechanismFacts.Cause).
const (
	CauseOldGlibc      = "old-glibc"      // the forking side's glibc is older than 2.24
	CauseRustFallback  = "rust-fallback"  // its Rust Command falls back to fork
	CauseProgramChoice = "program-choice" // both run the same libc: the program chose fork
	CauseSpawners      = "spawners"       // the spawners differ, the libc is unknown or differs
)

// Pair is one measure on a finding's subject side and on the other.
type Pair[T any] struct {
	Subject T `json:"subject"`
	Other   T `json:"other"`
}

// CompareFinding is one cause of the difference between two recordings,
// decided with its numbers; reports word it. Subject is the side it is
// about (the one that forks, copies more, searches a longer PATH, ...),
// Other the other side; each kind's facts are in the field named after it.
type CompareFinding struct {
	ID      string `json:"id"`
	Subject string `json:"subject"`
	Other   string `json:"other,omitempty"`
	// CostNs is what this cause adds to B's mean spawn cost over A's
	// (negative when it favours B); 0 when it could not be separated.
	CostNs float64 `json:"cost_ns_per_spawn"`
	// Share is CostNs as a percentage of the whole difference; 0 when
	// there is no difference to explain (Comparison.Explained).
	Share float64 `json:"share_pct"`

	Mechanism   *MechanismFacts   `json:"mechanism,omitempty"`
	ForkCopy    *ForkCopyFacts    `json:"fork_copy,omitempty"`
	CopySpeed   *CopySpeedFacts   `json:"copy_speed,omitempty"`
	PathSearch  *PathSearchFacts  `json:"path_search,omitempty"`
	Environment *EnvironmentFacts `json:"environment,omitempty"`
	OffCPU      *OffCPUFacts      `json:"off_cpu,omitempty"` // off-cpu and vfork-blocking
	Host        *HostFacts        `json:"host,omitempty"`
	CPUID       *CPUIDFacts       `json:"startup_cpuid,omitempty"`
	Lost        *tracer.Lost      `json:"lost,omitempty"`
}

// MechanismFacts: the subject forks, the other vforks.
type MechanismFacts struct {
	Cause string `json:"cause"` // Cause*
	// Libc is each side's ("glibc 2.17"), "" when unknown.
	Libc Pair[string] `json:"libc"`
	// Spawner is each side's most common spawn pattern ("glibc fork()"),
	// or its mechanism when none was recognised.
	Spawner Pair[string] `json:"spawner"`
	// CopyMeasured is false when the forking side had no copy probe: the
	// finding's cost is then 0, not separated.
	CopyMeasured   bool              `json:"copy_measured"`
	ParentRSSBytes uint64            `json:"parent_rss_bytes"` // the forking side's, median
	Mechanisms     Pair[[]MechCount] `json:"mechanisms"`
}

// ForkCopyFacts: both fork; the subject's parents are larger.
type ForkCopyFacts struct {
	ParentRSSBytes Pair[uint64] `json:"parent_rss_bytes"` // medians
}

// CopySpeedFacts: the subject's copy costs more per GiB.
type CopySpeedFacts struct {
	MsPerGiB Pair[float64] `json:"ms_per_gib"`
	Forks    Pair[int]     `json:"forks"` // behind each fit
	// AtRSSBytes is the parent size the cost is given at: B's median.
	AtRSSBytes uint64    `json:"at_rss_bytes"`
	HostDiffs  []HostRow `json:"host_diffs,omitempty"` // kernel, virtualization, CPU, THP
}

// Why the subject's children fail more execs (PathSearchFacts.Cause).
const (
	// CauseLongerPath: the subject's PATH has more entries.
	CauseLongerPath = "longer-path"
	// CauseLaterInPath: the PATHs are as long (or the subject's shorter),
	// yet its children try more entries before the program: its directory
	// comes later in the subject's PATH (another order, other directories).
	CauseLaterInPath = "later-in-path"
	// CauseNotFound: most of the extra failed execs are of searches that
	// found no program (spawn.Spawn.NotFoundExecs).
	CauseNotFound = "not-found"
	// CauseFailedExecs: PATH was not recorded on a side (or unset): the
	// counts alone.
	CauseFailedExecs = "failed-execs"
)

// PathSearchFacts: the subject's children fail more execs.
type PathSearchFacts struct {
	Cause          string        `json:"cause"` // Cause* above
	FailedPerSpawn Pair[float64] `json:"failed_execs_per_spawn"`
	// NotFoundPerSpawn is, per spawn, the failed execs of searches that
	// found no program.
	NotFoundPerSpawn Pair[float64] `json:"not_found_failed_execs_per_spawn"`
	// PathEntries is each side's PATH as its execs saw it (Side.PathEntries).
	PathEntries Pair[int] `json:"path_entries"`
}

// EnvironmentFacts: the subject's children get the larger environment.
type EnvironmentFacts struct {
	Vars  Pair[int] `json:"vars"`  // medians over successful execs
	Bytes Pair[int] `json:"bytes"` // medians
	// ExecNs is the median successful exec on CPU less its teardown.
	// Separable is false when no cost can be put on the environment: the
	// subject's execs are not the slower, or the children were spawned
	// differently (Mechanisms), and a forked child's exec does more than
	// a vfork child's besides the environment (on a 1 GiB parent's child,
	// ~50 µs more with the same 20 variables).
	ExecNs     Pair[float64]         `json:"exec_ns"`
	Mechanisms Pair[spawn.Mechanism] `json:"mechanisms"`
	Separable  bool                  `json:"separable"`
}

// OffCPUFacts: the subject's spawning thread is off CPU longer in the call.
type OffCPUFacts struct {
	OffCPUNs Pair[float64] `json:"off_cpu_ns"` // per spawn
	// Mechanism is the subject's dominant one: vfork for vfork-blocking.
	Mechanism spawn.Mechanism `json:"mechanism"`
}

// HostFacts: the kernels or their virtualization differ. Subject is B.
type HostFacts struct {
	Diffs []HostRow `json:"diffs"`
	// CallNs is the rest of the spawning call (besides the copy and off-CPU
	// time) per spawn, when both sides have spawns.
	CallNs *Pair[float64] `json:"call_ns,omitempty"`
	// Syscall is the first spawn-related call both sides made, by the time
	// difference it explains.
	Syscall *SyscallRow `json:"syscall,omitempty"`
}

// CPUIDFacts: new programs' start-up CPUID loops cost more on the subject.
type CPUIDFacts struct {
	PerExecNs Pair[float64] `json:"per_exec_ns"` // on-CPU samples
	// Virtualization is the host row, when it differs.
	Virtualization *HostRow `json:"virtualization,omitempty"`
}

// Thresholds for causes that are reported only when they matter.
const (
	minShownShare     = 5.0 // percent of the difference
	minFailedPerSpawn = 0.5
	envCountRatio     = 1.5
	envCountMin       = 10
	envBytesMin       = 4 << 10
	copySpeedRatio    = 1.5
	glibcVforkMajor   = 2
	glibcVforkMinor   = 24 // posix_spawn uses CLONE_VM|CLONE_VFORK from glibc 2.24
)

// material says whether a cause's cost (B's minus A's, per spawn) explains
// enough of the difference, in its direction, to be named: one that
// explains none of it, or works against it, names no cause.
func (c *Comparison) material(costNs float64) bool {
	return c.Share(costNs) >= minShownShare
}

// part returns the breakdown row of a part, zero when there is none.
func (c *Comparison) part(name string) PartRow {
	for _, r := range c.Breakdown {
		if r.Part == name {
			return r
		}
	}
	return PartRow{}
}

func compareFindings(c *Comparison) []CompareFinding {
	var out []CompareFinding
	add := func(f *CompareFinding) {
		if f != nil {
			if f.CostNs != 0 {
				f.Share = c.Share(f.CostNs)
			}
			out = append(out, *f)
		}
	}
	if c.A.Spawns > 0 && c.B.Spawns > 0 {
		mech := findMechanism(c)
		add(mech)
		if mech == nil {
			add(findForkCopyDiff(c))
		}
		add(findCopySpeed(c))
		add(findPathDiff(c))
		add(findEnvDiff(c))
		add(findOffCPUDiff(c))
	}
	add(findHostDiff(c))
	add(findStartupCPUIDDiff(c))
	for _, s := range []*Side{&c.A, &c.B} {
		add(findLost(s))
	}
	sort.SliceStable(out, func(i, j int) bool { return math.Abs(out[i].CostNs) > math.Abs(out[j].CostNs) })
	return out
}

// forkVfork names the side that forks and the one that vforks, when the
// two differ that way.
func forkVfork(c *Comparison) (f, v *Side) {
	switch {
	case c.A.Dominant == spawn.MechVfork && c.B.Dominant == spawn.MechFork:
		return &c.B, &c.A
	case c.A.Dominant == spawn.MechFork && c.B.Dominant == spawn.MechVfork:
		return &c.A, &c.B
	}
	return nil, nil
}

// copyCost is the copy and its teardown, B minus A, per spawn.
func (c *Comparison) copyCost() float64 {
	return c.part(PartCopy).DiffNs + c.part(PartTeardown).DiffNs
}

// moreLess orders the sides by a measure: the one with more first; B when
// B's minus A's is not negative.
func (c *Comparison) moreLess(bMinusA float64) (more, less *Side) {
	if bMinusA < 0 {
		return &c.A, &c.B
	}
	return &c.B, &c.A
}

func findMechanism(c *Comparison) *CompareFinding {
	f, v := forkVfork(c)
	if f == nil {
		return nil
	}
	fl, vl := f.head.host.Libc, v.head.host.Libc
	m := &MechanismFacts{
		Libc:           Pair[string]{fl.String(), vl.String()},
		Spawner:        Pair[string]{firstOr(f.Signatures, string(spawn.MechFork)), firstOr(v.Signatures, string(spawn.MechVfork))},
		CopyMeasured:   f.CopyMeasured,
		ParentRSSBytes: f.ParentRSSBytes,
		Mechanisms:     Pair[[]MechCount]{f.ByMech, v.ByMech},
	}
	switch old, known := fl.GlibcBefore(glibcVforkMajor, glibcVforkMinor); {
	case known && old:
		m.Cause = CauseOldGlibc
	case hasSig(f.Signatures, spawn.SigRustFallback):
		m.Cause = CauseRustFallback
	case fl != nil && vl != nil && fl.String() == vl.String():
		m.Cause = CauseProgramChoice
	default:
		m.Cause = CauseSpawners
	}
	cost := 0.0
	if f.CopyMeasured {
		cost = c.copyCost()
	}
	return &CompareFinding{ID: IDMechanism, Subject: f.Name, Other: v.Name, CostNs: cost, Mechanism: m}
}

func findForkCopyDiff(c *Comparison) *CompareFinding {
	if c.A.Dominant != spawn.MechFork || c.B.Dominant != spawn.MechFork || !c.A.CopyMeasured || !c.B.CopyMeasured {
		return nil
	}
	cost := c.copyCost()
	if !c.material(cost) {
		return nil
	}
	more, less := c.moreLess(cost)
	return &CompareFinding{ID: IDForkCopy, Subject: more.Name, Other: less.Name, CostNs: cost,
		ForkCopy: &ForkCopyFacts{ParentRSSBytes: Pair[uint64]{more.ParentRSSBytes, less.ParentRSSBytes}}}
}

// slope is a fit's copy cost per GiB, when it can support one.
func slope(f *summary.Fit) (float64, bool) {
	if f == nil {
		return 0, false
	}
	if ok, _ := f.Usable(); !ok {
		return 0, false
	}
	return f.SlopeMsPerGiB, f.SlopeMsPerGiB > 0
}

func findCopySpeed(c *Comparison) *CompareFinding {
	sa, okA := slope(c.A.Fit)
	sb, okB := slope(c.B.Fit)
	if !okA || !okB || math.Max(sa, sb)/math.Min(sa, sb) < copySpeedRatio {
		return nil
	}
	// What B's slower or faster copy costs at B's parent size.
	cost := (sb - sa) * float64(c.B.ParentRSSBytes) / summary.GiB * 1e6
	if !c.material(cost) {
		return nil
	}
	slow, fast := c.moreLess(sb - sa)
	return &CompareFinding{ID: IDCopySpeed, Subject: slow.Name, Other: fast.Name, CostNs: cost,
		CopySpeed: &CopySpeedFacts{
			MsPerGiB:   Pair[float64]{slow.Fit.SlopeMsPerGiB, fast.Fit.SlopeMsPerGiB},
			Forks:      Pair[int]{slow.Fit.N, fast.Fit.N},
			AtRSSBytes: c.B.ParentRSSBytes,
			HostDiffs:  hostDiffs(c, "kernel", "virtualization", "CPU", "transparent huge pages"),
		}}
}

// findPathDiff: one side's children fail more execs, and that costs it a
// material share of the difference. The cause is named from what differs:
// the PATH's length, the program's place in it, or a program not found.
func findPathDiff(c *Comparison) *CompareFinding {
	d := c.B.FailedPerSpawn - c.A.FailedPerSpawn
	if math.Abs(d) < minFailedPerSpawn {
		return nil
	}
	more, less := c.moreLess(d)
	cost := c.part(PartFailed).DiffNs
	// The side that fails more execs must be the one they cost more, and
	// that cost must go the difference's way: a finding that explains
	// none of it, or works against it, names no cause.
	if (cost > 0) != (d > 0) || !c.material(cost) {
		return nil
	}
	p := &PathSearchFacts{
		FailedPerSpawn:   Pair[float64]{more.FailedPerSpawn, less.FailedPerSpawn},
		NotFoundPerSpawn: Pair[float64]{more.notFoundPerSpawn(), less.notFoundPerSpawn()},
		PathEntries:      Pair[int]{more.PathEntries, less.PathEntries},
	}
	switch e := p.PathEntries; {
	case p.NotFoundPerSpawn.Subject-p.NotFoundPerSpawn.Other >= math.Abs(d)/2:
		p.Cause = CauseNotFound
	case e.Subject <= 0 || e.Other <= 0:
		p.Cause = CauseFailedExecs
	case e.Subject > e.Other:
		p.Cause = CauseLongerPath
	default:
		p.Cause = CauseLaterInPath
	}
	return &CompareFinding{ID: IDPathSearch, Subject: more.Name, Other: less.Name, CostNs: cost, PathSearch: p}
}

func findEnvDiff(c *Comparison) *CompareFinding {
	a, b := &c.A, &c.B
	if a.ExecSpawns == 0 || b.ExecSpawns == 0 {
		return nil
	}
	lo, hi := float64(min(a.EnvCount, b.EnvCount)), float64(max(a.EnvCount, b.EnvCount))
	countDiff := hi-lo >= envCountMin && hi >= envCountRatio*lo
	bytesDiff := math.Abs(float64(a.EnvBytes-b.EnvBytes)) >= envBytesMin
	if !countDiff && !bytesDiff {
		return nil
	}
	more, less := b, a
	if a.EnvCount > b.EnvCount || (a.EnvCount == b.EnvCount && a.EnvBytes > b.EnvBytes) {
		more, less = a, b
	}
	e := &EnvironmentFacts{
		Vars:       Pair[int]{more.EnvCount, less.EnvCount},
		Bytes:      Pair[int]{more.EnvBytes, less.EnvBytes},
		ExecNs:     Pair[float64]{more.ExecNs, less.ExecNs},
		Mechanisms: Pair[spawn.Mechanism]{more.Dominant, less.Dominant},
		Separable:  more.ExecNs > less.ExecNs && more.Dominant == less.Dominant,
	}
	cost := 0.0
	if e.Separable {
		cost = b.ExecNs - a.ExecNs
	}
	return &CompareFinding{ID: IDEnvironment, Subject: more.Name, Other: less.Name, CostNs: cost, Environment: e}
}

// findOffCPUDiff: the spawning thread is off CPU longer on one side. Only
// a vfork-like spawner waits for its child (until it execs); a forking
// thread off CPU waited for a CPU or for locks, and is named so.
func findOffCPUDiff(c *Comparison) *CompareFinding {
	row := c.part(PartBlocked)
	if !row.Measured || !c.material(row.DiffNs) {
		return nil
	}
	more, less := c.moreLess(row.DiffNs)
	moreNs, lessNs := row.BNs, row.ANs
	if row.DiffNs < 0 {
		moreNs, lessNs = lessNs, moreNs
	}
	id := IDOffCPU
	if more.Dominant == spawn.MechVfork {
		id = IDVforkBlocking
	}
	return &CompareFinding{ID: id, Subject: more.Name, Other: less.Name, CostNs: row.DiffNs,
		OffCPU: &OffCPUFacts{OffCPUNs: Pair[float64]{moreNs, lessNs}, Mechanism: more.Dominant}}
}

// hostDiffs lists the rows of the named host facts that differ.
func hostDiffs(c *Comparison, facts ...string) []HostRow {
	var rows []HostRow
	for _, want := range facts {
		for _, r := range c.Host {
			if r.Fact == want && r.Differs {
				rows = append(rows, r)
			}
		}
	}
	return rows
}

func findHostDiff(c *Comparison) *CompareFinding {
	d := hostDiffs(c, "kernel", "virtualization")
	if len(d) == 0 {
		return nil
	}
	h := &HostFacts{Diffs: d}
	var cost float64
	if c.A.Spawns > 0 && c.B.Spawns > 0 {
		row := c.part(PartCall)
		cost = row.DiffNs
		h.CallNs = &Pair[float64]{row.BNs, row.ANs}
	}
	for i, r := range c.Syscalls {
		if (r.Name == "clone" || r.Name == "clone3" || r.Name == "vfork" || r.Name == "fork" || r.Name == "execve") &&
			r.Ratio > 0 {
			h.Syscall = &c.Syscalls[i]
			break
		}
	}
	return &CompareFinding{ID: IDHost, Subject: c.B.Name, Other: c.A.Name, CostNs: cost, Host: h}
}

func findLost(s *Side) *CompareFinding {
	if s.Lost.Total() == 0 {
		return nil
	}
	l := s.Lost
	return &CompareFinding{ID: IDLostEvents, Subject: s.Name, Lost: &l}
}

func firstOr(v []string, def string) string {
	if len(v) > 0 {
		return v[0]
	}
	return def
}

func hasSig(v []string, sig string) bool {
	for _, s := range v {
		if s == sig {
			return true
		}
	}
	return false
}
