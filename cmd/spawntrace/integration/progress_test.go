//go:build integration && linux

package integration

import (
	"strings"
	"testing"
)

// TestProgressLine: a recording longer than two seconds shows a progress
// line on a terminal's stderr (script(1) gives it one), cleared before
// the table, only where the workload does not write to that terminal: a
// process attached with -p whose output goes elsewhere. A command that
// spawntrace runs shares its stderr, and its unfinished line ("step....")
// stays whole, with no progress line drawn over it, as under strace -c.
// With stderr a pipe, none.
func TestProgressLine(t *testing.T) {
	e := setupEnv(t)
	script := requireTool(t, "script")
	workload := "printf step; for i in 1 2 3 4 5 6 7 8; do /bin/true; printf .; sleep 0.4; done; echo"
	r := runCmd(t, runOpts{}, script, "-qec", e.bin+" -c -- /bin/sh -c '"+workload+"'", "/dev/null")
	if r.status != 0 {
		t.Fatalf("%s", r)
	}
	out := string(r.stdout) // script's terminal output: the workload's and spawntrace's
	if strings.Contains(out, "spawntrace: recording, ") || !strings.Contains(out, "step........") {
		t.Errorf("on the workload's terminal: a progress line, or the workload's line broken:\n%q", out)
	}

	// Attached to a shell whose output goes to /dev/null: the line shows.
	attach := "/bin/sh -c '" + workload + "' </dev/null >/dev/null 2>&1 & sleep 0.2; " + e.bin + " -c -p $!"
	r = runCmd(t, runOpts{}, script, "-qec", attach, "/dev/null")
	if r.status != 0 {
		t.Fatalf("%s", r)
	}
	out = string(r.stdout)
	i := strings.Index(out, "\rspawntrace: recording, ")
	j := strings.Index(out, "% time")
	if i < 0 || j < i || !strings.Contains(out[i:j], "processes and threads started") || !strings.HasSuffix(out[:j], "\r\x1b[K") {
		t.Errorf("attached to a process writing elsewhere: no progress line cleared before the table:\n%q", out)
	}

	r = e.spawntrace(t, runOpts{}, "-c", "--", "/bin/sh", "-c", workload)
	if strings.Contains(string(r.stderr), "recording, ") || strings.Contains(string(r.stderr), "\r") {
		t.Errorf("stderr not a terminal, but a progress line:\n%q", r.stderr)
	}
}
