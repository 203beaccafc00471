package main

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// missingCaps names the capabilities loading BPF needs and this process
// lacks: CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN, which covers both on
// older kernels).
func missingCaps() (string, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return "", fmt.Errorf("reading capabilities: %w", err)
	}
	has := func(c int) bool { return data[c/32].Effective&(1<<(uint(c)%32)) != 0 }
	if has(unix.CAP_SYS_ADMIN) {
		return "", nil
	}
	var missing []string
	if !has(unix.CAP_BPF) {
		missing = append(missing, "CAP_BPF")
	}
	if !has(unix.CAP_PERFMON) {
		missing = append(missing, "CAP_PERFMON")
	}
	return strings.Join(missing, " and "), nil
}
