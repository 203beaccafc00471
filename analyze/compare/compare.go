package compare

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/spawn"
	"github.com/spawntrace/spawntrace/analyze/summary"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// Comparison explains the difference between two recordings of the same
// workload, A and B, in what one spawn costs on each.
type Comparison struct {
	A Side `json:"a"`
	B Side `json:"b"`
	// Host lists the host facts side by side.
	Host []HostRow `json:"host"`
	// PerSpawn is true when the syscall table is per spawn (both sides have
	// spawns); otherwise it is per run.
	PerSpawn bool         `json:"per_spawn"`
	Syscalls []SyscallRow `json:"syscalls"` // sorted by the time difference they explain
	// Breakdown splits the mean cost of one spawn into parts that add up to
	// it on each side; the shares of the parts' differences add up to 100%.
	Breakdown []PartRow `json:"breakdown"`
	// DiffNs is B's mean spawn cost minus A's.
	DiffNs float64 `json:"diff_ns"`
	// Explained is set when the difference is large enough to split into
	// shares (5% of the cheaper side's cost); shares are 0 otherwise.
	Explained bool             `json:"explained"`
	Findings  []CompareFinding `json:"findings"` // ranked: the largest share first
	// Notes say what weakens the comparison or could not be compared.
	Notes []Note `json:"notes,omitempty"`
}

// Side is what one recording shows of its spawns.
type Side struct {
	Name    string      `json:"name"`
	Command []string    `json:"command,omitempty"`
	Spawns  int         `json:"spawns"`
	WallNs  uint64      `json:"wall_ns"`
	ByMech  []MechCount `json:"by_mechanism"`
	// Dominant is the mechanism most spawns used ("" without spawns).
	Dominant spawn.Mechanism `json:"dominant,omitempty"`
	// Signatures names the spawn patterns recognised, most common first.
	Signatures []string  `json:"signatures,omitempty"`
	Patterns   []Pattern `json:"patterns,omitempty"` // most common first, at most maxPatterns
	// MeanNs is the mean cost of one spawn, the sum of its Breakdown parts.
	MeanNs         float64 `json:"mean_ns"`
	ExecSpawns     int     `json:"exec_spawns"`      // spawns whose child exec'd: their cost includes the child's way to exec
	ParentRSSBytes uint64  `json:"parent_rss_bytes"` // median at fork
	FailedPerSpawn float64 `json:"failed_execs_per_spawn"`
	// ExecNs is the median successful exec's time on CPU, less its teardown:
	// what the exec costs (the environment's copy among it), whichever way
	// the child was spawned.
	ExecNs   float64 `json:"exec_ns"`
	EnvCount int     `json:"env_count"` // median over the children's successful execs
	EnvBytes int     `json:"env_bytes"`
	// PathEntries is the median PATH length of the children's successful
	// execs: -1 when most had no PATH, 0 when none recorded it (older
	// recordings, kernels without bpf_loop).
	PathEntries      int          `json:"path_entries"`
	SyscallsPerSpawn float64      `json:"syscalls_per_spawn"`
	Fit              *summary.Fit `json:"fit,omitempty"`
	CopyMeasured     bool         `json:"copy_measured"`
	BlockedMeasured  bool         `json:"blocked_measured"`
	Lost             tracer.Lost  `json:"lost"`
	// Cost is the distribution of one spawn's cost (the sum of its parts),
	// for ranking many hosts; not part of a two-side comparison's output.
	Cost summary.Dist `json:"-"`

	head recHead
	// partsNs sums each part of the spawns' cost (parts), totalNs their
	// totals: MeanNs and the breakdown are these over Spawns.
	partsNs [6]float64
	totalNs float64
	// notFoundFailed counts the failed execs of searches that found no
	// program (spawn.Spawn.NotFoundExecs).
	notFoundFailed uint64
}

// notFoundPerSpawn is notFoundFailed per spawn.
func (s *Side) notFoundPerSpawn() float64 {
	if s.Spawns == 0 {
		return 0
	}
	return float64(s.notFoundFailed) / float64(s.Spawns)
}

// MechCount is how many spawns used one mechanism.
type MechCount struct {
	Mechanism spawn.Mechanism `json:"mechanism"`
	Count     int             `json:"count"`
}

// SyscallRow compares one syscall of the two trees.
type SyscallRow struct {
	Name string `json:"name"`
	// Calls per spawn (per run when the comparison is not per spawn).
	CallsA float64 `json:"calls_a"`
	CallsB float64 `json:"calls_b"`
	// Mean wall time per call; 0 without calls.
	UsPerCallA float64 `json:"us_per_call_a"`
	UsPerCallB float64 `json:"us_per_call_b"`
	// Ratio is B's time per call over A's; 0 when either side has no calls.
	Ratio float64 `json:"ratio,omitempty"`
	// DiffNs is B's time in this syscall per spawn (or run) minus A's.
	DiffNs float64 `json:"diff_ns"`
	// EstimatedA and EstimatedB: that side's time is an estimate from a
	// sample of its calls (recording.SyscallStat.TimeEstimated).
	EstimatedA bool `json:"estimated_a,omitempty"`
	EstimatedB bool `json:"estimated_b,omitempty"`
}

// Parts of a spawn's cost, in the order reports show them.
const (
	PartCopy     = "address-space copy"
	PartBlocked  = "spawning thread off CPU"
	PartCall     = "rest of the spawning call"
	PartFailed   = "failed execs (PATH search)"
	PartTeardown = "exec teardown of the copy"
	PartChild    = "child's way to exec, rest"
)

var partOrder = []string{PartCopy, PartBlocked, PartCall, PartFailed, PartTeardown, PartChild}

// PartRow is one part of the mean spawn cost on each side and the share of
// the difference it explains.
type PartRow struct {
	Part   string  `json:"part"`
	ANs    float64 `json:"a_ns"`
	BNs    float64 `json:"b_ns"`
	DiffNs float64 `json:"diff_ns"`
	// Share is DiffNs over the total difference, in percent; NaN-free: 0
	// when there is no difference to explain.
	Share float64 `json:"share_pct"`
	// Measured is false when a side lacked the probe for this part, so its
	// time sits in another part.
	Measured bool `json:"measured"`
}

// maxPatterns bounds the patterns kept per side.
const maxPatterns = 3

// recHead is what a side keeps of its recording once its events are
// read: the facts the comparison and its findings use, and none of the
// events, stacks or samples (a fleet holds one side per host).
type recHead struct {
	host           recording.Host
	command        []string
	syscalls       []recording.SyscallStat
	probes         []tracer.Probe
	schema         int
	version        string
	startUnixNs    int64
	backend        string
	spawnCallsOnly bool
	cpuidNs        float64 // start-up CPUID per exec (summary.StartupCPUIDPerExecNs)
	cpuidOK        bool
}

// Compare explains b against a. Either may have no spawns; what can still
// be compared is, and Notes say what could not. It fails when a side's
// events cannot be read back (a truncated or corrupt spill), rather than
// compare part of a run.
func Compare(a, b *recording.Recording, nameA, nameB string) (*Comparison, error) {
	sa, err := NewSide(a, nameA)
	if err != nil {
		return nil, err
	}
	sb, err := NewSide(b, nameB)
	if err != nil {
		return nil, err
	}
	return CompareSides(sa, sb), nil
}

// CompareSides explains b against a, as Compare does, from sides already
// reduced from their recordings (NewSide).
func CompareSides(sa, sb Side) *Comparison {
	c := &Comparison{A: sa, B: sb}
	c.Host = hostRows(&c.A, &c.B)
	c.PerSpawn = c.A.Spawns > 0 && c.B.Spawns > 0
	// A side recorded with --spawns-only has no other syscalls: compare
	// the spawn-related calls alone on both, not its gaps as differences.
	only := sa.head.spawnCallsOnly || sb.head.spawnCallsOnly
	if only {
		c.A.SyscallsPerSpawn = spawnCallsPerSpawn(&c.A)
		c.B.SyscallsPerSpawn = spawnCallsPerSpawn(&c.B)
	}
	c.Syscalls = syscallRows(&c.A, &c.B, c.PerSpawn, only)
	c.breakdown()
	c.notes()
	switch {
	case sa.head.backend == tracer.BackendPtrace || sb.head.backend == tracer.BackendPtrace:
		c.Notes = append(c.Notes, Note{ID: NotePtraceBackend})
	case only:
		c.Notes = append(c.Notes, Note{ID: NoteSpawnsOnly})
	}
	c.Findings = compareFindings(c)
	return c
}

// NewSide reduces a recording to what comparing it needs: its spawns'
// facts and costs, and its head (host, syscall totals, probes). The side
// holds nothing of the recording's events, which may be closed after.
func NewSide(rec *recording.Recording, name string) (Side, error) {
	sum, err := summary.Summarize(rec)
	if err != nil {
		return Side{}, fmt.Errorf("%s: %w", name, err)
	}
	defer sum.Close()
	s := Side{Name: name, Command: rec.Command, Lost: rec.Lost}
	s.head = recHead{host: rec.Host, command: rec.Command, syscalls: rec.Syscalls, probes: rec.Probes,
		schema: rec.Schema, version: rec.Version, startUnixNs: rec.StartUnixNs, backend: rec.BackendName(),
		spawnCallsOnly: rec.SpawnCallsOnly}
	s.head.cpuidNs, s.head.cpuidOK = summary.StartupCPUIDPerExecNs(rec)
	s.Spawns = sum.SpawnCount()
	s.WallNs = sum.WallNs
	for _, m := range spawn.Mechanisms {
		if n := sum.ByMechanism[m]; n > 0 {
			s.ByMech = append(s.ByMech, MechCount{m, n})
			if s.Dominant == "" || n > sum.ByMechanism[s.Dominant] {
				s.Dominant = m
			}
		}
	}
	s.Fit = sum.Fit
	s.CopyMeasured, _ = s.probeAvailable(tracer.CopyProbe)
	s.BlockedMeasured, _ = s.probeAvailable(tracer.BlockedProbe)
	var failed, calls uint64
	var sigs spawn.Tally
	rss, envCounts, envBytes, paths := summary.NewMedian(), summary.NewMedian(), summary.NewMedian(), summary.NewMedian()
	cost := summary.NewMedian()
	var pathUnset, pathSet int
	// The sums of parts are of whole nanoseconds, exact in a float64 (up
	// to 104 days): the order the rows come in does not change them.
	err = sum.EachSpawn(func(sp *spawn.Spawn) error {
		sigs.Add(sp.Seq, sp.Signature)
		if sp.Parent != nil {
			rss.Add(sp.Parent.RSSBytes())
		}
		failed += uint64(sp.FailedExecs)
		s.notFoundFailed += uint64(sp.NotFoundExecs)
		if sp.ExecOK {
			s.ExecSpawns++
			envCounts.AddInt(sp.EnvCount)
			envBytes.AddInt(sp.EnvBytes)
			switch {
			case sp.PathEntries > 0:
				paths.AddInt(sp.PathEntries)
				pathSet++
			case sp.PathEntries < 0:
				pathUnset++
			}
		}
		p, t := parts(sp)
		for k := range p {
			s.partsNs[k] += p[k]
		}
		s.totalNs += t
		cost.Add(uint64(t))
		return nil
	})
	if err != nil {
		return Side{}, fmt.Errorf("%s: %w", name, err)
	}
	s.Signatures = sigs.Ranked()
	s.ParentRSSBytes = rss.Value()
	s.Cost = cost.Dist()
	if s.Spawns > 0 {
		s.MeanNs = s.totalNs / float64(s.Spawns)
	}
	for _, st := range rec.Syscalls {
		calls = tracer.SatAdd(calls, st.Calls)
	}
	if s.Spawns > 0 {
		s.FailedPerSpawn = float64(failed) / float64(s.Spawns)
		s.SyscallsPerSpawn = float64(calls) / float64(s.Spawns)
	}
	s.EnvCount, s.EnvBytes = int(envCounts.Value()), int(envBytes.Value())
	switch {
	case pathUnset > pathSet:
		s.PathEntries = -1
	case pathSet > 0:
		s.PathEntries = int(paths.Value())
	}
	if s.Patterns, s.ExecNs, err = spawnPatterns(rec); err != nil {
		return Side{}, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

func (s *Side) probeAvailable(name string) (bool, bool) {
	for _, p := range s.head.probes {
		if p.Name == name {
			return p.Available, true
		}
	}
	return false, false
}

// parts splits one spawn's cost into the parts of partOrder, which add up to
// the spawn entry to the end of the child's successful exec (or to the end
// of the spawning call, for a child that never exec'd). With vfork the
// child's failed execs and teardown happen while the parent is blocked, so
// they are taken out of the blocked time rather than counted twice.
func parts(sp *spawn.Spawn) (p [6]float64, total float64) {
	clone := float64(sp.CloneDurNs)
	copyNs := float64(sp.CopyNs)
	failed := float64(sp.FailedExecNs)
	teardown := float64(sp.TeardownNs)
	blocked := float64(sp.BlockedNs)
	total = clone
	if sp.ExecOK && float64(sp.SpawnToExecNs) > clone {
		total = float64(sp.SpawnToExecNs)
	}
	// The vfork child's failed execs and teardown, inside the call: out of
	// the blocked time first, then (blocked time unmeasured) out of the rest.
	var inBlocked, inRest float64
	if sp.Mechanism == spawn.MechVfork {
		inBlocked = math.Min(blocked, failed+teardown)
		inRest = failed + teardown - inBlocked
	}
	p[0] = copyNs
	p[1] = blocked - inBlocked
	p[2] = math.Max(0, clone-copyNs-blocked-inRest)
	p[3] = failed
	p[4] = teardown
	sum := p[0] + p[1] + p[2] + p[3] + p[4]
	if sum > total {
		// A child that never exec'd still paid its failed execs and, for
		// fork, the teardown at exit is not measured: count them on top.
		total = sum
	}
	p[5] = total - sum
	return p, total
}

func (c *Comparison) breakdown() {
	mean := func(s *Side) [6]float64 {
		acc := s.partsNs
		if s.Spawns > 0 {
			for k := range acc {
				acc[k] /= float64(s.Spawns)
			}
		}
		return acc
	}
	pa, pb := mean(&c.A), mean(&c.B)
	if c.A.Spawns == 0 || c.B.Spawns == 0 {
		return
	}
	c.DiffNs = c.B.MeanNs - c.A.MeanNs
	c.Explained = c.explainable()
	for k, name := range partOrder {
		row := PartRow{Part: name, ANs: pa[k], BNs: pb[k], DiffNs: pb[k] - pa[k], Measured: true}
		switch name {
		case PartCopy, PartTeardown:
			row.Measured = c.A.CopyMeasured && c.B.CopyMeasured
		case PartBlocked:
			row.Measured = c.A.BlockedMeasured && c.B.BlockedMeasured
		}
		if c.explainable() {
			row.Share = 100 * row.DiffNs / c.DiffNs
		}
		c.Breakdown = append(c.Breakdown, row)
	}
}

// explainable says whether the difference is large enough for shares of
// it to mean anything: 5% of the cheaper side's cost.
func (c *Comparison) explainable() bool {
	return c.A.Spawns > 0 && c.B.Spawns > 0 &&
		math.Abs(c.DiffNs) >= 0.05*math.Min(c.A.MeanNs, c.B.MeanNs) && c.DiffNs != 0
}

// Share is the percentage of the spawn cost difference that diffNs
// explains, 0 when there is none to explain.
func (c *Comparison) Share(diffNs float64) float64 {
	if !c.explainable() {
		return 0
	}
	return 100 * diffNs / c.DiffNs
}

// syscallRows puts the two syscall tables side by side, per spawn when both
// have spawns.
// spawnCallsPerSpawn is SyscallsPerSpawn over the spawn-related calls only.
func spawnCallsPerSpawn(s *Side) float64 {
	if s.Spawns == 0 {
		return 0
	}
	var calls uint64
	for _, st := range s.head.syscalls {
		if spawn.IsSpawnCall(st.ABI.Nr64(st.Nr)) {
			calls = tracer.SatAdd(calls, st.Calls)
		}
	}
	return float64(calls) / float64(s.Spawns)
}

// syscallRows pairs the two sides' syscall totals; spawnCallsOnly keeps the
// spawn-related calls alone.
func syscallRows(a, b *Side, perSpawn, spawnCallsOnly bool) []SyscallRow {
	type pair struct{ a, b recording.SyscallStat }
	byName := map[string]*pair{}
	var names []string
	add := func(stats []recording.SyscallStat, isB bool) {
		for _, s := range stats {
			if nr := s.ABI.Nr64(s.Nr); nr == sysno.Exit || nr == sysno.ExitGroup {
				continue // they never return: no time
			}
			if spawnCallsOnly && !spawn.IsSpawnCall(s.ABI.Nr64(s.Nr)) {
				continue
			}
			name := s.Name
			if s.ABI != tracer.ABIX8664 {
				name += " (" + s.ABI.Mode() + ")" // i386's clone is not x86_64's
			}
			p := byName[name]
			if p == nil {
				p = &pair{}
				byName[name] = p
				names = append(names, name)
			}
			if isB {
				p.b = s
			} else {
				p.a = s
			}
		}
	}
	add(a.head.syscalls, false)
	add(b.head.syscalls, true)
	per := func(s *Side) float64 {
		if perSpawn {
			return float64(s.Spawns)
		}
		return 1
	}
	na, nb := per(a), per(b)
	var rows []SyscallRow
	for _, n := range names {
		p := byName[n]
		r := SyscallRow{Name: n, CallsA: float64(p.a.Calls) / na, CallsB: float64(p.b.Calls) / nb,
			EstimatedA: p.a.TimeEstimated(), EstimatedB: p.b.TimeEstimated()}
		if p.a.Calls > 0 {
			r.UsPerCallA = float64(p.a.TimeNs) / float64(p.a.Calls) / 1e3
		}
		if p.b.Calls > 0 {
			r.UsPerCallB = float64(p.b.TimeNs) / float64(p.b.Calls) / 1e3
		}
		if r.UsPerCallA > 0 && r.UsPerCallB > 0 {
			r.Ratio = r.UsPerCallB / r.UsPerCallA
		}
		r.DiffNs = float64(p.b.TimeNs)/nb - float64(p.a.TimeNs)/na
		rows = append(rows, r)
	}
	sort.SliceStable(rows, func(i, j int) bool {
		di, dj := math.Abs(rows[i].DiffNs), math.Abs(rows[j].DiffNs)
		if di != dj {
			return di > dj
		}
		return rows[i].Name < rows[j].Name
	})
	return rows
}

// SameWorkload says whether the two recordings ran the same command: the
// same program name and arguments (the directory may differ between hosts).
func SameWorkload(a, b *recording.Recording) (same, known bool) {
	return SameCommand(a.Command, b.Command)
}

// SameCommand is SameWorkload of two recorded commands.
func SameCommand(a, b []string) (same, known bool) {
	if len(a) == 0 || len(b) == 0 {
		return false, false
	}
	if len(a) != len(b) || filepath.Base(a[0]) != filepath.Base(b[0]) {
		return false, true
	}
	for i := 1; i < len(a); i++ {
		if a[i] != b[i] {
			return false, true
		}
	}
	return true, true
}

func (c *Comparison) notes() {
	a, b := &c.A, &c.B
	if same, known := SameCommand(a.head.command, b.head.command); known && !same {
		c.Notes = append(c.Notes, Note{ID: NoteDifferentWorkloads})
	}
	for _, s := range []*Side{a, b} {
		if s.Spawns == 0 {
			c.Notes = append(c.Notes, Note{ID: NoteNoSpawns, Side: s.Name})
		}
	}
	if a.head.schema != b.head.schema && a.head.schema != 0 && b.head.schema != 0 {
		c.Notes = append(c.Notes, Note{ID: NoteSchemas, Schemas: &SchemaFacts{A: a.head.schema, B: b.head.schema}})
	}
	if a.Spawns > 0 && b.Spawns > 0 {
		for _, s := range []*Side{a, b} {
			if !s.CopyMeasured {
				c.Notes = append(c.Notes, Note{ID: NoteCopyUnmeasured, Side: s.Name})
			}
			if !s.BlockedMeasured {
				c.Notes = append(c.Notes, Note{ID: NoteBlockedUnmeasured, Side: s.Name})
			}
		}
	}
}
