package symbolize

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// staticELF is an x86-64 executable's headers with one PT_LOAD and no
// PT_INTERP: what a static program's file holds for NeededLibraries.
func staticELF(t *testing.T) string {
	t.Helper()
	b := make([]byte, 64+56)
	copy(b, "\x7fELF\x02\x01\x01")
	le := binary.LittleEndian
	le.PutUint16(b[16:], 2)    // ET_EXEC
	le.PutUint16(b[18:], 62)   // EM_X86_64
	le.PutUint32(b[20:], 1)    // EV_CURRENT
	le.PutUint64(b[32:], 64)   // e_phoff
	le.PutUint16(b[52:], 64)   // e_ehsize
	le.PutUint16(b[54:], 56)   // e_phentsize
	le.PutUint16(b[56:], 1)    // e_phnum
	le.PutUint32(b[64:], 1)    // PT_LOAD
	le.PutUint32(b[68:], 5)    // PF_R|PF_X
	le.PutUint64(b[96:], 120)  // p_filesz
	le.PutUint64(b[104:], 120) // p_memsz
	path := filepath.Join(t.TempDir(), "static")
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestNeededLibraries: the libraries a workload's map is waited for are
// its program's DT_NEEDED entries (a running sleep's include libc.so.6);
// none for a static program, a script or a process that is gone.
func TestNeededLibraries(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sleep, "5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if needed := NeededLibraries(uint32(cmd.Process.Pid)); !slices.Contains(needed, "libc.so.6") {
		t.Errorf("%s needs %v, want libc.so.6 among them", sleep, needed)
	}
	if needed := neededLibrariesAt(staticELF(t)); len(needed) != 0 {
		t.Errorf("a static program needs %v, want nothing", needed)
	}
	script := filepath.Join(t.TempDir(), "script")
	os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755)
	if needed := neededLibrariesAt(script); len(needed) != 0 {
		t.Errorf("a script needs %v, want nothing", needed)
	}
	if needed := neededLibrariesAt(filepath.Join(t.TempDir(), "missing")); len(needed) != 0 {
		t.Errorf("a missing file needs %v, want nothing", needed)
	}
}
