package reports

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/spawntrace/spawntrace/analyze/compare"
)

// The wording of compare's findings: analyze/compare decides each with its
// numbers, this file says it.

// FindingText is a comparison finding's title and evidence, one line each.
func FindingText(c *compare.Comparison, f *compare.CompareFinding) (title, evidence string) {
	switch {
	case f.Mechanism != nil:
		return mechanismText(c, f)
	case f.ForkCopy != nil:
		r := f.ForkCopy.ParentRSSBytes
		return f.Subject + "'s forks copy more", fmt.Sprintf("both fork; parents of %s RSS on %s against %s on %s "+
			"(median): the copy and its exec teardown cost %s more per spawn%s", bytesText(r.Subject), f.Subject,
			bytesText(r.Other), f.Other, durText(math.Abs(f.CostNs)), sharePhrase(c, f.CostNs))
	case f.CopySpeed != nil:
		s := f.CopySpeed
		ev := fmt.Sprintf("copies take %.2f ms per GiB of parent RSS on %s and %.2f ms on %s (fits over %d and %d "+
			"forks); at %s's %s parents that is %s per spawn%s", s.MsPerGiB.Subject, f.Subject, s.MsPerGiB.Other,
			f.Other, s.Forks.Subject, s.Forks.Other, c.B.Name, bytesText(s.AtRSSBytes), durText(f.CostNs),
			sharePhrase(c, f.CostNs))
		if len(s.HostDiffs) > 0 {
			ev += "; the hosts differ in " + hostDiffsText(c, s.HostDiffs)
		}
		return "the same copy costs more per GiB on " + f.Subject, ev
	case f.PathSearch != nil:
		return pathSearchText(c, f)
	case f.Environment != nil:
		return environmentText(c, f)
	case f.OffCPU != nil:
		return offCPUText(c, f)
	case f.Host != nil:
		return hostText(c, f)
	case f.CPUID != nil:
		p := f.CPUID.PerExecNs
		ev := fmt.Sprintf("new programs spend %s of CPU per exec in glibc's start-up CPU detection (CPUID loops) on %s, "+
			"%s on %s (on-CPU samples)", durText(p.Subject), f.Subject, durText(p.Other), f.Other)
		if v := f.CPUID.Virtualization; v != nil {
			ev += "; the hosts differ in " + hostDiffsText(c, []compare.HostRow{*v}) +
				": a hypervisor that traps CPUID makes each one a VM exit"
		}
		return "program start-up is slower on " + f.Subject + " (CPUID)", ev
	case f.Lost != nil:
		l := f.Lost
		ev := fmt.Sprintf("%s lost %d events (%s): its spawns and per-spawn numbers are incomplete, so this "+
			"comparison is weaker", f.Subject, l.Total(), strings.Join(lostParts(*l), ", "))
		if l.Events > 0 {
			ev += "; record again with a larger --ring-bytes"
		}
		return f.Subject + " lost events", ev
	}
	return f.ID, ""
}

func mechanismText(c *compare.Comparison, f *compare.CompareFinding) (string, string) {
	m := f.Mechanism
	var cause string
	switch m.Cause {
	case compare.CauseOldGlibc:
		cause = fmt.Sprintf("%s's %s is older than 2.24, so posix_spawn and Rust's Command fall back to fork", f.Subject,
			m.Libc.Subject)
	case compare.CauseRustFallback:
		cause = f.Subject + "'s Rust Command falls back to fork (socketpair, then fork): glibc older than 2.24, " +
			"or options that need code in the child"
	case compare.CauseProgramChoice:
		cause = fmt.Sprintf("both run %s, so the program chose it: %s spawns with %s, %s with %s", m.Libc.Subject,
			f.Subject, m.Spawner.Subject, f.Other, m.Spawner.Other)
	default:
		cause = fmt.Sprintf("%s spawns with %s, %s with %s", f.Subject, m.Spawner.Subject, f.Other, m.Spawner.Other)
		if m.Libc.Subject != "" || m.Libc.Other != "" {
			cause += fmt.Sprintf(" (libc: %s against %s)", orUnknown(m.Libc.Subject), orUnknown(m.Libc.Other))
		}
	}
	var ev string
	if m.CopyMeasured {
		ev = fmt.Sprintf("%s; at %s's %s parent RSS (median) the copy and its exec teardown cost %s per spawn%s",
			cause, f.Subject, bytesText(m.ParentRSSBytes), durText(math.Abs(f.CostNs)), sharePhrase(c, f.CostNs))
	} else {
		ev = fmt.Sprintf("%s; %s's copy was not measured (no mmap_lock tracepoints), so its cost is not separated",
			cause, f.Subject)
	}
	ev += fmt.Sprintf(" (%s: %s; %s: %s)", f.Subject, mechCountText(m.Mechanisms.Subject), f.Other,
		mechCountText(m.Mechanisms.Other))
	return f.Subject + " forks where " + f.Other + " uses vfork", ev
}

func pathSearchText(c *compare.Comparison, f *compare.CompareFinding) (string, string) {
	p := f.PathSearch
	e := p.PathEntries
	fails := func(what string) string {
		return fmt.Sprintf("%s's children fail %.1f execs per spawn%s, %s's %.1f", f.Subject, p.FailedPerSpawn.Subject,
			what, f.Other, p.FailedPerSpawn.Other)
	}
	cost := fmt.Sprintf("; this costs %s per spawn%s", durText(math.Abs(f.CostNs)), sharePhrase(c, f.CostNs))
	switch p.Cause {
	case compare.CauseNotFound:
		return f.Subject + "'s children do not find their program", fails("") + fmt.Sprintf("; %.1f of them per spawn "+
			"are of searches that found no program to run (%s's %.1f)",
			p.NotFoundPerSpawn.Subject, f.Other, p.NotFoundPerSpawn.Other) + cost +
			"; check the program's name and PATH on " + f.Subject
	case compare.CauseLongerPath:
		return f.Subject + " searches a longer PATH", fails(" before finding the program") + fmt.Sprintf(": %s's PATH "+
			"has %d entries, %s's %d, and posix_spawnp and execvp try each in turn", f.Subject, e.Subject, f.Other,
			e.Other) + cost + pathAdvice
	case compare.CauseLaterInPath:
		return f.Subject + "'s children find their program later in PATH", fails(" before finding the program") +
			fmt.Sprintf(", though %s's PATH has %d entries and %s's %d: the program's directory comes later in %s's "+
				"PATH (another order, or other directories before it)", f.Subject, e.Subject, f.Other, e.Other,
				f.Subject) + cost + pathAdvice
	}
	return f.Subject + "'s children fail more execs", fails(" before finding the program") + cost + pathAdvice
}

const pathAdvice = "; spawn by absolute path, or put the program's directory first in PATH"

func environmentText(c *compare.Comparison, f *compare.CompareFinding) (string, string) {
	e := f.Environment
	ev := fmt.Sprintf("%s's children get %d environment variables (%s) where %s's get %d (%s); the kernel copies "+
		"them at every exec and runtimes copy them before each spawn", f.Subject, e.Vars.Subject,
		bytesText(uint64(e.Bytes.Subject)), f.Other, e.Vars.Other, bytesText(uint64(e.Bytes.Other)))
	if e.Separable {
		ev += fmt.Sprintf("; successful execs take %s on %s against %s on %s (on CPU, teardown excluded): %s per spawn%s",
			durText(e.ExecNs.Subject), f.Subject, durText(e.ExecNs.Other), f.Other,
			durText(e.ExecNs.Subject-e.ExecNs.Other), sharePhrase(c, f.CostNs))
	} else {
		ev += "; its cost is not separable here"
		if m := e.Mechanisms; m.Subject != m.Other {
			ev += fmt.Sprintf(" (%s's children are spawned with %s, %s's with %s, and a forked child's exec does "+
				"more besides)", f.Subject, m.Subject, f.Other, m.Other)
		}
		ev += fmt.Sprintf(": successful execs take %s on %s and %s on %s (on CPU)", durText(e.ExecNs.Subject), f.Subject,
			durText(e.ExecNs.Other), f.Other)
	}
	return f.Subject + " passes a larger environment", ev + "; pass children only the variables they need"
}

func offCPUText(c *compare.Comparison, f *compare.CompareFinding) (string, string) {
	o := f.OffCPU
	ev := fmt.Sprintf("the spawning thread is off CPU %s per spawn on %s against %s on %s%s", durText(o.OffCPUNs.Subject),
		f.Subject, durText(o.OffCPUNs.Other), f.Other, sharePhrase(c, f.CostNs))
	if f.ID == compare.IDVforkBlocking {
		return f.Subject + "'s spawning thread waits longer for its children", ev +
			"; with vfork it waits until the child execs"
	}
	return f.Subject + "'s spawning thread waits longer off CPU (run queue, contention)", ev + "; " + f.Subject +
		" spawns with " + string(o.Mechanism) + ", which does not wait for the child: the thread waited for a CPU " +
		"(run queue) or for locks and memory (contention), so look at the host's load and the parent's other threads"
}

func hostText(c *compare.Comparison, f *compare.CompareFinding) (string, string) {
	h := f.Host
	ev := "the hosts differ in " + hostDiffsText(c, h.Diffs)
	if p := h.CallNs; p != nil {
		ev += fmt.Sprintf("; the kernel's own work in the spawning call (besides the copy and waiting) takes %s per spawn "+
			"on %s and %s on %s%s", durText(p.Other), f.Other, durText(p.Subject), f.Subject, sharePhrase(c, f.CostNs))
	}
	if r := h.Syscall; r != nil {
		ev += fmt.Sprintf("; %s takes %.1f µs per call on %s, %.1f µs on %s", r.Name, r.UsPerCallA, c.A.Name,
			r.UsPerCallB, c.B.Name)
	}
	return "the kernels or their virtualization differ", ev
}

// CompareNoteText is a comparison note in one line. The commands in it
// are escaped (TermSafe) and cut, so that it is the same line in every
// format; the sides' names are not, as in the findings.
func CompareNoteText(c *compare.Comparison, n *compare.Note) string {
	const spawnCallsAlone = "the syscall table and syscalls per spawn cover the spawn-related calls alone, on both sides"
	switch n.ID {
	case compare.NoteDifferentWorkloads:
		return "different workloads: " + c.A.Name + " ran `" + commandLine(c.A.Command) + "`, " +
			c.B.Name + " ran `" + commandLine(c.B.Command) + "`; compared per spawn, as far as that goes"
	case compare.NoteNoSpawns:
		return n.Side + " has no spawns: only host facts and syscall totals (per run) are compared"
	case compare.NoteSchemas:
		if s := n.Schemas; s != nil {
			return fmt.Sprintf("recordings of different schema versions (%d and %d): facts only the newer one "+
				"records are shown as unknown on the other side", s.A, s.B)
		}
	case compare.NoteCopyUnmeasured:
		return n.Side + ": address-space copy not measured; its time is in \"" + compare.PartCall + "\""
	case compare.NoteBlockedUnmeasured:
		return n.Side + ": blocked time not measured; it is in \"" + compare.PartCall + "\""
	case compare.NotePtraceBackend:
		return "a side was recorded with the ptrace backend (which counts no other syscalls): " + spawnCallsAlone
	case compare.NoteSpawnsOnly:
		return "a side was recorded with --spawns-only (no other syscalls counted): " + spawnCallsAlone
	}
	return n.ID
}

// commandLineMax is the most characters of a command a note quotes.
const commandLineMax = 40

// commandLine is argv joined by spaces and escaped (TermSafe), cut to
// commandLineMax characters with "..." at the end: never inside a UTF-8
// character nor inside an escape such as \x1b.
func commandLine(argv []string) string {
	s := strings.Join(argv, " ")
	var out []byte
	n, cut := 0, 0 // characters in out; len(out) when it last had room for "..."
	for i := 0; i < len(s); {
		_, size := utf8.DecodeRuneInString(s[i:])
		esc := TermSafe(s[i : i+size])
		if k := utf8.RuneCountInString(esc); n+k <= commandLineMax-3 {
			cut = len(out) + len(esc)
		} else if n+k > commandLineMax {
			return string(out[:cut]) + "..."
		}
		out = append(out, esc...)
		n += utf8.RuneCountInString(esc)
		i += size
	}
	return string(out)
}

// hostDiffsText is "kernel (3.10 on A, 5.15 on B), ...".
func hostDiffsText(c *compare.Comparison, rows []compare.HostRow) string {
	var parts []string
	for _, r := range rows {
		parts = append(parts, fmt.Sprintf("%s (%s on %s, %s on %s)", r.Fact, hostValue(r, r.A), c.A.Name,
			hostValue(r, r.B), c.B.Name))
	}
	return strings.Join(parts, ", ")
}

// hostValue is a host row's value as shown: sizes in the unit that reads
// best, an unknown one as "-".
func hostValue(r compare.HostRow, v string) string {
	if v == "" {
		return "-"
	}
	if r.Unit == compare.UnitBytes {
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			return bytesText(n)
		}
	}
	return v
}

// sharePhrase is ", 89% of the difference", or nothing when the difference
// is too small to split or the share rounds to 0 (never "-0%").
func sharePhrase(c *compare.Comparison, costNs float64) string {
	if !c.Explained || math.Round(c.Share(costNs)) == 0 {
		return ""
	}
	return fmt.Sprintf(", %.0f%% of the difference", c.Share(costNs))
}

// durText is a duration in the unit that reads best: "0.46 ms", "7.0 µs",
// "5.80 s".
func durText(ns float64) string {
	a := math.Abs(ns)
	switch {
	case a >= 1e9:
		return fmt.Sprintf("%.2f s", ns/1e9)
	case a >= 100e3:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	}
	return fmt.Sprintf("%.1f µs", ns/1e3)
}

// mechCountText is "10000 fork-like" or "9000 vfork-like, 1000 fork-like".
func mechCountText(ms []compare.MechCount) string {
	var parts []string
	for _, m := range ms {
		parts = append(parts, fmt.Sprintf("%d %s-like", m.Count, m.Mechanism))
	}
	return strings.Join(parts, ", ")
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
