package reports

import (
	"fmt"
	"math"
	"strconv"

	"github.com/spawntrace/spawntrace/analyze/spawn"
	"github.com/spawntrace/spawntrace/analyze/summary"
)

// The charts' geometry, computed here so that the template only places
// it: SVG user units, 760 wide, labels left of the bars.
const (
	chartW      = 780.0
	barLabelW   = 330.0 // the class labels, right-aligned to this x
	barPlotX    = 340.0
	barPlotW    = 300.0 // room is left after the bars for their values
	barRowH     = 38.0
	barTop      = 8.0
	axisH       = 34.0
	classLabelW = 36 // bytes of a class's first label line
	classExeW   = 18
)

// chartGeometry is what the template places at fixed positions.
type chartGeometry struct {
	W, LabelX, PlotX, PlotEnd, PlotMid, ValueX, ScatterH float64
}

var htmlGeometry = chartGeometry{W: chartW, LabelX: barLabelW, PlotX: barPlotX, PlotEnd: barPlotX + barPlotW,
	PlotMid: barPlotX + barPlotW/2, ValueX: barPlotX + 6, ScatterH: scatterH}

// axisTick is one labelled gridline.
type axisTick struct {
	Pos   float64
	Label string
}

// classLabel is a class in two lines: who spawned how many, then how.
type classLabel struct {
	Name, Detail string
}

func labelOf(c *summary.Class) classLabel {
	exe := c.Exe
	if exe == "" {
		exe = "(no exec)"
	}
	detail := fmt.Sprintf("%s → %s, RSS %s, env %d", c.Mechanism, fitLeft(exe, classExeW), rssCell(*c), c.EnvCount)
	if c.FailedExecs > 0 {
		detail += fmt.Sprintf(", PATH %.1f", float64(c.FailedExecs)/float64(max(c.Count, 1)))
	}
	return classLabel{cutRight(spawnerName(c), classLabelW) + fmt.Sprintf(" ×%d", c.Count), detail}
}

// mechClass is the CSS class that colours a mechanism.
func mechClass(m spawn.Mechanism) string {
	switch m {
	case spawn.MechFork:
		return "m-fork"
	case spawn.MechVfork:
		return "m-vfork"
	}
	return "m-other"
}

// barChart is each class's spawn cost: a p50 bar over a p90 bar.
type barChart struct {
	Height float64
	AxisY  float64
	Rows   []barRow
	Ticks  []axisTick
	// Fallback: some classes show the time to exec (or the call alone)
	// rather than the loop time, marked with Mark.
	Fallback bool
}

type barRow struct {
	Label      classLabel
	Y          float64 // top of the row
	P50W, P90W float64
	Class      string
	Value      string
	Mark       string
}

// classCost is the distribution the bars show for a class: a spawn's
// share of a loop of like spawns (Class.Total), else, for spawns no like
// spawn followed, spawn to exec, else the spawning call.
func classCost(c *summary.Class) (d summary.Dist, fallback bool) {
	switch {
	case c.Total.N > 0:
		return c.Total, false
	case c.SpawnToExec.N > 0:
		return c.SpawnToExec, true
	}
	return c.Clone, true
}

func newClassBars(classes []summary.Class) *barChart {
	if len(classes) == 0 {
		return nil
	}
	ch := &barChart{}
	var maxNs uint64
	for i := range classes {
		d, _ := classCost(&classes[i])
		maxNs = max(maxNs, d.P90Ns, d.P50Ns)
	}
	scaleMs, ticks := msAxis(maxNs, barPlotW)
	ch.Ticks = ticks
	for i := range classes {
		c := &classes[i]
		d, fallback := classCost(c)
		r := barRow{Label: labelOf(c), Y: barTop + float64(i)*barRowH, Class: mechClass(c.Mechanism),
			P50W: scaleMs(float64(d.P50Ns) / 1e6), P90W: scaleMs(float64(d.P90Ns) / 1e6)}
		if d.N == 0 {
			r.Value = "no samples"
		} else {
			r.Value = fmt.Sprintf("%s / %s ms", shortMsValue(d.P50Ns), shortMsValue(d.P90Ns))
		}
		if fallback {
			r.Mark = "†"
			ch.Fallback = true
		}
		ch.Rows = append(ch.Rows, r)
	}
	ch.AxisY = barTop + float64(len(classes))*barRowH
	ch.Height = ch.AxisY + axisH
	return ch
}

// splitChart is each class's mean time per spawn, split by where it went.
type splitChart struct {
	Height float64
	AxisY  float64
	Rows   []splitRow
	Ticks  []axisTick
	Parts  []splitLegend
}

type splitRow struct {
	Label classLabel
	Y     float64
	Segs  []splitSeg
	EndX  float64
	Value string
}

type splitSeg struct {
	X, W  float64
	Class string
	Title string
}

type splitLegend struct {
	Class, Name string
	X           float64
}

// splitParts names the parts of a spawn's time, in the order they stack.
var splitParts = []struct{ class, name string }{
	{"s-clone", "clone"}, {"s-copy", "copy"}, {"s-blocked", "blocked"},
	{"s-failed", "failed execs"}, {"s-teardown", "teardown"},
}

// spawnSplitNs is a class's mean time per spawn in splitParts' order.
// The measurements nest: the copy and the time off CPU are inside the
// spawning call, and a vfork-like child's failed execs inside its
// parent's wait; each part here is what the others leave, so they add up
// to the call, the teardown and a fork-like child's failed execs.
func spawnSplitNs(c *summary.Class) [5]float64 {
	n := float64(max(c.Count, 1))
	mean := func(d summary.Dist) float64 { return float64(d.SumNs) / n }
	call, cp, blocked, failed, teardown := mean(c.Clone), mean(c.Copy), mean(c.Blocked), mean(c.FailedExec), mean(c.Teardown)
	if c.Mechanism == spawn.MechVfork {
		blocked = math.Max(0, blocked-failed)
	}
	clone := math.Max(0, call-cp-blocked)
	if c.Mechanism == spawn.MechVfork {
		clone = math.Max(0, call-cp-blocked-failed)
	}
	return [5]float64{clone, cp, blocked, failed, teardown}
}

func newSplitChart(classes []summary.Class) *splitChart {
	if len(classes) == 0 {
		return nil
	}
	ch := &splitChart{}
	x := barPlotX
	for _, p := range splitParts {
		ch.Parts = append(ch.Parts, splitLegend{p.class, p.name, x})
		x += 18 + 8*float64(len(p.name)) + 18
	}
	top := barTop + 24 // under the legend
	var maxNs float64
	splits := make([][5]float64, len(classes))
	for i := range classes {
		splits[i] = spawnSplitNs(&classes[i])
		sum := 0.0
		for _, v := range splits[i] {
			sum += v
		}
		maxNs = math.Max(maxNs, sum)
	}
	scaleMs, ticks := msAxis(uint64(maxNs), barPlotW)
	ch.Ticks = ticks
	for i := range classes {
		r := splitRow{Label: labelOf(&classes[i]), Y: top + float64(i)*barRowH}
		x, sum := 0.0, 0.0
		for j, v := range splits[i] {
			sum += v
			w := scaleMs(v / 1e6)
			if w <= 0 {
				continue
			}
			r.Segs = append(r.Segs, splitSeg{X: x, W: w, Class: splitParts[j].class,
				Title: fmt.Sprintf("%s: %s ms per spawn", splitParts[j].name, shortMsValue(uint64(v)))})
			x += w
		}
		r.EndX = x
		r.Value = shortMsValue(uint64(sum)) + " ms"
		ch.Rows = append(ch.Rows, r)
	}
	ch.AxisY = top + float64(len(classes))*barRowH
	ch.Height = ch.AxisY + axisH
	return ch
}

// msAxis scales milliseconds to a plot width whose end is a round number
// at least maxNs, with its ticks.
func msAxis(maxNs uint64, width float64) (func(ms float64) float64, []axisTick) {
	top, step := niceMax(float64(maxNs) / 1e6)
	scale := func(ms float64) float64 { return width * ms / top }
	var ticks []axisTick
	for v := 0.0; v <= top+step/2; v += step {
		ticks = append(ticks, axisTick{scale(v), tickLabel(v)})
	}
	return scale, ticks
}

// niceMax is the smallest 1, 2 or 5 times a power of ten's multiple at or
// above v, in about five steps, and its step.
func niceMax(v float64) (top, step float64) {
	if !(v > 0) || math.IsInf(v, 0) {
		return 1, 0.2
	}
	raw := v / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step = 10 * mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	return math.Ceil(v/step-1e-9) * step, step
}

func tickLabel(v float64) string {
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// shortMsValue is a time in milliseconds in a few digits.
func shortMsValue(ns uint64) string {
	return shortMs(summary.Dist{N: 1, P50Ns: ns})
}
