//go:build integration && linux

package integration

// Files spawntrace reads as root on the workload's word: the libraries,
// interpreter and mapped files its programs name, read to index build IDs
// and to find its libc. A name there may lead anywhere the workload likes.

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestWorkloadFIFOLibraryNoHang: a program whose RUNPATH names a
// directory where its library is a FIFO, while LD_LIBRARY_PATH finds the
// real one, so the program runs. spawntrace, indexing the libraries the
// program needs, opened the FIFO and blocked in open(2) for good: the
// run never ended, and at its end a Ctrl-C only killed it, outputs lost.
func TestWorkloadFIFOLibraryNoHang(t *testing.T) {
	e := setupEnv(t)
	dir := t.TempDir()
	good, evil := filepath.Join(dir, "good"), filepath.Join(dir, "evil")
	for _, d := range []string{good, evil} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	lib := filepath.Join(dir, "foo.c")
	prog := filepath.Join(dir, "usefoo.c")
	if err := os.WriteFile(lib, []byte("int foo(void) { return 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// It lives long enough for its /proc/PID/exe to be read.
	if err := os.WriteFile(prog, []byte("#include <unistd.h>\nint foo(void);\nint main(void) { usleep(200000); return foo(); }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "usefoo")
	for _, c := range [][]string{
		{"cc", "-shared", "-fPIC", "-o", filepath.Join(good, "libfoo.so"), lib},
		{"cc", "-o", exe, prog, "-L", good, "-lfoo", "-Wl,--enable-new-dtags,-rpath," + evil},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	if err := syscall.Mkfifo(filepath.Join(evil, "libfoo.so"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "LD_LIBRARY_PATH="+good)
	for _, args := range [][]string{{"-c"}, {"-c", "--pprof", filepath.Join(dir, "prof")}} {
		r := e.spawntrace(t, runOpts{env: env, timeout: 30 * time.Second}, append(args, "--", exe)...)
		if r.status != 0 {
			t.Errorf("spawntrace %v -- usefoo: %s", args, r)
		}
		checkCOutput(t, r)
	}
}
