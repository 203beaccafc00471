//go:build integration && linux

package integration

import (
	"strings"
	"testing"
)

// TestProgressLine: a recording longer than two seconds shows a progress
// line on a terminal's stderr (script(1) gives it one), cleared before
// the table; with stderr a pipe, none.
func TestProgressLine(t *testing.T) {
	e := setupEnv(t)
	script := requireTool(t, "script")
	workload := "for i in 1 2 3 4 5 6 7 8; do /bin/true; sleep 0.4; done"
	r := runCmd(t, runOpts{}, script, "-qec", e.bin+" -c -- /bin/sh -c '"+workload+"'", "/dev/null")
	if r.status != 0 {
		t.Fatalf("%s", r)
	}
	out := string(r.stdout) // script's terminal output: the workload's and spawntrace's
	i := strings.Index(out, "\rspawntrace: recording, ")
	j := strings.Index(out, "% time")
	if i < 0 || j < i || !strings.Contains(out[i:j], "processes and threads started") || !strings.HasSuffix(out[:j], "\r\x1b[K") {
		t.Errorf("on a terminal: no progress line cleared before the table:\n%q", out)
	}
	r = e.spawntrace(t, runOpts{}, "-c", "--", "/bin/sh", "-c", workload)
	if strings.Contains(string(r.stderr), "recording, ") || strings.Contains(string(r.stderr), "\r") {
		t.Errorf("stderr not a terminal, but a progress line:\n%q", r.stderr)
	}
}
