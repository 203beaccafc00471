package compare

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/spawn"
	"github.com/spawntrace/spawntrace/analyze/summary"
	"github.com/spawntrace/spawntrace/analyze/syscalls"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// PatternStep is one traced call of a spawn, normalized: no pids, no
// addresses, no pointer-carrying flags.
type PatternStep struct {
	Syscall string `json:"syscall"`
	Nr      int    `json:"nr"`
	// Flags: clone's flags with its exit signal in the low byte; clone3's
	// flags; socketpair's type.
	Flags  uint64 `json:"flags,omitempty"`
	Domain uint64 `json:"domain,omitempty"` // socketpair
	Errno  int    `json:"errno,omitempty"`  // a failed exec's error
	Count  int    `json:"count"`            // times in a row, per spawn
}

// Pattern is a sequence of calls that spawns share: the parent thread's
// socketpair just before, the spawning call, the child's failed execs, and
// its exec. Only the calls traced in detail appear (not recvfrom, read or
// wait4).
type Pattern struct {
	Steps  []PatternStep `json:"steps"`
	NoExec bool          `json:"no_exec,omitempty"` // the child never exec'd
	Spawns int           `json:"spawns"`
	Share  float64       `json:"share_pct"` // of the side's spawns
}

// Key is a stable text of the pattern, for grouping and tests.
func (p *Pattern) Key() string {
	var parts []string
	for _, s := range p.Steps {
		t := s.Syscall + "/0x" + strconv.FormatUint(s.Flags, 16) + "/" + strconv.FormatUint(s.Domain, 10) + "/" + strconv.Itoa(s.Errno)
		if s.Count > 1 {
			t += "x" + strconv.Itoa(s.Count)
		}
		parts = append(parts, t)
	}
	if p.NoExec {
		parts = append(parts, "no-exec")
	}
	return strings.Join(parts, " -> ")
}

// HasSocketpair says whether the pattern starts with a socketpair or a
// pipe2 (Rust's fork fallback, whose recvfrom or read is not traced).
func (p *Pattern) HasSocketpair() bool {
	return len(p.Steps) > 0 && (p.Steps[0].Nr == sysno.Socketpair || p.Steps[0].Nr == sysno.Pipe2)
}

// patternBuild is a spawn's pattern while it is built; done once it is
// complete (the child's first successful exec, or its end).
type patternBuild struct {
	steps []PatternStep
	done  bool
}

// pointerFlags are clone flags that only say where the kernel writes ids:
// they do not change what a spawn costs, and differ between libc versions.
const pointerFlags = unix.CLONE_CHILD_CLEARTID | unix.CLONE_CHILD_SETTID | unix.CLONE_PARENT_SETTID | unix.CLONE_SETTLS

func spawnStep(ev *tracer.Event) PatternStep {
	st := PatternStep{Syscall: syscalls.SyscallName(ev.ABI, ev.Nr), Nr: ev.Nr64(), Count: 1}
	switch ev.Nr64() {
	case sysno.Clone:
		if len(ev.Args) > 0 {
			st.Flags = ev.Args[0] &^ pointerFlags
		}
	case sysno.Clone3:
		if ev.Clone3 != nil {
			st.Flags = ev.Clone3.Flags &^ pointerFlags
		}
	}
	return st
}

// maxPatternGroups bounds the distinct patterns a side counts: a
// recording (hostile input) can give each spawn clone flags of its own.
// Past it, the patterns seen once are dropped (sweepSingles), so that a
// pattern that repeats later is still counted; when most have repeated,
// new ones are not kept. A real run has a handful.
const maxPatternGroups = 1 << 14

// sweepSingles deletes the groups seen once when they are at least half
// of m, and says whether it did: each sweep frees half the table, so
// sweeping costs O(1) per spawn.
func sweepSingles[G any](m map[string]G, single func(G) bool) bool {
	n := 0
	for _, g := range m {
		if single(g) {
			n++
		}
	}
	if 2*n < len(m) {
		return false
	}
	for k, g := range m {
		if single(g) {
			delete(m, k)
		}
	}
	return true
}

// spawnPatterns groups the spawns of rec by pattern, most common first
// (at most maxPatterns), and returns the median time of the children's
// successful execs on CPU, less their teardown: robust to a VM's stolen
// time, which no sched_switch shows. A spawn's pattern is held only
// until it is complete (its child's exec, or exit): memory grows with the
// distinct patterns (at most maxPatternGroups), not with the spawns.
func spawnPatterns(rec *recording.Recording) ([]Pattern, float64, error) {
	type group struct {
		p     Pattern
		first int // Seq of its first spawn
	}
	groups := map[string]*group{}
	full := false // a sweep found too few single spawns to drop: new patterns are not kept
	complete := func(b *patternBuild, seq int, noExec bool) {
		b.done = true
		p := Pattern{Steps: b.steps, NoExec: noExec}
		k := p.Key()
		if g, ok := groups[k]; ok {
			g.p.Spawns++
			g.first = min(g.first, seq)
			return
		}
		if len(groups) >= maxPatternGroups {
			if full || !sweepSingles(groups, func(g *group) bool { return g.p.Spawns == 1 }) {
				full = true
				return
			}
		}
		p.Spawns = 1
		groups[k] = &group{p: p, first: seq}
	}
	execOnCPU := summary.NewMedian()
	counts, err := spawn.Build(rec, spawn.Hooks[patternBuild]{
		Spawned: func(o *spawn.Open[patternBuild], ev, sp *tracer.Event, prevEndNs uint64) {
			b := &o.Ext
			if sp != nil && ev.TimeNs >= sp.TimeNs && ev.TimeNs-sp.TimeNs < spawn.RustSocketpairWindowNs && sp.TimeNs >= prevEndNs {
				st := PatternStep{Syscall: syscalls.SyscallName(sp.ABI, sp.Nr), Nr: sp.Nr64(), Count: 1}
				switch {
				case sp.Nr64() == sysno.Pipe2 && len(sp.Args) > 1:
					st.Flags = sp.Args[1] // Args[0] is the pair's address
				case len(sp.Args) > 1:
					st.Domain, st.Flags = sp.Args[0], sp.Args[1]
				}
				b.steps = append(b.steps, st)
			}
			b.steps = append(b.steps, spawnStep(ev))
		},
		Exec: func(o *spawn.Open[patternBuild], ev *tracer.Event) {
			b := &o.Ext
			if b.done {
				return // later execs are not this spawn's pattern
			}
			st := PatternStep{Syscall: syscalls.SyscallName(ev.ABI, ev.Nr), Nr: ev.Nr64(), Count: 1}
			if ev.Ret != 0 {
				st.Errno = int(-ev.Ret)
				if last := &b.steps[len(b.steps)-1]; last.Nr == st.Nr && last.Errno == st.Errno {
					last.Count++
					return
				}
				b.steps = append(b.steps, st)
				return
			}
			b.steps = append(b.steps, st)
			complete(b, o.Spawn.Seq, false)
			if ev.DurNs >= ev.TeardownNs {
				// Off CPU too (TeardownNs is on CPU; BlockedNs holds all
				// the call's time off CPU): a vfork child that has just
				// released its parent often waits for the CPU the parent
				// took, which says nothing of what the exec itself costs.
				busy := ev.DurNs - ev.TeardownNs
				execOnCPU.Add(busy - min(busy, ev.BlockedNs))
			}
		},
		// A child that exited, or is still alive at the end, never exec'd.
		Finished: func(o *spawn.Open[patternBuild]) {
			if !o.Ext.done {
				complete(&o.Ext, o.Spawn.Seq, true)
			}
		},
	})
	if err != nil {
		return nil, 0, err
	}
	spawns := counts.Spawns
	if spawns == 0 {
		return nil, 0, nil
	}
	gs := make([]*group, 0, len(groups))
	for _, g := range groups {
		gs = append(gs, g)
	}
	// Most common first; among equals, the one that appeared first.
	slices.SortFunc(gs, func(a, b *group) int {
		if c := cmp.Compare(b.p.Spawns, a.p.Spawns); c != 0 {
			return c
		}
		return cmp.Compare(a.first, b.first)
	})
	var out []Pattern
	for _, g := range gs {
		if len(out) == maxPatterns {
			break
		}
		g.p.Share = 100 * float64(g.p.Spawns) / float64(spawns)
		out = append(out, g.p)
	}
	return out, float64(execOnCPU.Value()), nil
}
