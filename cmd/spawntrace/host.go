package main

import (
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/spawntrace/spawntrace/analyze"
)

// readHost gathers the facts that make two recordings comparable.
func readHost() analyze.Host {
	h := analyze.Host{CPUs: runtime.NumCPU(), PageBytes: os.Getpagesize()}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		h.KernelRelease = unix.ByteSliceToString(u.Release[:])
		h.Machine = unix.ByteSliceToString(u.Machine[:])
		h.Hostname = unix.ByteSliceToString(u.Nodename[:])
	}
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) == nil {
		h.MemBytes = uint64(si.Totalram) * uint64(si.Unit)
	}
	h.THPMode = thpMode()
	return h
}

// thpMode reads the bracketed choice of
// /sys/kernel/mm/transparent_hugepage/enabled ("always [madvise] never").
func thpMode() string {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil {
		return ""
	}
	s := string(b)
	i, j := strings.IndexByte(s, '['), strings.IndexByte(s, ']')
	if i < 0 || j < i {
		return ""
	}
	return s[i+1 : j]
}
