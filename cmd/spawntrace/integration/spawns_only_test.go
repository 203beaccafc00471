//go:build integration && linux

package integration

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/tracer"
)

// TestSpawnsOnly: with --spawns-only the table holds the spawn-related
// calls alone, with strace's counts for them, says the rest is not
// measured, and the spawn section is as without the flag.
func TestSpawnsOnly(t *testing.T) {
	e := setupEnv(t)
	w := e.Workload
	script := strings.Join([]string{w("posix_spawnp") + " 3", w("fork_exec") + " 2", w("vfork_exec") + " 2", w("rust_spawn") + " 2"}, "; ")
	env := environ(missingDirs + ":" + trueBinDir(t))
	rec := filepath.Join(openDir(t), "rec.json")
	r := e.spawntrace(t, runOpts{env: env}, "--spawns-only", "-w", rec, "--", "/bin/sh", "-c", script)
	if r.status != 0 {
		t.Fatalf("%s", r)
	}
	tab, err := parseTable(string(r.stderr))
	if err != nil {
		t.Fatalf("no table: %v\n%s", err, r.stderr)
	}
	st, sr := straceCount(t, runOpts{env: env}, "/bin/sh", "-c", script)
	if sr.status != 0 {
		t.Fatalf("strace: %s", sr)
	}
	for _, name := range eventCalls {
		checkRow(t, "spawntrace --spawns-only", tab, name, st.Calls(name), st.Errors(name))
	}
	for _, row := range tab.Rows {
		if !slices.Contains(eventCalls, row.Name) {
			t.Errorf("--spawns-only table has a %s row", row.Name)
		}
	}
	if !strings.Contains(string(r.stderr), "not measured") {
		t.Errorf("the output does not say the other syscalls are not measured:\n%s", r.stderr)
	}
	if !strings.Contains(string(r.stderr), "Spawns: ") {
		t.Errorf("no spawn section:\n%s", r.stderr)
	}
	// The saved recording says so too, and report prints the same.
	loaded, err := recording.Load(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.SpawnCallsOnly {
		t.Error("the recording does not say it was made with --spawns-only")
	}
	if s := summarized(t, loaded); s.SpawnCount() != int(tableSpawns(st)) {
		t.Errorf("summary: %d spawns, strace saw %d clone-like calls", s.SpawnCount(), tableSpawns(st))
	}
}

// exec32 is a 32-bit program (cc -m32) that execs its arguments: a tree
// that starts as one, so that --spawns-only attaches its 32-bit path at once.
const exec32 = `#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
	if (argc < 2)
		return 2;
	execv(argv[1], argv + 1);
	perror("execv");
	return 127;
}
`

// TestVerboseNamesAttachedTracepoints: -v names the syscall tracepoints
// spawntrace's programs really run on, as the kernel lists them in its
// link descriptors' fdinfo (tp_name), read by the workload from
// spawntrace's /proc/PID/fdinfo: the raw pair by default, the spawn calls'
// own tracepoints under --spawns-only, and both for a tree that starts as
// a 32-bit program.
func TestVerboseNamesAttachedTracepoints(t *testing.T) {
	e := setupEnv(t)
	dir := t.TempDir()
	prog32 := filepath.Join(dir, "exec32")
	if err := os.WriteFile(prog32+".c", []byte(exec32), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cc", "-m32", "-O2", "-Wall", "-o", prog32, prog32+".c").CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cc -m32 (gcc-multilib is in the Makefile's DEB_PKGS: make deps): %v\n%s", err, out)
		}
		t.Skipf("cc -m32 (install gcc-multilib): %v\n%s", err, out)
	}
	// The workload's parent is spawntrace.
	script := []string{"/bin/sh", "-c", `for f in /proc/$PPID/fdinfo/*; do sed -n 's/^tp_name:[[:space:]]*//p' "$f"; done`}
	for _, c := range []struct {
		name string
		args []string
	}{
		{"default", append([]string{"-v", "--"}, script...)},
		{"--spawns-only", append([]string{"-v", "--spawns-only", "--"}, script...)},
		{"--spawns-only, 32-bit", append([]string{"-v", "--spawns-only", "--", prog32}, script...)},
	} {
		r := e.spawntrace(t, runOpts{}, c.args...)
		if r.status != 0 {
			t.Fatalf("%s: %s", c.name, r)
		}
		kernel := map[string]bool{}
		for _, tp := range strings.Fields(string(r.stdout)) {
			if strings.HasPrefix(tp, "sys_") {
				kernel[tp] = true
			}
		}
		var said string
		for _, l := range strings.Split(string(r.stderr), "\n") {
			if strings.Contains(l, tracer.SyscallsProbe) {
				said = l
			}
		}
		named := map[string]bool{}
		for _, tp := range tracepointsNamed(said) {
			named[tp] = true
		}
		if len(kernel) == 0 || !maps.Equal(named, kernel) {
			t.Errorf("%s: -v says\n%s\nthe kernel runs spawntrace's programs on %v", c.name, said, slices.Sorted(maps.Keys(kernel)))
		}
		t.Logf("%s: %s", c.name, said)
	}
}

// tracepointsNamed lists the tracepoints a -v line names: "spawntrace:
// attached raw_syscalls:sys_enter+sys_exit", "spawntrace: attached
// syscalls:sys_{enter,exit}_{clone,...}, and raw_syscalls:... for the
// tree's 32-bit calls (probe ...)", or the probe by fallback.
func tracepointsNamed(line string) []string {
	what, ok := strings.CutPrefix(line, "spawntrace: attached ")
	if !ok {
		what, _, _ = strings.Cut(strings.TrimPrefix(line, "spawntrace: "), " by fallback:")
	}
	what, _, _ = strings.Cut(what, " (probe ")
	var names []string
	for _, part := range strings.Split(what, ", and ") {
		part, _, _ = strings.Cut(part, " for ")
		_, spec, _ := strings.Cut(part, ":")
		for _, alt := range strings.Split(spec, "+") {
			names = append(names, expandBraces(alt)...)
		}
	}
	return names
}

// expandBraces expands a shell brace pattern: a_{b,c}_{d,e} gives a_b_d,
// a_b_e, a_c_d and a_c_e.
func expandBraces(s string) []string {
	open := strings.Index(s, "{")
	end := strings.Index(s, "}")
	if open < 0 || end < open {
		return []string{s}
	}
	var out []string
	for _, alt := range strings.Split(s[open+1:end], ",") {
		for _, rest := range expandBraces(s[end+1:]) {
			out = append(out, s[:open]+alt+rest)
		}
	}
	return out
}
