package compare

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/spawntrace/spawntrace/analyze/spawn"
	"github.com/spawntrace/spawntrace/analyze/summary"
)

// CompareFinding is one cause of the difference between two recordings,
// with its evidence in numbers.
type CompareFinding struct {
	// ID is stable: mechanism, fork-copy, copy-speed, path-search,
	// environment, host, startup-cpuid, vfork-blocking, lost-events.
	ID       string `json:"id"`
	Title    string `json:"title"`
	Evidence string `json:"evidence"`
	// CostNs is what this cause adds to B's mean spawn cost over A's
	// (negative when it favours B); 0 when it could not be separated.
	CostNs float64 `json:"cost_ns_per_spawn"`
	// Share is CostNs as a percentage of the whole difference; 0 when
	// there is no difference to explain.
	Share float64 `json:"share_pct"`
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

// DurText is a duration in the unit that reads best: "0.46 ms", "7.0 µs",
// "5.80 s".
func DurText(ns float64) string {
	a := math.Abs(ns)
	switch {
	case a >= 1e9:
		return fmt.Sprintf("%.2f s", ns/1e9)
	case a >= 100e3:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	}
	return fmt.Sprintf("%.1f µs", ns/1e3)
}

func (c *Comparison) sharePhrase(cost float64) string {
	if !c.explainable() {
		return ""
	}
	return fmt.Sprintf(", %.0f%% of the difference", c.Share(cost))
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
		add(findBlockedDiff(c))
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

func findMechanism(c *Comparison) *CompareFinding {
	f, v := forkVfork(c)
	if f == nil {
		return nil
	}
	fl, vl := f.rec.Host.Libc, v.rec.Host.Libc
	var cause string
	sigF, sigV := firstOr(f.Signatures, string(spawn.MechFork)), firstOr(v.Signatures, string(spawn.MechVfork))
	if old, known := fl.GlibcBefore(glibcVforkMajor, glibcVforkMinor); known && old {
		cause = fmt.Sprintf("%s's %s is older than 2.24, so posix_spawn and Rust's Command fall back to fork", f.Name, fl)
	} else if hasSig(f.Signatures, spawn.SigRustFallback) {
		cause = fmt.Sprintf("%s's Rust Command falls back to fork (socketpair, then fork): glibc older than 2.24, "+
			"or options that need code in the child", f.Name)
	} else if fl != nil && vl != nil && fl.String() == vl.String() {
		cause = fmt.Sprintf("both run %s, so the program chose it: %s spawns with %s, %s with %s",
			fl, f.Name, sigF, v.Name, sigV)
	} else {
		cause = fmt.Sprintf("%s spawns with %s, %s with %s", f.Name, sigF, v.Name, sigV)
		if fl != nil || vl != nil {
			cause += fmt.Sprintf(" (libc: %s against %s)", orUnknown(fl.String()), orUnknown(vl.String()))
		}
	}
	cost := c.copyCost()
	var ev string
	if f.CopyMeasured {
		ev = fmt.Sprintf("%s; at %s's %s parent RSS (median) the copy and its exec teardown cost %s per spawn%s",
			cause, f.Name, sizeText(f.ParentRSSBytes), DurText(math.Abs(cost)), c.sharePhrase(cost))
	} else {
		ev = fmt.Sprintf("%s; %s's copy was not measured (no mmap_lock tracepoints), so its cost is not separated",
			cause, f.Name)
		cost = 0
	}
	return &CompareFinding{
		ID:       "mechanism",
		Title:    fmt.Sprintf("%s forks where %s uses vfork", f.Name, v.Name),
		Evidence: ev + fmt.Sprintf(" (%s: %s; %s: %s)", f.Name, mechText(f), v.Name, mechText(v)),
		CostNs:   cost,
	}
}

func findForkCopyDiff(c *Comparison) *CompareFinding {
	if c.A.Dominant != spawn.MechFork || c.B.Dominant != spawn.MechFork || !c.A.CopyMeasured || !c.B.CopyMeasured {
		return nil
	}
	cost := c.copyCost()
	if math.Abs(c.Share(cost)) < minShownShare {
		return nil
	}
	more, less := &c.B, &c.A
	if cost < 0 {
		more, less = less, more
	}
	return &CompareFinding{
		ID:    "fork-copy",
		Title: fmt.Sprintf("%s's forks copy more", more.Name),
		Evidence: fmt.Sprintf("both fork; parents of %s RSS on %s against %s on %s (median): the copy and its exec "+
			"teardown cost %s more per spawn%s", sizeText(more.ParentRSSBytes), more.Name, sizeText(less.ParentRSSBytes),
			less.Name, DurText(math.Abs(cost)), c.sharePhrase(cost)),
		CostNs: cost,
	}
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
	ev := fmt.Sprintf("copies take %.2f ms per GiB of parent RSS on %s and %.2f ms on %s (fits over %d and %d forks); "+
		"at %s's %s parents that is %s per spawn%s", sa, c.A.Name, sb, c.B.Name, c.A.Fit.N, c.B.Fit.N,
		c.B.Name, sizeText(c.B.ParentRSSBytes), DurText(cost), c.sharePhrase(cost))
	if d := hostDiffs(c, "kernel", "virtualization", "CPU", "transparent huge pages"); d != "" {
		ev += "; the hosts differ in " + d
	}
	return &CompareFinding{ID: "copy-speed", Title: "the same copy costs more per GiB on one host", Evidence: ev, CostNs: cost}
}

func findPathDiff(c *Comparison) *CompareFinding {
	d := c.B.FailedPerSpawn - c.A.FailedPerSpawn
	if math.Abs(d) < minFailedPerSpawn {
		return nil
	}
	more, less := &c.B, &c.A
	if d < 0 {
		more, less = less, more
	}
	cost := c.part(PartFailed).DiffNs
	ev := fmt.Sprintf("%s's children fail %.1f execs per spawn before finding the program, %s's %.1f",
		more.Name, more.FailedPerSpawn, less.Name, less.FailedPerSpawn)
	if em, el := more.rec.Host.Env, less.rec.Host.Env; em != nil && el != nil && em.PathSet && el.PathSet {
		ev += fmt.Sprintf(": %s's PATH has %d entries, %s's %d, and posix_spawnp and execvp try each in turn",
			more.Name, em.PathEntries, less.Name, el.PathEntries)
	}
	ev += fmt.Sprintf("; this costs %s per spawn%s", DurText(math.Abs(cost)), c.sharePhrase(cost))
	return &CompareFinding{
		ID:       "path-search",
		Title:    fmt.Sprintf("%s searches a longer PATH", more.Name),
		Evidence: ev + "; spawn by absolute path, or put the program's directory first in PATH",
		CostNs:   cost,
	}
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
	cost := b.ExecNs - a.ExecNs
	ev := fmt.Sprintf("%s's children get %d environment variables (%s) where %s's get %d (%s); "+
		"the kernel copies them at every exec and runtimes copy them before each spawn",
		more.Name, more.EnvCount, sizeText(uint64(more.EnvBytes)), less.Name, less.EnvCount, sizeText(uint64(less.EnvBytes)))
	moreExec, lessExec := more.ExecNs, less.ExecNs
	if moreExec > lessExec {
		ev += fmt.Sprintf("; successful execs take %s on %s against %s on %s (teardown excluded): %s per spawn%s",
			DurText(moreExec), more.Name, DurText(lessExec), less.Name, DurText(moreExec-lessExec), c.sharePhrase(cost))
	} else {
		ev += fmt.Sprintf("; its cost is not separable here: successful execs take %s on %s and %s on %s",
			DurText(moreExec), more.Name, DurText(lessExec), less.Name)
		cost = 0
	}
	return &CompareFinding{
		ID:       "environment",
		Title:    fmt.Sprintf("%s passes a larger environment", more.Name),
		Evidence: ev + "; pass children only the variables they need",
		CostNs:   cost,
	}
}

func findBlockedDiff(c *Comparison) *CompareFinding {
	row := c.part(PartBlocked)
	if !row.Measured || math.Abs(c.Share(row.DiffNs)) < minShownShare {
		return nil
	}
	more, less := &c.B, &c.A
	moreNs, lessNs := row.BNs, row.ANs
	if row.DiffNs < 0 {
		more, less, moreNs, lessNs = less, more, lessNs, moreNs
	}
	return &CompareFinding{
		ID:    "vfork-blocking",
		Title: fmt.Sprintf("%s's spawning thread waits longer", more.Name),
		Evidence: fmt.Sprintf("the spawning thread is off CPU %s per spawn on %s against %s on %s%s; with vfork it waits "+
			"until the child execs", DurText(moreNs), more.Name, DurText(lessNs), less.Name, c.sharePhrase(row.DiffNs)),
		CostNs: row.DiffNs,
	}
}

// hostDiffs lists the named host facts that differ: "kernel (3.10 against 5.15)".
func hostDiffs(c *Comparison, facts ...string) string {
	var parts []string
	for _, want := range facts {
		for _, r := range c.Host {
			if r.Fact == want && r.Differs {
				parts = append(parts, fmt.Sprintf("%s (%s on %s, %s on %s)", r.Fact, r.A, c.A.Name, r.B, c.B.Name))
			}
		}
	}
	return strings.Join(parts, ", ")
}

func findHostDiff(c *Comparison) *CompareFinding {
	d := hostDiffs(c, "kernel", "virtualization")
	if d == "" {
		return nil
	}
	ev := "the hosts differ in " + d
	var cost float64
	if c.A.Spawns > 0 && c.B.Spawns > 0 {
		row := c.part(PartCall)
		cost = row.DiffNs
		ev += fmt.Sprintf("; the kernel's own work in the spawning call (besides the copy and waiting) takes %s per spawn "+
			"on %s and %s on %s%s", DurText(row.ANs), c.A.Name, DurText(row.BNs), c.B.Name, c.sharePhrase(cost))
	}
	for _, r := range c.Syscalls {
		if (r.Name == "clone" || r.Name == "clone3" || r.Name == "vfork" || r.Name == "fork" || r.Name == "execve") &&
			r.Ratio > 0 {
			ev += fmt.Sprintf("; %s takes %.1f µs per call on %s, %.1f µs on %s", r.Name, r.UsPerCallA, c.A.Name,
				r.UsPerCallB, c.B.Name)
			break
		}
	}
	return &CompareFinding{ID: "host", Title: "the kernels or their virtualization differ", Evidence: ev, CostNs: cost}
}

func findLost(s *Side) *CompareFinding {
	l := s.Lost
	if l.Total() == 0 {
		return nil
	}
	ev := fmt.Sprintf("%s lost %d events (%d dropped on a full ring buffer, %d syscalls not timed, %d spawn calls not "+
		"paired, %d processes not followed): its spawns and per-spawn numbers are incomplete, so this comparison is weaker",
		s.Name, l.Total(), l.Events, l.SyscallSlots, l.SpawnSlots, l.TrackedLimits)
	if l.Events > 0 {
		ev += "; record again with a larger --ring-bytes"
	}
	return &CompareFinding{ID: "lost-events", Title: s.Name + " lost events", Evidence: ev}
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

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// mechText is "10000 fork-like" or "9000 vfork-like, 1000 fork-like".
func mechText(s *Side) string {
	var parts []string
	for _, m := range s.ByMech {
		parts = append(parts, fmt.Sprintf("%d %s-like", m.Count, m.Mechanism))
	}
	return strings.Join(parts, ", ")
}
