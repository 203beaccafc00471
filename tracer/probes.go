package tracer

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// attachPoint is one BPF program and the raw tracepoint (tp_btf) it
// attaches to. Programs come in groups that only make sense together (a
// syscall's enter and exit); a group is available or not as a whole.
//
// Only raw tracepoints are used: the perf-event kind fills a trace record
// before calling the program, and detaching one waits for an RCU grace
// period (~50 ms each here, paid at every exit).
type attachPoint struct {
	prog  string // program name in the object
	group string // tracepoint group, as shown to the user (sched, raw_syscalls)
	name  string // tracepoint name; its BTF prototype is btf_trace_<name>
	// again marks a second program, attached only where the kernel runs
	// tracepoint programs preemptibly (see preemptibleTracepoints); it is
	// named after its first, with "_again" (againSuffix).
	again bool
	// loses is what a run the kernel skipped leaves out (a Skip measure).
	loses string
	// madeUp, on a second program, indexes the kernel's count of the runs
	// it made up for (the map made_up).
	madeUp spawntraceSeenKind
	// always: a second program attached on every kernel. The mmap lock is
	// taken from an NMI where a perf sample's BPF program reads a user stack
	// with build IDs (spawntrace's --pprof or another tool's, on any task)
	// and let go from an interrupt after it, inside whatever lock program
	// the NMI or the interrupt came in: the kernel skips that program for the
	// nested lock, with preemption off too.
	always bool
	// perfID, when set, makes it a perf-event tracepoint of that tracefs id
	// (the syscalls group has no raw tracepoints of its own).
	perfID uint64
}

// keepSecondPrograms drops the second programs a kernel needs not (see
// attachPoint's again and always) from spec, and tells the others that
// they are loaded.
func keepSecondPrograms(spec *ebpf.CollectionSpec, preemptible bool) error {
	kept := false
	for _, g := range probeGroups {
		for _, p := range g.points {
			switch {
			case !p.again:
			case preemptible || p.always:
				kept = kept || spec.Programs[p.prog] != nil
			default:
				delete(spec.Programs, p.prog)
			}
		}
	}
	if !kept {
		return nil
	}
	if err := spec.Variables["again_loaded"].Set(uint32(1)); err != nil {
		return fmt.Errorf("setting again_loaded: %w", err)
	}
	return nil
}

// againSuffix names a program's second program: raw_exit's is
// raw_exit_again.
const againSuffix = "_again"

// preemptibleTracepoints says whether the kernel of release (uname -r) may
// preempt a task inside a tracepoint's BPF program, and so skip that
// program for other tasks on the CPU meanwhile: 7.3.4 does (7.x runs them
// with only migration disabled; the tracepoint change came after 6.18, by
// 7.0, so 6.19 is taken as doing it too), while 5.10, 6.1, 6.12 and 6.18
// skipped none in 20 runs each. Elsewhere a second program on each
// tracepoint would only cost: ~155 ns more per syscall of every process,
// on 6.18.
func preemptibleTracepoints(release string) bool {
	var major, minor int
	if _, err := fmt.Sscanf(release, "%d.%d", &major, &minor); err != nil {
		return true // unknown: take the safe way
	}
	return major > 6 || major == 6 && minor >= 19
}

type probeGroup struct {
	name string // as shown to the user
	// attached names the group's tracepoints where name does not (Probe's
	// Attached).
	attached string
	required bool // without it spawntrace cannot follow the tree at all
	points   []attachPoint
	// kprobes measure the same where the tracepoints are missing (or
	// --force-fallback names the group), as kprobesInstead says.
	kprobes        []kprobePoint
	kprobesInstead string
	// anatomy marks what only the spawns' anatomy needs (not the tree,
	// not the syscall table): left out when only the table is wanted.
	anatomy bool
}

// kprobePoint is one BPF program and the kernel function it probes, at
// its entry or its return.
type kprobePoint struct {
	prog   string
	symbol string
	ret    bool
	loses  string // as attachPoint's
}

// Probe names, as Probes shows them, --disable-probe accepts them and
// recordings keep them: defined here only (with SamplingProbe and
// BPFLoopProbe), whoever reads them.
const (
	ForkProbe     = "sched:sched_process_fork"
	ExitProbe     = "sched:sched_process_exit"
	ExecProbe     = "sched:sched_process_exec"
	SyscallsProbe = "raw_syscalls:sys_enter+sys_exit" // the syscall table and the spawn-related calls
	CopyProbe     = "mmap_lock:copy-timing"           // the address-space copy and exec teardown times
	BlockedProbe  = "sched:sched_switch"              // the time spawning threads were blocked
)

// probeGroups lists every attachment, in the order they are attached.
var probeGroups = []probeGroup{
	{name: ForkProbe, required: true, points: []attachPoint{
		{prog: "on_fork", group: "sched", name: "sched_process_fork", loses: SkipForks},
		{prog: "on_fork_again", group: "sched", name: "sched_process_fork", again: true, loses: SkipForks,
			madeUp: spawntraceSeenKindSEEN_FORK},
	}},
	// Each program below with an _again copy is followed by it: the copy
	// does the work when the kernel skipped the first (see the BPF side),
	// where the kernel may skip it (preemptibleTracepoints).
	{name: ExitProbe, required: true, points: []attachPoint{
		{prog: "on_exit", group: "sched", name: "sched_process_exit", loses: SkipExits},
		{prog: "on_exit_again", group: "sched", name: "sched_process_exit", again: true, loses: SkipExits,
			madeUp: spawntraceSeenKindSEEN_PROCESS_EXIT},
	}},
	{name: ExecProbe, points: []attachPoint{
		{prog: "on_exec", group: "sched", name: "sched_process_exec", loses: SkipExecs},
		{prog: "on_exec_again", group: "sched", name: "sched_process_exec", again: true, loses: SkipExecs,
			madeUp: spawntraceSeenKindSEEN_EXEC},
	}},
	// Every syscall of the tree: the table, and the spawn-related calls
	// (clone, clone3, fork, vfork, execve, execveat, socketpair, pipe2) in detail.
	{name: SyscallsProbe, points: []attachPoint{
		{prog: "raw_enter", group: "raw_syscalls", name: "sys_enter", loses: SkipSyscalls},
		{prog: "raw_enter_again", group: "raw_syscalls", name: "sys_enter", again: true, loses: SkipSyscalls,
			madeUp: spawntraceSeenKindSEEN_ENTER},
		{prog: "raw_exit", group: "raw_syscalls", name: "sys_exit", loses: SkipSyscalls},
		{prog: "raw_exit_again", group: "raw_syscalls", name: "sys_exit", again: true, loses: SkipSyscalls,
			madeUp: spawntraceSeenKindSEEN_EXIT},
	}},
	// Spawn anatomy: the address-space copy is timed by the parent's mmap
	// write lock (no kprobes here), blocked time by context switches.
	// Before 5.11 (Debian's 5.10) there are no mmap_lock tracepoints:
	// kprobes on the copy and the teardown themselves, where the kernel
	// has kprobes. The mmap_lock programs' second programs are attached on
	// every kernel (attachPoint's always).
	// Kprobes have no second programs: the kernel skips a
	// kprobe program while any kprobe or tracepoint program runs on the CPU
	// (one per-CPU count for all of them, bpf_prog_active), so a second
	// one would be skipped with the first.
	{name: CopyProbe, points: []attachPoint{
		{prog: "on_lock_start", group: "mmap_lock", name: "mmap_lock_start_locking", loses: SkipLockWaits},
		{prog: "on_lock_start_again", group: "mmap_lock", name: "mmap_lock_start_locking", again: true, loses: SkipLockWaits,
			madeUp: spawntraceSeenKindSEEN_LOCK_START, always: true},
		{prog: "on_lock_acquired", group: "mmap_lock", name: "mmap_lock_acquire_returned", loses: SkipCopies},
		{prog: "on_lock_acquired_again", group: "mmap_lock", name: "mmap_lock_acquire_returned", again: true, loses: SkipCopies,
			madeUp: spawntraceSeenKindSEEN_LOCK_ACQUIRED, always: true},
		{prog: "on_lock_released", group: "mmap_lock", name: "mmap_lock_released", loses: SkipCopies},
		{prog: "on_lock_released_again", group: "mmap_lock", name: "mmap_lock_released", again: true, loses: SkipCopies,
			madeUp: spawntraceSeenKindSEEN_LOCK_RELEASED, always: true},
	}, kprobes: []kprobePoint{
		{prog: "kp_lock_start", symbol: "down_write_killable", loses: SkipCopies},
		{prog: "kp_lock_acquired", symbol: "down_write_killable", ret: true, loses: SkipCopies},
		{prog: "kp_lock_released", symbol: "up_write", loses: SkipCopies},
		{prog: "kp_teardown_start", symbol: "exit_mmap", loses: SkipCopies},
		{prog: "kp_teardown_end", symbol: "exit_mmap", ret: true, loses: SkipCopies},
	}, kprobesInstead: "kprobes on the mmap lock (down_write_killable, up_write) time the copy, and on exit_mmap " +
		"the exec teardown; other threads' stalls on the parent's lock are not measured", anatomy: true},
	{name: BlockedProbe, points: []attachPoint{{prog: "on_switch", group: "sched", name: "sched_switch", loses: SkipBlocked}}, anatomy: true},
}

// programLoses says, by program name, where each is attached and what a
// run of it the kernel skipped leaves out (Skip's Point and Measure).
func programLoses() map[string]Skip {
	m := make(map[string]Skip)
	for _, g := range probeGroups {
		for _, p := range g.points {
			m[p.prog] = Skip{Prog: p.prog, Point: p.group + ":" + p.name, Measure: p.loses}
		}
		for _, kp := range g.kprobes {
			kind := "kprobe:"
			if kp.ret {
				kind = "kretprobe:"
			}
			m[kp.prog] = Skip{Prog: kp.prog, Point: kind + kp.symbol, Measure: kp.loses}
		}
	}
	// spawnCallsGroup's points need tracefs for their ids: named here.
	for prog, point := range map[string]string{"spawn_call_enter": "sys_enter", "spawn_call_exit": "sys_exit"} {
		m[prog] = Skip{Prog: prog, Point: spawnCallsPoint(point), Measure: SkipSyscalls}
	}
	return m
}

// spawnCallsPoint names the spawn calls' tracepoints of one kind (sys_enter
// or sys_exit), or of both ("sys_{enter,exit}"), as one.
func spawnCallsPoint(kind string) string {
	return "syscalls:" + kind + "_{" + strings.Join(spawnCalls, ",") + "}"
}

// spawnCalls are the spawn-related syscalls, the only ones --spawns-only
// counts.
var spawnCalls = []string{"clone", "clone3", "fork", "vfork", "execve", "execveat", "socketpair", "pipe2"}

// spawnCallsGroup is the syscall probe of --spawns-only: the spawn calls'
// own tracepoints (syscalls:sys_enter_clone, ...), so that no other syscall
// runs a program; under its usual name, since it feeds the same table.
// Their perf ids come from tracefs.
func spawnCallsGroup() (probeGroup, error) {
	var names []string
	for _, c := range spawnCalls {
		names = append(names, "syscalls/sys_enter_"+c, "syscalls/sys_exit_"+c)
	}
	ids, err := tracepointIDs(names)
	if err != nil {
		return probeGroup{}, err
	}
	g := probeGroup{name: SyscallsProbe, attached: spawnCallsPoint("sys_{enter,exit}")}
	for _, c := range spawnCalls {
		g.points = append(g.points,
			attachPoint{prog: "spawn_call_enter", group: "syscalls", name: "sys_enter_" + c, perfID: ids["syscalls/sys_enter_"+c]},
			attachPoint{prog: "spawn_call_exit", group: "syscalls", name: "sys_exit_" + c, perfID: ids["syscalls/sys_exit_"+c]})
	}
	return g, nil
}

// helperFeature is a BPF helper some measurement needs beyond the base
// the programs load on. Without it the programs still load (each program
// that calls it has a variant that does not) and only that measurement
// goes, named in Probes like a missing tracepoint.
type helperFeature struct {
	name string // as shown to the user and accepted by --disable-probe
	fn   string // the helper's enum bpf_func_id value in kernel BTF
	// without maps each program that calls it to its variant that does
	// not, loaded under the program's name in its place.
	without map[string]string
	since   string // the first Linux release with it, for the reason shown
}

// pickVariants keeps, for each program of without, the program itself
// (use) or its variant under its name, and drops the other. A program
// already dropped (its probe unavailable) stays dropped.
func pickVariants(spec *ebpf.CollectionSpec, without map[string]string, use bool) {
	for prog, variant := range without {
		if _, ok := spec.Programs[prog]; ok && !use {
			spec.Programs[prog] = spec.Programs[variant]
		}
		delete(spec.Programs, variant)
	}
}

// helperFeatures: bpf_loop (5.17+) walks a failed exec's argv and envp,
// which the kernel never copied in (successful execs are read from the
// new program's stack without it), and a new program's environment to
// count PATH's entries (not counted without it).
var helperFeatures = []helperFeature{
	{name: BPFLoopProbe, fn: "BPF_FUNC_loop", without: map[string]string{
		"raw_exit": "raw_exit_noloop", "raw_exit_again": "raw_exit_again_noloop",
		"on_exec": "on_exec_noloop", "on_exec_again": "on_exec_again_noloop",
		"spawn_call_exit": "spawn_call_exit_noloop",
	}, since: "5.17"},
}

// BPFLoopProbe names the bpf_loop helper feature in Probes.
const BPFLoopProbe = "helper:bpf_loop"

// ProbeNames lists the names accepted by Config.Disable.
func ProbeNames() []string {
	names := make([]string, 0, len(probeGroups)+len(helperFeatures))
	for _, g := range probeGroups {
		names = append(names, g.name)
	}
	for _, h := range helperFeatures {
		names = append(names, h.name)
	}
	return names
}

// helperMissing says why a BPF helper cannot be used on this kernel, or "".
func helperMissing(h helperFeature, kernelBTF *btf.Spec, btfErr error) string {
	return kernelEnumMissing(kernelBTF, btfErr, "bpf_func_id", h.fn,
		fmt.Sprintf("the kernel has no %s helper (Linux %s+)", strings.TrimPrefix(strings.ToLower(h.fn), "bpf_func_"), h.since))
}

// pointMissing says why an attach point cannot be used on this kernel, or "".
func pointMissing(p attachPoint, kernelBTF *btf.Spec, btfErr error) string {
	if p.perfID != 0 {
		return "" // found in tracefs
	}
	if btfErr != nil {
		return fmt.Sprintf("no kernel BTF: %v", btfErr)
	}
	var typedef *btf.Typedef
	if err := kernelBTF.TypeByName("btf_trace_"+p.name, &typedef); err != nil {
		return "tracepoint " + p.group + ":" + p.name + " not in kernel BTF"
	}
	return ""
}
