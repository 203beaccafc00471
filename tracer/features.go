package tracer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// Feature says whether the kernel offers one kind of probe, and if not, why.
type Feature struct {
	Available bool   `json:"available"`
	Reason    string `json:"reason,omitempty"`
}

// Features is what kinds of probes the kernel offers, whatever spawntrace
// attached: another host may allow what this one refuses (fentry, kprobes)
// and lack what this one has (BTF, mmap_lock tracepoints).
type Features struct {
	BTF                 Feature `json:"btf"`
	SyscallTracepoints  Feature `json:"syscall_tracepoints"`
	MmapLockTracepoints Feature `json:"mmap_lock_tracepoints"`
	Fentry              Feature `json:"fentry"`
	Kprobes             Feature `json:"kprobes"`
}

// fentryTarget is the function whose exit a fentry-capable host would time
// the address-space copy at.
const fentryTarget = "dup_mmap"

// ProbeFeatures checks each kind of probe. It loads and attaches one
// trivial fexit program and closes it at once, and creates nothing else: no
// tracefs mount, no kprobe event.
func ProbeFeatures() Features {
	var f Features
	// One decoded kernel BTF for every lookup, the fexit load's included.
	cache := kernelTypes
	kernelBTF, btfErr := cache.Kernel()
	if btfErr != nil {
		f.BTF.Reason = btfErr.Error()
	} else {
		f.BTF.Available = true
	}
	// The raw tracepoints spawntrace attaches, as Open checks them.
	f.SyscallTracepoints = btfTracepoint(attachPoint{group: "raw_syscalls", name: "sys_enter"}, kernelBTF, btfErr)
	f.MmapLockTracepoints = btfTracepoint(attachPoint{group: "mmap_lock", name: "mmap_lock_acquire_returned"}, kernelBTF, btfErr)
	f.Fentry = probeFentry(cache, btfErr)
	f.Kprobes = probeKprobes()
	return f
}

// kernelTypes holds the kernel's BTF, decoded once per run (~35 ms here)
// for Open's checks and CO-RE relocations and for ProbeFeatures.
var kernelTypes = btf.NewCache()

// tracefsRoots are where tracefs may be mounted (kprobe_events is there).
var tracefsRoots = []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}

func btfTracepoint(p attachPoint, kernelBTF *btf.Spec, btfErr error) Feature {
	if reason := pointMissing(p, kernelBTF, btfErr); reason != "" {
		return Feature{Reason: reason}
	}
	return Feature{Available: true}
}

// probeFentry loads an fexit program on dup_mmap that returns 0 and
// attaches it, then closes both.
func probeFentry(cache *btf.Cache, btfErr error) Feature {
	if btfErr != nil {
		return Feature{Reason: "needs kernel BTF"}
	}
	// As Open does, so that a low memlock limit is not taken for a refusal.
	if err := rlimit.RemoveMemlock(); err != nil {
		return Feature{Reason: "removing memlock rlimit: " + err.Error()}
	}
	spec := &ebpf.CollectionSpec{Programs: map[string]*ebpf.ProgramSpec{"probe_fexit": {
		Name:       "probe_fexit",
		Type:       ebpf.Tracing,
		AttachType: ebpf.AttachTraceFExit,
		AttachTo:   fentryTarget,
		License:    "GPL",
		Instructions: asm.Instructions{
			asm.Mov.Imm(asm.R0, 0),
			asm.Return(),
		},
	}}}
	coll, err := ebpf.NewCollectionWithOptions(spec, ebpf.CollectionOptions{Cache: cache})
	if errors.Is(err, unix.EPERM) {
		// cilium/ebpf suggests MEMLOCK for every EPERM; the limit is
		// already lifted, so this is the kernel refusing the program type.
		return Feature{Reason: "loading fexit/" + fentryTarget + ": operation not permitted (EPERM)"}
	}
	if err != nil {
		return Feature{Reason: "loading fexit/" + fentryTarget + ": " + shortErr(err)}
	}
	defer coll.Close()
	l, err := link.AttachTracing(link.TracingOptions{Program: coll.Programs["probe_fexit"]})
	if err != nil {
		return Feature{Reason: "attaching fexit/" + fentryTarget + ": " + shortErr(err)}
	}
	l.Close()
	return Feature{Available: true}
}

// probeKprobes looks for the perf kprobe PMU, then for tracefs's
// kprobe_events; either means the kernel was built with CONFIG_KPROBES.
func probeKprobes() Feature {
	if _, err := os.Stat("/sys/bus/event_source/devices/kprobe/type"); err == nil {
		return Feature{Available: true}
	}
	for _, root := range tracefsRoots {
		if _, err := os.Stat(filepath.Join(root, "events")); err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, "kprobe_events")); err == nil {
			return Feature{Available: true}
		}
		return Feature{Reason: "no kprobe PMU and no kprobe_events in tracefs (kernel built without CONFIG_KPROBES)"}
	}
	return Feature{Reason: "no kprobe PMU (/sys/bus/event_source/devices/kprobe)"}
}

// shortErr is the first line of an error: a verifier log can run long.
func shortErr(err error) string {
	var ve *ebpf.VerifierError
	if errors.As(err, &ve) {
		return fmt.Sprintf("verifier: %v", ve.Cause)
	}
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
