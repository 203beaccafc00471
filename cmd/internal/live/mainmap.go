package live

import (
	"strings"
	"time"

	"github.com/spawntrace/spawntrace/tracer/symbolize"
)

// Bounds of mainMap's wait: a dynamic loader maps a program's libraries
// within a millisecond or two; past this (30 ms), the map is taken as it
// is.
const (
	loaderPoll  = 100 * time.Microsecond
	loaderPolls = 300
)

// mainMap reads the workload's memory map once the dynamic loader has
// mapped the libraries its program needs (its DT_NEEDED entries, each the
// start of the name of a file mapped executable: libtinfo.so.6 maps as
// libtinfo.so.6.4), 30 ms at most after its exec. Launch returns as the
// exec does, before ld.so has mapped libc, and this map is the one the
// workload's spawn stacks are unwound from when their records are read
// after it exits (a reader far behind, or stopped): without libc, none
// of them would be.
func mainMap(sym *symbolize.Symbolizer, pid int) *symbolize.MapRead {
	needed := symbolize.NeededLibraries(uint32(pid))
	return sym.ReadMapsWhen(uint32(pid), func(files []string) bool {
		for _, lib := range needed {
			found := false
			for _, f := range files {
				found = found || strings.HasPrefix(f, lib)
			}
			if !found {
				return false
			}
		}
		return true
	}, loaderPolls, loaderPoll)
}
