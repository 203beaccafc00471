//go:build integration && linux

package integration

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// cmpWorkload spawns `true` by name N times, as posix_spawnp does or as
// fork+execvp does (SPAWN_MODE=fork), from a parent that touched MiB of
// memory first (CMP_MIB in the environment, when set). The mode is chosen by the environment so that both
// recordings run the same command line.
const cmpWorkload = `#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: %s N MiB\n", argv[0]);
		return 2;
	}
	int n = atoi(argv[1]);
	/* CMP_MIB overrides the size: a fleet's nodes run one command line. */
	const char *mib = getenv("CMP_MIB");
	size_t bytes = (size_t)atoi(mib ? mib : argv[2]) << 20;
	const char *mode = getenv("SPAWN_MODE");
	int use_fork = mode && strcmp(mode, "fork") == 0;
	char *mem = malloc(bytes);
	memset(mem, 1, bytes);
	char *args[] = {"true", NULL};
	for (int i = 0; i < n; i++) {
		pid_t pid;
		if (use_fork) {
			pid = fork();
			if (pid < 0)
				return 3;
			if (pid == 0) {
				execvp("true", args);
				_exit(127);
			}
		} else if (posix_spawnp(&pid, "true", NULL, NULL, args, environ) != 0) {
			return 4;
		}
		int st;
		if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			return 5;
	}
	return mem[bytes - 1] == 1 ? 0 : 6;
}
`

// cmpEnv is an environment of exactly vars variables whose PATH has
// pathEntries entries, only the last of which holds true.
func cmpEnv(vars, pathEntries int, mode string) []string {
	return cmpEnvAt(vars, pathEntries, pathEntries-1, mode)
}

// cmpEnvAt is cmpEnv with true's directory the PATH's entry trueAt
// (from 0).
func cmpEnvAt(vars, pathEntries, trueAt int, mode string) []string {
	var dirs []string
	trueDir := "/usr/bin"
	if _, err := os.Stat(filepath.Join(trueDir, "true")); err != nil {
		trueDir = "/bin"
	}
	missing := "/nonexistent/spawntrace-%d"
	if pathEntries > 100 {
		// Short, so that a long PATH does not make the environment large
		// too: only the PATH search should differ.
		missing = "/_%x"
	}
	for i := 0; i < pathEntries; i++ {
		if i == trueAt {
			dirs = append(dirs, trueDir)
		} else {
			dirs = append(dirs, fmt.Sprintf(missing, i))
		}
	}
	env := []string{"PATH=" + strings.Join(dirs, ":"), "SPAWN_MODE=" + mode}
	for i := len(env); i < vars; i++ {
		env = append(env, fmt.Sprintf("CMP_VAR_%03d=some-value-of-a-typical-length-%03d", i, i))
	}
	return env
}

// TestCompareHostsIntegration records one C workload twice, differing as
// two hosts do (posix_spawn against fork, 20 against 200 environment
// variables, a 2-entry against a 14-entry PATH), and checks that compare
// names each cause that explains a material share of the difference and
// that its numbers add up. The PATH search (tens of µs against the fork's
// ms) is not one of them there; it is where only the PATH differs: in its
// length, or, as long, in where true's directory comes.
func TestCompareHostsIntegration(t *testing.T) {
	e := setupEnv(t)
	dir := t.TempDir()
	prog := compileC(t, dir, "cmpspawn", cmpWorkload)
	const spawns = 100
	recA, recB := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	for _, side := range []struct {
		path              string
		vars, path_, mode string
		env               []string
	}{
		{path: recA, env: cmpEnv(20, 2, "spawn")},
		{path: recB, env: cmpEnv(200, 14, "fork")},
	} {
		r := runCmd(t, runOpts{env: side.env}, e.bin, "-w", side.path, "--", prog, fmt.Sprint(spawns), "64")
		if r.status != 0 {
			t.Fatalf("recording: %s", r)
		}
	}

	c := compareJSON(t, e, "a,b", recA, recB)
	if c.A.Spawns != spawns || c.B.Spawns != spawns || c.A.Dominant != "vfork" || c.B.Dominant != "fork" {
		t.Errorf("spawns %d (%s) and %d (%s), want %d vfork and %d fork", c.A.Spawns, c.A.Dominant, c.B.Spawns, c.B.Dominant,
			spawns, spawns)
	}
	if len(c.Notes) != 0 {
		t.Errorf("notes on a like-for-like pair: %+v", c.Notes)
	}

	// Host facts: the environment and PATH differ, the libc does not.
	host := c.hostFacts()
	if h := host["PATH entries"]; h != [2]string{"2", "14"} {
		t.Errorf("PATH entries %q, want 2 and 14", h)
	}
	if h := host["environment variables"]; h != [2]string{"20", "200"} {
		t.Errorf("environment variables %q, want 20 and 200 (as the workload's execs saw them)", h)
	}
	if h := host["libc"]; h[0] == "" || h[0] != h[1] || !strings.HasPrefix(h[0], "glibc 2.") {
		t.Errorf("libc %q: want the same glibc on both sides", h)
	}

	// The typical spawns, normalized, with their counts per spawn.
	if len(c.A.Patterns) == 0 || len(c.B.Patterns) == 0 {
		t.Fatalf("no patterns: %+v %+v", c.A.Patterns, c.B.Patterns)
	}
	if p := c.A.Patterns[0]; p.Text != "clone3(CLONE_VM|CLONE_VFORK) -> execve ENOENT -> execve" || p.Spawns != spawns {
		t.Errorf("a's typical spawn %+v", p)
	}
	if p := c.B.Patterns[0]; p.Text != "clone(SIGCHLD) -> execve ENOENT x13 -> execve" || p.Spawns != spawns {
		t.Errorf("b's typical spawn %+v", p)
	}

	// The numbers add up: each side's parts to its mean, the shares to 100%.
	var sumA, sumB, shares float64
	for _, p := range c.Breakdown {
		sumA += p.ANs
		sumB += p.BNs
		shares += p.Share
	}
	if math.Abs(sumA-c.A.MeanNs) > 1 || math.Abs(sumB-c.B.MeanNs) > 1 {
		t.Errorf("parts add up to %.0f and %.0f ns, means are %.0f and %.0f", sumA, sumB, c.A.MeanNs, c.B.MeanNs)
	}
	if math.Abs(c.B.MeanNs-c.A.MeanNs-c.DiffNs) > 1 {
		t.Errorf("diff %.0f ns, means %.0f and %.0f", c.DiffNs, c.A.MeanNs, c.B.MeanNs)
	}
	if c.DiffNs > 0 && math.Abs(shares-100) > 0.5 {
		t.Errorf("shares add up to %.2f%%", shares)
	}

	// Each cause is named, with its numbers.
	found := map[string]string{}
	for _, f := range c.Findings {
		found[f.ID] = f.Title + ": " + f.Evidence
	}
	for id, wants := range map[string][]string{
		"mechanism":   {"b forks where a uses vfork", "the program chose it", "b spawns with glibc fork()", "parent RSS", "per spawn"},
		"environment": {"b's children get 200 environment variables", "a's get 20"},
	} {
		ev, ok := found[id]
		if !ok {
			t.Errorf("no %s finding; findings: %+v", id, c.Findings)
			continue
		}
		for _, w := range wants {
			if !strings.Contains(ev, w) {
				t.Errorf("%s finding lacks %q: %s", id, w, ev)
			}
		}
	}

	// The text form fits 100 columns and says the same.
	r := runCmd(t, runOpts{}, e.bin, "compare", "--names", "a,b", recA, recB)
	if r.status != 0 {
		t.Fatalf("compare: %s", r)
	}
	for i, line := range strings.Split(string(r.stdout), "\n") {
		if n := utf8.RuneCountInString(line); n > 100 {
			t.Errorf("text line %d is %d columns: %q", i+1, n, line)
		}
	}
	for _, w := range []string{"b forks where a uses vfork", "b passes a larger environment"} {
		if !strings.Contains(string(r.stdout), w) {
			t.Errorf("text lacks %q", w)
		}
	}
	t.Logf("compare output:\n%s", r.stdout)
	for _, f := range c.Findings {
		if f.ID == "path-search" && f.Share < 5 {
			t.Errorf("path-search named at %.1f%% of the difference: %s: %s", f.Share, f.Title, f.Evidence)
		}
	}

	// Only the PATH differs: its length (c), or, as long, where true's
	// directory comes in it (d: the 2nd of 600 entries, c: the 600th). So
	// many that the failed execs (0.7 µs of CPU each) outweigh what one
	// recording's vfork waits differ from another's on a loaded machine
	// (1-5 ms per spawn at a load of 8 on 2 CPUs); 50 spawns each.
	const longPath, longSpawns = 600, 50
	recC, recD := filepath.Join(dir, "c.json"), filepath.Join(dir, "d.json")
	for path, env := range map[string][]string{recC: cmpEnv(20, longPath, "spawn"), recD: cmpEnvAt(20, longPath, 1, "spawn")} {
		r := runCmd(t, runOpts{env: env}, e.bin, "-w", path, "--", prog, fmt.Sprint(longSpawns), "64")
		if r.status != 0 {
			t.Fatalf("recording: %s", r)
		}
	}
	for _, pair := range []struct {
		base, rec, names string
		wants            []string
	}{
		{recA, recC, "a,c", []string{"c searches a longer PATH: ", "c's children fail 599.0 execs per spawn before finding " +
			"the program, a's 1.0: c's PATH has 600 entries, a's 2"}},
		{recD, recC, "d,c", []string{"c's children find their program later in PATH: ", "c's children fail 599.0 execs " +
			"per spawn before finding the program, d's 1.0, though c's PATH has 600 entries and d's 600"}},
	} {
		c := compareJSON(t, e, pair.names, pair.base, pair.rec)
		i := slices.IndexFunc(c.Findings, func(f findingOfComparison) bool { return f.ID == "path-search" })
		if i < 0 {
			t.Errorf("%s: no path-search finding: %+v", pair.names, c.Findings)
			continue
		}
		ps := c.Findings[i]
		for _, w := range pair.wants {
			if !strings.Contains(ps.Title+": "+ps.Evidence, w) {
				t.Errorf("%s: path-search finding lacks %q: %s: %s", pair.names, w, ps.Title, ps.Evidence)
			}
		}
		if ps.Share < 5 {
			t.Errorf("%s: path-search at %.1f%% of the difference", pair.names, ps.Share)
		}
		t.Logf("%s: %s: %s", pair.names, ps.Title, ps.Evidence)
	}
}

// TestCompareLongPath: a PATH of 1000 entries, one as long as the kernel
// lets an environment string be (MAX_ARG_STRLEN, 128 KiB), and one of that
// length made of empty entries (a colon each) show their whole length in
// compare's host facts: every entry counted, as execvp would try them, not
// the entries of the PATH's first 4 KiB.
func TestCompareLongPath(t *testing.T) {
	e := setupEnv(t)
	dir := t.TempDir()
	prog := compileC(t, dir, "cmpspawn", cmpWorkload)
	trueDir := "/usr/bin"
	if _, err := os.Stat(filepath.Join(trueDir, "true")); err != nil {
		trueDir = "/bin"
	}
	// true's directory first: the children exec once, however long PATH is.
	const maxArgStrlen = 32 * 4096 // the kernel's bound on one string of an exec's environment
	dirs := func(n int) string {
		d := []string{trueDir}
		for i := 1; i < n; i++ {
			d = append(d, fmt.Sprintf("/nonexistent/spawntrace-%05d", i))
		}
		return strings.Join(d, ":")
	}
	most := 1000
	for len("PATH="+dirs(most+1))+1 <= maxArgStrlen {
		most++
	}
	paths := []struct{ name, value string }{
		{"short", dirs(1000)},
		{"long", dirs(most)},
		{"empty", trueDir + strings.Repeat(":", maxArgStrlen-len("PATH="+trueDir)-1)},
	}
	recs := map[string]string{}
	want := map[string]string{}
	for _, p := range paths {
		want[p.name] = fmt.Sprint(len(filepath.SplitList(p.value)))
		recs[p.name] = filepath.Join(dir, p.name+".json")
		r := runCmd(t, runOpts{env: []string{"PATH=" + p.value, "SPAWN_MODE=spawn"}}, e.bin, "-w", recs[p.name], "--",
			prog, "3", "1")
		if r.status != 0 {
			t.Fatalf("recording with a PATH of %s entries (%d bytes): %s", want[p.name], len(p.value), r)
		}
		t.Logf("%s: a PATH of %s entries, %d bytes", p.name, want[p.name], len(p.value))
	}

	for _, b := range []string{"long", "empty"} {
		names := "short," + b
		c := compareJSON(t, e, names, recs["short"], recs[b])
		if c.A.Spawns != 3 || c.B.Spawns != 3 {
			t.Errorf("%s: spawns %d and %d, want 3 each", names, c.A.Spawns, c.B.Spawns)
		}
		if h := c.hostFacts()["PATH entries"]; h != [2]string{want["short"], want[b]} {
			t.Errorf("%s: compare --format json: PATH entries %q, want %s and %s", names, h, want["short"], want[b])
		}
		r := runCmd(t, runOpts{}, e.bin, "compare", "--names", names, recs["short"], recs[b])
		if r.status != 0 {
			t.Fatalf("compare: %s", r)
		}
		var row []string // A's, B's, and "*" where they differ
		for _, l := range strings.Split(string(r.stdout), "\n") {
			if strings.HasPrefix(l, "  PATH entries ") {
				row = strings.Fields(strings.TrimPrefix(l, "  PATH entries "))
			}
		}
		if !slices.Equal(row, []string{want["short"], want[b], "*"}) {
			t.Errorf("%s: compare's PATH entries row %q, want %s and %s:\n%s", names, row, want["short"], want[b], r.stdout)
		}
	}
}
