package tracer

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
)

// fallbackFeature is something the programs use first and can do without:
// where the kernel lacks it they measure the same things another way (a
// const volatile switch makes the verifier prune the first way), with the
// same counts at another cost. Probes lists it as available, with why the
// first way was not taken and what was used instead: nothing goes unmeasured.
type fallbackFeature struct {
	name      string // as Probes shows it and Config.ForceFallback takes it
	switchVar string // the program variable that, set to 1, takes the other way
	instead   string // the other way, as the report says it
	// missing says why the kernel cannot give the first way, or "".
	missing func(kernelBTF *btf.Spec, btfErr error) string
	// prepare changes the spec for the other way, before load.
	prepare func(spec *ebpf.CollectionSpec) error
	// maps are the maps prepare may replace or the load drop: they are
	// not created before it is decided.
	maps []string
}

// TaskStorageFallback names the task-storage fallback in Probes: each
// thread's syscall in progress is kept in task-local storage (Linux 5.11+,
// with bpf_get_current_task_btf, which hands the programs the task to key
// it by), or else in a hash keyed by tid.
const TaskStorageFallback = "map:task_storage"

var fallbackFeatures = []fallbackFeature{{
	name:      TaskStorageFallback,
	switchVar: "no_task_storage",
	instead:   "a hash map keyed by tid holds each thread's syscall in progress (the same counts, a hash lookup more per syscall)",
	missing: func(kernelBTF *btf.Spec, btfErr error) string {
		if reason := mapTypeMissing(kernelBTF, btfErr, "BPF_MAP_TYPE_TASK_STORAGE", "task storage", "5.11"); reason != "" {
			return reason
		}
		return helperMissing(helperFeature{fn: "BPF_FUNC_get_current_task_btf", since: "5.11"}, kernelBTF, btfErr)
	},
	prepare: func(spec *ebpf.CollectionSpec) error {
		// The hash's spec is declared in C beside inflight's; the programs
		// only name inflight.
		m, ok := spec.Maps["inflight_by_tid"]
		if !ok {
			return errors.New("no inflight_by_tid map in the object")
		}
		m = m.Copy()
		m.Name = "inflight"
		spec.Maps["inflight"] = m
		return nil
	},
	maps: []string{"inflight", "inflight_by_tid"},
}}

// FallbackNames lists the names accepted by Config.ForceFallback: the
// fallback features, and the probe groups that kprobes can stand in for.
func FallbackNames() []string {
	names := make([]string, 0, len(fallbackFeatures))
	for _, f := range fallbackFeatures {
		names = append(names, f.name)
	}
	for _, g := range probeGroups {
		if g.kprobes != nil {
			names = append(names, g.name)
		}
	}
	return names
}

// mapTypeMissing says why the kernel cannot create maps of a type (its
// enum bpf_map_type name), or "": read from the kernel's BTF, where asking
// the kernel to create one (features.HaveMapType) cost every run 17-35 ms
// for task storage, whose free waits out an RCU grace period.
func mapTypeMissing(kernelBTF *btf.Spec, btfErr error, typ, what, since string) string {
	return kernelEnumMissing(kernelBTF, btfErr, "bpf_map_type", typ, fmt.Sprintf("the kernel has no BPF %s maps (Linux %s+)", what, since))
}

// kernelEnumMissing says why the kernel's BTF enum of that name has no
// value of that name: absent when it is not listed, or why the enum could
// not be read; "" when it has it. The kernel's enums list every map type
// (bpf_map_type) and helper (bpf_func_id) it has.
func kernelEnumMissing(kernelBTF *btf.Spec, btfErr error, enum, value, absent string) string {
	if btfErr != nil {
		return fmt.Sprintf("no kernel BTF: %v", btfErr)
	}
	var values *btf.Enum
	if err := kernelBTF.TypeByName(enum, &values); err != nil {
		return "enum " + enum + " not in kernel BTF"
	}
	for _, v := range values.Values {
		if v.Name == value {
			return ""
		}
	}
	return absent
}

// applyFallbacks takes the other way for every fallback feature the kernel
// lacks or force names, and says which ones it took.
func applyFallbacks(spec *ebpf.CollectionSpec, force map[string]bool, kernelBTF *btf.Spec, btfErr error) ([]Probe, error) {
	var probes []Probe
	for _, f := range fallbackFeatures {
		reason := f.missing(kernelBTF, btfErr)
		if force[f.name] {
			reason = "forced by --force-fallback"
		}
		if reason == "" {
			continue
		}
		if err := spec.Variables[f.switchVar].Set(uint32(1)); err != nil {
			return nil, fmt.Errorf("switching to the fallback for %s: %w", f.name, err)
		}
		if err := f.prepare(spec); err != nil {
			return nil, fmt.Errorf("switching to the fallback for %s: %w", f.name, err)
		}
		probes = append(probes, Probe{Name: f.name, Available: true, Reason: reason, Fallback: f.instead})
	}
	// Templates of the other ways are never made themselves.
	delete(spec.Maps, "inflight_by_tid")
	return probes, nil
}
