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
	unit, unitName := float64(1<<20), "MiB"
	if xMaxBytes >= 1<<30 {
		unit, unitName = 1<<30, "GiB"
	}
	ch.XLabel = "parent RSS (" + unitName + ")"
	xTop, xStep := niceMax(xMaxBytes / unit)

	yMaxMs := 0.0
	for _, m := range s.Stats {
		if m.Mechanism == spawn.MechFork {
			yMaxMs = float64(m.Copy.MaxNs) / 1e6
		}
	}
	if usable {
		yMaxMs = math.Max(yMaxMs, f.PredictMs(predictBytes))
	}
	yTop, yStep := niceMax(yMaxMs)

	w, h := scatterRight-scatterLeft, scatterBottom-scatterTop
	px := func(bytes float64) float64 { return scatterLeft + w*math.Min(bytes/unit/xTop, 1) }
	py := func(ms float64) float64 { return scatterBottom - h*math.Max(0, math.Min(ms/yTop, 1)) }
	for v := 0.0; v <= xTop+xStep/2; v += xStep {
		ch.XTicks = append(ch.XTicks, axisTick{px(v * unit), tickLabel(v)})
	}
	for v := 0.0; v <= yTop+yStep/2; v += yStep {
		ch.YTicks = append(ch.YTicks, axisTick{py(v), tickLabel(v)})
	}

	type cell struct{ x, y int }
	seen := map[cell]bool{}
	err := s.EachSpawn(func(sp *spawn.Spawn) error {
		// The fit's points (summary.fitAcc): measured fork-like copies.
		if sp.Mechanism != spawn.MechFork || sp.CopyNs == 0 || sp.Parent == nil {
			return nil
		}
		ch.Total++
		x, y := px(float64(sp.Parent.RSSBytes())), py(float64(sp.CopyNs)/1e6)
		c := cell{int(x / scatterCellPx), int(y / scatterCellPx)}
		if !seen[c] {
			seen[c] = true
			ch.Points = append(ch.Points, scatterPoint{x, y})
		}
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
	// The line, from where it leaves the x axis (a negative intercept) or
	// the smallest parent, to the largest one, then on to the prediction.
	lo := float64(f.MinRSSBytes)
	msAt := func(b float64) float64 { return f.SlopeMsPerGiB*b/summary.GiB + f.InterceptMs }
	if msAt(lo) < 0 {
		lo = -f.InterceptMs / f.SlopeMsPerGiB * summary.GiB
	}
	hi := float64(f.MaxRSSBytes)
	if lo <= hi {
		ch.Fit = &scatterLine{px(lo), py(msAt(lo)), px(hi), py(msAt(hi))}
	}
	pb := float64(predictBytes)
	ch.Extension = &scatterLine{px(hi), py(msAt(hi)), px(pb), py(msAt(pb))}
	ch.Predicted = &scatterPoint{px(pb), py(msAt(pb))}
	ch.PredictedLabel = fmt.Sprintf("%s parent: ~%.0f ms", wholeSizeText(predictBytes), f.PredictMs(predictBytes))
	ch.PredictedLabelX = ch.Predicted.X - 8
	return ch, nil
}
