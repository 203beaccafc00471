package main

import (
	"debug/elf"
	"fmt"
)

// is32BitProgram says whether the program at path is a 32-bit ELF: under
// --spawns-only the tracer then attaches what sees 32-bit calls from the
// start, rather than at the workload's exec, when it has already begun.
// A script or an unreadable file is not (its interpreter's exec says).
func is32BitProgram(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	return f.Class == elf.ELFCLASS32
}

// workloadProgram is the program the traced tree starts as: the command's
// resolved path, or the running process's with -p.
func workloadProgram(path string, attachPid int) string {
	if attachPid != 0 {
		return fmt.Sprintf("/proc/%d/exe", attachPid)
	}
	return path
}
