package live

import (
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestRustProbeFIFONoHang: a process gone before its program is read
// leaves the name it was exec'd by, which the workload may since have
// made a FIFO with no writer; reading it must not block the probe (and
// with it the end of the run).
func TestRustProbeFIFONoHang(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "prog")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	p := &rustProbe{procRoot: dir}
	done := make(chan bool, 1)
	go func() { done <- p.isRust(rustJob{pid: 4242, exe: fifo}) }()
	select {
	case rust := <-done:
		if rust {
			t.Error("a FIFO was taken for a Rust program")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reading a FIFO named as the program blocked")
	}
}
