package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The line for a command that cannot run names the errno as strace's
// "Can't stat" line does, once, whether the name was searched in PATH or
// given as a path.
func TestLookErrNamesTheErrnoOnce(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "script")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	for _, tc := range []struct{ name, want string }{
		{"no-such-command-here", "No such file or directory"},
		{filepath.Join(dir, "missing"), "No such file or directory"},
		{filepath.Join(dir, "missing", "deeper"), "No such file or directory"},
		{notExec, "Permission denied"},
	} {
		_, err := exec.LookPath(tc.name)
		if err == nil {
			t.Fatalf("LookPath(%q) found it", tc.name)
		}
		if got := lookErr(err); got != tc.want {
			t.Errorf("lookErr(LookPath(%q)) = %q, want %q", tc.name, got, tc.want)
		}
	}
}
