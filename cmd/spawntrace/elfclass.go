package main

import (
	"debug/elf"
	"fmt"
	"io"
	"os"
)

// is32BitProgram says whether the program at path is a 32-bit ELF: under
// --spawns-only the tracer then attaches what sees 32-bit calls from the
// start, rather than at the workload's exec, when it has already begun.
// A script or an unreadable file is not (its interpreter's exec says).
func is32BitProgram(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	// The ELF identification alone: the file is the workload's.
	var ident [elf.EI_CLASS + 1]byte
	if _, err := io.ReadFull(f, ident[:]); err != nil {
		return false
	}
	return string(ident[:4]) == elf.ELFMAG && elf.Class(ident[elf.EI_CLASS]) == elf.ELFCLASS32
}

// workloadProgram is the program the traced tree starts as: the command's
// resolved path, or the running process's with -p.
func workloadProgram(path string, attachPid int) string {
	if attachPid != 0 {
		return fmt.Sprintf("/proc/%d/exe", attachPid)
	}
	return path
}
