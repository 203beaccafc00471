package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// TestProgress: the line is rewritten in place with the counts, and
// cleared at the end; nothing on a file, a pipe or a buffer.
func TestProgress(t *testing.T) {
	var buf lockedBuf
	p := runProgress(&buf, 0, 10*time.Millisecond, func() (uint64, uint64) { return 7, 3 })
	time.Sleep(50 * time.Millisecond)
	p.end()
	out := buf.b.String()
	if !strings.HasPrefix(out, "\rspawntrace: recording, ") || !strings.Contains(out, "7 processes and threads started, 3 execs") ||
		!strings.HasSuffix(out, "\r\x1b[K") || strings.Contains(out, "\n") {
		t.Errorf("progress output %q", out)
	}

	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	for _, out := range []any{f, w, &buf} {
		if p := startProgress(out.(interface{ Write([]byte) (int, error) }), 0, 0, time.Millisecond, nil); p != nil {
			t.Errorf("%T: a progress line where stderr is not a terminal", out)
			p.end()
		}
	}
	// Ended before its delay: nothing written.
	var quiet lockedBuf
	runProgress(&quiet, time.Hour, time.Millisecond, nil).end()
	if quiet.b.Len() != 0 {
		t.Errorf("ended before the delay, wrote %q", quiet.b.String())
	}
}

// openPty returns a new pseudo-terminal's two ends: what a terminal
// emulator reads (master) and what programs write to (its /dev/pts/N).
func openPty(t *testing.T) (master, tty *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil && os.Getenv("CI") != "true" {
		t.Skipf("no pseudo-terminals here: %v", err)
	} else if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// TestProgressNotOverWorkload: on a terminal, the progress line shows
// only where the workload's stdin, stdout and stderr are elsewhere (a
// daemon attached with -p, bench's worker); a workload writing to the same
// terminal (a command spawntrace runs, which inherits its stderr) gets no
// line drawn over its unfinished ones.
func TestProgressNotOverWorkload(t *testing.T) {
	_, tty := openPty(t)
	devNull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	run := func(stdin, stdout, stderr *os.File) int {
		cmd := exec.Command("sleep", "30")
		cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd.Process.Pid
	}
	// The same terminal, opened again (another open file, the same device).
	again, err := os.OpenFile(tty.Name(), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	_, other := openPty(t)
	for _, c := range []struct {
		name   string
		pid    int
		shares bool
	}{
		{"stderr on the terminal", run(devNull, devNull, tty), true},
		{"stdout on the terminal, opened again", run(devNull, again, devNull), true},
		{"stdin from the terminal", run(tty, devNull, devNull), true},
		{"all elsewhere", run(devNull, devNull, devNull), false},
		{"another terminal", run(other, other, other), false},
		{"no workload output (bench)", 0, false},
	} {
		if got := sharesTerminal(tty, c.pid); got != c.shares {
			t.Errorf("%s: sharesTerminal %v, want %v", c.name, got, c.shares)
		}
		p := startProgress(tty, c.pid, time.Hour, time.Hour, nil)
		if (p == nil) != c.shares {
			t.Errorf("%s: progress %v, want a line: %v", c.name, p != nil, !c.shares)
		}
		p.end()
	}
	// A command spawntrace runs inherits its descriptors.
	o := recordOptions{}
	if got := o.workloadFdsPid(); got != os.Getpid() {
		t.Errorf("a launched command's descriptors are pid %d's, want spawntrace's %d", got, os.Getpid())
	}
}
