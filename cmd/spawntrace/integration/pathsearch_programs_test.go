//go:build integration && linux

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// manyProgramsWorkload spawns, by name through PATH, each of DISTINCT
// programs once (t0, t1, ...), then the program "tlate" LATE times.
const manyProgramsWorkload = `#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

extern char **environ;

static int run(const char *name) {
	char *args[] = {(char *)name, NULL};
	pid_t pid;
	int st;
	if (posix_spawnp(&pid, name, NULL, NULL, args, environ) != 0 || waitpid(pid, &st, 0) != pid)
		return 1;
	return !WIFEXITED(st) || WEXITSTATUS(st) != 0;
}

int main(int argc, char **argv) {
	int distinct = atoi(argv[1]), late = atoi(argv[2]);
	char name[32];
	for (int i = 0; i < distinct; i++) {
		snprintf(name, sizeof name, "t%d", i);
		if (run(name))
			return 3;
	}
	for (int i = 0; i < late; i++)
		if (run("tlate"))
			return 4;
	return 0;
}
`

// TestPathSearchManyPrograms: spawns of more distinct programs than the
// path-search tally keeps apart (summary.MaxFailedExes, 4096), each after
// two failed execs of a PATH search, then many spawns of one more program:
// the finding says how many spawns it could not tell apart by program and
// names no program as where most failed execs went, since the one that
// had most came past the bound.
func TestPathSearchManyPrograms(t *testing.T) {
	e := setupEnv(t)
	dir := t.TempDir()
	prog := compileC(t, dir, "manyprograms", manyProgramsWorkload)
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	trueBin := "/usr/bin/true"
	if _, err := os.Stat(trueBin); err != nil {
		trueBin = "/bin/true"
	}
	const distinct, late = 4100, 300
	for i := 0; i < distinct; i++ {
		if err := os.Symlink(trueBin, filepath.Join(bin, fmt.Sprint("t", i))); err != nil {
			t.Fatal(err)
		}
	}
	os.Symlink(trueBin, filepath.Join(bin, "tlate"))
	env := []string{"PATH=/nonexistent/spawntrace-a:/nonexistent/spawntrace-b:" + bin}
	r := runCmd(t, runOpts{env: env, timeout: 5 * 60e9}, e.bin, "--", prog, fmt.Sprint(distinct), fmt.Sprint(late))
	if r.status != 0 {
		t.Fatalf("%s", r)
	}
	text := strings.Join(strings.Fields(string(r.stderr)), " ")
	want := fmt.Sprintf("%d spawns' programs came after 4096 others and are not told apart", distinct-4096+late)
	if !strings.Contains(text, want) {
		t.Errorf("the path-search finding lacks %q:\n%s", want, r.stderr)
	}
	if m := regexp.MustCompile(`most in (?:\d+ )?spawns of (\S+)`).FindStringSubmatch(text); m != nil && m[1] != "tlate" {
		t.Errorf("the path-search finding says most failed execs went to %s, not tlate's %d spawns:\n%s", m[1], late, r.stderr)
	}
}
