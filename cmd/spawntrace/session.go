package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/spawntrace/spawntrace/analyze"
	"github.com/spawntrace/spawntrace/tracer"
)

// session is one traced run: the reader goroutine, the recorder, and the
// workload or attached process.
type session struct {
	t        *tracer.Tracer
	env      *analyze.EnvFacts // the workload's environment, read at its start
	rec      *analyze.Recorder
	spawners *spawnerProbe
	stacks   *stackProbe
	libc     *libcProbe
	readDone chan error
	start    clockPair
	status   int
	sigs     chan os.Signal
	stderr   io.Writer
}

type clockPair struct{ mono, unix int64 }

func now() clockPair {
	var m, r unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &m)
	unix.ClockGettime(unix.CLOCK_REALTIME, &r)
	return clockPair{mono: m.Nano(), unix: r.Nano()}
}

var forwarded = []os.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT}

func newSession(t *tracer.Tracer, stderr io.Writer) (*session, error) {
	rec, err := analyze.NewRecorder()
	if err != nil {
		return nil, err
	}
	s := &session{
		t:        t,
		rec:      rec,
		spawners: newSpawnerProbe(),
		stacks:   newStackProbe(rec, t.ProbeAvailable(tracer.SamplingProbe)),
		libc:     newLibcProbe(),
		readDone: make(chan error, 1),
		start:    now(),
		sigs:     make(chan os.Signal, 4),
		stderr:   stderr,
	}
	go func() {
		spillFailed := false
		s.readDone <- t.Read(tracer.Sink{Event: func(ev *tracer.Event) {
			s.spawners.observe(ev)
			s.stacks.observe(ev)
			s.libc.observe(ev)
			if err := s.rec.Add(ev); err != nil && !spillFailed {
				// Said at once, so that a long run can be stopped; the
				// run then fails with the same error (finish).
				spillFailed = true
				fmt.Fprintf(stderr, "spawntrace: recording events: %v: events from here on are lost\n", err)
			}
		}, Sample: s.stacks.sample})
	}()
	signal.Notify(s.sigs, forwarded...)
	return s, nil
}

// launch starts the workload tracked from birth and waits for it.
// cred, when not nil, runs it as another user (-u).
func launch(t *tracer.Tracer, path string, args []string, cred *syscall.Credential, stderr io.Writer) (*session, error) {
	cmd := exec.Command(path, args[1:]...)
	cmd.Args = args
	if cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := t.ArmLaunch(); err != nil {
		return nil, err
	}
	s, err := newSession(t, stderr)
	if err != nil {
		t.DisarmLaunch()
		return nil, err
	}
	s.env = workloadEnv(0) // it inherits ours
	// Start returns once the child has exec'd, so the window in which the
	// launcher's children are tracked closes right after.
	err = cmd.Start()
	if derr := t.DisarmLaunch(); err == nil {
		err = derr
	}
	if err != nil {
		signal.Stop(s.sigs)
		return nil, fmt.Errorf("starting %s: %w", args[0], err)
	}
	s.stacks.setMain(cmd.Process.Pid)
	// Signals go on to the workload. A second SIGINT or SIGTERM means the
	// user wants out even though the workload ignores them: kill it, then
	// report as usual without waiting for what it left behind.
	done := make(chan struct{})
	var forced atomic.Bool
	go func() {
		interrupts := 0
		for {
			select {
			case sig := <-s.sigs:
				if !terminalDelivered(sig) {
					cmd.Process.Signal(sig)
				}
				if sig == unix.SIGINT || sig == unix.SIGTERM {
					if interrupts++; interrupts == 2 {
						fmt.Fprintf(stderr, "spawntrace: interrupted twice: killing %s (pid %d)\n",
							analyze.Printable(args[0]), cmd.Process.Pid)
						forced.Store(true)
						cmd.Process.Kill()
					}
				}
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	s.status = exitStatus(cmd.ProcessState, err)
	if !forced.Load() {
		s.waitTree()
	}
	return s, nil
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

func exitStatus(ps *os.ProcessState, err error) int {
	if ps == nil {
		return exitFailure
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// waitTree waits, as strace -f does, for the processes the workload left
// behind; a signal ends the wait.
func (s *session) waitTree() {
	announced := false
	deadline := time.Now().Add(time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		live := s.liveTree()
		if len(live) == 0 {
			return
		}
		if !announced && time.Now().After(deadline) {
			fmt.Fprintf(s.stderr, "spawntrace: workload exited; waiting for %d processes it left running (Ctrl-C to stop)\n", len(live))
			announced = true
		}
		select {
		case <-s.sigs:
			return
		case <-tick.C:
		}
	}
}

// liveTree lists the tree's processes still running, from the kernel's
// tracked map: it is current with every fork, where the events read so far
// wait for the ring buffer, which does not wake the reader for every fork
// (a daemon's double fork can leave the top process dead and the
// grandchild's fork not yet read). A failure to read the map ends the
// wait, said once: it cannot be told what still runs.
func (s *session) liveTree() []uint32 {
	tracked, err := s.t.Tracked()
	if err != nil {
		fmt.Fprintf(s.stderr, "spawntrace: warning: not waiting for the processes the workload left: %v\n", err)
		return nil
	}
	live := tracked[:0]
	for _, p := range tracked {
		if unix.Kill(int(p), 0) == unix.ESRCH {
			// Gone, and its exit not seen (cannot happen but for a bug):
			// a stale entry must not keep spawntrace waiting.
			s.t.Untrack(p)
			continue
		}
		live = append(live, p)
	}
	return live
}

// attach seeds the tree with pid and its descendants and waits for pid to
// exit or for a signal.
func attach(t *tracer.Tracer, pid int, stderr io.Writer) (*session, error) {
	tree, err := descendants(pid)
	if err != nil {
		return nil, err
	}
	if err := t.Track(tree...); err != nil {
		return nil, err
	}
	s, err := newSession(t, stderr)
	if err != nil {
		return nil, err
	}
	s.env = workloadEnv(pid) // before the process can exit
	s.stacks.setMain(pid)
	if n := len(tree) - 1; n > 0 {
		fmt.Fprintf(stderr, "spawntrace: attached to %d and its %d descendants; Ctrl-C to stop\n", pid, n)
	} else {
		fmt.Fprintf(stderr, "spawntrace: attached to %d; Ctrl-C to stop\n", pid)
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for processAlive(pid) {
		select {
		case <-s.sigs:
			s.status = -1
			return s, nil
		case <-tick.C:
		}
	}
	s.status = -1
	return s, nil
}

// finish drains the ring buffer, reads the kernel's totals and builds the
// recording, whose events stay in the recorder's spill file: the caller
// closes it (Recording.Close). On failure the recorder's files are closed.
func (s *session) finish(t *tracer.Tracer, sampleHz int) (rec *analyze.Recording, err error) {
	defer func() {
		if err != nil {
			s.rec.Close()
		}
	}()
	signal.Stop(s.sigs)
	end := now()
	if err := t.Flush(); err != nil {
		return nil, fmt.Errorf("flushing ring buffer: %w", err)
	}
	if err := <-s.readDone; err != nil {
		return nil, err
	}
	stats, err := t.SyscallStats()
	if err != nil {
		return nil, err
	}
	lost, err := t.Lost()
	if err != nil {
		return nil, err
	}
	rec = &analyze.Recording{
		Version:      version(),
		Host:         readHost(),
		StartUnixNs:  s.start.unix,
		MonoToUnixNs: s.start.unix - s.start.mono,
		StartMonoNs:  uint64(s.start.mono),
		EndMonoNs:    uint64(end.mono),
		ExitStatus:   s.status,
		Probes:       t.Probes(),
		Syscalls:     analyze.SyscallTable(stats),
		Threads:      s.rec.Threads(),
		Spawners:     s.spawners.finish(),
		Lost:         lost,
	}
	rec.Host.Libc, rec.Host.Env = s.libc.finish(), s.env
	// The symbolizer's last spawn stacks reach the recorder before it
	// hands its events over.
	s.stacks.finish(rec, recordedHz(t, sampleHz, s.stderr), s.stderr)
	if err := s.rec.Fill(rec); err != nil {
		return nil, err
	}
	rec.Tracer = tracerUsage()
	return rec, nil
}

// tracerUsage is spawntrace's own CPU time and peak RSS so far: its
// process only (the workload, a child, would be RUSAGE_CHILDREN).
func tracerUsage() *analyze.TracerUsage {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return nil
	}
	return &analyze.TracerUsage{
		CPUNs:       uint64(ru.Utime.Nano() + ru.Stime.Nano()),
		MaxRSSBytes: uint64(ru.Maxrss) << 10, // KiB on Linux
	}
}
