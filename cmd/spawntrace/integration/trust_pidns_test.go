//go:build integration && linux

package integration

// Pid namespaces: spawntrace run inside one (a container), -p resolved in
// it, and a workload that makes its own. Each against strace -f on the same
// workload in the same place: the spawn rows' counts equal, the pids the
// namespace's.

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spawntrace/spawntrace/analyze/spawn"
)

// nsWorkload is a shell script that runs /bin/true twice and a nested sh,
// and writes the pids its two shells see themselves under ($$), one a
// line, to the file pids. No background job: dash's wait4 calls for one
// depend on when it ends, which strace's stops shift.
func nsWorkload(pids string) string {
	return fmt.Sprintf(`echo $$ >> %[1]s; /bin/true; sh -c 'echo $$ >> %[1]s'; /bin/true`, pids)
}

// nsPids reads the pids a workload wrote.
func nsPids(t *testing.T, path string) []int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		p, err := strconv.Atoi(f)
		if err != nil {
			t.Fatalf("%s: %q is no pid", path, f)
		}
		pids = append(pids, p)
	}
	if len(pids) != 2 {
		t.Fatalf("%s: want 2 pids, got %v", path, pids)
	}
	return pids
}

// nsLinePids is the set of pids that begin the -o lines.
func nsLinePids(t *testing.T, path string) map[int]bool {
	t.Helper()
	evs, _ := readEvents(t, path)
	if len(evs) == 0 {
		t.Fatalf("%s: no -o lines", path)
	}
	set := map[int]bool{}
	for _, ev := range evs {
		set[ev.Pid] = true
	}
	return set
}

// nsCompareSpawnRows checks the spawn-related rows of spawntrace's table
// against strace's on the same workload.
func nsCompareSpawnRows(t *testing.T, got, want *countTable) {
	t.Helper()
	for _, name := range []string{"clone", "clone3", "fork", "vfork", "execve", "wait4"} {
		if got.Calls(name) != want.Calls(name) || got.Errors(name) != want.Errors(name) {
			t.Errorf("%s: spawntrace %d calls %d errors, strace -f %d calls %d errors\nspawntrace:\n%s\nstrace:\n%s",
				name, got.Calls(name), got.Errors(name), want.Calls(name), want.Errors(name), got.Text, want.Text)
		}
	}
	if want.Calls("execve") == 0 {
		t.Fatalf("strace saw no execve:\n%s", want.Text)
	}
}

// nsTable parses the table spawntrace printed on stderr.
func nsTable(t *testing.T, r *cmdResult) *countTable {
	t.Helper()
	if r.status != 0 {
		t.Fatalf("%s", r)
	}
	tab, err := parseTable(string(r.stderr))
	if err != nil {
		t.Fatalf("spawntrace's table does not parse: %v\n%s", err, r)
	}
	return tab
}

// nsStraceTable reads strace -c's table from a file.
func nsStraceTable(t *testing.T, path string) *countTable {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := parseTable(string(b))
	if err != nil {
		t.Fatalf("strace's table does not parse: %v\n%s", err, b)
	}
	return tab
}

// TestPidnsSpawntraceInside: `unshare -fp --mount-proc spawntrace -- sh`,
// as in any container. The report said "Processes: 0 seen" with nothing
// lost: the launcher was matched by its pid in the container against the
// kernel's host pids.
func TestPidnsSpawntraceInside(t *testing.T) {
	e := setupEnv(t)
	unshare := requireTool(t, "unshare")
	strace := requireTool(t, "strace")
	dir := openDir(t)
	o := runOpts{timeout: 60 * time.Second}
	ns := []string{unshare, "-fp", "--mount-proc"}

	pids := filepath.Join(dir, "pids")
	out, rec := filepath.Join(dir, "events.txt"), filepath.Join(dir, "rec.json")
	r := runCmd(t, o, append(ns, e.bin, "-c", "-o", out, "-w", rec, "--", "sh", "-c", nsWorkload(pids))...)
	got := nsTable(t, r)

	sPids, sOut := filepath.Join(dir, "strace-pids"), filepath.Join(dir, "strace.txt")
	sr := runCmd(t, o, append(ns, strace, "-f", "-c", "-w", "-o", sOut, "--", "sh", "-c", nsWorkload(sPids))...)
	if sr.status != 0 {
		t.Fatalf("%s", sr)
	}
	nsCompareSpawnRows(t, got, nsStraceTable(t, sOut))

	// The pids printed are the ones the workload saw for itself.
	seen := nsLinePids(t, out)
	for _, p := range nsPids(t, pids) {
		if !seen[p] {
			t.Errorf("the workload's pid %d (as it saw itself in the namespace) begins no -o line; lines begin with %v", p, seen)
		}
	}
	if len(seen) != 4 {
		t.Errorf("-o lines of %d processes, want the 4 the workload ran: %v", len(seen), seen)
	}
	// The recording keeps the host's pid of each beside it.
	rc := loadRecording(t, rec)
	defer rc.Close()
	for _, ev := range rc.Events {
		if ev.HostPid == 0 || ev.HostPid == ev.Pid {
			t.Fatalf("event without its host pid: %+v", ev)
		}
	}
}

// TestPidnsAttachInside: -p PID inside a pid namespace traces the
// namespace's process PID. It attached to the host's process of that number
// (here a kernel thread: the namespace's 2 is the host's kthreadd).
func TestPidnsAttachInside(t *testing.T) {
	e := setupEnv(t)
	unshare := requireTool(t, "unshare")
	strace := requireTool(t, "strace")
	dir := openDir(t)

	// The target blocks opening a FIFO until the tracer is attached, then
	// runs the workload: what each tracer sees of it is the same.
	run := func(name string, tracer func(target, errFile string) string) (pidsFile string, r *cmdResult) {
		fifo := filepath.Join(dir, name+".fifo")
		if err := syscall.Mkfifo(fifo, 0o600); err != nil {
			t.Fatal(err)
		}
		pidsFile = filepath.Join(dir, name+"-pids")
		target := fmt.Sprintf(`read x < %s; %s`, fifo, nsWorkload(pidsFile))
		errFile := filepath.Join(dir, name+".stderr")
		script := fmt.Sprintf(`sh -c %s & t=$!
%s & tr=$!
%s; echo go > %s; wait $t; wait $tr; echo $t`, shQuote(target), tracer("$t", errFile), shWaitAttached(errFile), fifo)
		r = runCmd(t, runOpts{timeout: 60 * time.Second}, unshare, "-fp", "--mount-proc", "sh", "-c", script)
		if r.status != 0 {
			t.Fatalf("%s", r)
		}
		return pidsFile, r
	}

	out, rec := filepath.Join(dir, "events.txt"), filepath.Join(dir, "rec.json")
	pids, r := run("spawntrace", func(target, errFile string) string {
		return fmt.Sprintf("%s -c -o %s -w %s -p %s 2>%s", e.bin, out, rec, target, errFile)
	})
	stderr, _ := os.ReadFile(filepath.Join(dir, "spawntrace.stderr"))
	got, err := parseTable(string(stderr))
	if err != nil {
		t.Fatalf("spawntrace's table does not parse: %v\n%s", err, stderr)
	}
	sOut := filepath.Join(dir, "strace.txt")
	run("strace", func(target, errFile string) string {
		return fmt.Sprintf("%s -f -c -w -o %s -p %s 2>%s", strace, sOut, target, errFile)
	})
	nsCompareSpawnRows(t, got, nsStraceTable(t, sOut))

	target, err := strconv.Atoi(strings.TrimSpace(string(r.stdout)))
	if err != nil {
		t.Fatalf("no target pid: %q", r.stdout)
	}
	seen := nsLinePids(t, out)
	want := nsPids(t, pids)
	if want[0] != target {
		t.Fatalf("the target says it is %d, its shell started %d", want[0], target)
	}
	for _, p := range want {
		if !seen[p] {
			t.Errorf("the target's pid %d (in the namespace) begins no -o line; lines begin with %v\nstderr:\n%s", p, seen, stderr)
		}
	}
	rc := loadRecording(t, rec)
	defer rc.Close()
	for _, ev := range rc.Events {
		if ev.HostPid == 0 || ev.HostPid == ev.Pid {
			t.Fatalf("event without its host pid: %+v", ev)
		}
	}
}

// TestPidnsWorkloadMakesItsOwn: `spawntrace -- unshare -fp sh`: the shell
// is pid 1 of a namespace of its own and its spawns return that
// namespace's pids. Spawns were linked to their children by those return
// values, so their execs (spawn-to-exec, environment) were lost.
func TestPidnsWorkloadMakesItsOwn(t *testing.T) {
	e := setupEnv(t)
	unshare := requireTool(t, "unshare")
	dir := openDir(t)
	o := runOpts{timeout: 60 * time.Second}

	pids := filepath.Join(dir, "pids")
	out, rec := filepath.Join(dir, "events.txt"), filepath.Join(dir, "rec.json")
	r := e.spawntrace(t, o, "-c", "-o", out, "-w", rec, "--", unshare, "-fp", "sh", "-c", nsWorkload(pids))
	got := nsTable(t, r)
	want, sr := straceCount(t, o, unshare, "-fp", "sh", "-c", nsWorkload(filepath.Join(dir, "strace-pids")))
	if sr.status != 0 {
		t.Fatalf("%s", sr)
	}
	nsCompareSpawnRows(t, got, want)

	// Lines are numbered as spawntrace's namespace (here the host's) sees
	// the processes, not as the workload's own namespace does.
	seen := nsLinePids(t, out)
	inner := nsPids(t, pids)
	if inner[0] != 1 {
		t.Fatalf("the shell is pid %d of its namespace, want 1", inner[0])
	}
	for _, p := range inner {
		if seen[p] {
			t.Errorf("an -o line begins with %d, the workload's own namespace's number; lines begin with %v", p, seen)
		}
	}

	// Every spawn is linked to its child's exec.
	rc := loadRecording(t, rec)
	defer rc.Close()
	sum := summarized(t, rc)
	defer sum.Close()
	var exes []string
	sum.EachSpawn(func(sp *spawn.Spawn) error {
		if !sp.ExecOK || sp.SpawnToExecNs == 0 {
			t.Errorf("spawn %d -> %d by %s not linked to its child's exec: %+v", sp.ParentPid, sp.ChildPid, sp.Syscall, sp)
		}
		exes = append(exes, filepath.Base(sp.Exe))
		return nil
	})
	slices.Sort(exes)
	// unshare starts sh; sh starts true twice and sh once.
	if w := []string{"sh", "sh", "true", "true"}; !slices.Equal(exes, w) {
		t.Errorf("spawns exec %v, want %v", exes, w)
	}
}

// TestPidnsForeignProcWarned: `unshare -fp spawntrace -- CMD` without
// --mount-proc leaves the parent namespace's /proc, where spawntrace's pids
// name other processes: it says so (the counts stay right: the kernel's).
func TestPidnsForeignProcWarned(t *testing.T) {
	e := setupEnv(t)
	unshare := requireTool(t, "unshare")
	r := runCmd(t, runOpts{timeout: 60 * time.Second}, unshare, "-fp", e.bin, "-c", "--", "/bin/true")
	tab := nsTable(t, r)
	if tab.Calls("execve") != 1 {
		t.Errorf("execve: %d calls, want 1\n%s", tab.Calls("execve"), tab.Text)
	}
	if !strings.Contains(string(r.stderr), "spawntrace: warning: /proc belongs to another pid namespace") {
		t.Errorf("no warning that /proc is another namespace's:\n%s", r.stderr)
	}
}

// shQuote quotes s for sh.
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
