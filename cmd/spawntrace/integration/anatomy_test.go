//go:build integration && linux

package integration

import (
	"path/filepath"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/spawn"
)

// TestLockStall: a parent whose other thread keeps taking the mmap lock
// forks from 256 MiB; the copy holds that lock for writing, so the other
// thread stalls, and the stall is charged to the forks that caused it.
func TestLockStall(t *testing.T) {
	e := itSetup(t)
	rec := filepath.Join(t.TempDir(), "busy.json")
	r := e.itSpawntrace(t, itOpts{}, "-w", rec, "--", e.Workload("fork_busy"), "8", "256")
	if r.status != 0 {
		t.Fatalf("%s", r)
	}
	s := summarized(t, trLoad(t, rec))
	var forks, stalled int
	var copied, stall uint64
	for _, sp := range summaryRows(t, &s) {
		if sp.Mechanism != spawn.MechFork {
			continue
		}
		forks++
		copied += sp.CopyNs
		stall += sp.LockStallNs
		if sp.LockStallNs > 0 {
			stalled++
		}
	}
	if forks != 8 {
		t.Fatalf("%d fork-like spawns, want 8", forks)
	}
	if stalled == 0 || copied == 0 {
		t.Errorf("no fork stalled the busy thread (copy %d ns in all): the lock-stall probe sees nothing", copied)
	}
	t.Logf("%d of %d forks stalled the other thread: %.1f ms of stall against %.1f ms of copy",
		stalled, forks, float64(stall)/1e6, float64(copied)/1e6)
	found := false
	for _, f := range s.Findings {
		found = found || f.ID == "lock-stall"
	}
	if !found && stall >= 1e6 && float64(stall) >= 0.01*float64(s.WallNs) {
		t.Errorf("%.1f ms of stall, %.1f%% of the run, but no lock-stall finding: %+v",
			float64(stall)/1e6, 100*float64(stall)/float64(s.WallNs), s.Findings)
	}
}
