//go:build integration && linux

package integration

// Missing kernel features, simulated one probe at a time with
// --disable-probe: the run still succeeds (unless the probe is required),
// the output marks exactly that probe unavailable, and what it measures
// as not measured rather than as zeros.

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/tracer"
)

// probeFeeds is, for each probe, what a "not measured" line must name
// when it is missing: the measurement it feeds. Required probes have none:
// without them spawntrace refuses to run.
var probeFeeds = map[string]*regexp.Regexp{
	"sched:sched_process_fork":        nil,
	"sched:sched_process_exit":        nil,
	"sched:sched_process_exec":        regexp.MustCompile(`(?i)\bexec`),
	"raw_syscalls:sys_enter+sys_exit": regexp.MustCompile(`(?i)syscall table.*spawn`),
	"mmap_lock:copy-timing":           regexp.MustCompile(`(?i)copy`),
	"sched:sched_switch":              regexp.MustCompile(`(?i)blocked|off cpu`),
	tracer.BPFLoopProbe:               regexp.MustCompile(`(?i)argv.*failed exec`),
}

var (
	unavailableRe = regexp.MustCompile(`(?m)^spawntrace: unavailable: .*$`)
	notMeasuredRe = regexp.MustCompile(`(?mi)^.*not measured.*$`)
)

// TestTrustDisableProbe disables each probe in turn under a workload that
// spawns every way (posix_spawn, fork, vfork, socketpair + fork).
func TestTrustDisableProbe(t *testing.T) {
	e := setupEnv(t)
	names := tracer.ProbeNames()
	for _, n := range names {
		if _, ok := probeFeeds[n]; !ok {
			t.Errorf("probe %s is new: say in probeFeeds what it measures", n)
		}
	}
	w := e.Workload
	script := strings.Join([]string{w("posix_spawn") + " 2", w("fork_exec") + " 2", w("vfork_exec") + " 2", w("rust_spawn") + " 2"}, "; ")

	t.Run("none", func(t *testing.T) {
		t.Parallel()
		r := e.spawntrace(t, runOpts{}, "--", "/bin/sh", "-c", script)
		if r.status != 0 {
			t.Fatalf("%s", r)
		}
		if m := unavailableRe.FindAllString(string(r.stderr), -1); len(m) != 0 {
			t.Errorf("probes unavailable with nothing disabled: %q", m)
		}
		if m := notMeasuredRe.FindAllString(string(r.stderr), -1); len(m) != 0 {
			t.Errorf("\"not measured\" with nothing disabled: %q", m)
		}
	})

	for _, name := range names {
		feeds := probeFeeds[name]
		t.Run(strings.NewReplacer(":", "_", "+", "_").Replace(name), func(t *testing.T) {
			t.Parallel()
			dir := openDir(t)
			if feeds == nil {
				// Required: with --backend bpf, one line naming it, exit 1,
				// the workload not run.
				marker := filepath.Join(dir, "ran")
				r := e.spawntrace(t, runOpts{}, "--backend", "bpf", "--disable-probe", name, "--", "/bin/sh", "-c", "echo > "+marker)
				msg := strings.TrimSuffix(string(r.stderr), "\n")
				if r.status != 1 || msg == "" || strings.Contains(msg, "\n") || !strings.Contains(msg, name) {
					t.Errorf("want status 1 and one line naming %s, got %s", name, r)
				}
				if _, err := os.Stat(marker); err == nil {
					t.Errorf("the workload ran without the required probe %s", name)
				}
				// By default (--backend auto) the ptrace backend takes over,
				// saying which probe was missing.
				r = e.spawntrace(t, runOpts{}, "--disable-probe", name, "--", "/bin/sh", "-c", "echo > "+marker)
				first, _, _ := strings.Cut(string(r.stderr), "\n")
				if r.status != 0 || !strings.Contains(first, name) || !strings.Contains(first, "using the ptrace backend") {
					t.Errorf("--backend auto without %s: want the ptrace backend, named on the first line, got %s", name, r)
				}
				if _, err := os.Stat(marker); err != nil {
					t.Errorf("the workload did not run under the ptrace backend: %v", err)
				}
				return
			}
			rec := filepath.Join(dir, "rec.json")
			r := e.spawntrace(t, runOpts{}, "--disable-probe", name, "-w", rec, "--", "/bin/sh", "-c", script)
			if r.status != 0 {
				t.Fatalf("run with %s disabled failed: %s", name, r)
			}
			// Without raw_syscalls there is no table to print (the
			// "not measured" check below wants it said instead).
			if _, err := parseTable(string(r.stderr)); err != nil && name != "raw_syscalls:sys_enter+sys_exit" {
				t.Errorf("no valid table: %v", err)
			}
			check := func(who, out string) {
				un := unavailableRe.FindAllString(out, -1)
				if len(un) != 1 || !strings.HasPrefix(un[0], "spawntrace: unavailable: "+name+" (") {
					t.Errorf("%s: want exactly one line `spawntrace: unavailable: %s (why)`, got %q", who, name, un)
				}
				nm := notMeasuredRe.FindAllString(out, -1)
				marked := false
				for _, l := range nm {
					marked = marked || feeds.MatchString(l)
				}
				if !marked {
					t.Errorf("%s: with %s disabled, no \"not measured\" line naming what it measures (%s); "+
						"\"not measured\" lines: %q", who, name, feeds, nm)
				}
			}
			check("live", string(r.stderr))
			rep := e.report(t, rec)
			check("report", string(rep.stdout))
		})
	}

	t.Run("unknown", func(t *testing.T) {
		t.Parallel()
		r := e.spawntrace(t, runOpts{}, "--disable-probe", "sched:no_such_probe", "--", "/bin/true")
		msg := strings.TrimSuffix(string(r.stderr), "\n")
		if r.status != 2 || msg == "" || strings.Contains(msg, "\n") || !strings.Contains(msg, names[0]) {
			t.Errorf("unknown probe name: want a usage error (status 2) in one line listing the names, got %s", r)
		}
	})
}

// TestTrustNoBPFLoop: without bpf_loop (kernels before 5.17, simulated) the
// programs still load and a failed exec's event line shows argv and envp
// as addresses, as strace prints memory it cannot read, where the full
// run reads them; the file name is read either way.
func TestTrustNoBPFLoop(t *testing.T) {
	e := setupEnv(t)
	dir := openDir(t)
	script := "env no-such-cmd-q9 2>/dev/null; exit 0" // env(1) execvp()s through PATH
	lineOf := func(t *testing.T, args ...string) string {
		t.Helper()
		events := filepath.Join(dir, "events.txt")
		r := e.spawntrace(t, runOpts{}, append(append(args, "-o", events, "--"), "/bin/sh", "-c", script)...)
		if r.status != 0 {
			t.Fatalf("%s", r)
		}
		evs, raw := readEvents(t, events)
		for _, ev := range evs {
			if ev.Call == "execve" && ev.Ret == -1 && strings.Contains(ev.Args, `/no-such-cmd-q9", `) {
				return ev.Args
			}
		}
		t.Fatalf("no failed execve of no-such-cmd-q9 in -o:\n%s", clip(raw, 40))
		return ""
	}
	full := lineOf(t)
	if !regexp.MustCompile(`^"[^"]+/no-such-cmd-q9", \["no-such-cmd-q9"\], 0x[0-9a-f]+ /\* [0-9]+ vars? \*/$`).MatchString(full) {
		t.Errorf("with bpf_loop the failed execve's arguments are %q, want name, argv and a counted envp", full)
	}
	bare := lineOf(t, "--disable-probe", tracer.BPFLoopProbe)
	if !regexp.MustCompile(`^"[^"]+/no-such-cmd-q9", 0x[0-9a-f]+, 0x[0-9a-f]+$`).MatchString(bare) {
		t.Errorf("without bpf_loop the failed execve's arguments are %q, want the name, then argv and envp as addresses", bare)
	}
}
