package live

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/spawn"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/symbolize"
)

// stackProbe symbolizes spawn stacks and CPU samples while the processes
// are alive: raw addresses mean nothing once a short-lived process has
// exited. On the reader goroutine it follows forks and execs and reads
// each process's memory map the first time a stack of it arrives as bare
// addresses (see below for those that come with build IDs): that
// part cannot wait (a shell's subshell forks once and exits within a
// millisecond), and is cheap: /proc/PID/maps lists VMAs, it does not
// walk page tables as smaps_rollup would. A goroutine fed by a
// bounded queue then reads the ELF files and names the frames, which may
// take longer: the files outlive the processes.
//
// Spawn stacks and CPU samples mostly skip the memory map: the kernel
// gives their user frames as build ID and file offset, named from an index
// of the files exec'd (the symbolizing goroutine indexes each exec's
// program and the libraries it needs) and of those seen mapped, so neither
// wakes the reader (but a process's first whose stack the kernel gave as
// bare addresses: a kernel without build IDs, a Go program's own clone):
// waking it for every process and sample multiplied --pprof's overhead.
// The maps are read on the reader goroutine itself: a goroutine of their
// own waited for a P behind blocking syscalls, and short-lived processes
// were gone by the time it ran.
type stackProbe struct {
	sym  *symbolize.Symbolizer
	jobs chan stackJob
	done chan struct{}
	// mainPid is the workload's process (setMain), 0 until known: each of
	// its execs names the profiles' main program anew.
	mainPid atomic.Uint32

	// Reader goroutine only.
	// pending holds the jobs of the records read since the reader last
	// drained the ring buffer (drained): handed over together, they wake
	// the symbolizer once per drain rather than once per spawn and exec.
	pending  []stackJob
	dropped  int        // spawn stacks that found the queue full
	late     []stackJob // CPU samples and execs that found it full, and spawn stacks behind them: done at the end
	overflow int        // CPU samples past maxLate: dropped

	// Symbolizer goroutine only, until done is closed. Spawn stacks go to
	// the recorder, which joins them to their events when it reads them
	// back: keeping an ID per spawn here would grow with the run.
	table *recording.StackTable
	rec   *recording.Recorder
	kerr  error
	// unwinding counts the spawn stacks copied for unwinding and what
	// unwinding them cost (recording.TracerUsage).
	unwinding unwindUsage

	warn io.Writer // says, at Finish, why kernel frames went unnamed
}

// spawnKey finds a spawn event again once its stack is symbolized.
type spawnKey struct {
	tid    uint32
	timeNs uint64
}

type stackJob struct {
	img      *symbolize.Image
	spawn    spawnKey // spawn stacks
	sample   bool
	main     bool          // find the workload's executable
	argv     []string      // with main: its command line as exec'd
	index    bool          // index the program pid exec'd
	exec     string        // its name: "" when it could not be read (nothing to index)
	execFile tracer.FileID // the file it runs, as the kernel names it
	pid      uint32
	comm     string
	kstack   []uint64
	ustack   []uint64           // spawn stacks of bare addresses
	sampled  []tracer.UserFrame // CPU samples, spawn stacks with build IDs
	copied   *tracer.StackCopy  // spawn stacks: the caller's stack, for unwinding by CFI
	mapGone  bool               // ... whose process was gone before its map of the moment was read
}

// stackQueue bounds the stacks waiting for the symbolizer: past it, spawn
// stacks are dropped (and counted) rather than stall the ring buffer.
const stackQueue = 4096

// maxPending bounds the jobs held for one hand-over: a drain of a full
// ring buffer hands them over as it goes, so that the symbolizer works
// meanwhile and spawn stacks do not find the queue full at once.
const maxPending = 256

// maxLate bounds the jobs kept aside when the queue is full (~1-3 KiB
// each, with their stacks); past it samples and spawn stacks are dropped
// and counted, execs left unindexed.
const maxLate = 1 << 16

// programChecker is a backend that can tell whether a process still runs
// the program of its spawn (the BPF tracer: tracer.Tracer.SameProgram).
type programChecker interface {
	SameProgram(pid uint32, sinceNs uint64) (same, known bool)
}

// newStackProbe makes the probe; t, when it is a programChecker, checks the
// maps read for spawn stacks.
func newStackProbe(t Backend, rec *recording.Recorder, sampling bool, warn io.Writer) *stackProbe {
	p := &stackProbe{
		warn:  warn,
		sym:   symbolize.NewSymbolizer(),
		jobs:  make(chan stackJob, stackQueue),
		done:  make(chan struct{}),
		table: recording.NewStackTable(),
		rec:   rec,
	}
	if c, ok := t.(programChecker); ok {
		p.sym.SetProgramCheck(c.SameProgram)
	}
	if sampling {
		// Before the workload starts, so as not to take CPU from it; an
		// error is said at the end, with the frames it left unnamed.
		p.kerr = p.sym.LoadKernel()
	}
	go func() {
		defer close(p.done)
		for j := range p.jobs {
			p.run(j)
		}
	}()
	return p
}

// Observe follows the tree's address spaces and queues spawn stacks; it
// runs on the reader goroutine for every event.
func (p *stackProbe) Observe(ev *tracer.Event) {
	switch ev.Kind {
	case tracer.KindFork:
		if !ev.Thread {
			p.sym.Fork(ev.Pid, ev.ChildPid, ev.TimeNs)
		}
	case tracer.KindExec:
		p.sym.Exec(ev.Pid, ev.TimeNs)
		// Its spawn stacks and samples are symbolized later, maybe after
		// it exits (a shell lives ~1 ms): index its files by build ID,
		// before the stacks that follow in the queue.
		p.add(stackJob{index: true, exec: ev.Filename, execFile: ev.ExecFile(), pid: ev.Pid})
		if ev.Pid == p.mainPid.Load() {
			// The workload exec'd again ("/usr/bin/env python3", a shim):
			// the program it runs now is the main one. Its map is read at
			// once, before it can exit; a few reads a run.
			img := p.sym.Image(ev.Pid)
			p.sym.Load(img)
			p.add(stackJob{img: img, main: true, argv: ev.Argv})
		}
	case tracer.KindExit:
		if ev.GroupDead {
			p.sym.Exit(ev.Pid)
		}
	case tracer.KindSyscall:
		// Only spawns' stacks are kept (those of the spawn profile).
		copied := ev.StackCopy()
		if _, _, spawned := spawn.IsProcessSpawn(ev); len(ev.UserStack) == 0 && len(ev.UserFrames()) == 0 && copied == nil || !spawned {
			return
		}
		img := p.sym.Image(ev.Pid)
		mapGone := false
		switch {
		case copied != nil:
			// A stack to unwind: only the map places its addresses in
			// files, and it must hold the libraries of the moment (the
			// process's first such spawn woke the reader, bpf send_spawn).
			// It is read from the spawner itself, which may be a child
			// sharing its parent's image since a fork. A spawner that
			// exits within a millisecond of its spawn is gone by then, one
			// that exec'd runs another program: its stack is unwound from
			// a map read before, if any, else left as the kernel walked
			// it, and says why.
			mapGone = errors.Is(p.sym.LoadSince(img, ev.Pid, ev.TimeNs), symbolize.ErrProcessGone)
		case len(ev.UserStack) > 0 || symbolize.NeedsMap(ev.UserFrames()):
			// Bare addresses: only the map names them (likewise).
			p.sym.LoadAt(img, ev.Pid, ev.TimeNs)
		}
		if copied != nil {
			p.unwinding.copies++
			p.unwinding.copyBytes += uint64(copied.RecordBytes)
		}
		p.add(stackJob{img: img, spawn: spawnKey{ev.Tid, ev.TimeNs}, ustack: ev.UserStack, sampled: ev.UserFrames(), copied: copied,
			mapGone: mapGone})
	}
}

// add holds a job for the next hand-over to the symbolizer.
func (p *stackProbe) add(j stackJob) {
	p.pending = append(p.pending, j)
	if len(p.pending) >= maxPending {
		p.drained()
	}
}

// drained hands the jobs held to the symbolizer, in order: the reader has
// drained the ring buffer (tracer.Sink.Drained).
func (p *stackProbe) drained() {
	for i, j := range p.pending {
		p.pending[i] = stackJob{}
		if j.main || j.index || j.sample {
			p.queue(j)
			continue
		}
		// A spawn stack.
		if len(p.late) > 0 {
			// After the execs kept aside: they index the files it names.
			p.queue(j)
			continue
		}
		select {
		case p.jobs <- j:
		default:
			p.dropped++
		}
	}
	p.pending = p.pending[:0]
}

// sample queues one CPU sample; on the reader goroutine.
func (p *stackProbe) sample(s *tracer.Sample) {
	img := p.sym.Image(s.Pid)
	if symbolize.NeedsMap(s.UserStack) {
		// Read the map now if the process still lives (on a kernel that
		// gives no build IDs, its first such sample woke the reader).
		p.sym.Load(img)
	}
	p.add(stackJob{img: img, sample: true, pid: s.Pid, comm: s.Comm, kstack: s.KernelStack, sampled: s.UserStack})
}

// queue hands a CPU sample or an exec to the symbolizing goroutine, or
// keeps it aside while the queue is full. Jobs kept aside go first, in
// order: an exec's files must be indexed before its samples are named.
func (p *stackProbe) queue(j stackJob) {
	for len(p.late) > 0 && p.trySend(p.late[0]) {
		p.late[0] = stackJob{}
		p.late = p.late[1:]
	}
	if len(p.late) == 0 && p.trySend(j) {
		return
	}
	switch {
	case len(p.late) < maxLate:
		p.late = append(p.late, j)
	case j.sample:
		p.overflow++
	case !j.index:
		p.dropped++ // a spawn stack, counted as one the queue could not take
	default:
		// An exec not indexed: frames in its files fall back to reading
		// the process's map. Bounded like the rest, a symbolizer far
		// behind must not hold the run's every exec.
	}
}

func (p *stackProbe) trySend(j stackJob) bool {
	select {
	case p.jobs <- j:
		return true
	default:
		return false
	}
}

// setMain notes the workload's process, whose executable becomes the
// profiles' main binary; its map is read at once, before it can exit.
func (p *stackProbe) setMain(pid int) {
	// Whatever image the reader made of pid so far may predate its exec (a
	// CPU sample taken inside execve): start a fresh one, read now that the
	// workload runs its own program.
	// Its execs from now on are followed (Observe); those before may have
	// been read already, and the map and argv read here are theirs.
	// Read before the fresh image is made: the reader, meanwhile, may
	// make one of the exec's record (it is not the main one until
	// mainPid is set), which this one replaces.
	maps := mainMap(p.sym, pid)
	p.sym.Exec(uint32(pid), uint64(now().mono))
	p.mainPid.Store(uint32(pid))
	img := p.sym.Image(uint32(pid))
	p.sym.LoadRead(img, maps)
	var argv []string // as the kernel passed it: a #! script's interpreter first
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && len(b) > 0 {
		argv = strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
	}
	select {
	case p.jobs <- stackJob{img: img, main: true, argv: argv}:
	default:
	}
}

func (p *stackProbe) run(j stackJob) {
	switch {
	case j.main:
		if m, err := p.sym.MainMapping(j.img); err == nil {
			p.table.SetMain(m, j.argv)
		}
	case j.index:
		if j.exec != "" {
			p.sym.IndexExec(j.pid, j.exec, j.execFile)
		}
	case j.sample:
		var frames []symbolize.Frame
		if len(j.kstack) > 0 {
			kf, err := p.sym.Kernel(j.kstack)
			if err != nil && p.kerr == nil {
				p.kerr = err
			}
			frames = kf
		}
		if len(j.sampled) > 0 {
			uf, err := p.sym.UserFrames(j.img, j.sampled)
			if err != nil {
				p.table.LoseSampleStack()
			}
			frames = append(frames, uf...)
		}
		p.table.AddSample(j.pid, j.comm, p.table.Add(frames))
	default:
		var frames []symbolize.Frame
		var err error
		if len(j.sampled) > 0 {
			frames, err = p.sym.UserFrames(j.img, j.sampled)
		} else if len(j.ustack) > 0 {
			frames, err = p.sym.User(j.img, j.ustack)
		}
		var how recording.Unwinding
		if j.copied != nil {
			if cf, cfCut, cfErr, ok := p.unwind(j.img, j.copied, frames); ok {
				frames, err, how = cf, cfErr, recording.Unwinding{Unwound: recording.UnwoundCFI, Cut: cfCut}
			} else {
				how.MapGone = j.mapGone
			}
		}
		if err != nil {
			p.table.LoseSpawnStack()
		}
		// Jobs run in the order the reader queued them, which is the order
		// it added the spawn events: SetSpawnStack needs that.
		p.rec.SetSpawnStack(j.spawn.tid, j.spawn.timeNs, p.table.AddUnwound(frames, how))
	}
}

// Finish waits for the queue to drain and gives the recording its stacks:
// the CPU samples and the files (each spawn event's StackID went to the
// recorder). rec.SampleHz is already the rate recorded at.
func (p *stackProbe) Finish(rec *recording.Recording) {
	p.drained() // the reader has returned
	close(p.jobs)
	<-p.done
	for _, j := range p.late {
		p.run(j)
	}
	for range p.dropped {
		p.table.LoseSpawnStack()
	}
	p.table.DropSamples(p.overflow)
	p.table.Fill(rec)
	if rec.SampleHz > 0 && p.kerr != nil {
		fmt.Fprintf(p.warn, "spawntrace: kernel frames left unnamed: %v\n", p.kerr)
	}
}

// recordedHz is the rate the recording was sampled at: 0 when sampling
// was not asked for or could not attach (then said on warn).
func recordedHz(t Backend, asked int, warn io.Writer) int {
	if asked == 0 {
		return 0
	}
	for _, p := range t.Probes() {
		if p.Name == tracer.SamplingProbe && !p.Available {
			fmt.Fprintf(warn, "spawntrace: no CPU samples: %s\n", p.Reason)
			return 0
		}
	}
	return asked
}
