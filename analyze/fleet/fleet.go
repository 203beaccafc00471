// Package fleet compares many recordings of one workload, one per host:
// the hosts ranked by what one spawn costs, grouped by what differs
// between them, and the outliers with their causes, each named by the
// two-recording comparison (analyze/compare) of the outlier against the
// fleet's typical host.
//
// A fleet holds one compare.Side per host, never a recording's events:
// recordings are added one at a time and may be closed once added, so
// memory and time grow linearly with the hosts.
package fleet

import (
	"cmp"
	"fmt"
	"math"
	"math/bits"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spawntrace/spawntrace/analyze/compare"
	"github.com/spawntrace/spawntrace/analyze/recording"
)

// Host is one recording of the fleet.
type Host struct {
	// Name is the recording's hostname, with its file's name added when
	// another recording has the same one; the file's name without one.
	Name     string `json:"name"`
	File     string `json:"file"`
	Hostname string `json:"hostname,omitempty"`
	Spawns   int    `json:"spawns"`
	// MedianNs and P90Ns are one spawn's cost, its parts summed
	// (compare.Side.Cost): from the spawning call's entry to the end of
	// the child's successful exec.
	MedianNs float64 `json:"median_ns"`
	P90Ns    float64 `json:"p90_ns"`
	MeanNs   float64 `json:"mean_ns"`
	// Rank is 1 for the costliest host by median (then p90); 0 without
	// spawns.
	Rank    int  `json:"rank,omitempty"`
	Outlier bool `json:"outlier,omitempty"`
	// Factors holds the host's value of each factor (Factor.Name), as
	// grouped.
	Factors map[string]string `json:"factors"`

	Side compare.Side `json:"-"`
}

// Factor is one thing that differs between the hosts, and the hosts
// grouped by its value.
type Factor struct {
	Name   string  `json:"name"`
	Groups []Group `json:"groups"` // the cheapest group first
	// SpreadNs is the costliest group's median cost minus the cheapest's:
	// how much the factor goes with the cost.
	SpreadNs float64 `json:"spread_ns"`
}

// Group is the hosts that share a factor's value.
type Group struct {
	Value string   `json:"value"`
	Hosts []string `json:"hosts"`
	// MedianNs is the median of the hosts' median spawn costs.
	MedianNs float64 `json:"median_ns"`
}

// Outlier is a host whose spawns cost more than the fleet's (Fleet's
// threshold), compared with the typical host.
type Outlier struct {
	Host     string  `json:"host"`
	MedianNs float64 `json:"median_ns"`
	// ExcessNs is its median cost over the typical host's.
	ExcessNs float64 `json:"excess_ns"`
	// Cause is the comparison's largest finding that makes this host's
	// spawns cost more, nil when none could be separated.
	Cause *compare.CompareFinding `json:"cause,omitempty"`
	// Comparison is the typical host (A) against this one (B).
	Comparison *compare.Comparison `json:"-"`
}

// Fleet is the comparison of many hosts.
type Fleet struct {
	Command []string `json:"command,omitempty"`
	// Hosts are ranked: the costliest first, hosts without spawns last.
	Hosts []Host `json:"hosts"`
	// MedianNs is the median of the hosts' median spawn costs, MADNs the
	// median absolute deviation from it; a host is an outlier above
	// ThresholdNs (OutlierK and OutlierMinRatio).
	MedianNs    float64 `json:"median_ns"`
	MADNs       float64 `json:"mad_ns"`
	ThresholdNs float64 `json:"threshold_ns"`
	// Typical names the host the outliers are compared with: the one whose
	// median cost is the fleet's median (the lower middle one of an even
	// count).
	Typical  string    `json:"typical,omitempty"`
	Factors  []Factor  `json:"factors"` // those that differ, the largest spread first
	Outliers []Outlier `json:"outliers"`
	// NoSpawns names the hosts whose recordings hold no spawns: they are
	// listed but not ranked.
	NoSpawns []string `json:"no_spawns,omitempty"`
}

// Outliers are hosts whose median spawn cost is above the fleet's median
// by more than OutlierK scaled MADs (1.4826·MAD estimates a normal
// distribution's standard deviation, robustly: the outliers themselves do
// not move it) and by at least OutlierMinRatio of the median, so that a
// fleet of near-identical hosts (MAD ~0) does not call noise an outlier.
const (
	OutlierK        = 3.0
	OutlierMinRatio = 0.2
	madToSigma      = 1.4826
)

// Factor names besides the host facts (compare.Fact*).
const (
	FactorMechanism = "spawn mechanism"
	FactorSpawner   = "spawner"
	FactorParentRSS = "parent RSS"
	FactorEnvSize   = "environment size"
)

// factorFacts are the host facts a fleet groups by, in this order.
var factorFacts = []string{compare.FactKernel, compare.FactLibc, compare.FactTHP, compare.FactCPU,
	compare.FactVirtualization, compare.FactPathEntries}

// Builder collects the hosts of a fleet, one recording at a time.
type Builder struct {
	hosts   []Host
	command []string
	first   string // the first recording's file, for messages
}

// Add reduces a recording to its host's profile. The recording is not
// kept: its events may be closed once Add returns. It fails on a
// recording of another workload than the first one added.
func (b *Builder) Add(rec *recording.Recording, file string) error {
	if len(b.hosts) == 0 {
		b.command, b.first = rec.Command, file
	} else if same, known := compare.SameCommand(b.command, rec.Command); known && !same {
		return fmt.Errorf("%s: another workload: it ran %q, %s ran %q; a fleet compares recordings of one workload",
			file, strings.Join(rec.Command, " "), b.first, strings.Join(b.command, " "))
	}
	side, err := compare.NewSide(rec, file)
	if err != nil {
		return err
	}
	b.hosts = append(b.hosts, Host{File: file, Hostname: rec.Host.Hostname, Side: side})
	return nil
}

// Len is the number of hosts added.
func (b *Builder) Len() int { return len(b.hosts) }

// Fleet ranks and groups the hosts added, and explains the outliers.
func (b *Builder) Fleet() *Fleet {
	f := &Fleet{Command: b.command, Hosts: b.hosts, Outliers: []Outlier{}, Factors: []Factor{}}
	b.hosts = nil
	nameHosts(f.Hosts)
	for i := range f.Hosts {
		h := &f.Hosts[i]
		s := &h.Side
		s.Name = h.Name
		h.Spawns, h.MeanNs = s.Spawns, s.MeanNs
		h.MedianNs, h.P90Ns = float64(s.Cost.P50Ns), float64(s.Cost.P90Ns)
		h.Factors = factorsOf(s)
		if h.Spawns == 0 {
			f.NoSpawns = append(f.NoSpawns, h.Name)
		}
	}
	slices.SortStableFunc(f.Hosts, func(x, y Host) int {
		if (x.Spawns == 0) != (y.Spawns == 0) {
			if x.Spawns == 0 {
				return 1
			}
			return -1
		}
		if c := cmp.Compare(y.MedianNs, x.MedianNs); c != 0 {
			return c
		}
		if c := cmp.Compare(y.P90Ns, x.P90Ns); c != 0 {
			return c
		}
		return cmp.Compare(x.Name, y.Name)
	})
	var ranked []*Host
	for i := range f.Hosts {
		if f.Hosts[i].Spawns > 0 {
			f.Hosts[i].Rank = i + 1
			ranked = append(ranked, &f.Hosts[i])
		}
	}
	if len(ranked) == 0 {
		return f
	}
	medians := make([]float64, len(ranked))
	for i, h := range ranked {
		medians[i] = h.MedianNs
	}
	f.MedianNs = median(medians)
	dev := make([]float64, len(medians))
	for i, m := range medians {
		dev[i] = math.Abs(m - f.MedianNs)
	}
	f.MADNs = median(dev)
	f.ThresholdNs = f.MedianNs + math.Max(OutlierK*madToSigma*f.MADNs, OutlierMinRatio*f.MedianNs)
	// ranked is costliest first: the lower middle is at len/2.
	typical := ranked[len(ranked)/2]
	f.Typical = typical.Name
	f.Factors = groupFactors(ranked)
	for _, h := range ranked {
		if h.MedianNs <= f.ThresholdNs {
			continue
		}
		h.Outlier = true
		c := compare.CompareSides(typical.Side, h.Side)
		o := Outlier{Host: h.Name, MedianNs: h.MedianNs, ExcessNs: h.MedianNs - typical.MedianNs, Comparison: c}
		o.Cause = cause(c, h.Name)
		f.Outliers = append(f.Outliers, o)
	}
	return f
}

// cause is the comparison's largest finding that adds to the subject's
// cost; the first finding about it when none has a cost (a mechanism
// whose copy was not measured).
func cause(c *compare.Comparison, subject string) *compare.CompareFinding {
	var first *compare.CompareFinding
	for i := range c.Findings {
		f := &c.Findings[i]
		if f.Subject != subject || f.ID == compare.IDLostEvents {
			continue
		}
		// CostNs is B's (the subject's) minus A's: positive when it costs.
		if f.CostNs > 0 {
			return f
		}
		if first == nil && f.CostNs == 0 {
			first = f
		}
	}
	return first
}

// nameHosts names each host by its hostname; where hostnames repeat (or
// are missing), by the file's name too.
func nameHosts(hosts []Host) {
	count := map[string]int{}
	for _, h := range hosts {
		count[h.Hostname]++
	}
	used := map[string]int{}
	for i := range hosts {
		h := &hosts[i]
		base := fileBase(h.File)
		switch {
		case h.Hostname == "":
			h.Name = base
		case count[h.Hostname] > 1:
			h.Name = h.Hostname + " (" + base + ")"
		default:
			h.Name = h.Hostname
		}
		if n := used[h.Name]; n > 0 {
			used[h.Name]++
			h.Name = fmt.Sprintf("%s #%d", h.Name, n+1)
		} else {
			used[h.Name] = 1
		}
	}
}

// fileBase is "node7" for dir/node7.rec.gz.
func fileBase(p string) string {
	b := strings.TrimSuffix(filepath.Base(p), ".gz")
	return strings.TrimSuffix(b, filepath.Ext(b))
}

// factorsOf is a host's value of each factor: the host facts of
// factorFacts as compare shows them, and its spawns' mechanism, spawner,
// parent size and environment size, the sizes in power-of-two bands
// (two hosts' 1.00 and 1.02 GiB parents are alike).
func factorsOf(s *compare.Side) map[string]string {
	out := map[string]string{}
	for _, f := range s.Facts() {
		if slices.Contains(factorFacts, f.Name) {
			out[f.Name] = f.Value
		}
	}
	if s.Spawns == 0 {
		return out
	}
	out[FactorMechanism] = string(s.Dominant)
	if len(s.Signatures) > 0 {
		out[FactorSpawner] = s.Signatures[0]
	}
	out[FactorParentRSS] = band(s.ParentRSSBytes)
	if s.ExecSpawns > 0 {
		out[FactorEnvSize] = band(uint64(max(s.EnvBytes, 0)))
	}
	return out
}

// band is the power-of-two range a size is in: "1-2 GiB", "16-32 KiB".
func band(b uint64) string {
	if b == 0 {
		return ""
	}
	lo := uint64(1) << (bits.Len64(b) - 1)
	units := []struct {
		div  uint64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}, {1, "B"}}
	for _, u := range units {
		if lo >= u.div {
			return fmt.Sprintf("%d-%d %s", lo/u.div, 2*lo/u.div, u.name)
		}
	}
	return ""
}

// factorOrder is the order factors are listed in when their spreads tie.
var factorOrder = append(append([]string{}, factorFacts...), FactorMechanism, FactorSpawner, FactorParentRSS, FactorEnvSize)

// groupFactors groups the ranked hosts by each factor, keeps the factors
// with more than one value among them, and orders those by spread.
func groupFactors(ranked []*Host) []Factor {
	var out []Factor
	for _, name := range factorOrder {
		byValue := map[string]*Group{}
		costs := map[string][]float64{}
		var values []string
		for _, h := range ranked {
			v := h.Factors[name]
			if v == "" {
				v = "unknown"
			}
			g := byValue[v]
			if g == nil {
				g = &Group{Value: v}
				byValue[v] = g
				values = append(values, v)
			}
			g.Hosts = append(g.Hosts, h.Name)
			costs[v] = append(costs[v], h.MedianNs)
		}
		if len(values) < 2 {
			continue
		}
		fc := Factor{Name: name}
		for _, v := range values {
			g := byValue[v]
			g.MedianNs = median(costs[v])
			fc.Groups = append(fc.Groups, *g)
		}
		slices.SortStableFunc(fc.Groups, func(x, y Group) int {
			if c := cmp.Compare(x.MedianNs, y.MedianNs); c != 0 {
				return c
			}
			return cmp.Compare(x.Value, y.Value)
		})
		fc.SpreadNs = fc.Groups[len(fc.Groups)-1].MedianNs - fc.Groups[0].MedianNs
		out = append(out, fc)
	}
	slices.SortStableFunc(out, func(x, y Factor) int { return cmp.Compare(y.SpreadNs, x.SpreadNs) })
	return out
}

// median is the middle value (the mean of the two middle ones of an even
// count); v is sorted in place.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}
