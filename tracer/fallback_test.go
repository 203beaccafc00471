package tracer

import (
	"errors"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
)

// TestApplyFallbacks: a forced fallback turns its switch on and makes
// inflight the tid hash; without it, on a kernel with task storage (5.11+),
// inflight stays task storage. The hash's template is never made itself.
func TestApplyFallbacks(t *testing.T) {
	kernelBTF, btfErr := kernelTypes.Kernel()
	for _, force := range []bool{false, true} {
		spec, err := loadSpawntrace()
		if err != nil {
			t.Fatal(err)
		}
		probes, err := applyFallbacks(spec, map[string]bool{TaskStorageFallback: force}, kernelBTF, btfErr)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := spec.Maps["inflight_by_tid"]; ok {
			t.Errorf("force %v: the template inflight_by_tid is left in the spec", force)
		}
		taken := len(probes) == 1 && probes[0].Name == TaskStorageFallback && probes[0].Available && probes[0].Fallback != ""
		if !force {
			missing := mapTypeMissing(kernelBTF, btfErr, "BPF_MAP_TYPE_TASK_STORAGE", "task storage", "5.11")
			// The kernel's own answer, where this process may ask it.
			if err := features.HaveMapType(ebpf.TaskStorage); (err == nil || errors.Is(err, ebpf.ErrNotSupported)) && (err == nil) != (missing == "") {
				t.Errorf("task storage: kernel BTF says missing %q, creating one says %v", missing, err)
			}
			if missing != "" {
				t.Logf("this kernel has no task storage: the fallback is taken unforced")
				force = true
			} else if len(probes) != 0 || spec.Maps["inflight"].Type != ebpf.TaskStorage {
				t.Errorf("unforced on a kernel with task storage: probes %+v, inflight a %v", probes, spec.Maps["inflight"].Type)
				continue
			}
		}
		if !force {
			continue
		}
		if !taken {
			t.Errorf("forced: probes %+v, want the one fallback named", probes)
		}
		m := spec.Maps["inflight"]
		if m.Type != ebpf.Hash || m.MaxEntries == 0 || m.KeySize != 4 || m.Name != "inflight" {
			t.Errorf("forced: inflight is %v %q with %d entries of %d-byte keys, want the tid hash", m.Type, m.Name, m.MaxEntries, m.KeySize)
		}
		var on uint32
		if err := spec.Variables["no_task_storage"].Get(&on); err != nil || on != 1 {
			t.Errorf("forced: no_task_storage = %d (%v), want 1", on, err)
		}
	}
}

// TestPickVariants: without the helper, a program's variant is loaded
// under its name; with it, the variant is dropped; a program already
// dropped stays dropped.
func TestPickVariants(t *testing.T) {
	for _, use := range []bool{true, false} {
		spec, err := loadSpawntrace()
		if err != nil {
			t.Fatal(err)
		}
		variant := spec.Programs["raw_exit_noloop"]
		first := spec.Programs["raw_exit"]
		pickVariants(spec, helperFeatures[0].without, use)
		if _, ok := spec.Programs["raw_exit_noloop"]; ok {
			t.Errorf("use %v: raw_exit_noloop left in the spec", use)
		}
		want := first
		if !use {
			want = variant
		}
		if spec.Programs["raw_exit"] != want {
			t.Errorf("use %v: raw_exit is %s", use, spec.Programs["raw_exit"].Name)
		}
		if spec, err = loadSpawntrace(); err != nil {
			t.Fatal(err)
		}
		delete(spec.Programs, "raw_exit")
		pickVariants(spec, helperFeatures[0].without, use)
		if _, ok := spec.Programs["raw_exit"]; ok {
			t.Errorf("use %v: a dropped raw_exit came back", use)
		}
	}
}
