package reports

import (
	"fmt"
	"math"

	"github.com/spawntrace/spawntrace/analyze/spawn"
	"github.com/spawntrace/spawntrace/analyze/summary"
)

// Scatter geometry: the plot's box inside a chartW x scatterH drawing.
const (
	scatterH      = 380.0
	scatterLeft   = 70.0
	scatterRight  = chartW - 30
	scatterTop    = 16.0
	scatterBottom = scatterH - 52
	// scatterCellPx: points closer than this are drawn once, so a run of a
	// million forks makes a page of at most (plot area / cell²) points.
	scatterCellPx = 3
)

// scatterChart is copy time against parent RSS: each fork-like spawn
// with a measured copy, the fitted line over the parents seen, and,
// dashed, its extension to a larger parent and the copy it predicts.
type scatterChart struct {
	Heading, Line, Prediction string

	Left, Right, Top, Bottom float64
	XTicks, YTicks           []axisTick
	XLabel                   string
	Points                   []scatterPoint
	Drawn, Total             int
	Fit                      *scatterLine
	Extension                *scatterLine
	Predicted                *scatterPoint
	PredictedLabel           string
	PredictedLabelX          float64
}

type scatterPoint struct{ X, Y float64 }

type scatterLine struct{ X1, Y1, X2, Y2 float64 }

// scatterAxes places parent RSS (bytes, across) and copy time (ms, up) in
// the scatter's box, each axis from 0 to a round top above its largest
// value, RSS in MiB or, from a 1 GiB parent on, GiB.
type scatterAxes struct {
	unit, xTop, yTop float64
	XLabel           string
	XTicks, YTicks   []axisTick
}

func newScatterAxes(maxBytes, maxMs float64) scatterAxes {
	a := scatterAxes{unit: 1 << 20, XLabel: "parent RSS (MiB)"}
	if maxBytes >= 1<<30 {
		a.unit, a.XLabel = 1<<30, "parent RSS (GiB)"
	}
	xTop, xStep := niceMax(maxBytes / a.unit)
	yTop, yStep := niceMax(maxMs)
	a.xTop, a.yTop = xTop, yTop
	for v := 0.0; v <= xTop+xStep/2; v += xStep {
		a.XTicks = append(a.XTicks, axisTick{a.x(v * a.unit), tickLabel(v)})
	}
	for v := 0.0; v <= yTop+yStep/2; v += yStep {
		a.YTicks = append(a.YTicks, axisTick{a.y(v), tickLabel(v)})
	}
	return a
}

func (a scatterAxes) x(bytes float64) float64 {
	return scatterLeft + (scatterRight-scatterLeft)*math.Min(bytes/a.unit/a.xTop, 1)
}

func (a scatterAxes) y(ms float64) float64 {
	return scatterBottom - (scatterBottom-scatterTop)*math.Max(0, math.Min(ms/a.yTop, 1))
}

// fitLine is f's line over the parents it was fitted on: from where it
// leaves the x axis (a negative intercept) or the smallest parent, to the
// largest one; nil when it leaves the axis past the largest.
func (a scatterAxes) fitLine(f *summary.Fit) *scatterLine {
	lo, hi := float64(f.MinRSSBytes), float64(f.MaxRSSBytes)
	if fitMsAt(f, lo) < 0 {
		lo = -f.InterceptMs / f.SlopeMsPerGiB * summary.GiB
	}
	if lo > hi {
		return nil
	}
	return &scatterLine{a.x(lo), a.y(fitMsAt(f, lo)), a.x(hi), a.y(fitMsAt(f, hi))}
}

// fitMsAt is f's copy time at a parent of that many bytes.
func fitMsAt(f *summary.Fit, bytes float64) float64 {
	return f.SlopeMsPerGiB*bytes/summary.GiB + f.InterceptMs
}

// scatterCells keeps a point only where no earlier one is in its cell of
// scatterCellPx (see there).
type scatterCells map[[2]int]bool

func (c scatterCells) add(points []scatterPoint, x, y float64) []scatterPoint {
	k := [2]int{int(x / scatterCellPx), int(y / scatterCellPx)}
	if c[k] {
		return points
	}
	c[k] = true
	return append(points, scatterPoint{x, y})
}

func newScatterChart(s *summary.Summary) (*scatterChart, error) {
	f := s.Fit
	ch := &scatterChart{Heading: fitHeading(f), Line: fitLineText(f),
		Left: scatterLeft, Right: scatterRight, Top: scatterTop, Bottom: scatterBottom}
	predictBytes := predictRSSBytes(f)
	usable, _ := f.Usable()
	ch.Prediction = predictionText(f, predictBytes)

	xMaxBytes := float64(f.MaxRSSBytes)
	if usable {
		xMaxBytes = float64(predictBytes)
	}
	yMaxMs := 0.0
	for _, m := range s.Stats {
		if m.Mechanism == spawn.MechFork {
			yMaxMs = float64(m.Copy.MaxNs) / 1e6
		}
	}
	if usable {
		yMaxMs = math.Max(yMaxMs, f.PredictMs(predictBytes))
	}
	a := newScatterAxes(xMaxBytes, yMaxMs)
	ch.XLabel, ch.XTicks, ch.YTicks = a.XLabel, a.XTicks, a.YTicks

	cells := scatterCells{}
	err := s.EachSpawn(func(sp *spawn.Spawn) error {
		// The fit's points (summary.fitAcc): measured fork-like copies.
		if sp.Mechanism != spawn.MechFork || sp.CopyNs == 0 || sp.Parent == nil {
			return nil
		}
		ch.Total++
		ch.Points = cells.add(ch.Points, a.x(float64(sp.Parent.RSSBytes())), a.y(float64(sp.CopyNs)/1e6))
		return nil
	})
	if err != nil {
		return nil, err
	}
	ch.Drawn = len(ch.Points)

	if !usable {
		// No line where its slope means nothing (fitLineText says why).
		return ch, nil
	}
	// The line over the parents seen, then on to the prediction.
	ch.Fit = a.fitLine(f)
	hi, pb := float64(f.MaxRSSBytes), float64(predictBytes)
	ch.Extension = &scatterLine{a.x(hi), a.y(fitMsAt(f, hi)), a.x(pb), a.y(fitMsAt(f, pb))}
	ch.Predicted = &scatterPoint{a.x(pb), a.y(fitMsAt(f, pb))}
	ch.PredictedLabel = fmt.Sprintf("%s parent: ~%.0f ms", wholeSizeText(predictBytes), f.PredictMs(predictBytes))
	ch.PredictedLabelX = ch.Predicted.X - 8
	return ch, nil
}
