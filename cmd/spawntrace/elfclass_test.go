package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestIs32BitProgram: the ELF identification decides; a 64-bit program, a
// script, a short file and a missing one are not 32-bit.
func TestIs32BitProgram(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// An i386 ELF header's first bytes: magic, ELFCLASS32, little-endian.
	elf32 := write("elf32", []byte("\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	for path, want := range map[string]bool{
		elf32:                                     true,
		"/proc/self/exe":                          false,
		write("script", []byte("#!/bin/sh\n")):    false,
		write("short", []byte("\x7fEL")):          false,
		write("elf64", []byte("\x7fELF\x02\x01")): false,
		filepath.Join(dir, "missing"):             false,
	} {
		if got := is32BitProgram(path); got != want {
			t.Errorf("is32BitProgram(%s) = %v, want %v", filepath.Base(path), got, want)
		}
	}
}
