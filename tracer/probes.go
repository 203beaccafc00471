package tracer

import (
	"fmt"

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
}

type probeGroup struct {
	name     string // as shown to the user
	required bool   // without it spawntrace cannot follow the tree at all
	points   []attachPoint
}

// probeGroups lists every attachment, in the order they are attached.
var probeGroups = []probeGroup{
	{name: "sched:sched_process_fork", required: true, points: []attachPoint{{prog: "on_fork", group: "sched", name: "sched_process_fork"}}},
	{name: "sched:sched_process_exit", required: true, points: []attachPoint{{prog: "on_exit", group: "sched", name: "sched_process_exit"}}},
	{name: "sched:sched_process_exec", points: []attachPoint{{prog: "on_exec", group: "sched", name: "sched_process_exec"}}},
	// Every syscall of the tree: the table, and the spawn-related calls
	// (clone, clone3, fork, vfork, execve, execveat, socketpair) in detail.
	{name: "raw_syscalls:sys_enter+sys_exit", points: []attachPoint{
		{prog: "raw_enter", group: "raw_syscalls", name: "sys_enter"},
		{prog: "raw_exit", group: "raw_syscalls", name: "sys_exit"},
	}},
	// Spawn anatomy: the address-space copy is timed by the parent's mmap
	// write lock (no kprobes here), blocked time by context switches.
	{name: "mmap_lock:copy-timing", points: []attachPoint{
		{prog: "on_lock_start", group: "mmap_lock", name: "mmap_lock_start_locking"},
		{prog: "on_lock_acquired", group: "mmap_lock", name: "mmap_lock_acquire_returned"},
		{prog: "on_lock_released", group: "mmap_lock", name: "mmap_lock_released"},
	}},
	{name: "sched:sched_switch", points: []attachPoint{{prog: "on_switch", group: "sched", name: "sched_switch"}}},
}

// ProbeNames lists the names accepted by Config.Disable.
func ProbeNames() []string {
	names := make([]string, len(probeGroups))
	for i, g := range probeGroups {
		names[i] = g.name
	}
	return names
}

// pointMissing says why an attach point cannot be used on this kernel, or "".
func pointMissing(p attachPoint, kernelBTF *btf.Spec, btfErr error) string {
	if btfErr != nil {
		return fmt.Sprintf("no kernel BTF: %v", btfErr)
	}
	var typedef *btf.Typedef
	if err := kernelBTF.TypeByName("btf_trace_"+p.name, &typedef); err != nil {
		return "tracepoint " + p.group + ":" + p.name + " not in kernel BTF"
	}
	return ""
}
