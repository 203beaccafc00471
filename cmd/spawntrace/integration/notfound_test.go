//go:build integration && linux

package integration

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spawntrace/spawntrace/analyze/summary"
)

// execOutcomes reads `strace -f -o` lines of execve: per pid, in order,
// whether each exec succeeded (of an "<unfinished ...>" call, its
// "resumed" line tells).
func execOutcomes(t *testing.T, text string) map[int][]bool {
	t.Helper()
	whole := regexp.MustCompile(`^(\d+) +execve\(.*\) = (-?\d+)`)
	unfinished := regexp.MustCompile(`^(\d+) +execve\(.*<unfinished \.\.\.>$`)
	resumed := regexp.MustCompile(`^(\d+) +<\.\.\. execve resumed>.* = (-?\d+)`)
	byPid := map[int][]bool{}
	for _, l := range strings.Split(text, "\n") {
		m := whole.FindStringSubmatch(l)
		if m == nil {
			m = resumed.FindStringSubmatch(l)
		}
		if m == nil {
			if unfinished.MatchString(l) {
				continue
			}
			if strings.Contains(l, "execve(") {
				t.Fatalf("strace line not understood: %q", l)
			}
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		byPid[pid] = append(byPid[pid], m[2] == "0")
	}
	return byPid
}

// TestNotFoundMatchesStrace: a shell runs `env` on a command that is not
// there (env's own PATH search, after env itself ran, finds nothing) and
// on one that is (found after two misses). strace -f on the same command
// is the oracle: a failed exec that a later exec of its process made good
// is the path-search note's (an absolute path avoids it); one after which
// the process ran nothing is the not-found note's, which names the command
// and does not advise an absolute path.
func TestNotFoundMatchesStrace(t *testing.T) {
	e := setupEnv(t)
	const missing = "spawntrace-no-such-command"
	env := []string{"PATH=/nonexistent/spawntrace-a:/nonexistent/spawntrace-b:/usr/bin:/bin", "LANG=C"}
	argv := []string{"/bin/sh", "-c", "for i in 1 2 3; do env " + missing + " 2>/dev/null; done; " +
		"for i in 1 2; do env true; done; exit 0"}

	byPid := execOutcomes(t, straceLines(t, runOpts{env: env, timeout: time.Minute}, []string{"-e", "trace=execve"}, argv...))
	var found, notFound, notFoundProcs int
	for _, oks := range byPid {
		pending := 0
		for _, ok := range oks {
			if ok {
				found += pending
				pending = 0
			} else {
				pending++
			}
		}
		notFound += pending
		if pending > 0 {
			notFoundProcs++
		}
	}
	if found == 0 || notFound == 0 {
		t.Fatalf("strace saw %d failed execs made good and %d not: the workload does not test both", found, notFound)
	}

	s := tracedSummary(t, e, env, argv...)
	var ps, nf *summary.Finding
	for _, list := range [][]summary.Finding{s.Findings, s.Notes} {
		for i := range list {
			switch list[i].ID {
			case summary.FindPathSearch:
				ps = &list[i]
			case summary.FindNotFound:
				nf = &list[i]
			}
		}
	}
	if ps == nil || ps.PathSearch.FailedExecs != found {
		t.Errorf("path-search: %s; strace saw %d failed execs that a later exec made good", describeFinding(ps), found)
	}
	if nf == nil || nf.NotFound.FailedExecs != notFound || nf.NotFound.Spawns != notFoundProcs || nf.NotFound.Example != missing {
		t.Errorf("not-found: %s; strace saw %d failed execs in %d processes that then ran nothing, looking for %s",
			describeFinding(nf), notFound, notFoundProcs, missing)
	}
}
