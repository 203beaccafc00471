package symbolize

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// within runs fn and fails the test if it has not returned in 5 s: an
// open(2) of a FIFO without a writer never returns.
func within(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: still blocked after 5 s", what)
	}
}

// The files a workload names (its libraries, through an ELF's RUNPATH
// and NEEDED; its interpreter; its mapped files) are opened by root while
// it runs. A FIFO there hung spawntrace for good in open(2) (a program
// with RUNPATH=/tmp/x whose libfoo.so there was a FIFO, while
// LD_LIBRARY_PATH found the real one); a device there (a link to
// /dev/watchdog) would be opened as root. Only regular files are opened.
func TestOpenRegularRefusesFIFOsAndDevices(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "libfoo.so")
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	reg := filepath.Join(dir, "libreal.so")
	if err := os.WriteFile(reg, []byte("\x7fELF"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "libreal.so.1")
	if err := os.Symlink("libreal.so", link); err != nil {
		t.Fatal(err)
	}
	devLink := filepath.Join(dir, "libdev.so")
	if err := os.Symlink("/dev/null", devLink); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fifo, devLink, dir} {
		within(t, "OpenRegular("+p+")", func() {
			if f, err := OpenRegular(p); err == nil {
				f.Close()
				t.Errorf("OpenRegular(%s) opened it", p)
			}
		})
	}
	for _, p := range []string{reg, link} {
		f, err := OpenRegular(p)
		if err != nil {
			t.Errorf("OpenRegular(%s): %v", p, err)
			continue
		}
		b := make([]byte, 4)
		if n, _ := f.Read(b); string(b[:n]) != "\x7fELF" {
			t.Errorf("OpenRegular(%s) read %q", p, b[:n])
		}
		f.Close()
	}
	s := NewSymbolizer()
	within(t, "indexPath of a FIFO", func() {
		if e := s.indexPath(fifo, nil, 0); e != nil {
			t.Errorf("indexPath(FIFO) indexed it")
		}
	})
}
