package main

import (
	"os"
	"path/filepath"
	"testing"
)

// SPAWNTRACE_CPUPROFILE names a file root writes: a symlink planted at that
// name must not send the profile elsewhere (the target stays as it was),
// and a plain name gets a profile.
func TestCPUProfileFollowsNoSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "victim")
	if err := os.WriteFile(target, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "prof")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	startCPUProfile(link)()
	if b, err := os.ReadFile(target); err != nil || string(b) != "keep" {
		t.Errorf("the symlink's target now holds %q (%v), want it untouched", b, err)
	}

	plain := filepath.Join(dir, "cpu.pb.gz")
	startCPUProfile(plain)()
	if st, err := os.Stat(plain); err != nil || st.Size() == 0 {
		t.Errorf("no profile written to a plain name: %v", err)
	}
}
