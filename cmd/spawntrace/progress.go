package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// progress rewrites one line on a terminal's stderr while a long run
// records: how long it has run and what it has seen so far. Nothing when
// stderr is not a terminal (a file, a pipe, a CI log), where a line
// rewritten by carriage returns is only noise, and nothing on a terminal
// the workload writes to (sharesTerminal): there the line would overwrite
// the workload's unfinished lines and land in the middle of its output.
// strace and perf record draw nothing over a workload's output either.
type progress struct {
	stop chan struct{}
	done chan struct{}
}

// progressDelay is how long a run goes before its progress shows: a short
// run ends before anyone would wait for it.
const progressDelay = 2 * time.Second

// startProgress shows counts() every period on w, after delay, when w is
// a terminal that the workload does not share; stop ends it and clears
// the line. workloadFdsPid is the process whose stdin, stdout and stderr
// the workload has: spawntrace's own for a command it runs, the target's
// for -p; 0 for bench's worker, which writes nothing.
func startProgress(w io.Writer, workloadFdsPid int, delay, period time.Duration, counts func() (forks, execs uint64)) *progress {
	if !isTerminal(w) || sharesTerminal(w, workloadFdsPid) {
		return nil
	}
	return runProgress(w, delay, period, counts)
}

// sharesTerminal says whether process pid's stdin, stdout or stderr is
// the file w is (the same terminal: its typed input echoes there too). A
// descriptor that cannot be read counts as shared: better no progress
// line than one over the workload's output.
func sharesTerminal(w io.Writer, pid int) bool {
	if pid == 0 {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	var ours unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &ours); err != nil {
		return true
	}
	for fd := 0; fd <= 2; fd++ {
		var st unix.Stat_t
		err := unix.Stat(fmt.Sprintf("/proc/%d/fd/%d", pid, fd), &st)
		switch {
		case errors.Is(err, unix.ENOENT):
			continue // closed
		case err != nil:
			return true
		case st.Dev == ours.Dev && st.Ino == ours.Ino,
			st.Mode&unix.S_IFMT == unix.S_IFCHR && ours.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == ours.Rdev:
			return true
		}
	}
	return false
}

func runProgress(w io.Writer, delay, period time.Duration, counts func() (forks, execs uint64)) *progress {
	p := &progress{stop: make(chan struct{}), done: make(chan struct{})}
	start := time.Now()
	go func() {
		defer close(p.done)
		select {
		case <-time.After(delay):
		case <-p.stop:
			return
		}
		tick := time.NewTicker(period)
		defer tick.Stop()
		for {
			forks, execs := counts()
			// \r and erase-line: the line is rewritten in place.
			fmt.Fprintf(w, "\rspawntrace: recording, %.0f s: %d processes and threads started, %d execs\x1b[K",
				time.Since(start).Seconds(), forks, execs)
			select {
			case <-tick.C:
			case <-p.stop:
				fmt.Fprint(w, "\r\x1b[K")
				return
			}
		}
	}()
	return p
}

// end stops the line and clears it; nil-safe.
func (p *progress) end() {
	if p == nil {
		return
	}
	close(p.stop)
	<-p.done
}

// isTerminal says whether w is a terminal (an *os.File with termios).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// workloadFdsPid is the process whose stdin, stdout and stderr the
// recorded workload has (startProgress): the target of -p, or spawntrace
// itself, whose descriptors a command it runs inherits (live.Launch).
func (o *recordOptions) workloadFdsPid() int {
	if o.attachPid != 0 {
		return o.attachPid
	}
	return os.Getpid()
}
