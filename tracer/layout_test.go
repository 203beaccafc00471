package tracer

import (
	"testing"
	"unsafe"

	"github.com/cilium/ebpf/btf"
)

// The Go mirror of every struct shared with C must have the size the
// compiled object gives it, or reads of the ring buffer go astray.
func TestSharedStructSizes(t *testing.T) {
	spec, err := loadSpawntrace()
	if err != nil {
		t.Fatal(err)
	}
	for name, goSize := range map[string]uintptr{
		"event_hdr":           unsafe.Sizeof(spawntraceEventHdr{}),
		"syscall_event":       unsafe.Sizeof(spawntraceSyscallEvent{}),
		"syscall_exec_event":  unsafe.Sizeof(spawntraceSyscallExecEvent{}),
		"syscall_spawn_event": unsafe.Sizeof(spawntraceSyscallSpawnEvent{}),
		"fork_event":          unsafe.Sizeof(spawntraceForkEvent{}),
		"exec_event":          unsafe.Sizeof(spawntraceExecEvent{}),
		"exit_event":          unsafe.Sizeof(spawntraceExitEvent{}),
		"exec_strings":        unsafe.Sizeof(spawntraceExecStrings{}),
		"syscall_stat":        unsafe.Sizeof(spawntraceSyscallStat{}),
		"clone3_args":         unsafe.Sizeof(spawntraceClone3Args{}),
		"sample":              unsafe.Sizeof(spawntraceSample{}),
	} {
		var st *btf.Struct
		if err := spec.Types.TypeByName(name, &st); err != nil {
			t.Fatalf("struct %s not in the object's BTF: %v", name, err)
		}
		if uintptr(st.Size) != goSize {
			t.Errorf("struct %s: C size %d, Go size %d", name, st.Size, goSize)
		}
	}
}

func TestProbeNamesUnique(t *testing.T) {
	seen := map[string]bool{}
	spec, err := loadSpawntrace()
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range probeGroups {
		if seen[g.name] {
			t.Errorf("probe %s listed twice", g.name)
		}
		seen[g.name] = true
		for _, p := range g.points {
			if spec.Programs[p.prog] == nil {
				t.Errorf("probe %s names program %s, which the object lacks", g.name, p.prog)
			}
		}
	}
	// on_sample is attached to perf events, not tracepoints (sampling.go);
	// resolve_pids is an iterator run from user space (pidns.go).
	if spec.Programs["on_sample"] == nil || spec.Programs["resolve_pids"] == nil || len(spec.Programs) != countPoints()+2 {
		t.Errorf("object has %d programs, probe table attaches %d plus on_sample and resolve_pids", len(spec.Programs), countPoints())
	}
}

func countPoints() int {
	n := 0
	for _, g := range probeGroups {
		n += len(g.points)
	}
	return n
}

// Records are sized by kind: the ones a mass exit or fork storm sends by
// the thousand stay small, so that the default ring buffer holds 25 000
// exits at once (they were 2088 bytes each, strings and a stack included,
// whatever their kind).
func TestRecordSizes(t *testing.T) {
	for _, c := range []struct {
		name   string
		size   uintptr
		atMost uintptr
	}{
		{"fork_event", unsafe.Sizeof(spawntraceForkEvent{}), 64},
		{"exit_event", unsafe.Sizeof(spawntraceExitEvent{}), 64},
		{"syscall_event", unsafe.Sizeof(spawntraceSyscallEvent{}), 320},
	} {
		if c.size > c.atMost {
			t.Errorf("struct %s is %d bytes, want at most %d", c.name, c.size, c.atMost)
		}
	}
	// 16 MiB of ring (DefaultRingBytes) must hold 25 000 exits and their
	// 8-byte record headers with room to spare.
	if n := 25000 * (unsafe.Sizeof(spawntraceExitEvent{}) + 8); n > DefaultRingBytes/8 {
		t.Errorf("25 000 exit records take %d bytes, more than an eighth of the default ring", n)
	}
	t.Logf("record bytes (+8 of ring header each): fork %d, exit %d, exec %d, syscall %d, failed exec %d, spawn %d, sample %d",
		unsafe.Sizeof(spawntraceForkEvent{}), unsafe.Sizeof(spawntraceExitEvent{}), unsafe.Sizeof(spawntraceExecEvent{}),
		unsafe.Sizeof(spawntraceSyscallEvent{}), unsafe.Sizeof(spawntraceSyscallExecEvent{}),
		unsafe.Sizeof(spawntraceSyscallSpawnEvent{}), unsafe.Sizeof(spawntraceSample{}))
}

// SyscallStats splits syscall_stats' keys into the two tables at
// maxSyscalls: the map must hold both halves.
func TestSyscallStatsHalves(t *testing.T) {
	spec, err := loadSpawntrace()
	if err != nil {
		t.Fatal(err)
	}
	if n := spec.Maps["syscall_stats"].MaxEntries; n != 2*maxSyscalls {
		t.Errorf("syscall_stats has %d entries, want %d (x86_64's %d numbers, then i386's)", n, 2*maxSyscalls, maxSyscalls)
	}
}
