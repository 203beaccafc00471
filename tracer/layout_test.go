package tracer

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"

	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// sharedStructs are the structs bpf2go generates for Go (gen.go's -type),
// with their Go sizes.
var sharedStructs = map[string]uintptr{
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
	"stack_copy":          unsafe.Sizeof(spawntraceStackCopy{}),
}

// sharedEnums pins every value of the enums shared with C (gen.go's -type):
// the Go constants are generated from the object, so this is where a
// renumbering shows. Kinds are read back from recordings' spills and
// tracer.Kind is event_kind's; flags and lost kinds only go from the
// kernel to tracer, but a value changed on one side only is still a bug.
var sharedEnums = map[string]map[string]uint64{
	"event_kind": {"EV_SYSCALL": 1, "EV_FORK": 2, "EV_EXEC": 3, "EV_EXIT": 4, "EV_SAMPLE": 5,
		"EV_SYSCALL_EXEC": 6, "EV_SYSCALL_SPAWN": 7, "EV_STACK_COPY": 8},
	"event_flag": {"EVF_THREAD": 1, "EVF_ARGV_TRUNCATED": 2, "EVF_GROUP_DEAD": 4, "EVF_NAME_UNREAD": 8,
		"EVF_ARGV_UNREAD": 16, "EVF_PARENT_MM": 32, "EVF_SUPERSEDED": 64, "EVF_USTACK_IPS": 128, "EVF_COMPAT": 256},
	"sample_flag":     {"SAMPLEF_USTACK_IPS": 1},
	"stack_copy_flag": {"STACKF_AT_CAP": 1, "STACKF_UNREADABLE": 2, "STACKF_CODE32": 4},
	"lost_kind":       {"LOST_RINGBUF": 0, "LOST_INFLIGHT": 1, "LOST_SPAWN_SLOT": 2, "LOST_TRACKED": 3, "LOST_COMPAT": 4, "LOST_KINDS": 5},
	"seen_kind": {"SEEN_ENTER": 0, "SEEN_EXIT": 1, "SEEN_FORK": 2, "SEEN_EXEC": 3, "SEEN_PROCESS_EXIT": 4,
		"SEEN_LOCK_START": 5, "SEEN_LOCK_ACQUIRED": 6, "SEEN_LOCK_RELEASED": 7, "SEEN_KINDS": 8},
	"socketcall_pseudo": {"SOCKETCALL_PSEUDO": 490, "SOCKETCALL_PSEUDO_ACCEPT": 495, "SOCKETCALL_PSEUDO_SEND": 499,
		"SOCKETCALL_PSEUDO_RECV": 500},
}

// Every type gen.go asks bpf2go for is pinned here, as a size or values.
func TestSharedTypesPinned(t *testing.T) {
	src, err := os.ReadFile("gen.go")
	if err != nil {
		t.Fatal(err)
	}
	var generated []string
	for _, m := range regexp.MustCompile(`-type (\w+)`).FindAllSubmatch(src, -1) {
		generated = append(generated, string(m[1]))
	}
	pinned := slices.Concat(slices.Collect(maps.Keys(sharedStructs)), slices.Collect(maps.Keys(sharedEnums)))
	slices.Sort(generated)
	slices.Sort(pinned)
	if !slices.Equal(generated, pinned) {
		t.Errorf("gen.go generates %v; layout_test.go pins %v", generated, pinned)
	}
}

// Each enum shared with C has the values pinned above, in the object's
// BTF and in the Go constants bpf2go made of it.
func TestSharedEnumValues(t *testing.T) {
	spec, err := loadSpawntrace()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range sharedEnums {
		var e *btf.Enum
		if err := spec.Types.TypeByName(name, &e); err != nil {
			t.Fatalf("enum %s not in the object's BTF: %v", name, err)
		}
		got := map[string]uint64{}
		for _, v := range e.Values {
			got[v.Name] = v.Value
		}
		if !maps.Equal(got, want) {
			t.Errorf("enum %s: C has %v, want %v", name, got, want)
		}
	}
	for name, c := range map[string]struct{ got, want uint64 }{
		"EV_SYSCALL":           {uint64(spawntraceEventKindEV_SYSCALL), 1},
		"EV_FORK":              {uint64(spawntraceEventKindEV_FORK), 2},
		"EV_EXEC":              {uint64(spawntraceEventKindEV_EXEC), 3},
		"EV_EXIT":              {uint64(spawntraceEventKindEV_EXIT), 4},
		"EV_SAMPLE":            {uint64(spawntraceEventKindEV_SAMPLE), 5},
		"EV_SYSCALL_EXEC":      {uint64(spawntraceEventKindEV_SYSCALL_EXEC), 6},
		"EV_SYSCALL_SPAWN":     {uint64(spawntraceEventKindEV_SYSCALL_SPAWN), 7},
		"KindSyscall":          {uint64(KindSyscall), 1},
		"KindFork":             {uint64(KindFork), 2},
		"KindExec":             {uint64(KindExec), 3},
		"KindExit":             {uint64(KindExit), 4},
		"EVF_THREAD":           {uint64(spawntraceEventFlagEVF_THREAD), 1},
		"EVF_ARGV_TRUNCATED":   {uint64(spawntraceEventFlagEVF_ARGV_TRUNCATED), 2},
		"EVF_GROUP_DEAD":       {uint64(spawntraceEventFlagEVF_GROUP_DEAD), 4},
		"EVF_NAME_UNREAD":      {uint64(spawntraceEventFlagEVF_NAME_UNREAD), 8},
		"EVF_ARGV_UNREAD":      {uint64(spawntraceEventFlagEVF_ARGV_UNREAD), 16},
		"EVF_PARENT_MM":        {uint64(spawntraceEventFlagEVF_PARENT_MM), 32},
		"EVF_SUPERSEDED":       {uint64(spawntraceEventFlagEVF_SUPERSEDED), 64},
		"EVF_USTACK_IPS":       {uint64(spawntraceEventFlagEVF_USTACK_IPS), 128},
		"EVF_COMPAT":           {uint64(spawntraceEventFlagEVF_COMPAT), 256},
		"SAMPLEF_USTACK_IPS":   {uint64(spawntraceSampleFlagSAMPLEF_USTACK_IPS), 1},
		"LOST_RINGBUF":         {uint64(spawntraceLostKindLOST_RINGBUF), 0},
		"LOST_INFLIGHT":        {uint64(spawntraceLostKindLOST_INFLIGHT), 1},
		"LOST_SPAWN_SLOT":      {uint64(spawntraceLostKindLOST_SPAWN_SLOT), 2},
		"LOST_TRACKED":         {uint64(spawntraceLostKindLOST_TRACKED), 3},
		"LOST_COMPAT":          {uint64(spawntraceLostKindLOST_COMPAT), 4},
		"LOST_KINDS":           {uint64(spawntraceLostKindLOST_KINDS), 5},
		"I386SocketcallAccept": {uint64(I386SocketcallAccept), 495},
		"I386SocketcallSend":   {uint64(I386SocketcallSend), 499},
		"I386SocketcallRecv":   {uint64(I386SocketcallRecv), 500},
	} {
		if c.got != c.want {
			t.Errorf("Go %s = %d, want %d", name, c.got, c.want)
		}
	}
}

// The Go mirror of every struct shared with C must have the size the
// compiled object gives it, or reads of the ring buffer go astray.
func TestSharedStructSizes(t *testing.T) {
	spec, err := loadSpawntrace()
	if err != nil {
		t.Fatal(err)
	}
	for name, goSize := range sharedStructs {
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
		for _, kp := range g.kprobes {
			if spec.Programs[kp.prog] == nil || spec.Programs[kp.prog].Type != ebpf.Kprobe {
				t.Errorf("probe %s names kprobe program %s, which the object lacks", g.name, kp.prog)
			}
		}
	}
	// on_sample is attached to perf events, not tracepoints (sampling.go);
	// resolve_pids is an iterator run from user space (pidns.go); the
	// helpers' variants are loaded in their programs' place;
	// spawn_call_enter and spawn_call_exit go on the spawn calls' syscall
	// tracepoints under --spawns-only (spawnCallsGroup).
	variants := 0
	for _, h := range helperFeatures {
		for prog, variant := range h.without {
			if spec.Programs[prog] == nil || spec.Programs[variant] == nil {
				t.Errorf("helper %s: program %s or its variant %s not in the object", h.name, prog, variant)
			}
			variants++
		}
	}
	for _, name := range []string{"on_sample", "resolve_pids", "spawn_call_enter", "spawn_call_exit"} {
		if spec.Programs[name] == nil {
			t.Errorf("object lacks program %s", name)
		}
	}
	if len(spec.Programs) != countPoints()+variants+4 {
		t.Errorf("object has %d programs, probe table attaches %d plus %d variants, on_sample, resolve_pids and the two of --spawns-only", len(spec.Programs), countPoints(), variants)
	}
}

func countPoints() int {
	n := 0
	for _, g := range probeGroups {
		n += len(g.points) + len(g.kprobes)
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

// socketcall's accept, send and recv are counted past the end of the i386
// table, where no call has a number, and within syscall_stats' i386 half.
func TestSocketcallPseudoRange(t *testing.T) {
	for nr := int(spawntraceSocketcallPseudoSOCKETCALL_PSEUDO); nr < maxSyscalls; nr++ {
		if name, ok := sysno.NameI386(nr); ok {
			t.Errorf("i386 %d is %s, but the kernel side counts socketcall's calls from %d on", nr, name, spawntraceSocketcallPseudoSOCKETCALL_PSEUDO)
		}
	}
	if I386SocketcallRecv >= maxSyscalls {
		t.Errorf("socketcall's recv counted as %d, past syscall_stats' %d numbers a table", I386SocketcallRecv, maxSyscalls)
	}
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

// ExactTimedCalls and TimeSampleEvery word the table's estimate (reports)
// and scale it: they must be what the kernel side samples by, #defines in
// bpf/spawntrace.h that the object file does not carry.
func TestTimeSampleConstantsMatchHeader(t *testing.T) {
	header, err := os.ReadFile(filepath.Join("..", "bpf", "spawntrace.h"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int{"EXACT_TIMED_CALLS": ExactTimedCalls, "TIME_SAMPLE_EVERY": TimeSampleEvery} {
		m := regexp.MustCompile(`(?m)^#define\s+` + name + `\s+(\d+)\s*$`).FindSubmatch(header)
		if m == nil {
			t.Errorf("bpf/spawntrace.h defines no %s", name)
			continue
		}
		if got, _ := strconv.Atoi(string(m[1])); got != want {
			t.Errorf("bpf/spawntrace.h: %s is %d, the tracer package's constant %d", name, got, want)
		}
	}
}
