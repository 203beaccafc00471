package summary

import "github.com/spawntrace/spawntrace/analyze/spawn"

// Summary is the spawn section of a report. Its rows (one per spawn) are
// read with EachSpawn; everything else is computed as they were made.
type Summary struct {
	ByMechanism map[spawn.Mechanism]int `json:"by_mechanism"`
	Threads     int                     `json:"threads"`
	ExecOK      int                     `json:"exec_ok"`     // successful execs, the workload's first included
	ExecFailed  int                     `json:"exec_failed"` // failed execve/execveat calls
	Processes   int                     `json:"processes"`   // distinct processes seen, the workload included
	WallNs      uint64                  `json:"wall_ns"`     // tracing start to end

	Stats    []MechanismStats `json:"stats"`              // per mechanism, in spawn.Mechanisms order
	Fit      *Fit             `json:"fit,omitempty"`      // copy time against parent RSS, fork-like spawns
	Findings []Finding        `json:"findings,omitempty"` // ranked by what their advice saves
	Notes    []Finding        `json:"notes,omitempty"`    // causes seen that save too little to rank: a line each
	Classes  []Class          `json:"classes,omitempty"`  // like spawns grouped, in order of first appearance

	rows *spawnRows // the finished rows, in memory or on disk
}

// Dist summarizes one measurement over many spawns.
type Dist struct {
	N     int    `json:"n"`
	SumNs uint64 `json:"sum_ns"`
	P50Ns uint64 `json:"p50_ns"`
	P90Ns uint64 `json:"p90_ns"`
	P99Ns uint64 `json:"p99_ns"`
	MaxNs uint64 `json:"max_ns"`
	// Approx: the percentiles come from a histogram, within DistRelErr of
	// the exact ones (more than exactMax values); N, SumNs and MaxNs are
	// exact.
	Approx bool `json:"approx,omitempty"`
}

// DistRelErr is the largest relative error of an approximate Dist's
// percentiles; DistExactMax is the most values a Dist is exact for, and
// DistExactPool the most all of a summary's hold exactly between them.
const (
	DistRelErr    = histRelErr
	DistExactMax  = exactMax
	DistExactPool = exactPoolValues
)

// MeanNs is the average, 0 for no samples.
func (d Dist) MeanNs() uint64 {
	if d.N == 0 {
		return 0
	}
	return d.SumNs / uint64(d.N)
}

// MechanismStats is the cost of one spawn mechanism.
type MechanismStats struct {
	Mechanism   spawn.Mechanism `json:"mechanism"`
	Count       int             `json:"count"`
	Clone       Dist            `json:"clone"`
	Copy        Dist            `json:"copy"` // only spawns whose copy was measured
	SpawnToExec Dist            `json:"spawn_to_exec"`
	Blocked     Dist            `json:"blocked"`
	Teardown    Dist            `json:"teardown"`
}
