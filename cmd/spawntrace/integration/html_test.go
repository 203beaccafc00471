//go:build integration && linux

package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHTMLRecordAndReport: fork_exec forking /bin/true 5 times from 64 MiB, recorded
// with --html and -w: the page counts the 5 forks, draws its three charts
// (the copy probe runs here), and `report --html` of the recording writes
// the same page again, without BPF.
func TestHTMLRecordAndReport(t *testing.T) {
	e := setupEnv(t)
	dir := t.TempDir()
	page, again, rec := filepath.Join(dir, "run.html"), filepath.Join(dir, "again.html"), filepath.Join(dir, "run.json")
	r := e.spawntrace(t, runOpts{}, "-c", "--html", page, "-w", rec, "--",
		e.Workload("fork_exec"), "5", "64")
	if r.status != 0 {
		t.Fatalf("%s", r)
	}
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<!DOCTYPE html>", `<td class="l">fork x5</td>`,
		"Spawn cost per class: p50 and p90 (ms)", "Where a spawn's time goes", "Copy time against parent RSS (fork-like spawns, n=5"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("page lacks %q", want)
		}
	}
	if n := strings.Count(string(b), "<svg "); n != 3 {
		t.Errorf("page has %d charts, want 3", n)
	}
	if r := e.spawntrace(t, runOpts{}, "report", "--html", again, rec); r.status != 0 {
		t.Fatalf("%s", r)
	}
	b2, err := os.ReadFile(again)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, b2) {
		t.Errorf("report --html of the recording differs from the page written while recording")
	}
}
