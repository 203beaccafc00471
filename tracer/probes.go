package tracer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cilium/ebpf/btf"
	"golang.org/x/sys/unix"
)

// attachPoint is one BPF program and where it attaches. Programs come in
// groups that only make sense together (a syscall's enter and exit); a
// group is available or not as a whole.
type attachPoint struct {
	prog  string // program name in the object
	group string // tracepoint group (syscalls, raw_syscalls, sched)
	name  string // tracepoint name
	btf   bool   // tp_btf program: needs the kernel's BTF for the tracepoint
}

type probeGroup struct {
	name     string // as shown to the user
	required bool   // without it spawntrace cannot follow the tree at all
	points   []attachPoint
}

func syscallPair(sys string) probeGroup {
	return probeGroup{name: "syscalls:" + sys, points: []attachPoint{
		{prog: "enter_" + sys, group: "syscalls", name: "sys_enter_" + sys},
		{prog: "exit_" + sys, group: "syscalls", name: "sys_exit_" + sys},
	}}
}

// probeGroups lists every attachment, in the order they are attached.
var probeGroups = []probeGroup{
	{name: "sched:sched_process_fork", required: true, points: []attachPoint{{prog: "on_fork", group: "sched", name: "sched_process_fork", btf: true}}},
	{name: "sched:sched_process_exit", required: true, points: []attachPoint{{prog: "on_exit", group: "sched", name: "sched_process_exit", btf: true}}},
	{name: "sched:sched_process_exec", points: []attachPoint{{prog: "on_exec", group: "sched", name: "sched_process_exec", btf: true}}},
	{name: "raw_syscalls:sys_enter+sys_exit", points: []attachPoint{
		{prog: "raw_enter", group: "raw_syscalls", name: "sys_enter"},
		{prog: "raw_exit", group: "raw_syscalls", name: "sys_exit"},
	}},
	// Spawn anatomy: the address-space copy is timed by the parent's mmap
	// write lock (no kprobes here), blocked time by context switches.
	{name: "mmap_lock:copy-timing", points: []attachPoint{
		{prog: "on_lock_start", group: "mmap_lock", name: "mmap_lock_start_locking", btf: true},
		{prog: "on_lock_acquired", group: "mmap_lock", name: "mmap_lock_acquire_returned", btf: true},
		{prog: "on_lock_released", group: "mmap_lock", name: "mmap_lock_released", btf: true},
	}},
	{name: "sched:sched_switch", points: []attachPoint{{prog: "on_switch", group: "sched", name: "sched_switch", btf: true}}},
	syscallPair("clone"),
	syscallPair("clone3"),
	syscallPair("fork"),
	syscallPair("vfork"),
	syscallPair("execve"),
	syscallPair("execveat"),
	syscallPair("socketpair"),
}

// ProbeNames lists the names accepted by Config.Disable.
func ProbeNames() []string {
	names := make([]string, len(probeGroups))
	for i, g := range probeGroups {
		names[i] = g.name
	}
	return names
}

const tracefsDir = "/sys/kernel/tracing"

// ensureTracefs mounts tracefs where the kernel expects it: it is not mounted
// at boot on some hosts, and tracepoint ids are read from it.
func ensureTracefs() error {
	if _, err := os.Stat(filepath.Join(tracefsDir, "events")); err == nil {
		return nil
	}
	if err := unix.Mount("tracefs", tracefsDir, "tracefs", 0, ""); err != nil {
		return fmt.Errorf("mounting tracefs on %s: %w", tracefsDir, err)
	}
	return nil
}

// pointMissing says why an attach point cannot be used on this kernel, or "".
func pointMissing(p attachPoint, kernelBTF *btf.Spec, btfErr error) string {
	if p.btf {
		if btfErr != nil {
			return fmt.Sprintf("no kernel BTF: %v", btfErr)
		}
		var typedef *btf.Typedef
		if err := kernelBTF.TypeByName("btf_trace_"+p.name, &typedef); err != nil {
			return "tracepoint " + p.group + ":" + p.name + " not in kernel BTF"
		}
		return ""
	}
	_, err := os.Stat(filepath.Join(tracefsDir, "events", p.group, p.name, "id"))
	if errors.Is(err, os.ErrNotExist) {
		return "tracepoint " + p.group + ":" + p.name + " does not exist on this kernel"
	}
	if err != nil {
		return err.Error()
	}
	return ""
}
