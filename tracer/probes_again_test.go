package tracer

import (
	"slices"
	"strings"
	"testing"
)

func TestPreemptibleTracepoints(t *testing.T) {
	for release, want := range map[string]bool{
		"5.10.0-32-cloud-amd64":     false,
		"6.1.0-50-cloud-amd64":      false,
		"6.12.95+deb12-cloud-amd64": false,
		"6.18.3":                    false,
		"6.19.0-rc1":                true,
		"7.3.4+deb13-cloud-amd64":   true,
		"(unknown release)":         true,
	} {
		if got := preemptibleTracepoints(release); got != want {
			t.Errorf("preemptibleTracepoints(%q) = %v, want %v", release, got, want)
		}
	}
}

// TestSecondProgramsPaired: each second program is named after its first,
// attached right after it to the same tracepoint, and says what a skipped
// run of either leaves out, as every other program does: notMadeUp pairs
// them by name.
func TestSecondProgramsPaired(t *testing.T) {
	for _, g := range probeGroups {
		for i, p := range g.points {
			if p.loses == "" {
				t.Errorf("%s: program %s says nothing of what its skipped runs leave out", g.name, p.prog)
			}
			if !p.again {
				continue
			}
			if i == 0 || g.points[i-1].prog+againSuffix != p.prog || g.points[i-1].name != p.name || g.points[i-1].loses != p.loses {
				t.Errorf("%s: second program %s does not follow its first on %s", g.name, p.prog, p.name)
			}
		}
		for _, kp := range g.kprobes {
			if kp.loses == "" {
				t.Errorf("%s: kprobe program %s says nothing of what its skipped runs leave out", g.name, kp.prog)
			}
		}
	}
	counted := make(map[spawntraceSeenKind]string)
	for _, g := range probeGroups {
		for _, p := range g.points {
			if !p.again {
				continue
			}
			if other, ok := counted[p.madeUp]; ok {
				t.Errorf("%s and %s count the runs they made up for in one place", other, p.prog)
			}
			counted[p.madeUp] = p.prog
		}
	}
	loses := programLoses()
	for prog, want := range map[string]Skip{
		"on_lock_released_again": {Prog: "on_lock_released_again", Point: "mmap_lock:mmap_lock_released", Measure: SkipCopies},
		"kp_teardown_end":        {Prog: "kp_teardown_end", Point: "kretprobe:exit_mmap", Measure: SkipCopies},
		"on_exec":                {Prog: "on_exec", Point: "sched:sched_process_exec", Measure: SkipExecs},
		// --spawns-only's perf-event programs: a skip there loses a call.
		"spawn_call_exit": {Prog: "spawn_call_exit", Measure: SkipSyscalls,
			Point: "syscalls:sys_exit_{clone,clone3,fork,vfork,execve,execveat,socketpair,pipe2}"},
	} {
		if got := loses[prog]; got != want {
			t.Errorf("programLoses()[%s] = %+v, want %+v", prog, got, want)
		}
	}
}

func TestNotMadeUp(t *testing.T) {
	skip := func(prog string, runs uint64) Skip {
		s := programLoses()[prog]
		s.Runs = runs
		return s
	}
	skips := []Skip{
		skip("on_exec", 4), skip("on_exec_again", 1), // made up for 3: 1 lost
		skip("on_exit", 3),                // its second made up for all 3
		skip("on_fork", 1),                // its second counted 2 (one moved task): none lost
		skip("on_lock_acquired_again", 2), // the first ran: nothing lost
		skip("on_lock_released", 2),       // no second loaded
		skip("spawn_call_exit", 1),        // --spawns-only's: no second possible
		{Prog: "resolve_pids", Runs: 5},   // feeds no measurement
	}
	madeUp := map[string]uint64{"on_exec_again": 3, "on_exit_again": 3, "on_fork_again": 2, "on_lock_acquired_again": 0}
	got := notMadeUp(skips, func(again string) (uint64, bool) {
		n, ok := madeUp[again]
		return n, ok
	})
	want := []Skip{skip("on_exec", 1), skip("on_lock_released", 2), skip("spawn_call_exit", 1)}
	if !slices.Equal(got, want) {
		t.Errorf("notMadeUp = %+v\nwant %+v", got, want)
	}
}

// TestKeepSecondPrograms: every second program where the kernel preempts
// tracepoint programs, the mmap_lock ones alone elsewhere (NMIs nest in
// them); again_loaded says so.
func TestKeepSecondPrograms(t *testing.T) {
	for _, c := range []struct {
		preemptible bool
		want        []string
	}{
		{false, []string{"on_lock_acquired_again", "on_lock_released_again", "on_lock_start_again"}},
		{true, []string{"on_exec_again", "on_exec_again_noloop", "on_exit_again", "on_fork_again",
			"on_lock_acquired_again", "on_lock_released_again", "on_lock_start_again", "raw_enter_again",
			"raw_exit_again", "raw_exit_again_noloop"}},
	} {
		spec, err := loadSpawntrace()
		if err != nil {
			t.Fatal(err)
		}
		if err := keepSecondPrograms(spec, c.preemptible); err != nil {
			t.Fatal(err)
		}
		pickVariants(spec, helperFeatures[0].without, true)
		var got []string
		for name := range spec.Programs {
			if strings.Contains(name, againSuffix) {
				got = append(got, name)
			}
		}
		slices.Sort(got)
		// The variants without bpf_loop go with pickVariants.
		want := slices.DeleteFunc(slices.Clone(c.want), func(s string) bool { return strings.HasSuffix(s, "_noloop") })
		if !slices.Equal(got, want) {
			t.Errorf("preemptible %v: kept %v, want %v", c.preemptible, got, want)
		}
		var loaded uint32
		if err := spec.Variables["again_loaded"].Get(&loaded); err != nil || loaded != 1 {
			t.Errorf("preemptible %v: again_loaded %d (%v)", c.preemptible, loaded, err)
		}
	}
}

// The 32-bit path is attached while the tree runs: its exits must be there
// before its entries, each main program before its second one.
func TestCompatPathAttachesExitsFirst(t *testing.T) {
	var raw probeGroup
	for _, g := range probeGroups {
		if g.name == SyscallsProbe {
			raw = g
		}
	}
	var got []string
	for _, p := range exitsFirst(raw).points {
		got = append(got, p.prog)
	}
	want := []string{"raw_exit", "raw_exit_again", "raw_enter", "raw_enter_again"}
	if !slices.Equal(got, want) {
		t.Errorf("32-bit path attach order %v, want %v", got, want)
	}
}

// TestSpawnsOnlyRawPairWherePreemptible: where the kernel preempts tasks
// inside BPF programs, --spawns-only opens no spawn call event and keeps
// the raw pair, saying why (7.3.4's matrix lost execves to skipped
// perf-event programs); elsewhere from 5.15 it takes the spawn calls'.
func TestSpawnsOnlyRawPairWherePreemptible(t *testing.T) {
	for release, usable := range map[string]bool{"5.10.0": false, "5.15.0": true, "6.18.0": true, "6.19.2": false, "7.3.4": false} {
		if got := spawnCallsUsable(release); got != usable {
			t.Errorf("spawnCallsUsable(%s) = %v, want %v", release, got, usable)
		}
	}
	kernelBTF, btfErr := kernelTypes.Kernel()
	if c, why := spawnTracepoints(nil, true, kernelBTF, btfErr); c != nil || why != skippedPerfPrograms {
		t.Errorf("spawnTracepoints where preemptible = %v, %q; want nil, %q", c, why, skippedPerfPrograms)
	}
}
