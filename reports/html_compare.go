package reports

import (
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/spawntrace/spawntrace/analyze/compare"
	"github.com/spawntrace/spawntrace/analyze/fleet"
	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/spawn"
	"github.com/spawntrace/spawntrace/analyze/summary"
)

// The pages of compare: two recordings side by side (WriteCompareHTML) and
// a fleet (WriteFleetHTML), in html.tmpl's style, through html/template
// like the recording's page.

//go:embed html_compare.tmpl
var htmlCompareText string

// htmlComparePage is what the compare page shows.
type htmlComparePage struct {
	Title    string
	A, B     string
	Notes    []string
	Host     []htmlHostRow
	Spawns   [][3]string
	Costs    *stackChart
	Diff     *diffChart
	Scatter  *compareScatter
	NoFits   string
	Fits     [2]string
	Findings []htmlCompareFinding
}

type htmlHostRow struct {
	Fact, A, B string
	Differs    bool
}

type htmlCompareFinding struct {
	Title, Tag, Evidence string
}

// partClasses colours compare's parts of a spawn (compare.PartRow.Part).
var partClasses = map[string]string{
	compare.PartCopy: "s-copy", compare.PartBlocked: "s-blocked", compare.PartCall: "s-clone",
	compare.PartFailed: "s-failed", compare.PartTeardown: "s-teardown", compare.PartChild: "s-child",
}

// WriteCompareHTML writes a comparison as one self-contained HTML page:
// the host facts side by side, one spawn's cost on each host split into
// its parts, the difference split by part, both copy-time fits on one
// scatter (with each side's fork-like spawns), and the findings. a and b
// are the compared recordings, read again for the scatter's points.
func WriteCompareHTML(w io.Writer, c *compare.Comparison, a, b *recording.Recording) error {
	p := &htmlComparePage{Title: TermSafe("spawntrace compare: " + c.A.Name + " (A) and " + c.B.Name + " (B)"),
		A: TermSafe(c.A.Name), B: TermSafe(c.B.Name)}
	for i := range c.Notes {
		p.Notes = append(p.Notes, TermSafe(CompareNoteText(c, &c.Notes[i])))
	}
	for _, r := range c.Host {
		p.Host = append(p.Host, htmlHostRow{TermSafe(r.Fact), TermSafe(hostValue(r, r.A)), TermSafe(hostValue(r, r.B)), r.Differs})
	}
	for _, r := range sideRows(c) {
		p.Spawns = append(p.Spawns, [3]string{TermSafe(r[0]), TermSafe(r[1]), TermSafe(r[2])})
	}
	if len(c.Breakdown) > 0 {
		p.Costs = newStackChart(c)
		p.Diff = newDiffChart(c)
	}
	for i, s := range []*compare.Side{&c.A, &c.B} {
		p.Fits[i] = TermSafe(s.Name + ": " + fitText(s))
	}
	var err error
	if p.Scatter, err = newCompareScatter(c, a, b); err != nil {
		return err
	}
	if p.Scatter == nil {
		p.NoFits = "Neither side has a fit of its copies: nothing to plot."
	}
	for i := range c.Findings {
		f := &c.Findings[i]
		title, ev := FindingText(c, f)
		p.Findings = append(p.Findings, htmlCompareFinding{TermSafe(title), TermSafe(findingTag(c, f)), TermSafe(ev)})
	}
	return renderHTML(w, "compare", p)
}

func renderHTML(w io.Writer, name string, p any) error {
	var buf bytes.Buffer
	if err := htmlTemplate().ExecuteTemplate(&buf, name, p); err != nil {
		return fmt.Errorf("rendering the HTML page: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// stackChart is one spawn's mean cost on each side, its parts stacked.
type stackChart struct {
	Height, AxisY float64
	Rows          []splitRow
	Ticks         []axisTick
	Parts         []legendItem
}

// legendItem is a coloured square and its name, at X, Y.
type legendItem struct {
	Class, Name string
	X, Y        float64
}

func newStackChart(c *compare.Comparison) *stackChart {
	ch := &stackChart{}
	x, y := barPlotX-barLabelW+10, 8.0
	for _, r := range c.Breakdown {
		if x+20+7*float64(len(r.Part)) > chartW {
			x, y = barPlotX-barLabelW+10, y+18
		}
		ch.Parts = append(ch.Parts, legendItem{Class: partClasses[r.Part], Name: r.Part, X: x, Y: y})
		x += 20 + 7*float64(len(r.Part)) + 14
	}
	top := y + 20
	scale, ticks := msAxis(uint64(math.Max(c.A.MeanNs, c.B.MeanNs)), barPlotW)
	ch.Ticks = ticks
	for i, s := range []*compare.Side{&c.A, &c.B} {
		r := splitRow{Label: classLabel{Name: TermSafe(fitRight(s.Name, classLabelW)), Detail: mechCountText(s.ByMech)},
			Y: top + float64(i)*barRowH}
		at := 0.0
		for _, part := range c.Breakdown {
			ns := part.ANs
			if i == 1 {
				ns = part.BNs
			}
			w := scale(ns / 1e6)
			if w <= 0 {
				continue
			}
			r.Segs = append(r.Segs, splitSeg{X: at, W: w, Class: partClasses[part.Part],
				Title: part.Part + ": " + durText(ns) + " per spawn"})
			at += w
		}
		r.EndX, r.Value = at, durText(s.MeanNs)
		ch.Rows = append(ch.Rows, r)
	}
	ch.AxisY = top + 2*barRowH
	ch.Height = ch.AxisY + axisH
	return ch
}

// diffChart is the difference per spawn (B - A) split by part: bars left
// of zero for parts cheaper on B, right for those costlier.
type diffChart struct {
	Height, AxisY, ZeroX float64
	Rows                 []diffRow
}

type diffRow struct {
	Label    string
	Y, X, W  float64
	Class    string
	Value    string
	ValueX   float64
	Anchor   string
	Measured bool
}

// diffPlotW is the diverging chart's width, each side of zero half of it.
const diffPlotW = 380.0

func newDiffChart(c *compare.Comparison) *diffChart {
	ch := &diffChart{ZeroX: barPlotX - 80 + diffPlotW/2}
	maxNs := 0.0
	for _, r := range c.Breakdown {
		maxNs = math.Max(maxNs, math.Abs(r.DiffNs))
	}
	half := diffPlotW / 2
	for i, r := range c.Breakdown {
		w := 0.0
		if maxNs > 0 {
			w = half * math.Abs(r.DiffNs) / maxNs
		}
		row := diffRow{Label: r.Part, Y: 8 + float64(i)*26, W: w, Class: partClasses[r.Part], Measured: r.Measured}
		row.Value = signedDur(r.DiffNs)
		if s := shareCell(c, r.Share); s != "-" {
			row.Value += " (" + s + ")"
		}
		if !r.Measured {
			row.Label += " (unmeasured)"
		}
		if r.DiffNs < 0 {
			row.X, row.ValueX, row.Anchor = ch.ZeroX-w, ch.ZeroX+6, "start"
		} else {
			row.X, row.ValueX, row.Anchor = ch.ZeroX, ch.ZeroX-6, "end"
		}
		ch.Rows = append(ch.Rows, row)
	}
	ch.AxisY = 8 + float64(len(c.Breakdown))*26
	ch.Height = ch.AxisY + 10
	return ch
}

// compareScatter is copy time against parent RSS on both sides: each
// side's fork-like spawns with a measured copy, and its fit over the
// parents it saw.
type compareScatter struct {
	Left, Right, Top, Bottom float64
	XTicks, YTicks           []axisTick
	XLabel                   string
	Sides                    []scatterSide
}

type scatterSide struct {
	Name   string
	Class  string // "a" or "b"
	Points []scatterPoint
	Total  int
	Fit    *scatterLine
	Line   string
	// LegendY places its legend, in the plot's top left corner.
	LegendY float64
}

func newCompareScatter(c *compare.Comparison, recA, recB *recording.Recording) (*compareScatter, error) {
	sides := []*compare.Side{&c.A, &c.B}
	var maxBytes, maxMs float64
	fitted := false
	for _, s := range sides {
		if f := s.Fit; f != nil {
			fitted = true
			maxBytes = math.Max(maxBytes, float64(f.MaxRSSBytes))
		}
	}
	if !fitted {
		return nil, nil
	}
	// The points' copy times set the y axis: a first pass for the largest.
	type pt struct{ rss, ms float64 }
	each := func(rec *recording.Recording, fn func(pt)) error {
		sum, err := summary.Summarize(rec)
		if err != nil {
			return err
		}
		defer sum.Close()
		return sum.EachSpawn(func(sp *spawn.Spawn) error {
			if sp.Mechanism == spawn.MechFork && sp.CopyNs > 0 && sp.Parent != nil {
				fn(pt{float64(sp.Parent.RSSBytes()), float64(sp.CopyNs) / 1e6})
			}
			return nil
		})
	}
	recs := []*recording.Recording{recA, recB}
	for i, s := range sides {
		if s.Fit == nil {
			continue
		}
		if err := each(recs[i], func(p pt) { maxMs = math.Max(maxMs, p.ms) }); err != nil {
			return nil, err
		}
	}
	a := newScatterAxes(maxBytes, maxMs)
	ch := &compareScatter{Left: scatterLeft, Right: scatterRight, Top: scatterTop, Bottom: scatterBottom,
		XLabel: a.XLabel, XTicks: a.XTicks, YTicks: a.YTicks}
	for i, s := range sides {
		f := s.Fit
		if f == nil {
			continue
		}
		sc := scatterSide{Name: TermSafe(s.Name), Class: []string{"a", "b"}[i], Line: TermSafe(s.Name + ": " + fitText(s)),
			LegendY: scatterTop + 4 + 18*float64(i)}
		cells := scatterCells{}
		err := each(recs[i], func(p pt) {
			sc.Total++
			sc.Points = cells.add(sc.Points, a.x(p.rss), a.y(p.ms))
		})
		if err != nil {
			return nil, err
		}
		// A line only where its slope means something (fitText says why not).
		if ok, _ := f.Usable(); ok {
			sc.Fit = a.fitLine(f)
		}
		ch.Sides = append(ch.Sides, sc)
	}
	return ch, nil
}

// htmlFleetPage is what the fleet page shows.
type htmlFleetPage struct {
	Title     string
	Lines     []string
	Hosts     *hostChart
	Table     []htmlFleetHost
	Rule      string
	Factors   []htmlFactor
	Typical   string
	Outliers  []htmlOutlier
	NoSpawns  string
	NoOutlier bool
}

type htmlFleetHost struct {
	Rank, Name, Spawns, Median, P90, Mean, Mechanism, RSS string
	Outlier                                               bool
}

type htmlFactor struct {
	Name, Spread string
	Groups       []htmlGroup
}

type htmlGroup struct {
	Value, Median, Hosts string
	N                    int
}

type htmlOutlier struct {
	Host, Cost, Title, Tag, Evidence, Also string
}

// hostChart is each ranked host's spawn cost, a p50 bar over a p90 bar,
// and the outlier threshold as a dashed line.
type hostChart struct {
	Height, AxisY float64
	Rows          []hostBar
	Ticks         []axisTick
	ThresholdX    float64
	Threshold     string
}

type hostBar struct {
	Name       string
	Y          float64
	P50W, P90W float64
	Class      string
	Value      string
}

const hostRowH = 22.0

// WriteFleetHTML writes a fleet as one self-contained HTML page: the hosts'
// spawn costs as bars with the outlier threshold, the factors that differ
// with their groups, and each outlier's cause.
func WriteFleetHTML(w io.Writer, f *fleet.Fleet) error {
	p := &htmlFleetPage{Title: TermSafe("spawntrace compare: " + fleetHeadline(f)), Lines: []string{fleetCostNote},
		Typical: TermSafe(f.Typical), NoOutlier: len(f.Outliers) == 0 && len(f.Hosts) > len(f.NoSpawns)}
	if len(f.Hosts) > len(f.NoSpawns) {
		p.Rule = TermSafe(fleetOutlierRule(f))
		p.Hosts = newHostChart(f)
	}
	for i := range f.Hosts {
		h := &f.Hosts[i]
		row := htmlFleetHost{Rank: "-", Name: TermSafe(h.Name), Spawns: fmt.Sprint(h.Spawns), Outlier: h.Outlier}
		if h.Spawns > 0 {
			row.Rank, row.Median, row.P90, row.Mean = fmt.Sprint(h.Rank), durText(h.MedianNs), durText(h.P90Ns), durText(h.MeanNs)
			row.Mechanism, row.RSS = string(h.Side.Dominant), sizeOrDash(h.Side.ParentRSSBytes)
		}
		p.Table = append(p.Table, row)
	}
	for _, fc := range f.Factors {
		hf := htmlFactor{Name: fc.Name, Spread: durText(fc.SpreadNs)}
		for _, g := range fc.Groups {
			hf.Groups = append(hf.Groups, htmlGroup{TermSafe(groupValue(fc.Name, g.Value)), durText(g.MedianNs),
				TermSafe(groupHosts(g.Hosts)), len(g.Hosts)})
		}
		p.Factors = append(p.Factors, hf)
	}
	for i := range f.Outliers {
		o := &f.Outliers[i]
		title, tag, ev := outlierCause(o)
		p.Outliers = append(p.Outliers, htmlOutlier{Host: TermSafe(o.Host),
			Cost:  durText(o.MedianNs) + " per spawn, " + signedDur(o.ExcessNs) + " over " + TermSafe(f.Typical),
			Title: TermSafe(title), Tag: TermSafe(tag), Evidence: TermSafe(ev), Also: TermSafe(otherFindings(o))})
	}
	if len(f.NoSpawns) > 0 {
		p.NoSpawns = TermSafe("No spawns recorded on " + strings.Join(f.NoSpawns, ", ") + ": listed, not ranked.")
	}
	return renderHTML(w, "fleet", p)
}

func newHostChart(f *fleet.Fleet) *hostChart {
	ch := &hostChart{}
	var maxNs float64
	for _, h := range f.Hosts {
		maxNs = math.Max(maxNs, math.Max(h.P90Ns, h.MedianNs))
	}
	maxNs = math.Max(maxNs, f.ThresholdNs)
	scale, ticks := msAxis(uint64(maxNs), barPlotW)
	ch.Ticks = ticks
	for _, h := range f.Hosts {
		if h.Spawns == 0 {
			continue
		}
		class := "m-vfork"
		if h.Outlier {
			class = "m-fork"
		}
		ch.Rows = append(ch.Rows, hostBar{Name: TermSafe(fitRight(h.Name, classLabelW)), Y: barTop + float64(len(ch.Rows))*hostRowH,
			P50W: scale(h.MedianNs / 1e6), P90W: scale(h.P90Ns / 1e6), Class: class,
			Value: durText(h.MedianNs) + " / " + durText(h.P90Ns)})
	}
	ch.AxisY = barTop + float64(len(ch.Rows))*hostRowH
	ch.Height = ch.AxisY + axisH
	ch.ThresholdX = barPlotX + scale(f.ThresholdNs/1e6)
	ch.Threshold = "outlier above " + durText(f.ThresholdNs)
	return ch
}
