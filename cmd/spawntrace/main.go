// Command spawntrace runs a command and shows, with eBPF, what each process
// it starts costs and why.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"

	"github.com/spawntrace/spawntrace/cmd/internal/benchworker"
	"github.com/spawntrace/spawntrace/reports"
	"github.com/spawntrace/spawntrace/tracer/phase"
	"github.com/spawntrace/spawntrace/tracer/ptrace"
)

// Exit codes: usage errors 2, failures 1; otherwise the workload's status.
const (
	exitFailure  = 1
	exitUsage    = 2
	exitNotFound = 127
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

// commands drives both dispatch and help; recording is the default.
var commands = []command{
	{"record", "trace a command (the default: spawntrace [flags] -- CMD ARGS)", runRecord},
	{"report", "render the outputs again from a saved recording, without root", runReport},
	{"compare", "explain why spawning differs between two recordings, without root", runCompare},
	{"bench", "run a standard spawning workload to compare hosts", runBench},
	{"version", "print the version", runVersion},
}

func init() {
	// The ptrace shim must run on the main thread, the one its tracer
	// seizes; init runs there, before main.
	if len(os.Args) > 1 && os.Args[1] == ptrace.ShimCommand {
		ptrace.LockShimThread()
	}
}

// cpuProfileEnv (hidden) names a file for spawntrace's own CPU profile,
// sampled at 1 kHz, for go tool pprof: how its per-spawn cost is found.
// Taken out of the environment so that the workload does not inherit it.
const cpuProfileEnv = "SPAWNTRACE_CPUPROFILE"

func main() {
	stop := startCPUProfile(os.Getenv(cpuProfileEnv))
	code := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if phase.Enabled() {
		phase.Done("exit")
		for _, m := range phase.Marks() {
			fmt.Fprintf(os.Stderr, "spawntrace: phase %7.2f ms %s\n", float64(m.Since.Microseconds())/1e3, m.Step)
		}
	}
	os.Exit(code)
}

// startCPUProfile starts a CPU profile to path, if set; the function it
// returns ends it. path is opened as every output is (outputSet: no
// symlink followed, nothing truncated that is an input), since spawntrace
// runs as root and path may lie in a directory others can write to.
func startCPUProfile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	os.Unsetenv(cpuProfileEnv)
	var set outputSet
	o, err := set.file(cpuProfileEnv, path)
	if err == nil {
		err = set.ready()
	}
	if err != nil { // the error names cpuProfileEnv and path
		fmt.Fprintf(os.Stderr, "spawntrace: %v\n", err)
		set.abandon()
		return func() {}
	}
	runtime.SetCPUProfileRate(1000) // before Start, which keeps it (and says so)
	if err := pprof.StartCPUProfile(o.f); err != nil {
		fmt.Fprintf(os.Stderr, "spawntrace: %s: %v\n", cpuProfileEnv, err)
		set.abandon()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		set.close()
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "help":
			usage(stdout)
			return 0
		case "-h", "-help", "--help":
			usage(stderr)
			return 0
		case benchworker.Command: // hidden: the workload of `spawntrace bench`
			return runBenchWorker(ctx, args[1:], stdout, stderr)
		case benchworker.FloorCommand: // hidden: make bench's floor of syscall tracing
			return runFloor(ctx, args[1:], stdout, stderr)
		case ptrace.ShimCommand: // hidden: how the ptrace backend starts the workload
			// It execs the workload, or tells the tracer why not.
			ptrace.RunShim(args[1:])
			return exitNotFound
		}
		for _, c := range commands {
			if c.name == args[0] {
				return c.run(ctx, args[1:], stdout, stderr)
			}
		}
	}
	return runRecord(ctx, args, stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "spawntrace shows why starting processes is slow, for any command.\n\n")
	fmt.Fprintf(w, "Usage:\n  spawntrace [flags] -- CMD [ARGS...]\n  spawntrace [flags] -p PID\n  spawntrace COMMAND [flags] ...\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'spawntrace record -h' or 'spawntrace report -h' for flags.\n")
}

// buildVersion is set by the Makefile (-ldflags -X) from git describe; the
// Go toolchain's own VCS stamp is used when it is empty.
var buildVersion string

func version() string {
	if buildVersion != "" {
		return buildVersion
	}
	v := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += "+" + s.Value[:12]
			}
		}
	}
	return v
}

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) int {
	fmt.Fprintf(stdout, "spawntrace %s\n", version())
	return 0
}

// fail prints one line to stderr and returns the exit code. The message is
// escaped for the terminal, newlines included: an error may quote a
// recording (a syscall's name, a host fact), which may hold anything.
func fail(stderr io.Writer, code int, format string, a ...any) int {
	fmt.Fprintf(stderr, "spawntrace: %s\n", reports.TermSafe(fmt.Sprintf(format, a...)))
	return code
}
