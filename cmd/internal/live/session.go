// Package live runs one traced session while its processes are alive:
// it starts the workload (Launch) or attaches to it (Attach), reads the
// ring buffer, hands every event to the observers that must read /proc and
// ELF files before the processes exit, and builds the Recording (Finish).
// A saved recording needs none of this: report and compare work from the
// file alone. The package prints nothing itself: progress and warnings go
// to the io.Writer it is given (Options.Warn).
package live

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/phase"
)

// Options are what a session takes from the command line.
type Options struct {
	// Version is spawntrace's own, saved in the recording.
	Version string
	// SampleHz is the CPU sampling rate the tracer was opened with; 0
	// when not sampling.
	SampleHz int
	// Warn receives progress and warnings, a "spawntrace: " line each:
	// the command's stderr.
	Warn io.Writer
	// Started, when set, is called with the session once it reads events,
	// before Launch or Attach waits for the workload (a progress line).
	Started func(*Session)
	// TableOnly says the run shows the syscall table alone (-c): no
	// observer reads /proc or ELF files, and the recorder keeps no events,
	// only the counts of exits and threads.
	TableOnly bool
}

// Backend is what a session reads the tree from: the BPF tracer
// (*tracer.Tracer) or the ptrace one (*ptrace.Tracer).
type Backend interface {
	// Read delivers events to the sink until Flush, then returns.
	Read(tracer.Sink) error
	Flush() error
	SyscallStats() ([]tracer.SyscallStat, error)
	Lost() (tracer.Lost, error)
	Probes() []tracer.Probe
	ProbeAvailable(name string) bool
}

// Session is one traced run: the reader goroutine, the recorder, the
// observers, and the workload or attached process.
type Session struct {
	t Backend
	// backend is the backend's name for the recording ("" for BPF).
	backend string
	// tracked lists the tree's live processes, for the wait on what the
	// workload left running.
	tracked func() []uint32
	opts    Options
	rec     *recording.Recorder
	// observers see every event, in this order; stacks is one of them,
	// and also takes the CPU samples and the workload's pid. None, and
	// stacks and libc nil, under TableOnly.
	observers []Observer
	stacks    *stackProbe
	libc      *libcProbe
	readDone  chan error
	start     clockPair
	status    int
	sigs      chan os.Signal
	// forks and execs are counted as events arrive, for a progress line.
	forks, execs atomic.Uint64
	// host waits for the host's facts read while the workload runs
	// (readHostMeanwhile); nil until they are asked for.
	host func() recording.Host
}

// setMain tells the stack probe the workload's pid, if it runs.
func (s *Session) setMain(pid int) {
	if s.stacks != nil {
		s.stacks.setMain(pid)
	}
}

// Counts are the new tasks (processes and threads) and the successful
// execs read so far; safe to call while the session runs.
func (s *Session) Counts() (forks, execs uint64) { return s.forks.Load(), s.execs.Load() }

// Status is the workload's exit status (128+N when signal N ended it), or
// -1 for an attached process, whose status spawntrace cannot know.
func (s *Session) Status() int { return s.status }

type clockPair struct{ mono, unix int64 }

func now() clockPair {
	var m, r unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &m)
	unix.ClockGettime(unix.CLOCK_REALTIME, &r)
	return clockPair{mono: m.Nano(), unix: r.Nano()}
}

var forwarded = []os.Signal{unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT}

func newSession(t Backend, opts Options) (*Session, error) {
	rec, err := recording.NewRecorder()
	if err != nil {
		return nil, err
	}
	s := &Session{
		t:        t,
		opts:     opts,
		rec:      rec,
		readDone: make(chan error, 1),
		start:    now(),
		sigs:     make(chan os.Signal, 4),
	}
	var sample func(*tracer.Sample)
	var drained func()
	if opts.TableOnly {
		rec.CountOnly()
	} else {
		s.stacks = newStackProbe(t, rec, t.ProbeAvailable(tracer.SamplingProbe), opts.Warn)
		s.libc = newLibcProbe()
		s.observers = []Observer{s.stacks, s.libc, newRustProbe()}
		sample = s.stacks.sample
		drained = s.stacks.drained
	}
	go func() {
		spillFailed := false
		s.readDone <- t.Read(tracer.Sink{Event: func(ev *tracer.Event) {
			for _, o := range s.observers {
				o.Observe(ev)
			}
			switch ev.Kind {
			case tracer.KindFork:
				s.forks.Add(1)
			case tracer.KindExec:
				s.execs.Add(1)
			}
			if err := s.rec.Add(ev); err != nil && !spillFailed {
				// Said at once, so that a long run can be stopped; the
				// run then fails with the same error (Finish).
				spillFailed = true
				fmt.Fprintf(opts.Warn, "spawntrace: recording events: %v: events from here on are lost\n", err)
			}
		}, Sample: sample, Drained: drained})
	}()
	signal.Notify(s.sigs, forwarded...)
	if opts.Started != nil {
		opts.Started(s)
	}
	return s, nil
}

// Finish drains the ring buffer, reads the kernel's totals and builds the
// recording, whose events stay in the recorder's spill file: the caller
// closes it (Recording.Close). On failure the recorder's files are closed.
func (s *Session) Finish() (rec *recording.Recording, err error) {
	t := s.t
	defer func() {
		if err != nil {
			s.rec.Close()
		}
	}()
	signal.Stop(s.sigs)
	phase.Done("finishing")
	end := now()
	if err := t.Flush(); err != nil {
		return nil, fmt.Errorf("flushing ring buffer: %w", err)
	}
	if err := <-s.readDone; err != nil {
		return nil, err
	}
	phase.Done("events drained")
	stats, err := t.SyscallStats()
	if err != nil {
		return nil, err
	}
	lost, err := t.Lost()
	if err != nil {
		return nil, err
	}
	rec = &recording.Recording{
		Version:      s.opts.Version,
		Host:         s.hostFacts(),
		StartUnixNs:  s.start.unix,
		MonoToUnixNs: s.start.unix - s.start.mono,
		StartMonoNs:  uint64(s.start.mono),
		EndMonoNs:    uint64(end.mono),
		ExitStatus:   s.status,
		Probes:       t.Probes(),
		Syscalls:     recording.SyscallTable(stats),
		Threads:      s.rec.Threads(),
		Lost:         lost,
		Backend:      s.backend,
	}
	phase.Done("totals and host facts read")
	rec.SampleHz = recordedHz(t, s.opts.SampleHz, s.opts.Warn)
	// The observers fill in the spawners, the libc and the stacks; the
	// symbolizer's last spawn stacks reach the recorder before it hands
	// its events over.
	for _, o := range s.observers {
		o.Finish(rec)
		phase.Done(fmt.Sprintf("%T finished", o))
	}
	if err := s.rec.Fill(rec); err != nil {
		return nil, err
	}
	rec.Tracer = tracerUsage()
	phase.Done("recording filled")
	if s.stacks != nil {
		s.stacks.unwinding.fill(rec) // the symbolizer is done (Finish above)
	}
	return rec, nil
}

// readHostMeanwhile starts reading the host's facts, for Finish: once the
// workload runs, so that they are not read after it (ProbeFeatures loads
// and attaches a program, most of ~5 ms that each run waited for at its
// end) nor before it (start-up, when both CPUs load spawntrace's programs).
func (s *Session) readHostMeanwhile() {
	facts := make(chan recording.Host, 1)
	go func() { facts <- readHost() }()
	s.host = func() recording.Host { return <-facts }
}

// hostFacts are the host's facts: those read meanwhile, or read now.
func (s *Session) hostFacts() recording.Host {
	if s.host == nil {
		return readHost()
	}
	return s.host()
}

// tracerUsage is spawntrace's own CPU time and peak RSS so far: its
// process only (the workload, a child, would be RUSAGE_CHILDREN).
func tracerUsage() *recording.TracerUsage {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		return nil
	}
	return &recording.TracerUsage{
		CPUNs:       uint64(ru.Utime.Nano() + ru.Stime.Nano()),
		MaxRSSBytes: uint64(ru.Maxrss) << 10, // KiB on Linux
	}
}
