//go:build integration && linux

package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Spawns per call site of pprofCallSites: distinct, so that a count in the
// profile says which site it is.
const (
	cfiForks  = 3
	cfiSpawns = 4
	cfiSystem = 2
)

// Three call sites, each reached through glibc code without frame
// pointers (fork's _Fork, posix_spawn's and system()'s clone3). system()
// runs "exec /bin/true" so that sh execs in place: the program's are the
// only spawns.
var pprofCallSites = fmt.Sprintf("#define FORKS %d\n#define SPAWNS %d\n#define SYSTEMS %d\n", cfiForks, cfiSpawns, cfiSystem) + `#include <spawn.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>
extern char **environ;

__attribute__((noinline)) void call_site_fork(void) {
	pid_t pid = fork();
	if (pid == 0) {
		execl("/bin/true", "true", (char *)0);
		_exit(127);
	}
	waitpid(pid, 0, 0);
}

__attribute__((noinline)) void call_site_posix_spawn(void) {
	pid_t pid;
	char *argv[] = {"true", 0};
	if (posix_spawn(&pid, "/bin/true", 0, 0, argv, environ) == 0)
		waitpid(pid, 0, 0);
}

__attribute__((noinline)) void call_site_system(void) {
	if (system("exec /bin/true") != 0)
		exit(1);
}

int main(void) {
	for (int i = 0; i < FORKS; i++)
		call_site_fork();
	for (int i = 0; i < SPAWNS; i++)
		call_site_posix_spawn();
	for (int i = 0; i < SYSTEMS; i++)
		call_site_system();
	return 0;
}
`

// cumCounts runs go tool pprof -top -cum on the spawn profile's count
// (spawns), restricted to the spawns of comm, and returns each function's
// cumulative count.
func cumCounts(t *testing.T, profile, comm string) (map[string]int, string) {
	t.Helper()
	cmd := exec.Command(goCmd(), "tool", "pprof", "-top", "-cum", "-nodecount=1000", "-sample_index=spawns",
		"-tagfocus=comm="+comm, profile)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go tool pprof -top -cum %s: %v\n%s", profile, err, stderr.String())
	}
	// "      flat  flat%   sum%        cum   cum%" rows: flat, flat%, sum%, cum, cum%, name.
	row := regexp.MustCompile(`^\s*(\d+)\s+\S+%\s+\S+%\s+(\d+)\s+\S+%\s+(.+?)\s*$`)
	cum := map[string]int{}
	for _, line := range strings.Split(stdout.String(), "\n") {
		if m := row.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[2])
			cum[m[3]] = n
		}
	}
	return cum, stdout.String()
}

// pprofTraces is go tool pprof -traces of the spawn profile's count.
func pprofTraces(t *testing.T, profile string) string {
	t.Helper()
	out, err := exec.Command(goCmd(), "tool", "pprof", "-traces", "-sample_index=spawns", profile).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof -traces %s: %v\n%s", profile, err, out)
	}
	return string(out)
}

// truncatedNote parses "N of M spawn stacks truncated" from stderr.
func truncatedNote(t *testing.T, stderr string) (truncated, stacks int) {
	t.Helper()
	m := regexp.MustCompile(`spawntrace: (\d+) of (\d+) spawn stacks truncated`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no truncation note on stderr:\n%s", stderr)
	}
	truncated, _ = strconv.Atoi(m[1])
	stacks, _ = strconv.Atoi(m[2])
	return truncated, stacks
}

// TestPprofCallSitesUnwoundByCFI: a C program spawns from three call
// sites, through fork(), posix_spawn() and system(), whose glibc code has
// no frame pointers; with the program built with and without frame
// pointers, go tool pprof -top -cum names each call site and main, with
// the spawns each made, and every stack reaches main. The same under
// --spawns-only, whose programs sit on the spawn calls' own tracepoints
// (the caller's registers from bpf_task_pt_regs there).
func TestPprofCallSitesUnwoundByCFI(t *testing.T) {
	cc := requireTool(t, "gcc")
	bin := setupEnv(t).bin
	dir := t.TempDir()
	src := filepath.Join(dir, "callsites.c")
	if err := os.WriteFile(src, []byte(pprofCallSites), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, run := range []struct{ fp, mode string }{
		{"-fno-omit-frame-pointer", ""}, {"-fomit-frame-pointer", ""}, {"-fomit-frame-pointer", "--spawns-only"},
	} {
		fp := run.fp
		t.Run(fp+run.mode, func(t *testing.T) {
			prog := filepath.Join(dir, "callsites"+fp)
			if out, err := exec.Command(cc, "-O2", fp, "-o", prog, src).CombinedOutput(); err != nil {
				t.Fatalf("gcc: %v\n%s", err, out)
			}
			out := filepath.Join(dir, "out"+fp+run.mode)
			args := []string{"--pprof", out, "--", prog}
			if run.mode != "" {
				args = append([]string{run.mode}, args...)
			}
			checkCallSites(t, bin, prog, out, args, [][]string{{"_Fork", "call_site_fork", "main"},
				{"posix_spawn", "call_site_posix_spawn", "main"}, {"do_system", "call_site_system", "main"}})
		})
	}
}

// checkCallSites runs spawntrace ARGS, which write prog's spawn profile
// under out, and checks what a user of pprofCallSites' profile would: go
// tool pprof opens it, -top -cum gives each call site and main the spawns
// each made, no stack is truncated (CFI unwound past glibc), and a trace
// runs each of paths (leaf first). It returns the counts and prog's comm.
func checkCallSites(t *testing.T, bin, prog, out string, args []string, paths [][]string) (want map[string]int, comm string) {
	t.Helper()
	stderr := pprofRun(t, bin, args...)
	profile := filepath.Join(out, "spawns.pb.gz")
	pprofOpens(t, profile)
	comm = filepath.Base(prog)[:min(15, len(filepath.Base(prog)))] // the kernel's comm: 15 bytes
	cum, top := cumCounts(t, profile, comm)
	want = map[string]int{"call_site_fork": cfiForks, "call_site_posix_spawn": cfiSpawns,
		"call_site_system": cfiSystem, "main": cfiForks + cfiSpawns + cfiSystem}
	for fn, n := range want {
		if cum[fn] != n {
			t.Errorf("%s: %d spawns in go tool pprof -top -cum, want %d", fn, cum[fn], n)
		}
	}
	traces := pprofTraces(t, profile)
	if t.Failed() {
		t.Logf("go tool pprof -top -cum:\n%s\n-traces:\n%s\nstderr:\n%s", top, traces, stderr)
	}
	truncated, stacks := truncatedNote(t, stderr)
	if truncated != 0 || stacks != cfiForks+cfiSpawns+cfiSystem || !strings.Contains(stderr, "unwound by CFI") {
		t.Errorf("%d of %d stacks truncated, want 0 of %d, unwound by CFI:\n%s", truncated, stacks, cfiForks+cfiSpawns+cfiSystem, stderr)
	}
	for _, path := range paths {
		if !inOneTrace(traces, path) {
			t.Errorf("no trace runs %s:\n%s", strings.Join(path, " -> "), traces)
		}
	}
	return want, comm
}

// inOneTrace says whether one trace of go tool pprof -traces holds the
// functions of path, in that order (leaf first).
func inOneTrace(traces string, path []string) bool {
	for _, tr := range strings.Split(traces, "-----------+") {
		at := 0
		for _, line := range strings.Split(tr, "\n") {
			f := strings.Fields(line)
			if at < len(path) && len(f) > 0 && strings.HasPrefix(f[len(f)-1], path[at]) {
				at++
			}
		}
		if at == len(path) {
			return true
		}
	}
	return false
}

// The program lives 0.5 s after its spawns, as pprofDeepSpawn's does:
// a spawner gone before its memory map is read is cut for that reason
// (TestPprofSpawnerGone), which a loaded machine's late read would make
// of this test's 62 ms program.
const rustCallSite = `use std::process::Command;

#[inline(never)]
fn spawn_from_rust_call_site() {
    Command::new("/bin/true").spawn().unwrap().wait().unwrap();
}

fn main() {
    for _ in 0..3 {
        spawn_from_rust_call_site();
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
}
`

// TestPprofRustCallSiteUnwoundByCFI: a Rust program's Command::spawn
// call site is named in the spawn profile, three spawns, down to main.
func TestPprofRustCallSiteUnwoundByCFI(t *testing.T) {
	rustc := "/usr/bin/rustc" // Debian's, what CI installs (make deps)
	if _, err := os.Stat(rustc); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("/usr/bin/rustc not found; CI must install Debian's rustc (make deps)")
		}
		rustc = requireTool(t, "rustc")
	}
	bin := setupEnv(t).bin
	dir := t.TempDir()
	src := filepath.Join(dir, "callsite.rs")
	if err := os.WriteFile(src, []byte(rustCallSite), 0o644); err != nil {
		t.Fatal(err)
	}
	prog := filepath.Join(dir, "rustsite")
	if out, err := exec.Command(rustc, "-O", "--edition", "2021", "-o", prog, src).CombinedOutput(); err != nil {
		t.Fatalf("rustc: %v\n%s", err, out)
	}
	out := filepath.Join(dir, "out")
	stderr := pprofRun(t, bin, "--pprof", out, "--", prog)
	profile := filepath.Join(out, "spawns.pb.gz")
	pprofOpens(t, profile)
	cum, top := cumCounts(t, profile, "rustsite")
	if cum["callsite::spawn_from_rust_call_site"] != 3 || cum["main"] != 3 {
		t.Errorf("callsite::spawn_from_rust_call_site in %d spawns, main in %d, want 3 and 3:\n%s\n-traces:\n%s\nstderr:\n%s",
			cum["callsite::spawn_from_rust_call_site"], cum["main"], top, pprofTraces(t, profile), stderr)
	}
	if truncated, stacks := truncatedNote(t, stderr); truncated != 0 || stacks != 3 {
		t.Errorf("%d of %d stacks truncated, want 0 of 3:\n%s", truncated, stacks, stderr)
	}
}

// A spawn 200 frames of ~160 bytes deep: more stack than the kernel
// copies (bpf STACK_COPY_MAX, 16 KiB).
const pprofDeepSpawn = `#include <unistd.h>
#include <sys/wait.h>

__attribute__((noinline)) int deep_recursion(int n) {
	volatile char pad[128];
	pad[0] = (char)n;
	if (n == 0) {
		pid_t pid = fork();
		if (pid == 0) {
			execl("/bin/true", "true", (char *)0);
			_exit(127);
		}
		waitpid(pid, 0, 0);
		return pad[0];
	}
	return deep_recursion(n - 1) + pad[0];
}

/* Alive a while after the spawn: the unwind needs the process's memory
 * map, which a spawner gone within ~1 ms may no longer have (a known
 * limit, not what this test is about; CI at load ~160 hit it). */
int main(void) { int r = deep_recursion(200) == 12345; usleep(500000); return r; }
`

// TestPprofDeepStackCut: a stack deeper than the copy is unwound as far as
// the copy goes, and the note says it was cut there.
func TestPprofDeepStackCut(t *testing.T) {
	cc := requireTool(t, "gcc")
	bin := setupEnv(t).bin
	dir := t.TempDir()
	src := filepath.Join(dir, "deep.c")
	if err := os.WriteFile(src, []byte(pprofDeepSpawn), 0o644); err != nil {
		t.Fatal(err)
	}
	prog := filepath.Join(dir, "deepspawn")
	if out, err := exec.Command(cc, "-O2", "-fomit-frame-pointer", "-o", prog, src).CombinedOutput(); err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	out := filepath.Join(dir, "out")
	stderr := pprofRun(t, bin, "--pprof", out, "--", prog)
	if truncated, stacks := truncatedNote(t, stderr); truncated != 1 || stacks != 1 ||
		!strings.Contains(stderr, "1 unwound by CFI (.eh_frame) past code without frame pointers, 1 of them cut where the copy of the stack ended") {
		t.Errorf("want 1 of 1 stacks truncated, unwound by CFI and cut:\n%s", stderr)
	}
	cum, top := cumCounts(t, filepath.Join(out, "spawns.pb.gz"), "deepspawn")
	if cum["deep_recursion"] != 1 || cum["main"] != 0 {
		t.Errorf("deep_recursion in %d spawns, main in %d: want 1 and 0 (cut):\n%s", cum["deep_recursion"], cum["main"], top)
	}
}

// quickSpawner forks once from a function of its own and exits at once,
// leaving its child to exec: its memory map is gone within microseconds
// of the fork, often before spawntrace's reader can read it.
const quickSpawner = `#include <unistd.h>
__attribute__((noinline)) void spawn_and_leave(void) {
	if (fork() == 0) {
		execl("/bin/true", "true", (char *)0);
		_exit(127);
	}
}
int main(void) {
	spawn_and_leave();
	return 0;
}
`

// TestPprofSpawnerGone: a spawner that exits right after its fork may be
// gone before spawntrace reads its memory map, and its stack then stops in
// glibc's _Fork (no frame pointers, not unwound by CFI). To make that
// certain, spawntrace is stopped (SIGSTOP) while 20 such spawners run and
// exit, and continued before the shell that ran them exits: the kernel
// side records all the while. Each of their stacks is counted, with that
// reason, in the profile's note.
func TestPprofSpawnerGone(t *testing.T) {
	bin := setupEnv(t).bin
	dir := t.TempDir()
	quick := compileC(t, dir, "quick", quickSpawner)
	fifos := map[string]string{}
	for _, name := range []string{"go", "ran", "end"} {
		fifos[name] = filepath.Join(dir, name)
		if err := syscall.Mkfifo(fifos[name], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const spawners = 20
	out := filepath.Join(dir, "out")
	cmd := exec.Command(bin, "--pprof", out, "--", "/bin/sh", "-c",
		`read x < "$1"; for i in $(seq `+fmt.Sprint(spawners)+`); do "$0"; done; echo ran > "$2"; read x < "$3"`,
		quick, fifos["go"], fifos["ran"], fifos["end"])
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := false
	defer func() {
		if !done {
			cmd.Process.Signal(syscall.SIGCONT)
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	// Opening a FIFO waits for its other end: the shell runs, traced.
	release := func(name string) {
		if err := os.WriteFile(fifos[name], []byte("x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	go1, err := os.OpenFile(fifos["go"], os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	go1.Write([]byte("x\n"))
	go1.Close()
	if _, err := os.ReadFile(fifos["ran"]); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	release("end")
	done = true
	if err := cmd.Wait(); err != nil {
		t.Fatalf("spawntrace: %v\n%s", err, stderr.String())
	}

	p := pprofParse(t, filepath.Join(out, "spawns.pb.gz"))
	cut := 0 // the quick spawners' stacks that do not reach their function
	for _, s := range p.Sample {
		if s.Label["comm"][0] != "quick" {
			continue
		}
		var funcs []string
		for _, l := range s.Location {
			for _, ln := range l.Line {
				funcs = append(funcs, ln.Function.Name)
			}
		}
		if !slices.Contains(funcs, "spawn_and_leave") {
			cut++
		}
	}
	note := regexp.MustCompile(`^(\d+) of \d+ spawn stacks truncated`)
	goneNote := regexp.MustCompile(`; (\d+) truncated because the spawner exited or exec'd before its memory map was read`)
	var m, g []string
	for _, c := range p.Comments {
		if m = note.FindStringSubmatch(c); m != nil {
			g = goneNote.FindStringSubmatch(c)
			break
		}
	}
	if m == nil || g == nil {
		t.Fatalf("no note of stacks truncated by their spawner's exit: %q\nstderr:\n%s", p.Comments, stderr.String())
	}
	truncated, _ := strconv.Atoi(m[1])
	gone, _ := strconv.Atoi(g[1])
	if cut != spawners || gone < cut || gone > truncated {
		t.Errorf("%d of %d spawners' stacks stop short of their function, want all; the note counts %d of %d truncated "+
			"stacks as their spawner's exit, want at least those: %q", cut, spawners, gone, truncated, p.Comments)
	}
}

// TestPprofCallSites32Bit: pprofCallSites built as a 32-bit program (gcc
// -m32), with and without frame pointers, and under --spawns-only: go tool
// pprof names each call site and main with the spawns each made, each
// trace runs from glibc's i386 code (fork through the vDSO's
// __kernel_vsyscall, posix_spawn's clone3 by int $0x80) to main, and no
// stack is truncated. The recording (-w) gives the same profile again
// (spawntrace report --pprof).
func TestPprofCallSites32Bit(t *testing.T) {
	cc := requireTool(t, "gcc")
	bin := setupEnv(t).bin
	dir := t.TempDir()
	src := filepath.Join(dir, "callsites.c")
	if err := os.WriteFile(src, []byte(pprofCallSites), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, run := range []struct{ fp, mode string }{
		{"-fno-omit-frame-pointer", ""}, {"-fomit-frame-pointer", ""}, {"-fomit-frame-pointer", "--spawns-only"},
	} {
		fp := run.fp
		t.Run(fp+run.mode, func(t *testing.T) {
			prog := filepath.Join(dir, "cs32"+fp)
			if out, err := exec.Command(cc, "-m32", "-O2", fp, "-o", prog, src).CombinedOutput(); err != nil {
				if os.Getenv("CI") == "true" {
					t.Fatalf("gcc -m32 (gcc-multilib is in the Makefile's DEB_PKGS: make deps): %v\n%s", err, out)
				}
				t.Skipf("gcc -m32 (install gcc-multilib): %v\n%s", err, out)
			}
			out := filepath.Join(dir, "out"+fp+run.mode)
			rec := filepath.Join(dir, "rec"+fp+run.mode+".strec")
			args := []string{"-w", rec, "--pprof", out, "--", prog}
			if run.mode != "" {
				args = append([]string{run.mode}, args...)
			}
			// i386 glibc has no .symtab (and Debian no i386 debug file in
			// libc6-dbg): its exported functions are named, do_system and
			// clone3 are not.
			want, comm := checkCallSites(t, bin, prog, out, args, [][]string{
				{"__kernel_vsyscall", "_Fork", "call_site_fork", "main", "_start"},
				{"posix_spawn", "call_site_posix_spawn", "main", "_start"},
				{"posix_spawn", "call_site_system", "main", "_start"}})
			again := filepath.Join(dir, "again"+fp+run.mode)
			pprofRun(t, bin, "report", "--pprof", again, rec)
			cumAgain, topAgain := cumCounts(t, filepath.Join(again, "spawns.pb.gz"), comm)
			for fn, n := range want {
				if cumAgain[fn] != n {
					t.Errorf("from the recording: %s in %d spawns, want %d:\n%s", fn, cumAgain[fn], n, topAgain)
				}
			}
		})
	}
}
