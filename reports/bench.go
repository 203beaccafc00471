package reports

import (
	"fmt"
	"io"
	"strings"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/summary"
	"github.com/spawntrace/spawntrace/tracer"
)

// classRow lays out one row of the class table in lineWidth columns:
// spawner, mechanism, exe, RSS, env, PATH, n, then five time cells. The
// spawner column is as wide as its longest name (up to spawnerMax), the
// exe column gives up what it takes beyond spawnerMin.
const (
	classHead  = "%s %-8s %s %5s %4s %4s %5s %6s %6s %6s %6s %6s\n" // spawner and exe: padRight
	classRow   = "%s %-8s %s %5s %4d %4s %5d %6s %6s %6s %6s %6s\n"
	spawnerMin = 18
	spawnerMax = 26
	exeWidth   = 14 // at spawnerMin
)

// spawnerName is a class's spawner as the table names it: its signature
// without a mechanism the mech column says already, or its mechanism.
func spawnerName(c *summary.Class) string {
	if c.Signature == "" {
		return string(c.Mechanism)
	}
	return strings.TrimSuffix(c.Signature, " ("+string(c.Mechanism)+")")
}

// WriteClassTable writes one row per class of like spawns (Summary.Classes)
// with the median of each cost, in the order the classes first appeared.
func WriteClassTable(w io.Writer, rec *recording.Recording, classes []summary.Class) error {
	bw := newTermWriter(w)
	if len(classes) == 0 {
		bw.printf("\nSpawn classes: no spawns recorded\n")
		return bw.Flush()
	}
	spawnerW := spawnerMin
	for i := range classes {
		spawnerW = max(spawnerW, min(displayWidth(TermSafe(spawnerName(&classes[i]))), spawnerMax))
	}
	exeW := exeWidth - (spawnerW - spawnerMin)
	bw.printf("\nSpawn classes (median ms per spawn, wall time):\n")
	bw.printf(classHead, padRight("spawner", spawnerW), "mech", padRight("exe", exeW), "RSS", "env", "PATH", "n",
		"clone", "copy", "exec", "tear", "total")
	approx := false
	for _, c := range classes {
		approx = approx || c.Approx()
		exe := c.Exe
		if exe == "" {
			exe = "(no exec)"
		}
		path := "-"
		if c.FailedExecs > 0 {
			path = fmt.Sprintf("%.1f", float64(c.FailedExecs)/float64(c.Count))
		}
		bw.printf(classRow, padRight(cutRight(spawnerName(&c), spawnerW), spawnerW), cutRight(string(c.Mechanism), 8), padRight(fitLeft(exe, exeW), exeW),
			rssCell(c), c.EnvCount, path, c.Count,
			shortMs(c.Clone), shortMs(c.Copy), shortMs(c.SpawnToExec), shortMs(c.Teardown), shortMs(c.Total))
	}
	wrap(bw, "  ", "clone: the spawning call in the parent; copy: the parent's address space copied (dup_mmap); "+
		"exec: spawn to the child's successful exec; tear: that exec tearing the copy down; "+
		"total: spawn to the same thread's next spawn of the class, what one more spawn costs in a loop. "+
		"RSS: the parent's, median; PATH: failed execs per spawn before the binary was found.")
	if ok, why := probeState(rec, tracer.CopyProbe); !ok {
		bw.printf("  copy and tear: not measured (%s)\n", why)
	}
	if approx {
		writeApproxNote(bw, "medians")
	}
	return bw.Flush()
}

// shortMs is a median in at most 6 characters, "-" without samples.
func shortMs(d summary.Dist) string {
	if d.N == 0 {
		return "-"
	}
	ms := float64(d.P50Ns) / 1e6
	switch {
	case ms < 10:
		return fmt.Sprintf("%.3f", ms)
	case ms < 100:
		return fmt.Sprintf("%.2f", ms)
	case ms < 1000:
		return fmt.Sprintf("%.1f", ms)
	default:
		return fmt.Sprintf("%.0f", ms)
	}
}

// rssCell is the class's median parent RSS in at most 5 characters.
func rssCell(c summary.Class) string {
	if !c.RSSKnown {
		return "?"
	}
	b := float64(c.RSSMedianBytes)
	switch {
	case b < 1<<20:
		return fmt.Sprintf("%.0fK", b/(1<<10))
	case b < 10<<20:
		return fmt.Sprintf("%.1fM", b/(1<<20))
	case b < 1000<<20:
		return fmt.Sprintf("%.0fM", b/(1<<20))
	case b < 10<<30:
		return fmt.Sprintf("%.1fG", b/(1<<30))
	default:
		return fmt.Sprintf("%.0fG", b/(1<<30))
	}
}

// WriteBenchHeading writes bench's heading as text: its title and first
// line on one line, then each other line, with what the host named in
// them (hostname, kernel release) escaped as in every text output.
func WriteBenchHeading(w io.Writer, head HTMLHeading) error {
	bw := newTermWriter(w)
	for i, l := range head.Lines {
		if i == 0 {
			l = head.Title + ": " + l
		}
		bw.line(l)
	}
	return bw.Flush()
}
