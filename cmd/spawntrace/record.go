package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/summary"
	"github.com/spawntrace/spawntrace/cmd/internal/live"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/phase"
	"github.com/spawntrace/spawntrace/tracer/ptrace"
)

type recordOptions struct {
	outputOptions
	writeOptions
	attachPid  int
	ringBytes  int
	disable    listVar
	fallbacks  listVar // --force-fallback, for tests: not in the help
	verbose    bool
	user       string
	freqHz     int // --freq, with --pprof
	spawnsOnly bool
	version    bool   // -V
	follow     bool   // -f: accepted, as the tree is always followed
	backend    string // --backend: bpf, ptrace or auto
}

// backendAuto picks BPF and falls back to ptrace when BPF cannot load.
const backendAuto = "auto"

const recordHead = `Usage: spawntrace [flags] -- CMD [ARGS...]
       spawntrace [flags] -p PID

Runs CMD (or attaches to PID) and traces its whole process tree with eBPF:
every syscall counted in the kernel, every spawn and exec in detail. The
summary goes to stderr; CMD's own stdin, stdout and stderr pass through, and
spawntrace exits with CMD's status.
`

const recordExamples = `  sudo spawntrace -- python3 build.py          summary of every process it starts
  sudo spawntrace -c -- make -j8               strace -c compatible table only
  sudo spawntrace -o events.txt -w run.strec -- ./task-runner
  sudo spawntrace -p 4242                      attach to 4242 and its descendants until Ctrl-C
  sudo spawntrace --pprof out -- ./task-runner  go tool pprof out/spawns.pb.gz, out/cpu.pb.gz
  sudo spawntrace --html run.html -- make -j8  the summary with its charts, for a browser
  spawntrace report run.strec                  the same outputs again, no root needed
`

func runRecord(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var o recordOptions
	o.slowest = 10
	o.ringBytes = tracer.DefaultRingBytes
	o.freqHz = defaultFreqHz
	o.backend = backendAuto
	fs := newFlagSet("spawntrace", stderr)
	o.outputOptions.register(fs)
	o.writeOptions.register(fs)
	fs.intVar(&o.attachPid, "p", "attach", "PID", "trace the running process PID and its descendants")
	fs.intVar(&o.ringBytes, "", "ring-bytes", "N", "ring buffer size in bytes, a power of two")
	fs.boolVar(&o.spawnsOnly, "", "spawns-only", "count only the spawn-related syscalls (clone, clone3, fork, vfork, execve, execveat, socketpair, pipe2), not every syscall: only those calls run a program (Linux 5.15+), so the others cost what they cost untraced")
	fs.listVar(&o.disable, "disable-probe", "NAME", "leave probe or helper NAME unused, as if the kernel lacked it (repeatable; the names: "+strings.Join(tracer.ProbeNames(), ", ")+")")
	// Hidden: the tests run on a new kernel what an old one runs.
	fs.Var(&o.fallbacks, "force-fallback", "take the fallback NAME even where the kernel has what it replaces (tests)")
	fs.boolVar(&o.verbose, "v", "verbose", "print what was attached, spawntrace's own CPU time and peak RSS, and verifier logs on failure")
	fs.stringVar(&o.user, "u", "user", "USER", "run CMD as USER (name or uid), as strace -u does")
	fs.intVar(&o.freqHz, "F", "freq", "HZ", "with --pprof, sample on-CPU stacks HZ times a second per CPU")
	fs.boolVar(&o.version, "V", "version", "print the version and exit")
	fs.boolVar(&o.follow, "f", "follow-forks", "accepted for strace's sake: spawntrace always follows the whole tree")
	fs.stringVar(&o.backend, "", "backend", "NAME", "the tracer: bpf, ptrace (seccomp stops at the spawn-related calls, for hosts where BPF cannot load; counts those calls alone) or auto (bpf, else ptrace, said on stderr)")
	fs.setUsage(recordHead, recordExamples)
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if o.version {
		return runVersion(ctx, nil, stdout, stderr)
	}
	if err := o.outputOptions.check(); err != nil {
		return fail(stderr, exitUsage, "%v", err)
	}
	if o.trace.SpawnCallsOnly() {
		// Nothing shown needs the other calls counted: take the cheap path.
		o.spawnsOnly = true
	}
	cmdArgs := fs.Args()
	switch {
	case o.attachPid != 0 && len(cmdArgs) > 0:
		return fail(stderr, exitUsage, "-p and a command are exclusive")
	case o.attachPid == 0 && len(cmdArgs) == 0:
		fs.Usage()
		return exitUsage
	}
	if o.attachPid != 0 {
		if err := live.CheckPidRange(o.attachPid); err != nil {
			return fail(stderr, exitUsage, "-p %d: %v", o.attachPid, err)
		}
	}
	if err := o.writeOptions.check(stderr); err != nil {
		return fail(stderr, exitUsage, "%v", err)
	}
	if err := tracer.CheckRingBytes(o.ringBytes); err != nil {
		return fail(stderr, exitUsage, "--ring-bytes: %v", err)
	}
	for _, name := range o.disable {
		if !slices.Contains(tracer.ProbeNames(), name) {
			return fail(stderr, exitUsage, "--disable-probe %s: unknown probe (known: %s)", name, strings.Join(tracer.ProbeNames(), ", "))
		}
	}
	for _, name := range o.fallbacks {
		if !slices.Contains(tracer.FallbackNames(), name) {
			return fail(stderr, exitUsage, "--force-fallback %s: unknown fallback (known: %s)", name, strings.Join(tracer.FallbackNames(), ", "))
		}
	}

	if err := checkFreq(o.freqHz); err != nil {
		return fail(stderr, exitUsage, "%v", err)
	}
	if err := o.checkBackend(); err != nil {
		return fail(stderr, exitUsage, "%v", err)
	}
	if o.backend == tracer.BackendBPF {
		if code, ok := checkCaps(stderr); !ok {
			return code
		}
	}

	var cred *syscall.Credential
	var err error
	if o.user != "" {
		if o.attachPid != 0 {
			return fail(stderr, exitUsage, "-u applies to a command spawntrace starts, not to -p")
		}
		if cred, err = credentialFor(o.user); err != nil {
			return fail(stderr, exitFailure, "%v", err)
		}
	}
	var path string
	if len(cmdArgs) > 0 {
		// Resolved here, as strace does, so a missing command never runs
		// under the tracer.
		path, err = exec.LookPath(cmdArgs[0])
		if err != nil {
			return fail(stderr, exitNotFound, "Can't stat '%s': %v", cmdArgs[0], lookErr(err))
		}
		// Pids are this namespace's; what is read of a process in /proc
		// (its memory map for stacks, its libc) is another's by that number.
		if err := live.ProcIsOurs(); err != nil {
			fmt.Fprintf(stderr, "spawntrace: warning: %v; spawn stacks and the workload's libc are read there by pid, so may be missing or another process's\n", err)
		}
	} else if err := live.CheckAttachTarget(o.attachPid); err != nil {
		return fail(stderr, exitFailure, "-p %d: %v", o.attachPid, err)
	}

	// Every output is open before anything runs: a missing directory is
	// found before a long workload, not after it, and the workload cannot
	// redirect a file root writes (outfile.go).
	var outs outputSet
	out, recFile, err := o.openOutputs(&outs)
	if err != nil {
		outs.abandon()
		return fail(stderr, exitFailure, "%v", err)
	}
	var s *live.Session
	var prog *progress
	opts := live.Options{Version: version(), SampleHz: sampleHz(o.pprofDir, o.freqHz), Warn: stderr, TableOnly: o.tableOnly(),
		Started: func(s *live.Session) {
			prog = startProgress(stderr, o.workloadFdsPid(), progressDelay, time.Second, s.Counts)
		}}
	var t *tracer.Tracer
	if o.backend != tracer.BackendPtrace {
		phase.Done("flags checked")
		t, err = o.openBPF(stderr, workloadProgram(path, o.attachPid))
		phase.Done("tracer opened")
		if err != nil && (o.backend == tracer.BackendBPF || o.attachPid != 0) {
			outs.abandon()
			if o.attachPid != 0 && o.backend == backendAuto {
				return fail(stderr, exitFailure, "%v (the ptrace backend cannot attach with -p)", err)
			}
			return fail(stderr, exitFailure, "%v", err)
		}
		if err != nil {
			fmt.Fprintf(stderr, "spawntrace: %v: using the ptrace backend (--backend ptrace), which counts only the spawn-related calls\n", err)
		}
		defer t.Close()
	}
	switch {
	case t == nil:
		opts.SampleHz = 0
		if o.pprofDir != "" {
			fmt.Fprintf(stderr, "spawntrace: no CPU samples: ptrace backend\n")
		}
		s, err = live.LaunchPtrace(ptrace.New(ptrace.Config{Path: path, Argv: cmdArgs, Cred: cred}), cmdArgs, opts)
	case o.attachPid != 0:
		s, err = live.Attach(t, o.attachPid, opts)
	default:
		s, err = live.Launch(t, path, cmdArgs, cred, opts)
	}
	prog.end()
	if err != nil {
		outs.abandon()
		return fail(stderr, exitFailure, "%v", err)
	}
	defer outs.close()
	rec, err := s.Finish()
	if err != nil {
		return outputFailed(stderr, err, s.Status())
	}
	defer rec.Close() // removes the events' spill file
	rec.Command = cmdArgs
	rec.AttachPid = o.attachPid
	rec.SpawnCallsOnly = o.spawnsOnly || rec.Backend == tracer.BackendPtrace

	code := rec.ExitStatus
	if code < 0 {
		code = 0
	}
	// The workload is over: a Ctrl-C now ends a write to a FIFO whose
	// reader stopped reading, and the other outputs are still written.
	defer outs.interruptWrites()()
	var interrupted error
	if recFile != nil {
		if err := o.saveRecording(recFile, rec); err != nil {
			if !errors.Is(err, errInterrupted) {
				return outputFailed(stderr, err, rec.ExitStatus)
			}
			interrupted = err
		}
	}
	phase.Done("recording built")
	sum, err := summary.Summarize(rec) // once, for the summary and the profiles
	if err != nil {
		return outputFailed(stderr, err, rec.ExitStatus)
	}
	defer sum.Close() // removes the rows' spill file
	if n := rec.LateEvents(); n > 0 {
		fmt.Fprintf(stderr, "spawntrace: warning: %d events arrived more than %d events late and are out of time order: "+
			"their spawns may lack their exec (the -w recording keeps them all; spawntrace report sorts it exactly)\n",
			n, recording.ReorderWindow)
	}
	err = o.write(out, rec, sum, stderr)
	if err == nil || errors.Is(err, errInterrupted) {
		if perr := writePprof(out.pprof, rec, sum, stderr); perr != nil {
			err = perr
		}
	}
	if errors.Is(err, errInterrupted) || err == nil && interrupted != nil {
		err = alsoInterrupted(interrupted, err)
	}
	outs.warnReplaced(stderr)
	phase.Done("outputs written")
	if err != nil {
		return outputFailed(stderr, err, rec.ExitStatus)
	}
	if o.verbose && rec.Tracer != nil {
		fmt.Fprintf(stderr, "spawntrace: tracer's own use while recording: %.3f s CPU (user+sys), %.1f MiB peak RSS\n",
			float64(rec.Tracer.CPUNs)/1e9, float64(rec.Tracer.MaxRSSBytes)/(1<<20))
		if u := rec.Tracer; u.StackCopies > 0 {
			fmt.Fprintf(stderr, "spawntrace: spawners' stacks copied for unwinding: %d, %d bytes each in the ring buffer (mean), "+
				"at most %d read by an unwind; %d unwound, %.1f µs each\n", u.StackCopies, u.StackCopyBytes/uint64(u.StackCopies),
				u.StackBytesReadMax, u.StacksUnwound, float64(u.UnwindNs)/1e3/float64(max(1, u.StacksUnwound)))
		}
	}
	if o.verbose {
		skips, err := t.Skipped()
		for _, s := range skips {
			fmt.Fprintf(stderr, "spawntrace: runs the kernel skipped (another task was in the program on that CPU): %s %d\n", s.Prog, s.Runs)
		}
		if err != nil {
			fmt.Fprintf(stderr, "spawntrace: %v\n", err)
		}
		// Only while the sysctl kernel.bpf_stats_enabled is 1 (it costs
		// every program two clock reads, so it is off by default).
		runs, err := t.ProgramRuns()
		for _, r := range runs {
			fmt.Fprintf(stderr, "spawntrace: program run time (kernel.bpf_stats_enabled): %s %d runs, %.1f ns each\n",
				r.Prog, r.Runs, float64(r.RunTimeNs)/float64(r.Runs))
		}
		if err != nil {
			fmt.Fprintf(stderr, "spawntrace: %v\n", err)
		}
	}
	return code
}

// checkBackend refuses a --backend name it does not know, and the flags
// the ptrace backend has no use for.
func (o *recordOptions) checkBackend() error {
	switch o.backend {
	case tracer.BackendBPF, backendAuto:
		return nil
	case tracer.BackendPtrace:
	default:
		return fmt.Errorf("--backend %s: unknown backend (known: %s, %s, %s)", o.backend, tracer.BackendBPF, tracer.BackendPtrace, backendAuto)
	}
	switch {
	case o.attachPid != 0:
		return errors.New("--backend ptrace cannot attach with -p: it starts the command it traces")
	case len(o.disable) > 0:
		return errors.New("--disable-probe applies to the bpf backend")
	case len(o.fallbacks) > 0:
		return errors.New("--force-fallback applies to the bpf backend")
	case o.ringBytes != tracer.DefaultRingBytes:
		return errors.New("--ring-bytes applies to the bpf backend")
	}
	return nil
}

// openBPF checks the capabilities BPF needs, then loads and attaches.
// keepsStacks says whether the run's spawn stacks are kept anywhere (the
// profiles, the recording): only then does the kernel copy each spawner's
// stack for unwinding, which the default mode would pay for and drop.
func (o *recordOptions) keepsStacks() bool {
	return o.pprofDir != "" || o.writeOptions.path != ""
}

// gcAfter is how long a run goes without collecting garbage (openBPF).
const gcAfter = 200 * time.Millisecond

func (o *recordOptions) openBPF(stderr io.Writer, program string) (*tracer.Tracer, error) {
	missing, err := missingCaps()
	if err != nil {
		return nil, err
	}
	if missing != "" {
		return nil, fmt.Errorf("missing %s: run as root (sudo spawntrace ...) or grant them (setcap cap_bpf,cap_perfmon+ep)", missing)
	}
	// Loading allocates ~20 MB, mostly garbage (the kernel's BTF as it is
	// decoded): collecting during it cost ~5 ms of CPU on the start-up
	// path, for the same peak RSS (the mapped BTF and ring buffer). Nor
	// is it collected right after, while the workload starts: only once
	// the run has lasted gcAfter, so that a short run never collects.
	percent := debug.SetGCPercent(-1)
	time.AfterFunc(gcAfter, func() { debug.SetGCPercent(percent) })
	t, err := tracer.Open(tracer.Config{LauncherPid: os.Getpid(), RingBytes: o.ringBytes, Disable: o.disable, ForceFallback: o.fallbacks,
		SpawnsOnly: o.spawnsOnly, Compat32: o.spawnsOnly && is32BitProgram(program),
		SampleHz: sampleHz(o.pprofDir, o.freqHz), StackCopy: o.keepsStacks(), TableOnly: o.tableOnly()})
	if err != nil {
		return nil, fmt.Errorf("loading BPF: %w", err)
	}
	if o.verbose {
		for _, p := range t.Probes() {
			if p.Fallback != "" {
				fmt.Fprintf(stderr, "spawntrace: %s by fallback: %s\n", p.Name, p.Fallback)
			} else if p.Available && p.Attached != "" {
				fmt.Fprintf(stderr, "spawntrace: attached %s (probe %s)\n", p.Attached, p.Name)
			} else if p.Available && strings.HasPrefix(p.Name, "helper:") {
				fmt.Fprintf(stderr, "spawntrace: using %s\n", p.Name)
			} else if p.Available {
				fmt.Fprintf(stderr, "spawntrace: attached %s\n", p.Name)
			}
		}
	}
	return t, nil
}

// tableOnly says that the run shows the syscall table and nothing else
// (-c alone): nothing then needs the spawns' anatomy.
func (o *recordOptions) tableOnly() bool {
	return o.countOnly && !o.summaryPlus && o.eventsPath == "" && o.pprofDir == "" && o.htmlPath == "" && o.path == ""
}

// openOutputs opens -o, --pprof and -w.
func (o *recordOptions) openOutputs(set *outputSet) (openedOutputs, *outFile, error) {
	out, err := o.open(set)
	if err != nil {
		return out, nil, err
	}
	var rec *outFile
	if o.path != "" {
		if rec, err = set.file("-w", o.path); err != nil {
			return out, nil, err
		}
	}
	return out, rec, set.ready()
}

// outputFailed reports an output that could not be written without losing
// the workload's status.
func outputFailed(stderr io.Writer, err error, status int) int {
	if status > 0 {
		return fail(stderr, status, "%v (workload exited with status %d)", err, status)
	}
	return fail(stderr, exitFailure, "%v", err)
}

// lookErr words a failed command lookup as strace does: "No such file or
// directory", capitalised like strerror.
func lookErr(err error) string {
	var ee *exec.Error
	if errors.As(err, &ee) {
		err = ee.Err
		if errors.Is(err, exec.ErrNotFound) {
			err = unix.ENOENT
		}
	}
	// A name with a slash is stat'ed, not searched: the stat's own
	// "stat NAME:" would say again what the line says.
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	msg := err.Error()
	if msg != "" {
		msg = strings.ToUpper(msg[:1]) + msg[1:]
	}
	return msg
}

// checkCaps fails with one line naming the capabilities loading BPF needs.
func checkCaps(stderr io.Writer) (code int, ok bool) {
	missing, err := missingCaps()
	if err != nil {
		return fail(stderr, exitFailure, "%v", err), false
	}
	if missing != "" {
		return fail(stderr, exitFailure, "missing %s: run as root (sudo spawntrace ...) or grant them (setcap cap_bpf,cap_perfmon+ep)", missing), false
	}
	return 0, true
}
