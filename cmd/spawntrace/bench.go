package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/summary"
	"github.com/spawntrace/spawntrace/cmd/internal/benchworker"
	"github.com/spawntrace/spawntrace/cmd/internal/live"
	"github.com/spawntrace/spawntrace/reports"
	"github.com/spawntrace/spawntrace/tracer"
)

const benchHead = `Usage: spawntrace bench [flags]

Runs a standard spawning workload under the tracer, so that two hosts can be
compared on equal terms, and prints the cost of each class of spawn, the copy
time against parent RSS, and the findings. For each environment size, and for
exec and fork for each RSS the spawning process holds (anonymous memory in
4 KiB pages, touched), it spawns /bin/true N times by absolute path and N
times as "true" through PATH (at the first RSS only), with:
  exec   Go's os/exec: clone(CLONE_VM|CLONE_VFORK); Go looks PATH up itself
  fork   a real fork (clone without CLONE_VM) of the process holding the RSS,
         whose child walks PATH as execvp does
  sh     /bin/sh -c 'while ...; do /bin/true; done' (PATH: '(exec true)', as
         true alone is a builtin); the shell adds PWD to the environment
The spawning process is spawntrace itself, re-executed as a hidden worker and
traced like any workload: the recording (-w) is an ordinary recording, for
'spawntrace report' or a comparison with another host.
`

const benchExamples = `  sudo spawntrace bench -w host-a.json                  the default run
  sudo spawntrace bench -n 50 --rss 0,4G --methods fork   fork cost from a 4 GiB parent
  sudo spawntrace bench --env 20,2000 --methods exec       environment size alone
`

// Bench defaults: well under a minute on a 2-CPU VM, most of it the forks
// from 1 GiB (the copy, then the child's exec tearing it down).
const (
	benchDefaultN       = 100
	benchDefaultRSS     = "0,256M,1G"
	benchDefaultEnv     = "20,200"
	benchDefaultMethods = "exec,fork,sh"

	benchMaxN   = 1_000_000
	benchMaxEnv = 10_000 // 64 bytes each: well inside ARG_MAX
)

// benchOptions are the flags shared by bench and its worker.
type benchOptions struct {
	n       int
	rss     string
	env     string
	methods string
}

func (o *benchOptions) register(fs *flagSet) {
	o.n, o.rss, o.env, o.methods = benchDefaultN, benchDefaultRSS, benchDefaultEnv, benchDefaultMethods
	fs.intVar(&o.n, "n", "spawns", "N", "spawns per class")
	fs.stringVar(&o.rss, "", "rss", "LIST", "sizes the spawning process holds, e.g. 0,256M,1G (default "+benchDefaultRSS+")")
	fs.stringVar(&o.env, "", "env", "LIST", "environment sizes in variables, PATH included (default "+benchDefaultEnv+")")
	fs.stringVar(&o.methods, "", "methods", "LIST", "any of exec,fork,sh (default "+benchDefaultMethods+")")
}

// params checks and parses the options.
func (o *benchOptions) params() (benchworker.Params, error) {
	p := benchworker.Params{N: o.n}
	if o.n < 1 || o.n > benchMaxN {
		return p, fmt.Errorf("-n %d: must be between 1 and %d", o.n, benchMaxN)
	}
	for _, f := range splitList(o.rss) {
		b, err := benchworker.ParseSize(f)
		if err != nil {
			return p, fmt.Errorf("--rss %s: %v", f, err)
		}
		p.RSSBytes = append(p.RSSBytes, b)
	}
	for _, f := range splitList(o.env) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > benchMaxEnv {
			return p, fmt.Errorf("--env %s: must be a number of variables between 1 and %d (PATH is one)", f, benchMaxEnv)
		}
		p.EnvVars = append(p.EnvVars, n)
	}
	for _, f := range splitList(o.methods) {
		ok := false
		for _, m := range benchworker.Methods {
			ok = ok || f == m
		}
		if !ok {
			return p, fmt.Errorf("--methods %s: unknown method; use any of %s", f, strings.Join(benchworker.Methods, ","))
		}
		p.Methods = append(p.Methods, f)
	}
	switch {
	case len(p.EnvVars) == 0:
		return p, fmt.Errorf("--env: no sizes given")
	case len(p.Methods) == 0:
		return p, fmt.Errorf("--methods: none given")
	case len(p.RSSBytes) == 0:
		return p, fmt.Errorf("--rss: no sizes given (0 means the spawner's own size)")
	}
	return p, nil
}

// workerArgs gives the worker the parsed parameters back as flags.
func workerArgs(p benchworker.Params) []string {
	rss := make([]string, len(p.RSSBytes))
	for i, b := range p.RSSBytes {
		rss[i] = strconv.FormatUint(b, 10)
	}
	env := make([]string, len(p.EnvVars))
	for i, n := range p.EnvVars {
		env[i] = strconv.Itoa(n)
	}
	return []string{"-n", strconv.Itoa(p.N), "--rss", strings.Join(rss, ","),
		"--env", strings.Join(env, ","), "--methods", strings.Join(p.Methods, ",")}
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func runBench(_ context.Context, args []string, stdout, stderr io.Writer) int {
	var o benchOptions
	var wo writeOptions
	var pprofPath, htmlPath string
	fs := newFlagSet("spawntrace bench", stderr)
	o.register(fs)
	wo.register(fs)
	fs.stringVar(&pprofPath, "", "pprof", "DIR", "write spawns.pb.gz and cpu.pb.gz (sampled at 999 Hz) to DIR")
	fs.stringVar(&htmlPath, "", "html", "FILE", "write the report with its charts to FILE, one HTML page that needs no network")
	fs.setUsage(benchHead, benchExamples)
	if code, ok := fs.parse(args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		return fail(stderr, exitUsage, "bench: unexpected argument %q", fs.Arg(0))
	}
	if err := wo.check(stderr); err != nil {
		return fail(stderr, exitUsage, "bench: %v", err)
	}
	p, err := o.params()
	if err != nil {
		return fail(stderr, exitUsage, "bench: %v", err)
	}
	if err := benchCheckMemory(p.RSSBytes); err != nil {
		return fail(stderr, exitUsage, "bench: %v", err)
	}

	if code, ok := checkCaps(stderr); !ok {
		return code
	}
	// The worker is this very binary: /proc/self/exe still names it if the
	// file was replaced since.
	self := "spawntrace"
	if exe, err := os.Executable(); err == nil {
		self = exe
	}
	argv := append([]string{self, benchworker.Command}, workerArgs(p)...)

	var outs outputSet
	recFile, prof, page, err := openBenchOutputs(&outs, wo.path, pprofPath, htmlPath)
	if err != nil {
		outs.abandon()
		return fail(stderr, exitFailure, "%v", err)
	}
	hz := sampleHz(pprofPath, defaultFreqHz)
	t, err := tracer.Open(tracer.Config{LauncherPid: os.Getpid(), RingBytes: tracer.DefaultRingBytes, SampleHz: hz})
	if err != nil {
		outs.abandon()
		return fail(stderr, exitFailure, "loading BPF: %v", err)
	}
	defer t.Close()
	var prog *progress
	s, err := live.Launch(t, "/proc/self/exe", argv, nil, live.Options{Version: version(), SampleHz: hz, Warn: stderr,
		Started: func(s *live.Session) { prog = startProgress(stderr, 0, progressDelay, time.Second, s.Counts) }})
	prog.end()
	if err != nil {
		outs.abandon()
		return fail(stderr, exitFailure, "%v", err)
	}
	defer outs.close()
	rec, err := s.Finish()
	if err != nil {
		return fail(stderr, exitFailure, "%v", err)
	}
	rec.Command = argv
	if rec.ExitStatus != 0 {
		// The worker's status: 128+N when a signal ended it.
		return fail(stderr, max(rec.ExitStatus, exitFailure), "bench: the worker failed (status %d); nothing saved", rec.ExitStatus)
	}
	if err := reports.WriteLostWarning(stderr, rec.Lost); err != nil {
		return fail(stderr, exitFailure, "%v", err)
	}
	if recFile != nil {
		if err := wo.saveRecording(recFile, rec); err != nil {
			return fail(stderr, exitFailure, "%v", err)
		}
	}
	sum, err := summary.Summarize(rec)
	if err != nil {
		return fail(stderr, exitFailure, "%v", err)
	}
	defer sum.Close() // removes the rows' spill file
	if err := writeBench(stdout, rec, sum, p); err != nil {
		return fail(stderr, exitFailure, "%v", err)
	}
	if err := writeHTML(page, rec, sum, benchHeading(rec, p)); err != nil {
		return fail(stderr, exitFailure, "%v", err)
	}
	if err := writePprof(prof, rec, sum, stderr); err != nil {
		return fail(stderr, exitFailure, "%v", err)
	}
	outs.warnReplaced(stderr)
	return 0
}

// openBenchOutputs opens -w, --pprof and --html before the worker starts.
func openBenchOutputs(set *outputSet, writePath, pprofDir, htmlPath string) (rec *outFile, prof *pprofFiles, page *outFile, err error) {
	if writePath != "" {
		if rec, err = set.file("-w", writePath); err != nil {
			return nil, nil, nil, err
		}
	}
	if pprofDir != "" {
		d, err := set.dir("--pprof", pprofDir)
		if err != nil {
			return nil, nil, nil, err
		}
		if prof, err = openPprof(set, d, ""); err != nil {
			return nil, nil, nil, err
		}
	}
	if htmlPath != "" {
		if page, err = set.file("--html", htmlPath); err != nil {
			return nil, nil, nil, err
		}
	}
	return rec, prof, page, set.ready()
}

// writeBench prints the host line, the class table and the anatomy.
func writeBench(w io.Writer, rec *recording.Recording, sum summary.Summary, p benchworker.Params) error {
	bw := bufio.NewWriter(w)
	if err := reports.WriteBenchHeading(bw, benchHeading(rec, p)); err != nil {
		return err
	}
	if err := reports.WriteClassTable(bw, rec, sum.Classes); err != nil {
		return err
	}
	if err := reports.WriteAnatomy(bw, rec, sum); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing the bench report: %w", err)
	}
	return nil
}

// benchHeading is what the report says first: the host, then the
// parameters, a line each.
func benchHeading(rec *recording.Recording, p benchworker.Params) reports.HTMLHeading {
	h := rec.Host
	thp := h.THPMode
	if thp == "" {
		thp = "unknown"
	}
	rss := make([]string, len(p.RSSBytes))
	for i, b := range p.RSSBytes {
		rss[i] = benchworker.FormatSize(b)
	}
	env := make([]string, len(p.EnvVars))
	for i, n := range p.EnvVars {
		env[i] = strconv.Itoa(n)
	}
	return reports.HTMLHeading{Title: "spawntrace bench on " + h.Hostname, Lines: []string{
		fmt.Sprintf("Linux %s %s, %d CPUs, %.0f GiB, THP %s", h.KernelRelease, h.Machine, h.CPUs, float64(h.MemBytes)/(1<<30), thp),
		fmt.Sprintf("%d spawns per class; methods %s; RSS %s; environments of %s variables",
			p.N, strings.Join(p.Methods, ","), strings.Join(rss, ","), strings.Join(env, ",")),
	}}
}

// benchCheckMemory refuses an RSS that the host could only provide by
// swapping or by calling the OOM killer.
func benchCheckMemory(sizes []uint64) error {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return nil
	}
	avail := (uint64(si.Freeram) + uint64(si.Bufferram)) * uint64(si.Unit)
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemAvailable:" {
				if kb, err := strconv.ParseUint(f[1], 10, 64); err == nil {
					avail = kb << 10
				}
			}
		}
	}
	for _, s := range sizes {
		// The fork's copy of the page tables and the Go runtime need room too.
		if s > avail*9/10 {
			return fmt.Errorf("--rss %s: more than the %.1f GiB of memory available here", benchworker.FormatSize(s), float64(avail)/(1<<30))
		}
	}
	return nil
}
