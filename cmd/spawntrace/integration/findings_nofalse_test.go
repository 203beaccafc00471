//go:build integration && linux

package integration

// No-false-positive tests of the findings (issue 11): workloads built so
// that a finding's cause is absent, on which it must not be named.

import "testing"

// TestFindingNoLockStallSingleThread: a parent with one thread forking
// from 1 GiB has no other thread to stall, whatever else reads its memory
// map meanwhile (spawntrace's own read of /proc/PID/smaps_rollup at its
// first fork). Three runs: a stall wrongly charged at a parent's first
// fork need not show in every run.
func TestFindingNoLockStallSingleThread(t *testing.T) {
	e := setupEnv(t)
	wl := e.Workload("spawn_loop")
	for i := 0; i < 3; i++ {
		s := tracedSummary(t, e, smallEnv(), wl, "fork", "3", "1024", "1")
		if s.Threads != 0 {
			t.Fatalf("run %d: the workload made %d threads, want none", i+1, s.Threads)
		}
		if findingOf(&s, "fork-copy") == nil {
			t.Errorf("run %d: forks from 1 GiB without a fork-copy finding (is the workload what it should be?):%s", i+1, findingList(&s))
		}
		if f := findingOf(&s, "lock-stall"); f != nil {
			t.Errorf("run %d: lock-stall on a parent with no other thread:%s", i+1, findingList(&s))
		}
	}
}

// TestFindingNoVforkBlockingForkOnly: a workload that only forks has no
// vfork-like spawn to block on.
func TestFindingNoVforkBlockingForkOnly(t *testing.T) {
	e := setupEnv(t)
	s := tracedSummary(t, e, smallEnv(), e.Workload("spawn_loop"), "fork", "200", "0", "1")
	if n := s.ByMechanism["vfork"]; n != 0 || s.ByMechanism["fork"] != 200 {
		t.Fatalf("spawns by mechanism %v, want 200 fork-like and nothing else", s.ByMechanism)
	}
	if f := findingOf(&s, "vfork-blocking"); f != nil {
		t.Errorf("vfork-blocking on a fork-only workload:%s", findingList(&s))
	}
}

// TestFindingNoPathSearchAbsolute: spawns by absolute path under the same
// long PATH that makes posix_spawnp fail 400 times a spawn: no exec fails,
// so there is no PATH search to name.
func TestFindingNoPathSearchAbsolute(t *testing.T) {
	e := setupEnv(t)
	env := []string{"PATH=" + longPath(t, 400), "HOME=/root", "LANG=C"}
	for _, mode := range []string{"spawn", "fork"} {
		s := tracedSummary(t, e, env, e.Workload("spawn_loop"), mode, "150", "0", "1", "/usr/bin/true")
		if s.ExecFailed != 0 {
			t.Fatalf("%s by absolute path: %d failed execs, want 0", mode, s.ExecFailed)
		}
		if f := findingOf(&s, "path-search"); f != nil {
			t.Errorf("%s by absolute path: path-search named:%s", mode, findingList(&s))
		}
	}
}

// TestFindingNoLargeEnvSmall: a 20-variable environment is not large.
func TestFindingNoLargeEnvSmall(t *testing.T) {
	e := setupEnv(t)
	s := tracedSummary(t, e, smallEnv(envVars(20)...), e.Workload("spawn_loop"), "spawn", "100", "0", "1")
	if f := findingOf(&s, "large-env"); f != nil {
		t.Errorf("large-env named for 23 variables:%s", findingList(&s))
	}
}

// TestFindingNoRustFallbackC: a C program that opens a pipe2(O_CLOEXEC)
// for its child's exec error and then forks, as Rust's std 1.63 does, is
// not a Rust program: rust-fallback is not named, its spawns are glibc
// forks, and their copies from 256 MiB are fork-copy's. The Rust program
// itself is named by TestFindingRustFallbackSaving.
func TestFindingNoRustFallbackC(t *testing.T) {
	e := setupEnv(t)
	s := tracedSummary(t, e, smallEnv(), e.Workload("spawn_loop"), "pipe_fork", "20", "256", "1")
	if n := s.ByMechanism["fork"]; n != 20 {
		t.Fatalf("spawns by mechanism %v, want 20 fork-like", s.ByMechanism)
	}
	if f := findingOf(&s, "rust-fallback"); f != nil {
		t.Errorf("a C program doing pipe2(O_CLOEXEC) then fork is named rust-fallback:%s", findingList(&s))
	}
	f := mustFinding(t, &s, "fork-copy")
	if sigs := f.ForkCopy.Signatures; len(sigs) != 1 || sigs[0].Name != "glibc fork()" || sigs[0].Count != 20 {
		t.Errorf("fork-copy's spawners %+v, want glibc fork() x20", sigs)
	}
}
