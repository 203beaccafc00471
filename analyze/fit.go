package analyze

import (
	"fmt"
	"math"
)

// GiB is 2^30 bytes.
const GiB = 1 << 30

// Fit is a least-squares line of copy time against the parent's size over
// fork-like spawns: copy_ms = SlopeMsPerGiB * rss_GiB + InterceptMs.
type Fit struct {
	N             int     `json:"n"`
	SlopeMsPerGiB float64 `json:"slope_ms_per_gib"`
	InterceptMs   float64 `json:"intercept_ms"`
	// R2 is the share of the variance the line explains; with parents of one
	// size only (ThroughOrigin) there is no variance to explain and R2 is 0.
	R2            float64 `json:"r2"`
	ThroughOrigin bool    `json:"through_origin,omitempty"`
	MinRSSBytes   uint64  `json:"min_rss_bytes"`
	MaxRSSBytes   uint64  `json:"max_rss_bytes"`
	// Against page-table bytes: the copy walks page tables, so this is
	// the better predictor when huge pages shrink them.
	SlopeMsPerPgtableMiB float64 `json:"slope_ms_per_pgtable_mib"`
	R2Pgtables           float64 `json:"r2_pgtables"`
}

// Minimum parent size and line quality for a fit worth extrapolating from:
// below ~64 MiB the copy is dominated by fixed costs, not by RSS.
const (
	MinFitRSSBytes = 64 << 20
	MinFitR2       = 0.5
)

// Usable says whether the fit supports a prediction, and if not, why.
func (f *Fit) Usable() (bool, string) {
	switch {
	case f.MaxRSSBytes < MinFitRSSBytes:
		return false, fmt.Sprintf("parents of at most %d MiB: the copy cost there is fixed overhead, not size", f.MaxRSSBytes>>20)
	case f.SlopeMsPerGiB <= 0:
		return false, fmt.Sprintf("%.2f ms per GiB: the copy does not grow with RSS in these forks", f.SlopeMsPerGiB)
	case !f.ThroughOrigin && f.R2 < MinFitR2:
		return false, fmt.Sprintf("R² %.2f: RSS does not explain the copy times", f.R2)
	}
	return true, ""
}

// PredictMs is the copy time the fit gives for a parent of rssBytes.
func (f *Fit) PredictMs(rssBytes uint64) float64 {
	return f.SlopeMsPerGiB*float64(rssBytes)/GiB + f.InterceptMs
}

// FitCopy fits copy time against parent RSS; nil with fewer than 2 measured
// fork-like spawns.
func FitCopy(spawns []Spawn) *Fit {
	var xs, ps, ys []float64
	f := &Fit{MinRSSBytes: math.MaxUint64}
	for i := range spawns {
		sp := &spawns[i]
		if sp.Mechanism != MechFork || sp.CopyNs == 0 || sp.Parent == nil {
			continue
		}
		rss := sp.Parent.RSSBytes()
		xs = append(xs, float64(rss)/GiB)
		ps = append(ps, float64(sp.Parent.PgtablesBytes)/(1<<20))
		ys = append(ys, float64(sp.CopyNs)/1e6)
		f.MinRSSBytes = min(f.MinRSSBytes, rss)
		f.MaxRSSBytes = max(f.MaxRSSBytes, rss)
	}
	if len(xs) < 2 {
		return nil
	}
	f.N = len(xs)
	// Parents all of about one size: a line through the origin is the only
	// fit the data supports.
	if f.MaxRSSBytes-f.MinRSSBytes < f.MaxRSSBytes/20 {
		f.ThroughOrigin = true
		f.SlopeMsPerGiB = originSlope(xs, ys)
		f.SlopeMsPerPgtableMiB = originSlope(ps, ys)
		return f
	}
	f.SlopeMsPerGiB, f.InterceptMs, f.R2 = leastSquares(xs, ys)
	f.SlopeMsPerPgtableMiB, _, f.R2Pgtables = leastSquares(ps, ys)
	return f
}

func originSlope(xs, ys []float64) float64 {
	var sxy, sxx float64
	for i := range xs {
		sxy += xs[i] * ys[i]
		sxx += xs[i] * xs[i]
	}
	if sxx == 0 {
		return 0
	}
	return sxy / sxx
}

// leastSquares returns slope, intercept and R² of y on x.
func leastSquares(xs, ys []float64) (slope, intercept, r2 float64) {
	n := float64(len(xs))
	var sx, sy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
	}
	mx, my := sx/n, sy/n
	var sxx, sxy, syy float64
	for i := range xs {
		dx, dy := xs[i]-mx, ys[i]-my
		sxx += dx * dx
		sxy += dx * dy
		syy += dy * dy
	}
	if sxx == 0 {
		return 0, my, 0
	}
	slope = sxy / sxx
	intercept = my - slope*mx
	if syy > 0 {
		r2 = sxy * sxy / (sxx * syy)
	}
	return slope, intercept, r2
}
