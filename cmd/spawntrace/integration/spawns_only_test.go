//go:build integration && linux

package integration

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/recording"
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
