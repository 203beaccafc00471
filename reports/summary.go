package reports

import (
	"container/heap"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spawntrace/spawntrace/analyze/spawn"
	"github.com/spawntrace/spawntrace/analyze/summary"
	"github.com/spawntrace/spawntrace/tracer"
)

// lineWidth is the width every line of the spawn section fits in.
const lineWidth = 100

// WriteSpawnSection writes how the traced tree made processes: the count by
// mechanism, threads, execs that worked and failed, and the slowest spawns
// (the spawning call's wall time in the parent), at most slowest of them.
func WriteSpawnSection(w io.Writer, s summary.Summary, slowest int) error {
	bw := newTermWriter(w)
	fork, vfork, cloneVM := s.ByMechanism[spawn.MechFork], s.ByMechanism[spawn.MechVfork],
		s.ByMechanism[spawn.MechCloneVM]
	spawns := fork + vfork + cloneVM
	bw.printf("Spawns: %d in %.3f s: %d fork-like, %d vfork-like, %d clone-vm; %d %s\n",
		spawns, float64(s.WallNs)/1e9, fork, vfork, cloneVM, s.Threads, plural(s.Threads, "thread", "threads"))
	bw.printf("Processes: %d seen; execs: %d succeeded, %d failed", s.Processes, s.ExecOK, s.ExecFailed)
	if s.ExecFailed > 0 && spawns > 0 {
		// Failed execs per spawn is what a PATH walk costs (posix_spawnp
		// tries each directory in turn).
		bw.printf(" (%.1f failed per spawn)", float64(s.ExecFailed)/float64(spawns))
	}
	bw.WriteString("\n")
	if by := spawnersText(s.Classes); by != "" {
		wrap(bw, "", "Spawned by: "+by)
	}

	top, err := slowestSpawns(&s, slowest)
	if err != nil {
		return err
	}
	if len(top) > 0 {
		bw.printf("\nSlowest %d %s (wall time of the spawning call in the parent):\n",
			len(top), plural(len(top), "spawn", "spawns"))
		const head = "  %-8s %-9s %10s %9s %16s %6s  %s\n"
		bw.printf(head, "syscall", "mechanism", "ms", "copy ms", "parent -> child", "failed", "exe")
		for _, sp := range top {
			pc := fmt.Sprintf("%d -> %d", sp.ParentPid, sp.ChildPid)
			row := fmt.Sprintf("  %-8s %-9s %10.3f %9s %16s %6d  ", sp.Syscall, sp.Mechanism,
				float64(sp.CloneDurNs)/1e6, copyMs(sp), pc, sp.FailedExecs)
			exe := sp.Exe
			switch {
			case !sp.ExecOK:
				exe = "(no exec)"
			case exe == "":
				exe = "(exec'd, name not recorded)"
			}
			bw.line(row + fitLeft(exe, lineWidth-len(row)))
		}
	}
	return bw.Flush()
}

// spawnersText names what made the spawns, "glibc posix_spawn (vfork)
// x500, glibc fork() x3", in order of first appearance: one class
// or many, the reader learns which library or runtime spawned. Spawns of
// no known pattern are named by their mechanism.
func spawnersText(classes []summary.Class) string {
	type key struct {
		sig  string
		mech spawn.Mechanism
	}
	var order []key
	counts := map[key]int{}
	for _, c := range classes {
		k := key{c.Signature, c.Mechanism}
		if _, ok := counts[k]; !ok {
			order = append(order, k)
		}
		counts[k] += c.Count
	}
	parts := make([]string, 0, len(order))
	for _, k := range order {
		name := k.sig
		switch {
		case name == "":
			name = "unrecognised " + string(k.mech)
		case !strings.Contains(name, string(k.mech)):
			name += " (" + string(k.mech) + ")"
		}
		parts = append(parts, fmt.Sprintf("%s x%d", name, counts[k]))
	}
	return strings.Join(parts, ", ")
}

// copyMs is the measured copy time, "-" when there was none to measure.
func copyMs(sp spawn.Spawn) string {
	if sp.CopyNs == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", float64(sp.CopyNs)/1e6)
}

// slowestSpawns is the n spawns with the longest CloneDurNs, the earlier
// first among equals. It keeps n rows (a heap whose root is the one to
// drop next), not a sorted copy of them all: a long run has a million.
func slowestSpawns(s *summary.Summary, n int) ([]spawn.Spawn, error) {
	if n <= 0 {
		return nil, nil
	}
	// before: a is listed before b; Seq breaks the last ties, since the
	// rows come in any order.
	before := func(a, b *spawn.Spawn) bool {
		if a.CloneDurNs != b.CloneDurNs {
			return a.CloneDurNs > b.CloneDurNs
		}
		if a.TimeNs != b.TimeNs {
			return a.TimeNs < b.TimeNs
		}
		return a.Seq < b.Seq
	}
	h := &spawnHeap{after: func(a, b *spawn.Spawn) bool { return before(b, a) }}
	err := s.EachSpawn(func(sp *spawn.Spawn) error {
		if len(h.rows) < n {
			heap.Push(h, *sp)
		} else if before(sp, &h.rows[0]) {
			h.rows[0] = *sp
			heap.Fix(h, 0)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	top := h.rows
	sort.Slice(top, func(i, j int) bool { return before(&top[i], &top[j]) })
	return top, nil
}

// spawnHeap keeps the last-listed row at its root.
type spawnHeap struct {
	rows  []spawn.Spawn
	after func(a, b *spawn.Spawn) bool
}

func (h *spawnHeap) Len() int           { return len(h.rows) }
func (h *spawnHeap) Less(i, j int) bool { return h.after(&h.rows[i], &h.rows[j]) }
func (h *spawnHeap) Swap(i, j int)      { h.rows[i], h.rows[j] = h.rows[j], h.rows[i] }
func (h *spawnHeap) Push(x any)         { h.rows = append(h.rows, x.(spawn.Spawn)) }
func (h *spawnHeap) Pop() any {
	last := h.rows[len(h.rows)-1]
	h.rows = h.rows[:len(h.rows)-1]
	return last
}

// WriteLostWarning writes one "spawntrace: warning:" line when the kernel
// side lost anything, and nothing otherwise.
func WriteLostWarning(w io.Writer, l tracer.Lost) error {
	if l.Total() == 0 {
		return nil
	}
	incomplete := "counts and spawns are incomplete"
	if onlyTimes(l) {
		incomplete = "counts and spawns are whole, those times are not"
	}
	_, err := fmt.Fprintf(w, "spawntrace: warning: lost events: %s; %s\n", lostText(l), incomplete)
	return err
}
