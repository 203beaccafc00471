//go:build integration && linux

package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// pprofRun runs the command and returns its stderr; it must exit 0.
func pprofRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stderr.String()
}

func pprofParse(t *testing.T, path string) *profile.Profile {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if err := p.CheckValid(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return p
}

// pprofOpens runs go tool pprof -top and -traces on a file: it must say
// nothing on stderr (no symbolization warnings).
func pprofOpens(t *testing.T, path string) string {
	t.Helper()
	var top string
	for _, view := range []string{"-top", "-traces"} {
		cmd := exec.Command(goCmd(), "tool", "pprof", view, path)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("go tool pprof %s %s: %v\n%s", view, path, err, stderr.String())
		}
		if stderr.Len() > 0 {
			t.Errorf("go tool pprof %s %s warned:\n%s", view, path, stderr.String())
		}
		if view == "-top" {
			top = stdout.String()
		}
	}
	return top
}

const pprofGoWorkload = `package main

import "os/exec"

//go:noinline
func spawnTrueFromDistinctiveFunction() {
	if err := exec.Command("/bin/true").Run(); err != nil {
		panic(err)
	}
}

func main() {
	for range 5 {
		spawnTrueFromDistinctiveFunction()
	}
}
`

// TestPprofGoStacks: a Go program (frame pointers on, as Go builds by
// default) spawns from a distinctively named function; the spawn profile
// names it, and the program is the profiles' main binary.
func TestPprofGoStacks(t *testing.T) {
	bin := setupEnv(t).bin
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(pprofGoWorkload), 0o644)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module spawner\n\ngo 1.22\n"), 0o644)
	prog := filepath.Join(dir, "spawner")
	build := exec.Command(goCmd(), "build", "-o", prog, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	out := filepath.Join(dir, "out")
	stderr := pprofRun(t, bin, "--pprof", out, "--", prog)
	if !strings.Contains(stderr, "spawntrace: ") || !strings.Contains(stderr, "spawn stacks truncated") {
		t.Errorf("no truncation note on stderr:\n%s", stderr)
	}
	p := pprofParse(t, filepath.Join(out, "spawns.pb.gz"))
	if len(p.Mapping) == 0 || p.Mapping[0].File != prog {
		t.Fatalf("no mapping, or mapping 0 is not %s:\n%s\nstderr:\n%s", prog, p, stderr)
	}
	found := 0
	for _, s := range p.Sample {
		for _, l := range s.Location {
			for _, ln := range l.Line {
				if ln.Function.Name == "main.spawnTrueFromDistinctiveFunction" {
					found++
				}
			}
		}
	}
	if found < 5 {
		t.Errorf("main.spawnTrueFromDistinctiveFunction in %d spawn stacks, want 5:\n%s", found, p)
	}
	top := pprofOpens(t, filepath.Join(out, "spawns.pb.gz"))
	if !strings.Contains(top, "main.spawnTrueFromDistinctiveFunction") || !strings.Contains(top, "File: spawner") {
		t.Errorf("go tool pprof -top:\n%s", top)
	}
	pprofParse(t, filepath.Join(out, "cpu.pb.gz"))
	pprofOpens(t, filepath.Join(out, "cpu.pb.gz"))
}

// pprofForks is how many times the 1 GiB parent forks: enough that the
// copies (~10 ms each here) outweigh the parent's own first touch of its
// memory (~300 ms of page faults), which with 5 forks outranked them on a
// busy machine.
const pprofForks = 30

var pprofForkWorkload = fmt.Sprintf("#define PPROF_FORKS %d\n", pprofForks) + `#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

int main(void) {
	size_t n = 1UL << 30;
	char *p = malloc(n);
	if (!p)
		return 1;
	memset(p, 1, n);
	__asm__ volatile("" : : "r"(p) : "memory");
	for (int i = 0; i < PPROF_FORKS; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			execl("/bin/true", "true", (char *)0);
			_exit(127);
		}
		waitpid(pid, 0, 0);
	}
	return 0;
}
`

// pprofTop ranks functions by flat and by cumulative value of a sample
// type, as go tool pprof -top and -top -cum do.
func pprofTop(p *profile.Profile, index, n int) (flat, cum []string) {
	flatV, cumV := map[string]int64{}, map[string]int64{}
	for _, s := range p.Sample {
		v := s.Value[index]
		seen := map[string]bool{}
		for i, l := range s.Location {
			for _, ln := range l.Line {
				name := ln.Function.Name
				if i == 0 {
					flatV[name] += v
				}
				if !seen[name] {
					seen[name] = true
					cumV[name] += v
				}
			}
		}
	}
	rank := func(m map[string]int64) []string {
		var names []string
		for k := range m {
			names = append(names, k)
		}
		sort.Slice(names, func(i, j int) bool {
			if m[names[i]] != m[names[j]] {
				return m[names[i]] > m[names[j]]
			}
			return names[i] < names[j]
		})
		return names[:min(n, len(names))]
	}
	return rank(flatV), rank(cumV)
}

// TestPprofForkCPU: a 1 GiB parent forks and execs /bin/true 30 times; the
// CPU profile shows the page-table copy (copy_page_range under dup_mmap)
// among the top 5 functions, as perf report does, and `report --pprof`
// rebuilds the same profiles from the saved recording.
func TestPprofForkCPU(t *testing.T) {
	cc := requireTool(t, "cc")
	bin := setupEnv(t).bin
	dir := t.TempDir()
	src := filepath.Join(dir, "fork1g.c")
	os.WriteFile(src, []byte(pprofForkWorkload), 0o644)
	prog := filepath.Join(dir, "fork1g")
	if out, err := exec.Command(cc, "-O2", "-o", prog, src).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}

	out, recFile := filepath.Join(dir, "out"), filepath.Join(dir, "rec.json.gz")
	stderr := pprofRun(t, bin, "--pprof", out, "-w", recFile, "--", prog)
	cpu := pprofParse(t, filepath.Join(out, "cpu.pb.gz"))
	const defaultFreqHz = 999 // --freq's default, as the README gives it
	if cpu.Period != int64(1e9)/defaultFreqHz || cpu.PeriodType.Type != "cpu" || cpu.PeriodType.Unit != "nanoseconds" {
		t.Errorf("period %d %+v", cpu.Period, cpu.PeriodType)
	}
	flat, cum := pprofTop(cpu, 0, 5)
	t.Logf("top 5 flat: %v; cumulative: %v", flat, cum)
	inTop := func(names []string) bool {
		for _, n := range names {
			if n == "copy_page_range" || n == "dup_mmap" {
				return true
			}
		}
		return false
	}
	if !inTop(flat) && !inTop(cum) {
		t.Errorf("copy_page_range/dup_mmap not in the top 5 (flat %v, cum %v)\nstderr:\n%s", flat, cum, stderr)
	}
	if cpu.Mapping[0].File != prog {
		t.Errorf("cpu mapping 0 is %q, want %q", cpu.Mapping[0].File, prog)
	}
	pprofOpens(t, filepath.Join(out, "cpu.pb.gz"))

	spawns := pprofParse(t, filepath.Join(out, "spawns.pb.gz"))
	forks := 0
	for _, s := range spawns.Sample {
		if s.Label["mechanism"][0] != "fork" || s.Label["comm"][0] != "fork1g" {
			continue
		}
		forks++
		if s.Value[2] <= 0 || len(s.NumLabel["parent_rss"]) != 1 || s.NumLabel["parent_rss"][0] < 1<<30 ||
			s.Label["exe"][0] != "/bin/true" || len(s.Location) == 0 {
			t.Errorf("fork sample: values %v labels %v %v, %d frames", s.Value, s.Label, s.NumLabel, len(s.Location))
		}
	}
	if forks != pprofForks {
		t.Errorf("%d fork samples, want %d:\n%s", forks, pprofForks, spawns)
	}
	pprofOpens(t, filepath.Join(out, "spawns.pb.gz"))

	// The same files again from the recording, without BPF.
	again := filepath.Join(dir, "again")
	pprofRun(t, bin, "report", "--pprof", again, recFile)
	for _, name := range []string{"spawns.pb.gz", "cpu.pb.gz"} {
		a, b := pprofParse(t, filepath.Join(out, name)), pprofParse(t, filepath.Join(again, name))
		if a.String() != b.String() {
			t.Errorf("%s from the recording differs from the one written while recording", name)
		}
	}
}

// A library only the short-lived children load, found through their
// RUNPATH: no process that outlives the run maps it.
const pprofChildLib = `int spin_in_child_library_xyz(long n) {
	volatile long x = 0;
	for (long i = 0; i < n; i++)
		x += i;
	return x == 1;
}
`

// About 5 ms of CPU here: a loop, not a clock, which would put [vdso]
// frames in the stacks (given as bare addresses, they wake the reader).
const pprofChild = `int spin_in_child_library_xyz(long n);
int main(void) { return spin_in_child_library_xyz(5000000); }
`

// TestPprofShortLivedChildren: children that run ~5 ms of CPU each and exit
// have their samples named, down to a library only they load: samples
// carry build IDs and file offsets, named from the files exec'd, without
// waking spawntrace to read each child's memory map while it lives.
func TestPprofShortLivedChildren(t *testing.T) {
	cc := requireTool(t, "cc")
	bin := setupEnv(t).bin
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "lib.c"), []byte(pprofChildLib), 0o644)
	os.WriteFile(filepath.Join(dir, "child.c"), []byte(pprofChild), 0o644)
	lib := filepath.Join(dir, "lib", "libspinchild.so")
	child := filepath.Join(dir, "spinchild")
	os.Mkdir(filepath.Join(dir, "lib"), 0o755)
	for _, args := range [][]string{
		{"-O1", "-fno-omit-frame-pointer", "-shared", "-fPIC", "-o", lib, filepath.Join(dir, "lib.c")},
		{"-O1", "-fno-omit-frame-pointer", "-o", child, filepath.Join(dir, "child.c"),
			"-L" + filepath.Dir(lib), "-lspinchild", "-Wl,-rpath,$ORIGIN/lib"},
	} {
		if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
			t.Fatalf("cc %v: %v\n%s", args, err, out)
		}
	}

	out := filepath.Join(dir, "out")
	const runs = 40
	stderr := pprofRun(t, bin, "--pprof", out, "--", "/bin/sh", "-c",
		fmt.Sprintf("i=0; while [ $i -lt %d ]; do %s || exit 1; i=$((i+1)); done", runs, child))
	cpu := pprofParse(t, filepath.Join(out, "cpu.pb.gz"))
	var total, named int64
	for _, s := range cpu.Sample {
		if s.Label["comm"][0] != "spinchild" {
			continue
		}
		total += s.Value[0]
		for _, l := range s.Location {
			if l.Mapping != nil && l.Mapping.File == lib && len(l.Line) > 0 &&
				l.Line[0].Function.Name == "spin_in_child_library_xyz" {
				named += s.Value[0]
				break
			}
		}
	}
	t.Logf("%d of %d samples of the children in spin_in_child_library_xyz", named, total)
	// 40 x 5 ms of CPU at 999 Hz: ~200 samples, ~80% of them in the loop
	// (the rest in exec and the dynamic loader).
	if total < runs || named*10 < total*6 {
		t.Errorf("%d of %d samples of the children named in their library, want >= 60%% of >= %d\nstderr:\n%s",
			named, total, runs, stderr)
	}
	var all int64
	for _, s := range cpu.Sample {
		all += s.Value[0]
	}
	var lost int64
	if m := regexp.MustCompile(`(\d+) CPU samples' user stacks not symbolized`).FindStringSubmatch(stderr); m != nil {
		lost, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if lost*10 > all {
		t.Errorf("%d of %d samples' user stacks not symbolized, want <= 10%%\nstderr:\n%s", lost, all, stderr)
	}
	pprofOpens(t, filepath.Join(out, "cpu.pb.gz"))
}

// TestPprofPythonProgram: a Python script run through /usr/bin/env (as its
// #! line or a user's command line does) is the profiles' program: pprof's
// "File:" names the interpreter the workload ends up running, not env, and
// a comment names the script, as py-spy would name the program.
func TestPprofPythonProgram(t *testing.T) {
	bin := setupEnv(t).bin
	python := requireTool(t, "python3")
	realPython, err := exec.Command(python, "-c", "import os, sys; print(os.path.realpath(sys.executable))").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSpace(string(realPython))
	dir := t.TempDir()
	script := filepath.Join(dir, "spawn_twice.py")
	os.WriteFile(script, []byte("#!/usr/bin/env python3\nimport subprocess\nfor _ in range(2):\n    subprocess.run(['/bin/true'])\n"), 0o755)
	for i, argv := range [][]string{{"/usr/bin/env", "python3", "-u", script}, {script}} {
		out := filepath.Join(dir, fmt.Sprint("out", i))
		stderr := pprofRun(t, bin, append([]string{"--pprof", out, "--"}, argv...)...)
		p := pprofParse(t, filepath.Join(out, "spawns.pb.gz"))
		if len(p.Mapping) == 0 {
			t.Fatalf("%q: no mappings\nstderr:\n%s", argv, stderr)
		}
		if got, _ := filepath.EvalSymlinks(p.Mapping[0].File); got != want {
			t.Errorf("%q: main binary %s, want the interpreter %s", argv, p.Mapping[0].File, want)
		}
		top, err := exec.Command(goCmd(), "tool", "pprof", "-top", filepath.Join(out, "spawns.pb.gz")).Output()
		if err != nil {
			t.Fatal(err)
		}
		header := "File: " + filepath.Base(p.Mapping[0].File) + "\n"
		if !strings.HasPrefix(string(top), header) || !strings.Contains(string(top), "\nprogram: "+script+", run by ") {
			t.Errorf("%q: go tool pprof -top does not start with %q and name the script:\n%s", argv, header, top)
		}
	}
}
