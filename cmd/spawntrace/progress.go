package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// progress rewrites one line on a terminal's stderr while a long run
// records: how long it has run and what it has seen so far. Nothing when
// stderr is not a terminal (a file, a pipe, a CI log), where a line
// rewritten by carriage returns is only noise.
type progress struct {
	stop chan struct{}
	done chan struct{}
}

// progressDelay is how long a run goes before its progress shows: a short
// run ends before anyone would wait for it.
const progressDelay = 2 * time.Second

// startProgress shows counts() every period on w, after delay, when w is
// a terminal; stop ends it and clears the line.
func startProgress(w io.Writer, delay, period time.Duration, counts func() (forks, execs uint64)) *progress {
	if !isTerminal(w) {
		return nil
	}
	return runProgress(w, delay, period, counts)
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
