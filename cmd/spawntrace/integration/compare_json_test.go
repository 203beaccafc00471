//go:build integration && linux

package integration

import (
	"encoding/json"
	"testing"
)

// comparison is what the integration tests read of `compare --format json`.
type comparison struct {
	A, B struct {
		Spawns         int     `json:"spawns"`
		MeanNs         float64 `json:"mean_ns"`
		FailedPerSpawn float64 `json:"failed_execs_per_spawn"`
		EnvCount       int     `json:"env_count"`
		Dominant       string  `json:"dominant"`
		Patterns       []struct {
			Text   string `json:"text"`
			Spawns int    `json:"spawns"`
		} `json:"patterns"`
	}
	Host []struct {
		Fact    string `json:"fact"`
		A       string `json:"a"`
		B       string `json:"b"`
		Differs bool   `json:"differs"`
	} `json:"host"`
	Breakdown []struct {
		Part  string  `json:"part"`
		ANs   float64 `json:"a_ns"`
		BNs   float64 `json:"b_ns"`
		Share float64 `json:"share_pct"`
	} `json:"breakdown"`
	DiffNs   float64               `json:"diff_ns"`
	Findings []findingOfComparison `json:"findings"`
	Notes    []noteJSON            `json:"notes"`
}

// findingOfComparison is one of compare's findings.
type findingOfComparison struct {
	ID       string  `json:"id"`
	Subject  string  `json:"subject"`
	Title    string  `json:"title"`
	Evidence string  `json:"evidence"`
	CostNs   float64 `json:"cost_ns_per_spawn"`
	Share    float64 `json:"share_pct"`
}

// noteJSON is one of compare's notes: what weakens the comparison.
type noteJSON struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// compareJSON runs `spawntrace compare --names NAMES --format json A B`.
func compareJSON(t *testing.T, e *testEnv, names, a, b string) comparison {
	t.Helper()
	r := runCmd(t, runOpts{}, e.bin, "compare", "--names", names, "--format", "json", a, b)
	if r.status != 0 {
		t.Fatalf("compare: %s", r)
	}
	var c comparison
	if err := json.Unmarshal(r.stdout, &c); err != nil {
		t.Fatalf("compare --format json: %v\n%s", err, r.stdout)
	}
	return c
}

// hostFacts is each host fact's A and B, by fact.
func (c comparison) hostFacts() map[string][2]string {
	host := map[string][2]string{}
	for _, h := range c.Host {
		host[h.Fact] = [2]string{h.A, h.B}
	}
	return host
}
