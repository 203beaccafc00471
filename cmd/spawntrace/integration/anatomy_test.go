//go:build integration && linux

package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spawntrace/spawntrace/analyze/spawn"
	"github.com/spawntrace/spawntrace/analyze/summary"
)

// TestLockStall: a parent whose other thread keeps taking the mmap lock
// forks from 256 MiB; the copy holds that lock for writing, so the other
// thread stalls, and the stall is charged to the forks that caused it.
func TestLockStall(t *testing.T) {
	e := setupEnv(t)
	rec := filepath.Join(t.TempDir(), "busy.json")
	r := e.spawntrace(t, runOpts{}, "-w", rec, "--", e.Workload("fork_busy"), "8", "256")
	if r.status != 0 {
		t.Fatalf("%s", r)
	}
	s := summarized(t, loadRecording(t, rec))
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

// TestLockStallSingleThreaded: a single-threaded parent of 1 GiB forks;
// nothing of its own can wait for the lock its copy holds, so no fork is
// charged a stall and there is no lock-stall finding, whoever else takes
// that lock meanwhile: here the test itself, reading the parent's
// /proc/PID/smaps_rollup (a walk of its page tables under that lock) over
// and over, as spawntrace itself once did at the first fork.
func TestLockStallSingleThreaded(t *testing.T) {
	e := setupEnv(t)
	rec := filepath.Join(t.TempDir(), "single.json")
	cmd := exec.Command(e.bin, "-w", rec, "--", e.Workload("fork_exec"), "12", "1024")
	reads := 0
	r, err := runDuring(cmd, runOpts{}, func() error {
		pid := descendant(cmd.Process.Pid, "fork_exec", 10*time.Second)
		if pid == 0 {
			return nil
		}
		smaps := "/proc/" + strconv.Itoa(pid) + "/smaps_rollup"
		for {
			if _, err := os.ReadFile(smaps); err != nil {
				return nil // it exited
			}
			reads++
		}
	})
	if err != nil || r.status != 0 {
		t.Fatalf("%v: %s", err, r)
	}
	if reads == 0 {
		t.Fatalf("never read the workload's smaps_rollup")
	}
	t.Logf("%d reads of smaps_rollup while it forked", reads)
	s := summarized(t, loadRecording(t, rec))
	forks := 0
	for _, sp := range summaryRows(t, &s) {
		if sp.Mechanism != spawn.MechFork {
			continue
		}
		forks++
		if sp.LockStallNs > 0 {
			t.Errorf("fork %d -> %d of a single-threaded parent charged %.3f ms of stall", sp.ParentPid, sp.ChildPid, float64(sp.LockStallNs)/1e6)
		}
	}
	if forks != 12 {
		t.Fatalf("%d fork-like spawns, want 12", forks)
	}
	for _, f := range s.Findings {
		if f.ID == summary.FindLockStall {
			t.Errorf("lock-stall finding for a single-threaded parent: %+v", f.LockStall)
		}
	}
	if strings.Contains(string(r.stderr), "lock-stall") {
		t.Errorf("the summary names a lock stall:\n%s", r.stderr)
	}
}

// TestForkSavingBounded: every fork's copy and teardown (both on CPU) fit
// in the spawn's own time, and the fork-copy finding's saving in the run
// and in those spawns' time, with its basis.
func TestForkSavingBounded(t *testing.T) {
	e := setupEnv(t)
	rec := filepath.Join(t.TempDir(), "fork.json")
	r := e.spawntrace(t, runOpts{}, "-w", rec, "--", e.Workload("fork_exec"), "20", "512")
	if r.status != 0 {
		t.Fatalf("%s", r)
	}
	s := summarized(t, loadRecording(t, rec))
	var own uint64
	for _, sp := range summaryRows(t, &s) {
		if sp.Mechanism != spawn.MechFork || !sp.ExecOK {
			continue
		}
		own += sp.SpawnToExecNs
		if sp.CopyNs+sp.TeardownNs > sp.SpawnToExecNs {
			t.Errorf("fork -> %d: copy %.3f ms + teardown %.3f ms > %.3f ms from spawn to exec", sp.ChildPid,
				float64(sp.CopyNs)/1e6, float64(sp.TeardownNs)/1e6, float64(sp.SpawnToExecNs)/1e6)
		}
		if sp.TeardownNs == 0 {
			t.Errorf("fork -> %d: no teardown measured", sp.ChildPid)
		}
	}
	var fc *summary.Finding
	for i := range s.Findings {
		if s.Findings[i].ID == summary.FindForkCopy {
			fc = &s.Findings[i]
		}
	}
	if fc == nil {
		t.Fatalf("no fork-copy finding for 20 forks from 512 MiB: %+v", s.Findings)
	}
	if fc.SavingNs > s.WallNs || fc.SavingNs > own || fc.Basis != summary.BasisCopyTeardown {
		t.Errorf("fork-copy saves %.1f ms (basis %q) in a %.1f ms run whose forks took %.1f ms to exec", float64(fc.SavingNs)/1e6,
			fc.Basis, float64(s.WallNs)/1e6, float64(own)/1e6)
	}
	if !strings.Contains(string(r.stderr), "estimate: the copy and teardown CPU time") {
		t.Errorf("the summary does not say how the saving was estimated:\n%s", r.stderr)
	}
}

// TestPosixSpawnHealthy: a posix_spawnp loop by name is the fast path:
// its vfork wait is no finding (a note), its PATH search is said with the
// program it found, and the spawner is named although there is one class.
func TestPosixSpawnHealthy(t *testing.T) {
	e := setupEnv(t)
	rec := filepath.Join(t.TempDir(), "pspawn.json")
	r := e.spawntrace(t, runOpts{}, "-w", rec, "--", e.Workload("posix_spawnp"), "200", "true")
	if r.status != 0 {
		t.Fatalf("%s", r)
	}
	s := summarized(t, loadRecording(t, rec))
	for _, f := range s.Findings {
		if f.ID == summary.FindVforkBlocking {
			t.Errorf("vfork-blocking finding on a posix_spawnp loop: %+v", f.VforkBlocked)
		}
	}
	var ps *summary.PathSearchFacts
	for _, list := range [][]summary.Finding{s.Findings, s.Notes} {
		for _, f := range list {
			if f.ID == summary.FindPathSearch {
				ps = f.PathSearch
			}
		}
	}
	truePath, err := exec.LookPath("true")
	if err != nil {
		t.Fatal(err)
	}
	if s.ExecFailed > 0 && (ps == nil || ps.Example != truePath) {
		t.Errorf("%d failed execs; path search %+v, want its example %s", s.ExecFailed, ps, truePath)
	}
	for _, want := range []string{"Spawned by: glibc posix_spawn (vfork) x200", "PATH"} {
		if !strings.Contains(string(r.stderr), want) {
			t.Errorf("the summary lacks %q:\n%s", want, r.stderr)
		}
	}
}
