// Package benchworker is the workload of `spawntrace bench`: spawntrace
// re-executes itself as `spawntrace __bench-worker ...` under the tracer,
// so the recording is an ordinary one and holds none of spawntrace's own
// calls. It runs in that traced child, not in the tracer: it spawns
// /bin/true in set ways (os/exec, a raw fork, sh) from a process holding a
// set RSS.
package benchworker

import (
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

// The hidden subcommands of the spawntrace binary that bench and make bench
// run it as; they are not in the help.
const (
	// Command runs the workload of `spawntrace bench`: bench re-executes
	// its own binary as it, under the tracer.
	Command = "__bench-worker"
	// FloorCommand runs a command with empty programs on the
	// sys_enter/sys_exit raw tracepoints: the cost any syscall tracer of
	// this kind pays before its programs do any work (make bench).
	FloorCommand = "__syscall-floor"
)

// PATH is the PATH every child gets, the same on every host so PATH
// lookups fail the same number of times where the binaries are in the same
// places (Debian's default: /usr/bin/true after three misses).
const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// True is the binary spawned by absolute path; TrueName is the name
// looked up in PATH.
const (
	True     = "/bin/true"
	TrueName = "true"
)

// Methods are the ways of spawning the worker knows, in --methods order.
var Methods = []string{"exec", "fork", "sh"}

// Params are a bench run's parameters, checked.
type Params struct {
	N        int      // spawns per step
	RSSBytes []uint64 // the sizes the spawning process holds in turn
	EnvVars  []int    // environment sizes in variables, PATH included
	Methods  []string // any of Methods
}

// Env is an environment of exactly n variables: PATH, then
// SPAWNTRACE_BENCH_0001=... filled to 64 bytes each with the NUL.
func Env(n int) []string {
	env := make([]string, 0, n)
	if n > 0 {
		env = append(env, "PATH="+PATH)
	}
	for i := 1; i < n; i++ {
		name := fmt.Sprintf("SPAWNTRACE_BENCH_%04d=", i)
		env = append(env, name+strings.Repeat("x", 63-len(name)))
	}
	return env
}

// Step is one run of n spawns of a method.
type Step struct {
	method   string // exec, fork, sh
	viaPath  bool
	rssBytes uint64
	envVars  int
}

func (s Step) String() string {
	what := True
	if s.viaPath {
		what = TrueName + " via PATH"
	}
	return fmt.Sprintf("%-4s %-16s RSS %-8s env %d", s.method, what, FormatSize(s.rssBytes), s.envVars)
}

// Steps lists the runs in order: for each RSS (held by the worker) and
// environment size, exec and fork of /bin/true, then of "true" via PATH at
// the first RSS only (a failed execve does not touch the address space, so
// its cost does not depend on the parent's size); then sh, from a parent that
// holds nothing extra.
func Steps(p Params) []Step {
	var steps []Step
	for i, rss := range p.RSSBytes {
		for _, env := range p.EnvVars {
			for _, m := range p.Methods {
				if m == "sh" {
					continue
				}
				steps = append(steps, Step{method: m, rssBytes: rss, envVars: env})
				if i == 0 {
					steps = append(steps, Step{method: m, viaPath: true, rssBytes: rss, envVars: env})
				}
			}
		}
	}
	for _, m := range p.Methods {
		if m != "sh" {
			continue
		}
		for _, env := range p.EnvVars {
			steps = append(steps, Step{method: m, envVars: env}, Step{method: m, viaPath: true, envVars: env})
		}
	}
	return steps
}

// Run runs every step of p in order, each from one thread holding its
// RSS, and says on progress how long each spawn took. It sets the
// process's PATH: it is the worker process's whole job.
func Run(p Params, progress io.Writer) error {
	// Every spawn from one thread, so the recording can relate each one to
	// the next (Class.Total), and os/exec lookups use the same PATH as the
	// children.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	os.Setenv("PATH", PATH)

	// held is the memory the worker holds for the current steps (nil for
	// RSS 0); it is freed before the next size is touched.
	var held []byte
	defer func() { unmapAnon(held) }()
	for _, st := range Steps(p) {
		if st.rssBytes != uint64(len(held)) {
			unmapAnon(held)
			held = nil
			var err error
			if held, err = touchAnon(st.rssBytes); err != nil {
				return err
			}
		}
		start := time.Now()
		if err := runStep(st, p.N); err != nil {
			return fmt.Errorf("%s: %w", st, err)
		}
		el := time.Since(start)
		fmt.Fprintf(progress, "spawntrace bench: %s: %d spawns, %.3f ms each\n", st, p.N,
			float64(el.Nanoseconds())/1e6/float64(p.N))
	}
	return nil
}

func runStep(st Step, n int) error {
	env := Env(st.envVars)
	switch st.method {
	case "exec":
		name := True
		if st.viaPath {
			// exec.Command looks the name up in the parent (stat of each
			// PATH directory) and execs the path it found: Go's children
			// never fail an execve on the way.
			name = TrueName
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
		paths, argv0 := []string{True}, True
		if st.viaPath {
			// As execvp does: execve in each PATH directory in turn.
			paths, argv0 = nil, TrueName
			for _, dir := range filepath.SplitList(PATH) {
				paths = append(paths, filepath.Join(dir, TrueName))
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
		body := True
		if st.viaPath {
			body = "(exec " + TrueName + ")"
		}
		script := "i=0; while [ $i -lt " + strconv.Itoa(n) + " ]; do " + body + "; i=$((i+1)); done"
		cmd := exec.Command("/bin/sh", "-c", script)
		cmd.Env = env
		cmd.Stderr = os.Stderr // the shell's own complaints, as any workload's
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
		return nil, fmt.Errorf("mmap %s: %w", FormatSize(size), err)
	}
	// EINVAL means a kernel without THP: there are only small pages then.
	if err := unix.Madvise(b, unix.MADV_NOHUGEPAGE); err != nil && err != syscall.EINVAL {
		unix.Munmap(b)
		return nil, fmt.Errorf("madvise %s: %w", FormatSize(size), err)
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
