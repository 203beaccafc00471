//go:build integration && linux

package integration

// 32-bit programs and int $0x80: calls through the kernel's i386 table
// (compat syscalls), whose numbers mean other calls than x86_64's. Checked
// against strace -f, which counts each personality in a table of its own.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/spawntrace/spawntrace/tracer"
)

var compatBuilt struct {
	once  sync.Once
	w32   string // testdata/compat/compat32.c, cc -m32
	int80 string // testdata/compat/int80.c, cc -static -no-pie
	err   error
}

// compatBuild compiles the compat workloads once per test binary. A
// missing gcc-multilib (cc -m32 fails) fails the test in CI, where `make
// deps` installs it, and skips it elsewhere.
func compatBuild(t *testing.T, e *testEnv) (w32, int80 string) {
	t.Helper()
	compatBuilt.once.Do(func() {
		src := filepath.Join("..", "..", "..", "testdata", "compat")
		compatBuilt.w32 = filepath.Join(e.wl, "compat32")
		compatBuilt.int80 = filepath.Join(e.wl, "int80")
		for _, c := range [][]string{
			{"cc", "-m32", "-O2", "-Wall", "-o", compatBuilt.w32, filepath.Join(src, "compat32.c")},
			{"cc", "-static", "-no-pie", "-O2", "-Wall", "-o", compatBuilt.int80, filepath.Join(src, "int80.c")},
		} {
			if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
				compatBuilt.err = fmt.Errorf("%s: %v\n%s", strings.Join(c, " "), err, out)
				return
			}
		}
	})
	if compatBuilt.err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("cannot build the 32-bit workloads (gcc-multilib is in the Makefile's DEB_PKGS: make deps): %v", compatBuilt.err)
		}
		t.Skipf("cannot build the 32-bit workloads (install gcc-multilib): %v", compatBuilt.err)
	}
	return compatBuilt.w32, compatBuilt.int80
}

// mode32Header starts strace -c's table of 32-bit calls (count.c).
const mode32Header = "System call usage summary for 32 bit mode:\n"

// parseTables parses strace -c output with a table per personality: the
// x86_64 table (nil when it has none) and the i386 one after
// mode32Header (nil when it has none).
func parseTables(text string) (t64, t32 *countTable, err error) {
	head, tail, has32 := strings.Cut(text, mode32Header)
	if strings.Contains(head, "% time") {
		if t64, err = parseTable(head); err != nil {
			return nil, nil, fmt.Errorf("64-bit table: %v", err)
		}
		if !has32 && strings.Contains(t64.Rest, "% time") {
			return nil, nil, fmt.Errorf("a second table without %q", mode32Header)
		}
	}
	if has32 {
		if t32, err = parseTable(tail); err != nil {
			return nil, nil, fmt.Errorf("32-bit table: %v", err)
		}
		if t32.Before != "" || t64 != nil && strings.TrimSpace(t64.Rest) != "" {
			return nil, nil, fmt.Errorf("text between the two tables: %q %q", t64.Rest, t32.Before)
		}
	}
	return t64, t32, nil
}

// sameRows reports every row whose calls or errors differ between strace's
// table and spawntrace's, and every row only one of them has: a row of the
// wrong table is a fake one.
func sameRows(t *testing.T, mode string, st, sp *countTable) {
	t.Helper()
	if st == nil || sp == nil {
		if st != sp {
			t.Errorf("%s table: strace has %v, spawntrace %v", mode, st != nil, sp != nil)
		}
		return
	}
	for _, r := range st.Rows {
		if o, ok := sp.ByName[r.Name]; !ok || o.Calls != r.Calls || o.Errors != r.Errors {
			t.Errorf("%s table, %s: strace %d calls %d errors, spawntrace %d calls %d errors (row: %v)",
				mode, r.Name, r.Calls, r.Errors, o.Calls, o.Errors, ok)
		}
	}
	for _, r := range sp.Rows {
		if _, ok := st.ByName[r.Name]; !ok {
			t.Errorf("%s table: spawntrace has %s (%d calls), strace has no such row", mode, r.Name, r.Calls)
		}
	}
}

var straceCallRe = regexp.MustCompile(`^[0-9]+ +([a-z0-9_]+)\(`)

// straceCallLines counts strace -f -o lines by call, for the calls -o
// writes (a call split into "<unfinished ...>" counts once, at its start).
func straceCallLines(t *testing.T, argv ...string) map[string]int {
	t.Helper()
	strace := requireTool(t, "strace")
	out := filepath.Join(t.TempDir(), "strace-o.txt")
	runCmd(t, runOpts{}, append([]string{strace, "-f", "-o", out, "--"}, argv...)...)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, l := range strings.Split(string(b), "\n") {
		if m := straceCallRe.FindStringSubmatch(l); m != nil && slices.Contains(eventCalls, m[1]) {
			n[m[1]]++
		}
	}
	return n
}

// compatTables runs argv under strace -f -c -w and under spawntrace -c -o
// -w, both with only the spawn calls when spawnsOnly (strace -e trace=...,
// spawntrace --spawns-only), and returns both programs' tables of each
// personality, spawntrace's run, and its -o and -w files.
func compatTables(t *testing.T, e *testEnv, spawnsOnly bool, argv ...string) (st64, st32, sp64, sp32 *countTable, r *cmdResult, lines, rec string) {
	t.Helper()
	strace := requireTool(t, "strace")
	dir := t.TempDir()
	sout := filepath.Join(dir, "strace-c.txt")
	sargs := []string{strace, "-f", "-c", "-w", "-o", sout}
	spargs := []string{"-c"}
	if spawnsOnly {
		sargs = append(sargs, "-e", "trace="+strings.Join(eventCalls, ","))
		spargs = append(spargs, "--spawns-only")
	}
	runCmd(t, runOpts{}, append(append(sargs, "--"), argv...)...)
	b, err := os.ReadFile(sout)
	if err != nil {
		t.Fatal(err)
	}
	st64, st32, err = parseTables(string(b))
	if err != nil {
		t.Fatalf("strace's tables: %v\n%s", err, b)
	}
	if st32 == nil {
		t.Fatalf("strace saw no 32-bit calls: the workload does not do what this test is about\n%s", b)
	}

	lines, rec = filepath.Join(dir, "events.txt"), filepath.Join(dir, "run.json")
	r = e.spawntrace(t, runOpts{}, append(append(spargs, "-o", lines, "-w", rec, "--"), argv...)...)
	if r.status != 0 {
		t.Fatalf("%s", r)
	}
	sp64, sp32, err = parseTables(string(r.stderr))
	if err != nil {
		t.Fatalf("spawntrace's tables: %v\n%s", err, r)
	}
	if sp32 == nil && spawnsOnly {
		// Under --spawns-only a tree's first 32-bit calls may all come
		// before the 32-bit path is attached: an empty table, for the
		// callers to hold to the lost count.
		sp32 = &countTable{ByName: map[string]tableRow{}}
	}
	if sp32 == nil {
		t.Fatalf("spawntrace printed no 32-bit table (strace's has %d calls)\n%s", st32.Total.Calls, r)
	}
	if t.Failed() {
		t.Logf("strace:\n%s\nspawntrace:\n%s", b, r.stderr)
	}
	return st64, st32, sp64, sp32, r, lines, rec
}

// compatRun runs argv under strace -f -c -w and under spawntrace -c -o -w
// (only the spawn calls, when spawnsOnly), compares the tables of both
// personalities row by row and the -o lines call by call, and returns
// spawntrace's lines and its recording.
func compatRun(t *testing.T, e *testEnv, spawnsOnly bool, argv ...string) ([]eventLine, string) {
	t.Helper()
	st64, st32, sp64, sp32, r, lines, rec := compatTables(t, e, spawnsOnly, argv...)
	checkNotes(t, r, sp32.Rest)
	sameRows(t, "64-bit", st64, sp64)
	sameRows(t, "32-bit", st32, sp32)
	if t.Failed() {
		t.Logf("spawntrace:\n%s", r.stderr)
	}

	// The recording says which table each row is of, and reports the same.
	rep := e.spawntrace(t, runOpts{}, "report", "-c", rec)
	if rep.status != 0 || !strings.Contains(string(rep.stdout)+string(rep.stderr), mode32Header+sp32.Text) {
		t.Errorf("report -c of the recording lacks the 32-bit table:\n%s%s", rep.stdout, rep)
	}

	want := straceCallLines(t, argv...)
	evs, text := readEvents(t, lines)
	got := map[string]int{}
	for _, ev := range evs {
		if ev.Call != "" {
			got[ev.Call]++
		}
	}
	for _, name := range eventCalls {
		if got[name] != want[name] {
			t.Errorf("-o: %d %s lines, strace -f -o %d", got[name], name, want[name])
		}
	}
	if t.Failed() {
		t.Logf("spawntrace -o:\n%s", text)
	}
	return evs, rec
}

// A gcc -m32 program: its fork, execve, wait4, vfork and posix_spawn's
// clone3 were counted as x86_64's munmap, getresgid and the like, its spawns
// were not seen, and other 32-bit calls became fake fork() and vfork() lines.
//
// Under --spawns-only the spawn calls' own tracepoints never see a 32-bit
// call: spawntrace, which reads the workload's ELF class, attaches the raw
// pair for them from the start, and counts them all the same.
func TestCompat32BitProgram(t *testing.T) {
	e := setupEnv(t)
	w32, _ := compatBuild(t, e)
	for _, mode := range []struct {
		name       string
		spawnsOnly bool
	}{{"all calls", false}, {"spawns-only", true}} {
		t.Run(mode.name, func(t *testing.T) { compat32BitProgram(t, e, w32, mode.spawnsOnly) })
	}
}

func compat32BitProgram(t *testing.T, e *testEnv, w32 string, spawnsOnly bool) {
	evs, rec := compatRun(t, e, spawnsOnly, w32, "3")

	// strace's personality notes, as it prints them to a terminal: the
	// workload turns 32-bit after its exec; its children start 32-bit (no
	// note) and /bin/true turns them 64-bit; "compat32 0" stays 32-bit.
	var root int
	notes := map[int][]string{}
	for _, ev := range evs {
		if root == 0 {
			root = ev.Pid
		}
		if ev.Mode != "" {
			notes[ev.Pid] = append(notes[ev.Pid], ev.Mode)
		}
	}
	if !slices.Equal(notes[root], []string{"32 bit"}) {
		t.Errorf("workload %d: personality notes %q, want one, 32 bit", root, notes[root])
	}
	var to64 int
	for pid, n := range notes {
		if pid != root {
			if !slices.Equal(n, []string{"64 bit"}) {
				t.Errorf("child %d: personality notes %q, want one, 64 bit (it execs /bin/true)", pid, n)
			}
			to64++
		}
	}
	if to64 != 6 { // a fork child and a posix_spawn child per round
		t.Errorf("%d children turned 64-bit, want 6", to64)
	}

	r := loadRecording(t, rec)
	var compatRows, compatSpawns int
	for _, s := range r.Syscalls {
		if s.ABI == tracer.ABII386 {
			compatRows++
		}
	}
	r.EachEvent(func(ev *tracer.Event) error {
		if ev.Kind == tracer.KindSyscall && ev.ABI == tracer.ABII386 && ev.Nr64() != ev.Nr {
			compatSpawns++
		}
		return nil
	})
	if compatRows == 0 || compatSpawns == 0 {
		t.Errorf("recording: %d i386 rows, %d i386 spawn events with their own numbers", compatRows, compatSpawns)
	}
}

// A 64-bit static program forking through int $0x80: its spawns went
// unseen, counted as x86_64's open and getresgid.
func TestCompatInt80(t *testing.T) {
	e := setupEnv(t)
	_, int80 := compatBuild(t, e)
	evs, _ := compatRun(t, e, false, int80, "3")
	var forks, clones int
	for _, ev := range evs {
		switch {
		case ev.Call == "fork" && ev.Ret > 0:
			forks++
		case ev.Call == "clone" && ev.Args == "child_stack=NULL, flags=SIGCHLD" && ev.Ret > 0:
			clones++
		}
	}
	if forks != 3 || clones != 3 {
		t.Errorf("-o: %d fork() and %d clone(child_stack=NULL, flags=SIGCHLD) lines, want 3 and 3", forks, clones)
	}
}

// Under --spawns-only a 64-bit program's first int $0x80 call comes
// unannounced: the raw pair that sees 32-bit calls is attached only once
// the kernel reports one (the first fork), so what the tree did through
// the i386 table before that is missing. It must never go unsaid: every
// 32-bit row is at most strace's, and any shortfall comes with the lost
// line and its count in the recording, at least the clone-family calls
// missing.
func TestCompatInt80SpawnsOnly(t *testing.T) {
	e := setupEnv(t)
	_, int80 := compatBuild(t, e)
	st64, st32, sp64, sp32, r, _, rec := compatTables(t, e, true, int80, "3")
	sameRows(t, "64-bit", st64, sp64)
	short, clonesShort := false, uint64(0)
	for _, row := range st32.Rows {
		o := sp32.ByName[row.Name]
		if o.Calls > row.Calls || o.Errors > row.Errors {
			t.Errorf("32-bit table, %s: spawntrace %d calls %d errors, more than strace's %d and %d", row.Name, o.Calls, o.Errors, row.Calls, row.Errors)
		}
		if o.Calls < row.Calls {
			short = true
			if row.Name == "fork" || row.Name == "clone" {
				clonesShort += row.Calls - o.Calls
			}
		}
	}
	for _, row := range sp32.Rows {
		if _, ok := st32.ByName[row.Name]; !ok {
			t.Errorf("32-bit table: spawntrace has %s (%d calls), strace has no such row", row.Name, row.Calls)
		}
	}
	lost := loadRecording(t, rec).Lost.CompatCalls
	said := strings.Contains(string(r.stderr), "before spawntrace attached its 32-bit path")
	if short && (lost < clonesShort || lost == 0 || !said) {
		t.Errorf("32-bit calls missing (%d forks and clones) with %d counted lost, the lost line printed: %v", clonesShort, lost, said)
	}
	if !short && lost > 0 {
		t.Errorf("no 32-bit call missing, yet %d counted lost", lost)
	}
	if t.Failed() {
		t.Logf("spawntrace:\n%s", r.stderr)
	}
}
