package live

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/spawntrace/spawntrace/reports"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/phase"
	"github.com/spawntrace/spawntrace/tracer/ptrace"
)

// Launch starts the workload (path, run as args) tracked from birth, with
// spawntrace's own stdin, stdout and stderr, and waits for it and, as
// strace -f does, for what it leaves running. cred, when not nil, runs it
// as another user (-u). Signals spawntrace gets go on to the workload.
func Launch(t *tracer.Tracer, path string, args []string, cred *syscall.Credential, opts Options) (*Session, error) {
	cmd := exec.Command(path, args[1:]...)
	cmd.Args = args
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	// The workload's own stdin, stdout and stderr pass through untouched:
	// spawntrace's descriptors themselves, not writers (which would be pipes).
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := t.ArmLaunch(); err != nil {
		return nil, err
	}
	s, err := newSession(t, opts)
	if err != nil {
		t.DisarmLaunch()
		return nil, err
	}
	s.tracked = func() []uint32 { return bpfTracked(t, opts) }
	// Start returns once the child has exec'd, so the window in which the
	// launcher's children are tracked closes right after.
	phase.Done("session ready")
	err = cmd.Start()
	if derr := t.DisarmLaunch(); err == nil {
		err = derr
	}
	if err != nil {
		signal.Stop(s.sigs)
		return nil, fmt.Errorf("starting %s: %w", args[0], err)
	}
	phase.Done("workload started")
	s.setMain(cmd.Process.Pid)
	s.readHostMeanwhile()
	if s.libc != nil {
		s.libc.prefetch(path)
	}
	// Signals go on to the workload. A second SIGINT or SIGTERM means the
	// user wants out even though the workload ignores them: kill it, then
	// report as usual without waiting for what it left behind.
	done := make(chan struct{})
	var forced atomic.Bool
	go s.forwardSignals(cmd.Process.Pid, args[0], done, &forced)
	err = cmd.Wait()
	close(done)
	phase.Done("workload exited")
	s.status = ExitStatus(cmd.ProcessState, err)
	if !forced.Load() {
		s.waitTree()
	}
	return s, nil
}

// forwardSignals sends the signals spawntrace gets on to the workload (pid)
// until done is closed. A second SIGINT or SIGTERM means the user wants
// out even though the workload ignores them: it is killed, and forced set.
func (s *Session) forwardSignals(pid int, name string, done <-chan struct{}, forced *atomic.Bool) {
	interrupts := 0
	for {
		select {
		case sig := <-s.sigs:
			if !terminalDelivered(sig) {
				unix.Kill(pid, sig.(syscall.Signal))
			}
			if sig == unix.SIGINT || sig == unix.SIGTERM {
				if interrupts++; interrupts == 2 {
					fmt.Fprintf(s.opts.Warn, "spawntrace: interrupted twice: killing %s (pid %d)\n",
						reports.TermSafe(name), pid)
					forced.Store(true)
					unix.Kill(pid, unix.SIGKILL)
				}
			}
		case <-done:
			return
		}
	}
}

// terminalDelivered is true for a Ctrl-C typed at the terminal whose
// foreground group we share: the kernel sent it to the workload too, and
// forwarding it would deliver it twice.
func terminalDelivered(sig os.Signal) bool {
	if sig != unix.SIGINT && sig != unix.SIGQUIT {
		return false
	}
	fg, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	return err == nil && fg == unix.Getpgrp()
}

// ExitStatus is a finished process's status as a shell gives it: its exit
// code, 128+N when signal N ended it, 1 when it never ran.
func ExitStatus(ps *os.ProcessState, err error) int {
	if ps == nil {
		return 1
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// waitTree waits, as strace -f does, for the processes the workload left
// behind; a signal ends the wait.
func (s *Session) waitTree() {
	announced := false
	deadline := time.Now().Add(time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		live := s.tracked()
		if len(live) == 0 {
			return
		}
		if !announced && time.Now().After(deadline) {
			stop := "Ctrl-C to stop"
			if s.backend == ptrace.Name {
				// A process left with the seccomp filter and no tracer
				// would fail every spawn call with ENOSYS.
				stop = "Ctrl-C to stop and kill them: the ptrace backend cannot leave them running"
			}
			fmt.Fprintf(s.opts.Warn, "spawntrace: workload exited; waiting for %d processes it left running (%s)\n", len(live), stop)
			announced = true
		}
		select {
		case <-s.sigs:
			return
		case <-tick.C:
		}
	}
}

// bpfTracked lists the tree's processes still running, from the kernel's
// tracked map: it is current with every fork, where the events read so far
// wait for the ring buffer, which does not wake the reader for every fork
// (a daemon's double fork can leave the top process dead and the
// grandchild's fork not yet read). A failure to read the map ends the
// wait, said once: it cannot be told what still runs.
func bpfTracked(t *tracer.Tracer, opts Options) []uint32 {
	tracked, err := t.Tracked()
	if err != nil {
		fmt.Fprintf(opts.Warn, "spawntrace: warning: not waiting for the processes the workload left: %v\n", err)
		return nil
	}
	live := tracked[:0]
	for _, p := range tracked {
		if unix.Kill(int(p), 0) == unix.ESRCH {
			// Gone, and its exit not seen (cannot happen but for a bug):
			// a stale entry must not keep spawntrace waiting.
			t.Untrack(p)
			continue
		}
		live = append(live, p)
	}
	return live
}
