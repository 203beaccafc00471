package symbolize

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRustProgram: a C program is not a Rust program; a Rust program that
// spawns with Command is, stripped or not, built with each rustc found
// (Debian's, and rustup's when PATH has it first).
func TestRustProgram(t *testing.T) {
	dir := t.TempDir()
	check := func(path string, want bool) {
		t.Helper()
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if got := RustProgram(f); got != want {
			t.Errorf("RustProgram(%s) = %v, want %v", path, got, want)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	check(self, false) // a Go program
	if cc, err := exec.LookPath("cc"); err == nil {
		src := filepath.Join(dir, "c.c")
		// A C program with Rust's fallback calls.
		code := "#define _GNU_SOURCE\n#include <fcntl.h>\n#include <unistd.h>\n" +
			"int main(void){int p[2]; pipe2(p, O_CLOEXEC); if (fork()==0) _exit(0); return 0;}\n"
		if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(dir, "c")
		if out, err := exec.Command(cc, "-O2", "-o", bin, src).CombinedOutput(); err != nil {
			t.Fatalf("cc: %v\n%s", err, out)
		}
		check(bin, false)
	}
	src := filepath.Join(dir, "r.rs")
	code := "fn main() { std::process::Command::new(\"/bin/true\").status().unwrap(); }\n"
	if err := os.WriteFile(src, []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	var rustcs []string
	for _, r := range []string{"/usr/bin/rustc", "rustc"} {
		if p, err := exec.LookPath(r); err == nil && !strings.Contains(strings.Join(rustcs, "\x00"), p) {
			rustcs = append(rustcs, p)
		}
	}
	if len(rustcs) == 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("no rustc; CI installs Debian's (make deps)")
		}
		t.Skip("no rustc")
	}
	for i, rustc := range rustcs {
		bin := filepath.Join(dir, "r"+string(rune('0'+i)))
		if out, err := exec.Command(rustc, "-O", "-o", bin, src).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", rustc, err, out)
		}
		check(bin, true)
		if strip, err := exec.LookPath("strip"); err == nil {
			if out, err := exec.Command(strip, bin).CombinedOutput(); err != nil {
				t.Fatalf("strip: %v\n%s", err, out)
			}
			check(bin, true)
		}
	}
}
