package summary

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/spawntrace/spawntrace/analyze/spawn"
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
	// MeanCopyMs and MeanRSSBytes are what was measured, whether or not
	// a line fits it: the forks' mean copy time and parent size.
	MeanCopyMs   float64 `json:"mean_copy_ms"`
	MeanRSSBytes uint64  `json:"mean_rss_bytes"`
}

// Minimum parent size, spread of sizes, forks and line quality for a fit
// worth a slope: below ~64 MiB the copy is dominated by fixed costs, not
// by RSS; parents within 25% of one another (a workload whose parent
// stays one size, give or take its heap) leave the copy's own noise
// larger than what their size changes.
const (
	MinFitRSSBytes = 64 << 20
	MinFitSpread   = 1.25 // largest parent over smallest
	MinFitForks    = 3
	MinFitR2       = 0.5
)

// Usable says whether the fit's slope means anything (and so whether it
// supports a prediction for other parents), and if not, why: the one
// definition every report and finding uses.
func (f *Fit) Usable() (bool, string) {
	switch {
	case f.MaxRSSBytes < MinFitRSSBytes:
		return false, fmt.Sprintf("parents of at most %d MiB: the copy cost there is fixed overhead, not size", f.MaxRSSBytes>>20)
	case f.ThroughOrigin || float64(f.MaxRSSBytes) < MinFitSpread*float64(f.MinRSSBytes):
		return false, "parents all about the same size"
	case f.N < MinFitForks:
		return false, fmt.Sprintf("%d forks", f.N)
	case f.SlopeMsPerGiB <= 0:
		return false, "the copy does not grow with RSS in these forks"
	case f.R2 < MinFitR2:
		return false, fmt.Sprintf("RSS does not explain the copy times (R² %.2f)", f.R2)
	}
	return true, ""
}

// PredictMs is the copy time the fit gives for a parent of rssBytes.
func (f *Fit) PredictMs(rssBytes uint64) float64 {
	return f.SlopeMsPerGiB*float64(rssBytes)/GiB + f.InterceptMs
}

// fitAcc collects the points of the fit as spawns finish, in any order.
// Up to exactMax points it keeps them, and fits them in time order as it
// always did (the same bits); past that it keeps running sums instead
// (fitMoments), whose results differ from those only in rounding.
type fitAcc struct {
	pts            []fitPoint
	mom            *fitMoments
	n              int
	minRSS, maxRSS uint64
}

// fitPoint is one fork: RSS in GiB, page tables in MiB, copy time in ms.
type fitPoint struct {
	seq     int
	x, p, y float64
}

// add takes the spawn of time order seq, if it is a measured fork.
func (a *fitAcc) add(seq int, sp *spawn.Spawn) {
	if sp.Mechanism != spawn.MechFork || sp.CopyNs == 0 || sp.Parent == nil {
		return
	}
	rss := sp.Parent.RSSBytes()
	pt := fitPoint{seq, float64(rss) / GiB, float64(sp.Parent.PgtablesBytes) / (1 << 20), float64(sp.CopyNs) / 1e6}
	if a.n == 0 {
		a.minRSS = rss
	}
	a.n++
	a.minRSS = min(a.minRSS, rss)
	a.maxRSS = max(a.maxRSS, rss)
	if a.mom == nil && len(a.pts) < exactMax {
		a.pts = append(a.pts, pt)
		return
	}
	if a.mom == nil {
		a.mom = &fitMoments{}
		a.sortPoints()
		for _, q := range a.pts {
			a.mom.add(q)
		}
		a.pts = nil
	}
	a.mom.add(pt)
}

func (a *fitAcc) sortPoints() {
	slices.SortFunc(a.pts, func(p, q fitPoint) int { return cmp.Compare(p.seq, q.seq) })
}

func (a *fitAcc) fit() *Fit {
	if a.n < 2 {
		return nil
	}
	f := &Fit{N: a.n, MinRSSBytes: a.minRSS, MaxRSSBytes: a.maxRSS}
	// Parents all of about one size: a line through the origin is the only
	// fit the data supports.
	f.ThroughOrigin = f.MaxRSSBytes-f.MinRSSBytes < f.MaxRSSBytes/20
	if m := a.mom; m != nil {
		f.MeanCopyMs, f.MeanRSSBytes = m.my, uint64(m.mx*GiB)
		if f.ThroughOrigin {
			f.SlopeMsPerGiB = ratio(m.sxy, m.sxx)
			f.SlopeMsPerPgtableMiB = ratio(m.spy, m.spp)
			return f
		}
		f.SlopeMsPerGiB, f.InterceptMs, f.R2 = m.line(m.mx, m.cxx, m.cxy)
		f.SlopeMsPerPgtableMiB, _, f.R2Pgtables = m.line(m.mp, m.cpp, m.cpy)
		return f
	}
	a.sortPoints()
	xs, ps, ys := make([]float64, len(a.pts)), make([]float64, len(a.pts)), make([]float64, len(a.pts))
	var sx, sy float64
	for i, pt := range a.pts {
		xs[i], ps[i], ys[i] = pt.x, pt.p, pt.y
		sx += pt.x
		sy += pt.y
	}
	f.MeanCopyMs, f.MeanRSSBytes = sy/float64(len(ys)), uint64(sx/float64(len(xs))*GiB)
	if f.ThroughOrigin {
		f.SlopeMsPerGiB = originSlope(xs, ys)
		f.SlopeMsPerPgtableMiB = originSlope(ps, ys)
		return f
	}
	f.SlopeMsPerGiB, f.InterceptMs, f.R2 = leastSquares(xs, ys)
	f.SlopeMsPerPgtableMiB, _, f.R2Pgtables = leastSquares(ps, ys)
	return f
}

// fitMoments are running means and co-moments (Welford's update, stable
// where sums of squares would cancel), and the sums of a line through the
// origin.
type fitMoments struct {
	n                       float64
	mx, mp, my              float64
	cxx, cxy, cpp, cpy, cyy float64
	sxx, sxy, spp, spy      float64
}

func (m *fitMoments) add(pt fitPoint) {
	m.n++
	dx, dp, dy := pt.x-m.mx, pt.p-m.mp, pt.y-m.my
	m.mx += dx / m.n
	m.mp += dp / m.n
	m.my += dy / m.n
	ey := pt.y - m.my
	m.cxx += dx * (pt.x - m.mx)
	m.cpp += dp * (pt.p - m.mp)
	m.cxy += dx * ey
	m.cpy += dp * ey
	m.cyy += dy * ey
	m.sxx += pt.x * pt.x
	m.sxy += pt.x * pt.y
	m.spp += pt.p * pt.p
	m.spy += pt.p * pt.y
}

// line is slope, intercept and R² of y on a variable of mean mean,
// co-moments cvv with itself and cvy with y, as leastSquares gives them.
func (m *fitMoments) line(mean, cvv, cvy float64) (slope, intercept, r2 float64) {
	if cvv == 0 {
		return 0, m.my, 0
	}
	slope = cvy / cvv
	intercept = m.my - slope*mean
	if m.cyy > 0 {
		r2 = cvy * cvy / (cvv * m.cyy)
	}
	return slope, intercept, r2
}

func ratio(num, den float64) float64 {
	if den == 0 {
		return 0
	}
	return num / den
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
