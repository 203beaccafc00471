package tracer

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/features"
	"golang.org/x/sys/unix"
)

// requiredMaps are the map types the programs cannot do without: a kernel
// that lacks one refuses the whole load, with an error that names nothing
// but a map ("map events: map create: invalid argument"). What the
// programs can do without is in fallbackFeatures.
var requiredMaps = []struct {
	typ   ebpf.MapType
	name  string
	since string
}{
	{ebpf.RingBuf, "ring buffer", "5.8"},
}

// checkRequiredMaps says which required map type the kernel lacks, if one:
// one line that names the feature and the release that brought it.
func checkRequiredMaps() error {
	for _, m := range requiredMaps {
		if err := features.HaveMapType(m.typ); errors.Is(err, ebpf.ErrNotSupported) {
			return fmt.Errorf("kernel %s has no BPF %s maps, which spawntrace needs (Linux %s+)", kernelRelease(), m.name, m.since)
		}
		// Any other error (EPERM, say) is the load's to report.
	}
	return nil
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "(unknown release)"
	}
	return unix.ByteSliceToString(u.Release[:])
}
