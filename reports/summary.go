package reports

import (
	"bufio"
	"fmt"
	"io"
	"sort"

	"github.com/spawntrace/spawntrace/analyze"
	"github.com/spawntrace/spawntrace/tracer"
)

// lineWidth is the width every line of the spawn section fits in.
const lineWidth = 100

// WriteSpawnSection writes how the traced tree made processes: the count by
// mechanism, threads, execs that worked and failed, and the slowest spawns
// (the spawning call's wall time in the parent), at most slowest of them.
func WriteSpawnSection(w io.Writer, s analyze.Summary, slowest int) error {
	bw := bufio.NewWriter(w)
	fork, vfork, cloneVM := s.ByMechanism[analyze.MechFork], s.ByMechanism[analyze.MechVfork],
		s.ByMechanism[analyze.MechCloneVM]
	spawns := fork + vfork + cloneVM
	fmt.Fprintf(bw, "Spawns: %d in %.3f s: %d fork-like, %d vfork-like, %d clone-vm; %d %s\n",
		spawns, float64(s.WallNs)/1e9, fork, vfork, cloneVM, s.Threads, plural(s.Threads, "thread", "threads"))
	fmt.Fprintf(bw, "Processes: %d seen; execs: %d succeeded, %d failed", s.Processes, s.ExecOK, s.ExecFailed)
	if s.ExecFailed > 0 && spawns > 0 {
		// Failed execs per spawn is what a PATH walk costs (posix_spawnp
		// tries each directory in turn).
		fmt.Fprintf(bw, " (%.1f failed per spawn)", float64(s.ExecFailed)/float64(spawns))
	}
	bw.WriteString("\n")

	top := slowestSpawns(s.Spawns, slowest)
	if len(top) > 0 {
		fmt.Fprintf(bw, "\nSlowest %d %s (wall time of the spawning call in the parent):\n",
			len(top), plural(len(top), "spawn", "spawns"))
		const head = "  %-8s %-9s %10s %9s %16s %6s  %s\n"
		fmt.Fprintf(bw, head, "syscall", "mechanism", "ms", "copy ms", "parent -> child", "failed", "exe")
		for _, sp := range top {
			pc := fmt.Sprintf("%d -> %d", sp.ParentPid, sp.ChildPid)
			row := fmt.Sprintf("  %-8s %-9s %10.3f %9s %16s %6d  ", sp.Syscall, sp.Mechanism,
				float64(sp.CloneDurNs)/1e6, copyMs(sp), pc, sp.FailedExecs)
			exe := analyze.Printable(sp.Exe)
			switch {
			case !sp.ExecOK:
				exe = "(no exec)"
			case exe == "":
				exe = "(exec'd, name not recorded)"
			}
			bw.WriteString(row + fitLeft(exe, lineWidth-len(row)) + "\n")
		}
	}
	return bw.Flush()
}

// copyMs is the measured copy time, "-" when there was none to measure.
func copyMs(sp analyze.Spawn) string {
	if sp.CopyNs == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", float64(sp.CopyNs)/1e6)
}

// slowestSpawns is the n spawns with the longest CloneDurNs, the earlier
// first among equals. It keeps n rows, not a sorted copy of them all: a
// long run has a million.
func slowestSpawns(spawns []analyze.Spawn, n int) []analyze.Spawn {
	if n <= 0 {
		return nil
	}
	// before: a is listed before b.
	before := func(a, b *analyze.Spawn) bool {
		if a.CloneDurNs != b.CloneDurNs {
			return a.CloneDurNs > b.CloneDurNs
		}
		return a.TimeNs < b.TimeNs
	}
	var top []analyze.Spawn // kept in listing order; at most n
	for i := range spawns {
		sp := &spawns[i]
		if len(top) == n && !before(sp, &top[n-1]) {
			continue
		}
		at := sort.Search(len(top), func(j int) bool { return before(sp, &top[j]) })
		if len(top) < n {
			top = append(top, analyze.Spawn{})
		}
		copy(top[at+1:], top[at:len(top)-1])
		top[at] = *sp
	}
	return top
}

// fitLeft shortens s to width bytes by cutting its start, which for a path
// keeps the part that tells binaries apart: ".../bin/sleep".
func fitLeft(s string, width int) string {
	if len(s) <= width || width < 4 {
		return s
	}
	return "..." + s[len(s)-(width-3):]
}

// WriteLostWarning writes one "spawntrace: warning:" line when the kernel
// side lost anything, and nothing otherwise.
func WriteLostWarning(w io.Writer, l tracer.Lost) error {
	if l.Total() == 0 {
		return nil
	}
	_, err := fmt.Fprintf(w, "spawntrace: warning: lost events: %s; counts and spawns are incomplete\n", lostText(l))
	return err
}
