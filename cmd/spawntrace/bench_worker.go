package main

// The workload of `spawntrace bench`: spawntrace re-executes itself as
// `spawntrace __bench-worker ...` under the tracer, so the recording is an
// ordinary one and holds none of spawntrace's own calls.

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// benchWorkerCmd is the hidden subcommand; it is not in the help.
const benchWorkerCmd = "__bench-worker"

// benchPATH is the PATH every child gets, the same on every host so PATH
// lookups fail the same number of times where the binaries are in the same
// places (Debian's default: /usr/bin/true after three misses).
const benchPATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// benchTrue is the binary spawned by absolute path; "true" is the name
// looked up in PATH.
const (
	benchTrue     = "/bin/true"
	benchTrueName = "true"
)

// benchEnv is an environment of exactly n variables: PATH, then
// SPAWNTRACE_BENCH_0001=... filled to 64 bytes each with the NUL.
func benchEnv(n int) []string {
	env := make([]string, 0, n)
	if n > 0 {
		env = append(env, "PATH="+benchPATH)
	}
	for i := 1; i < n; i++ {
		name := fmt.Sprintf("SPAWNTRACE_BENCH_%04d=", i)
		env = append(env, name+strings.Repeat("x", 63-len(name)))
	}
	return env
}

// benchStep is one run of n spawns of a method.
type benchStep struct {
	method  string // exec, fork, sh
	viaPath bool
	rss     uint64
	env     int
}

func (s benchStep) String() string {
	what := benchTrue
	if s.viaPath {
		what = benchTrueName + " via PATH"
	}
	return fmt.Sprintf("%-4s %-16s RSS %-8s env %d", s.method, what, benchSize(s.rss), s.env)
}

// benchSteps lists the runs in order: for each RSS (held by the worker) and
// environment size, exec and fork of /bin/true, then of "true" via PATH at
// the first RSS only (a failed execve does not touch the address space, so
// its cost does not depend on the parent's size); then sh, from a parent that
// holds nothing extra.
func benchSteps(p benchParams) []benchStep {
	var steps []benchStep
	for i, rss := range p.rss {
		for _, env := range p.envs {
			for _, m := range p.methods {
				if m == "sh" {
					continue
				}
				steps = append(steps, benchStep{method: m, rss: rss, env: env})
				if i == 0 {
					steps = append(steps, benchStep{method: m, viaPath: true, rss: rss, env: env})
				}
			}
		}
	}
	for _, m := range p.methods {
		if m != "sh" {
			continue
		}
		for _, env := range p.envs {
			steps = append(steps, benchStep{method: m, env: env}, benchStep{method: m, viaPath: true, env: env})
		}
	}
	return steps
}

func runBenchWorker(_ context.Context, args []string, _, stderr io.Writer) int {
	var o benchOptions
	fs := newFlagSet("spawntrace "+benchWorkerCmd, stderr)
	o.register(fs)
	if code, ok := fs.parse(args); !ok {
		return code
	}
	p, err := o.params()
	if err != nil {
		return fail(stderr, exitUsage, "%s: %v", benchWorkerCmd, err)
	}
	// Every spawn from one thread, so the recording can relate each one to
	// the next (Class.Total), and os/exec lookups use the same PATH as the
	// children.
	runtime.LockOSThread()
	os.Setenv("PATH", benchPATH)

	// held is the memory the worker holds for the current steps (nil for
	// RSS 0); it is freed before the next size is touched.
	var held []byte
	defer func() { unmapAnon(held) }()
	for _, st := range benchSteps(p) {
		if st.rss != uint64(len(held)) {
			unmapAnon(held)
			held = nil
			if held, err = touchAnon(st.rss); err != nil {
				return fail(stderr, exitFailure, "bench: %v", err)
			}
		}
		start := time.Now()
		if err := runBenchStep(st, p.n); err != nil {
			return fail(stderr, exitFailure, "bench: %s: %v", st, err)
		}
		el := time.Since(start)
		fmt.Fprintf(stderr, "spawntrace bench: %s: %d spawns, %.3f ms each\n", st, p.n,
			float64(el.Nanoseconds())/1e6/float64(p.n))
	}
	return 0
}

func runBenchStep(st benchStep, n int) error {
	env := benchEnv(st.env)
	switch st.method {
	case "exec":
		name := benchTrue
		if st.viaPath {
			// exec.Command looks the name up in the parent (stat of each
			// PATH directory) and execs the path it found: Go's children
			// never fail an execve on the way.
			name = benchTrueName
		}
		for range n {
			cmd := exec.Command(name)
			cmd.Env = env
			if err := cmd.Run(); err != nil {
				return err
			}
		}
		return nil
	case "fork":
		paths, argv0 := []string{benchTrue}, benchTrue
		if st.viaPath {
			// As execvp does: execve in each PATH directory in turn.
			paths, argv0 = nil, benchTrueName
			for _, dir := range filepath.SplitList(benchPATH) {
				paths = append(paths, filepath.Join(dir, benchTrueName))
			}
		}
		job, err := newRawForkJob(paths, []string{argv0}, env)
		if err != nil {
			return err
		}
		for range n {
			ws, err := job.run()
			if err != nil {
				return err
			}
			if ws.Signaled() {
				return fmt.Errorf("child killed by signal %d", ws.Signal())
			}
			if ws.ExitStatus() != 0 {
				return fmt.Errorf("child exited with status %d (127: no exec succeeded)", ws.ExitStatus())
			}
		}
		return nil
	case "sh":
		// /bin/true runs by path. Plain `true` would be a builtin, so the
		// PATH variant is `(exec true)`: a subshell that execs the name
		// itself; dash tries execve in each PATH directory in turn, as
		// execvp does (and makes the subshell with fork(), not vfork()).
		body := benchTrue
		if st.viaPath {
			body = "(exec " + benchTrueName + ")"
		}
		script := "i=0; while [ $i -lt " + strconv.Itoa(n) + " ]; do " + body + "; i=$((i+1)); done"
		cmd := exec.Command("/bin/sh", "-c", script)
		cmd.Env = env
		cmd.Stderr = os.Stderr
		return cmd.Run()
	}
	return fmt.Errorf("unknown method %q", st.method)
}

// touchAnon maps size bytes of anonymous memory in 4 KiB pages (no
// transparent huge pages, whatever the host's THP mode) and writes to every
// page, so the process really holds it.
func touchAnon(size uint64) ([]byte, error) {
	if size == 0 {
		return nil, nil
	}
	if size > uint64(^uint(0)>>1) {
		return nil, fmt.Errorf("RSS %d bytes: too large", size)
	}
	b, err := unix.Mmap(-1, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", benchSize(size), err)
	}
	// EINVAL means a kernel without THP: there are only small pages then.
	if err := unix.Madvise(b, unix.MADV_NOHUGEPAGE); err != nil && err != syscall.EINVAL {
		unix.Munmap(b)
		return nil, fmt.Errorf("madvise %s: %w", benchSize(size), err)
	}
	page := os.Getpagesize()
	for i := 0; i < len(b); i += page {
		b[i] = 1
	}
	return b, nil
}

func unmapAnon(b []byte) {
	if b != nil {
		unix.Munmap(b)
	}
}
