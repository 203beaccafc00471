//go:build integration && linux

package integration

// The ptrace backend (--backend ptrace): the same oracles as the BPF
// backend's, for the calls it counts (the spawn-related ones its seccomp
// filter stops at), and a recording that compares with a BPF one.

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// TestPtraceCountsMatchStrace runs each strace-oracle workload under
// `strace -f -c -w` and `spawntrace --backend ptrace -c -o FILE`: the calls
// and errors of every spawn-related call must be equal, the table must hold
// nothing else, and the -o file a line for each call counted.
func TestPtraceCountsMatchStrace(t *testing.T) {
	e := setupEnv(t)
	for _, c := range straceCases(t, e) {
		t.Run(c.name, func(t *testing.T) {
			st, sr := straceCount(t, runOpts{env: c.env}, c.argv...)
			evPath := filepath.Join(t.TempDir(), "ev.txt")
			r := e.spawntrace(t, runOpts{env: c.env}, append([]string{"--backend", "ptrace", "-c", "-o", evPath, "--"}, c.argv...)...)
			if r.status != sr.status {
				t.Errorf("exit status %d under spawntrace, %d under strace", r.status, sr.status)
			}
			if len(r.stdout) != 0 {
				t.Errorf("spawntrace wrote to stdout: %q", r.stdout)
			}
			tab := checkCOutput(t, r)
			for _, name := range eventCalls {
				if slices.Contains(c.restarts, name) {
					if st.Calls(name)-st.Errors(name) != tab.Calls(name)-tab.Errors(name) {
						t.Errorf("%s: strace %d successful calls, spawntrace %d", name, st.Calls(name)-st.Errors(name), tab.Calls(name)-tab.Errors(name))
					}
					continue
				}
				if st.Calls(name) != tab.Calls(name) || st.Errors(name) != tab.Errors(name) {
					t.Errorf("%s: strace %d calls %d errors, spawntrace --backend ptrace %d calls %d errors\ncommand: %s",
						name, st.Calls(name), st.Errors(name), tab.Calls(name), tab.Errors(name), r.cmdline)
				}
			}
			for name := range tab.ByName {
				if !slices.Contains(eventCalls, name) {
					t.Errorf("the ptrace backend counted %s, which its filter does not stop at", name)
				}
			}
			if !strings.Contains(tab.Rest, "ptrace backend") {
				t.Errorf("the footer does not name the ptrace backend:\n%s", tab.Rest)
			}
			evs, _ := readEvents(t, evPath)
			lines := map[string]uint64{}
			for _, ev := range evs {
				if ev.Call != "" {
					lines[ev.Call]++
				}
			}
			for _, name := range eventCalls {
				if lines[name] != tab.Calls(name) {
					t.Errorf("-o has %d %s lines, the table %d calls", lines[name], name, tab.Calls(name))
				}
			}
		})
	}
}

// TestPtraceCompareWithBPF records one workload with each backend and
// compares the two: the same spawns, mechanism and typical spawn on both
// sides, no finding between them, and the backends named.
func TestPtraceCompareWithBPF(t *testing.T) {
	e := setupEnv(t)
	dir := t.TempDir()
	prog := compileC(t, dir, "cmpspawn", cmpWorkload)
	const spawns = 50
	for _, mode := range []struct{ name, dominant, pattern string }{
		{"spawn", "vfork", "clone3(CLONE_VM|CLONE_VFORK) -> execve ENOENT -> execve"},
		{"fork", "fork", "clone(SIGCHLD) -> execve ENOENT -> execve"},
	} {
		t.Run(mode.name, func(t *testing.T) {
			recs := map[string]string{}
			for _, backend := range []string{"bpf", "ptrace"} {
				recs[backend] = filepath.Join(dir, mode.name+"-"+backend+".json")
				r := runCmd(t, runOpts{env: cmpEnv(20, 2, mode.name)}, e.bin, "--backend", backend, "-w", recs[backend], "--",
					prog, fmt.Sprint(spawns), "16")
				if r.status != 0 {
					t.Fatalf("recording: %s", r)
				}
			}
			c := compareJSON(t, e, "bpf,ptrace", recs["bpf"], recs["ptrace"])
			check := func(name string, spawnsGot int, dominant string, failed float64, env int, pattern string, n int) {
				if spawnsGot != spawns || dominant != mode.dominant {
					t.Errorf("%s: %d spawns, mostly %s; want %d, %s", name, spawnsGot, dominant, spawns, mode.dominant)
				}
				if failed != 1 {
					t.Errorf("%s: %.2f failed execs per spawn, want 1 (one missing PATH entry)", name, failed)
				}
				if env != 20 {
					t.Errorf("%s: children's environment of %d variables, want 20", name, env)
				}
				if pattern != mode.pattern || n != spawns {
					t.Errorf("%s: typical spawn %q x%d, want %q x%d", name, pattern, n, mode.pattern, spawns)
				}
			}
			if len(c.A.Patterns) == 0 || len(c.B.Patterns) == 0 {
				t.Fatalf("no patterns: %+v %+v", c.A.Patterns, c.B.Patterns)
			}
			check("bpf", c.A.Spawns, c.A.Dominant, c.A.FailedPerSpawn, c.A.EnvCount, c.A.Patterns[0].Text, c.A.Patterns[0].Spawns)
			check("ptrace", c.B.Spawns, c.B.Dominant, c.B.FailedPerSpawn, c.B.EnvCount, c.B.Patterns[0].Text, c.B.Patterns[0].Spawns)
			for _, f := range c.Findings {
				switch f.ID {
				case "mechanism", "path-search", "environment":
					t.Errorf("a finding between two recordings of one workload: %s: %s", f.ID, f.Title)
				}
			}
			found := false
			for _, h := range c.Host {
				if h.Fact == "tracer backend" {
					found = true
					if h.A != "bpf" || h.B != "ptrace" {
						t.Errorf("tracer backend row %q, %q; want bpf, ptrace", h.A, h.B)
					}
				}
			}
			if !found {
				t.Errorf("no tracer backend row in the host facts")
			}
			if !slices.ContainsFunc(c.Notes, func(n noteJSON) bool { return n.ID == "ptrace-backend" && strings.Contains(n.Text, "ptrace backend") }) {
				t.Errorf("no note that one side counted the spawn calls alone: %+v", c.Notes)
			}
		})
	}
}

// TestPtraceUnprivileged runs spawntrace as nobody: the default backend
// (auto) says BPF cannot load and counts with ptrace; --backend bpf fails
// in one line (TestNotRoot).
func TestPtraceUnprivileged(t *testing.T) {
	e := setupEnv(t)
	const n = 20
	loop := fmt.Sprintf("i=0; while [ $i -lt %d ]; do /bin/true; i=$((i+1)); done", n)
	r := e.spawntrace(t, runOpts{cred: &syscall.Credential{Uid: 65534, Gid: 65534}}, "-c", "--", "/bin/sh", "-c", loop)
	if r.status != 0 {
		t.Fatalf("%s", r)
	}
	tab, err := parseTable(string(r.stderr))
	if err != nil {
		t.Fatalf("%v\n%s", err, r)
	}
	if !strings.Contains(tab.Before, "using the ptrace backend") {
		t.Errorf("no line saying BPF could not load and ptrace is used:\n%s", r.stderr)
	}
	if s := tableSpawns(tab); s != n {
		t.Errorf("%d clone/clone3/fork/vfork calls, want %d", s, n)
	}
	checkRow(t, "spawntrace", tab, "execve", n+1, 0)
}

// TestPtraceUser: -u runs the workload as that user under the ptrace
// backend too, traced from its exec.
func TestPtraceUser(t *testing.T) {
	e := setupEnv(t)
	dir := openDir(t)
	out := filepath.Join(dir, "id")
	r := e.spawntrace(t, runOpts{}, "--backend", "ptrace", "-c", "-u", "65534", "--", "/bin/sh", "-c", "id -u > "+out+"; id -G >> "+out)
	if r.status != 0 {
		t.Fatalf("%s", r)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(b)); len(got) < 2 || got[0] != "65534" || slices.Contains(got[1:], "0") {
		t.Errorf("the workload ran as uid and groups %q, want 65534 and none of root's", got)
	}
	tab := checkCOutput(t, r)
	checkRow(t, "spawntrace", tab, "execve", 3, 0) // sh, then id twice
}

// A gcc -m32 program under the ptrace backend: PTRACE_GETREGSET (what
// x/sys's PtraceGetRegs asks for) gives a 32-bit tracee's registers in
// i386's 68-byte layout, which left the 64-bit struct's orig_rax and cs
// those of the last 64-bit stop: its clones and execves were counted as
// oldolduname (x86_64 execve's 59 read in the i386 table), with ENOSYS
// returns, and its spawns not seen. Its spawn-related rows, in both tables,
// must be strace's.
func TestPtraceCompat32MatchesStrace(t *testing.T) {
	e := setupEnv(t)
	w32, _ := compatBuild(t, e)
	strace := requireTool(t, "strace")
	sout := filepath.Join(t.TempDir(), "strace-c.txt")
	runCmd(t, runOpts{}, strace, "-f", "-c", "-w", "-o", sout, "--", w32, "3")
	b, err := os.ReadFile(sout)
	if err != nil {
		t.Fatal(err)
	}
	st64, st32, err := parseTables(string(b))
	if err != nil || st32 == nil {
		t.Fatalf("strace's tables (32-bit one: %v): %v\n%s", st32 != nil, err, b)
	}
	r := e.spawntrace(t, runOpts{}, "--backend", "ptrace", "-c", "--", w32, "3")
	if r.status != 0 {
		t.Fatalf("%s", r)
	}
	sp64, sp32, err := parseTables(string(r.stderr))
	if err != nil || sp32 == nil {
		t.Fatalf("spawntrace's tables (32-bit one: %v): %v\n%s", sp32 != nil, err, r)
	}
	for _, tc := range []struct {
		mode   string
		st, sp *countTable
	}{{"64-bit", st64, sp64}, {"32-bit", st32, sp32}} {
		for _, name := range eventCalls {
			if tc.st.Calls(name) != tc.sp.Calls(name) || tc.st.Errors(name) != tc.sp.Errors(name) {
				t.Errorf("%s table, %s: strace %d calls %d errors, spawntrace --backend ptrace %d calls %d errors",
					tc.mode, name, tc.st.Calls(name), tc.st.Errors(name), tc.sp.Calls(name), tc.sp.Errors(name))
			}
		}
		for name := range tc.sp.ByName {
			if !slices.Contains(eventCalls, name) {
				t.Errorf("%s table: the ptrace backend counted %s, which its filter does not stop at", tc.mode, name)
			}
		}
	}
	if t.Failed() {
		t.Logf("strace:\n%s\nspawntrace:\n%s", b, r.stderr)
	}
}
