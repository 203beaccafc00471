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
		"event":        unsafe.Sizeof(spawntraceEvent{}),
		"syscall_stat": unsafe.Sizeof(spawntraceSyscallStat{}),
		"clone3_args":  unsafe.Sizeof(spawntraceClone3Args{}),
		"sample":       unsafe.Sizeof(spawntraceSample{}),
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
	// on_sample is attached to perf events, not tracepoints (sampling.go).
	if spec.Programs["on_sample"] == nil || len(spec.Programs) != countPoints()+1 {
		t.Errorf("object has %d programs, probe table attaches %d plus on_sample", len(spec.Programs), countPoints())
	}
}

func countPoints() int {
	n := 0
	for _, g := range probeGroups {
		n += len(g.points)
	}
	return n
}
