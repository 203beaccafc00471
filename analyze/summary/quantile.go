package summary

import (
	"math/bits"
	"slices"
)

// A distribution keeps its values exactly up to exactMax of them, so that
// the percentiles of every ordinary run are the values themselves (nearest
// rank), as they always were. Past that, a histogram replaces the values:
// memory stays a few KiB per distribution however long the run, and its
// percentiles are within histRelErr of the exact ones (Dist.Approx says
// so). Count, sum and maximum stay exact.
const exactMax = 1 << 16

// exactPoolValues bounds the exact values all the distributions of one
// summary hold together (8 bytes each): with many classes of spawns, each
// under exactMax, they could otherwise add up to a copy of every spawn.
// Past it, the largest distribution becomes a histogram first.
const exactPoolValues = 1 << 21

// minHistValues: a distribution this small is not worth a histogram (which
// takes a few KiB), so it stays exact even when the pool is spent. What a
// run holds beyond the pool is then at most this many values per
// distribution, a small amount per class of spawns.
const minHistValues = 1 << 10

// exactPool is the exact values one summary may hold, shared by its
// distributions.
type exactPool struct {
	left  int
	dists []*valueDist // every distribution drawing on the pool
	// found nothing to reclaim, and nothing was given back since: no
	// point in looking again (each look is linear in the distributions)
	barren bool
}

func newExactPool() *exactPool { return &exactPool{left: exactPoolValues} }

// take reserves room for one more exact value of d; false when d must
// become a histogram (beyond exactMax, or the pool spent and d the
// largest).
func (p *exactPool) take(d *valueDist) bool {
	if len(d.vals) >= exactMax {
		return false
	}
	if p == nil {
		return true
	}
	if p.left == 0 && !p.barren {
		p.reclaim()
		if d.hist != nil {
			return false // d was the largest
		}
	}
	if p.left == 0 {
		if len(d.vals) >= minHistValues {
			return false
		}
		return true // small: holds at most minHistValues, whatever the pool
	}
	p.left--
	return true
}

// reclaim turns the largest exact distribution into a histogram, if one
// is large enough to be worth it. Linear in the distributions, but each
// call frees at least minHistValues values, or is not made again until
// some are (barren).
func (p *exactPool) reclaim() {
	var largest *valueDist
	for _, d := range p.dists {
		if d.hist == nil && (largest == nil || len(d.vals) > len(largest.vals)) {
			largest = d
		}
	}
	if largest != nil && len(largest.vals) >= minHistValues {
		largest.toHist()
		return
	}
	p.barren = true
}

// valueDist collects one measurement over many spawns (see exactMax).
type valueDist struct {
	n    int
	sum  uint64
	min  uint64
	max  uint64
	vals []uint64 // every value, until hist is made
	hist *logHist
	pool *exactPool
}

// newDist makes a distribution that draws on pool (nil: exactMax alone).
func newDist(pool *exactPool) *valueDist {
	d := &valueDist{pool: pool}
	if pool != nil {
		pool.dists = append(pool.dists, d)
	}
	return d
}

func (d *valueDist) add(v uint64) {
	if d.n == 0 || v < d.min {
		d.min = v
	}
	d.max = max(d.max, v)
	d.n++
	d.sum += v
	if d.hist == nil {
		if d.pool.take(d) {
			d.vals = append(d.vals, v) // grows by a quarter once large
			return
		}
		if d.hist == nil { // take may have made it one already
			d.toHist()
		}
	}
	d.hist.add(v)
}

// addInt adds a count that cannot be negative but for a corrupt recording:
// as 0 then.
func (d *valueDist) addInt(v int) { d.add(uint64(max(v, 0))) }

// toHist replaces the exact values with a histogram of them, and gives
// their room back to the pool.
func (d *valueDist) toHist() {
	d.hist = &logHist{}
	for _, v := range d.vals {
		d.hist.add(v)
	}
	if p := d.pool; p != nil && len(d.vals) > 0 {
		p.left = min(p.left+len(d.vals), exactPoolValues)
		p.barren = false
	}
	d.vals = nil
}

// sorted sorts the exact values once the distribution is complete.
func (d *valueDist) sorted() {
	if d.hist == nil {
		slices.Sort(d.vals)
	}
}

// at is the value at rank k (from 0) of the sorted values; exact while the
// values are, else the middle of its histogram bucket.
func (d *valueDist) at(k int) uint64 {
	if d.hist == nil {
		return d.vals[k]
	}
	switch k {
	case 0:
		return d.min
	case d.n - 1:
		return d.max
	}
	return min(max(d.hist.at(k), d.min), d.max)
}

// median is the middle value, the upper one of an even count; 0 for none.
func (d *valueDist) median() uint64 {
	if d.n == 0 {
		return 0
	}
	d.sorted()
	return d.at(d.n / 2)
}

// dist summarizes the distribution: nearest-rank percentiles.
func (d *valueDist) dist() Dist {
	if d.n == 0 {
		return Dist{}
	}
	d.sorted()
	pct := func(p int) uint64 { return d.at(max((p*d.n+99)/100, 1) - 1) }
	return Dist{N: d.n, SumNs: d.sum, P50Ns: pct(50), P90Ns: pct(90), P99Ns: pct(99), MaxNs: d.max, Approx: d.hist != nil}
}

// logHist counts values in buckets of a relative width of at most 1/64:
// exact below 128, then 64 buckets per power of two. A bucket's middle is
// within histRelErr of every value in it. Only the buckets between the
// smallest and the largest value seen are held, 8 bytes each: ~1.7 KiB per
// factor of 10 the values span, at most 30 KiB.
type logHist struct {
	base   int      // bucket index of counts[0]
	counts []uint64 // by bucket index - base
}

// histRelErr is the largest relative error of a histogram's percentile:
// half a bucket's width over its lower bound, 2^e/2 / (64·2^e).
const histRelErr = 1.0 / 128

const histSub = 64 // buckets per power of two

func histIndex(v uint64) int {
	if v < 2*histSub {
		return int(v)
	}
	e := bits.Len64(v) - 7 // v>>e is in [64, 128)
	return e*histSub + int(v>>e)
}

// histMid is the middle of bucket i, rounded down.
func histMid(i int) uint64 {
	if i < 2*histSub {
		return uint64(i)
	}
	e := i/histSub - 1
	lo := uint64(i%histSub+histSub) << e
	return lo + (uint64(1)<<e-1)/2
}

func (h *logHist) add(v uint64) {
	i := histIndex(v)
	switch {
	case len(h.counts) == 0:
		h.base = i
		h.counts = append(h.counts, 0)
	case i < h.base:
		// Some room below too: values falling bucket by bucket would
		// otherwise copy the counts each time.
		base := max(0, min(i, h.base-histSub))
		grown := make([]uint64, h.base-base+len(h.counts))
		copy(grown[h.base-base:], h.counts)
		h.counts, h.base = grown, base
	case i >= h.base+len(h.counts):
		h.counts = append(h.counts, make([]uint64, i-h.base-len(h.counts)+1)...)
	}
	h.counts[i-h.base]++
}

// at is the middle of the bucket holding the value of rank k (from 0).
func (h *logHist) at(k int) uint64 {
	var seen uint64
	for j, c := range h.counts {
		seen += c
		if seen > uint64(k) {
			return histMid(h.base + j)
		}
	}
	return histMid(h.base + len(h.counts) - 1)
}

// Median collects values for their median, exact up to DistExactMax of
// them and within DistRelErr past that, as a summary's medians are (a
// comparison's sides).
type Median struct{ d *valueDist }

func NewMedian() *Median        { return &Median{newDist(nil)} }
func (m *Median) Add(v uint64)  { m.d.add(v) }
func (m *Median) AddInt(v int)  { m.d.addInt(v) }
func (m *Median) Value() uint64 { return m.d.median() }

// Dist is the percentiles of the values collected.
func (m *Median) Dist() Dist { return m.d.dist() }
