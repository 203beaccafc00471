//go:build integration && linux

package integration

// Process tree correctness: pid reuse, double forks (daemons), reparenting
// to init or to a subreaper, processes that end before any exec of theirs
// is seen, and threads that exec. Each test runs a small C workload
// (testdata/workloads/tree_*.c, whose comments say why it exists) under
// `spawntrace -c -o EVENTS -w REC.json` and under strace -f, the oracle,
// and checks what a user would: the spawn rows of the -c table against
// strace's, and the -o lines and the recording against what the workload
// did and what strace -f printed. Identifiers start with "tree".

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/spawn"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// exactTreeCalls are the rows of the -c table that must equal strace's.
var exactTreeCalls = []string{"clone", "clone3", "fork", "vfork", "execve"}

// straceTrace is what the oracle run traces: the spawn calls and wait4
// (the table strace -C prints then counts only these).
const straceTrace = "trace=clone,clone3,fork,vfork,execve,wait4"

// callLine is one call or one task end of an -o file or of strace -f's
// output, unfinished and resumed halves joined.
type callLine struct {
	Pid   int
	Call  string // syscall; "" for a +++ line
	Args  string
	Ret   int64
	Errno string
	End   string // "exited with 0", "killed by SIGKILL", "superseded by execve in pid N"
	Text  string
}

// tracedRun is one run of a workload under spawntrace.
type tracedRun struct {
	res     *cmdResult
	tab     *countTable
	lines   []callLine // the -o lines, in the file's (time) order
	raw     []byte     // the -o file
	rec     *recording.Recording
	recPath string
}

var supersededRe = regexp.MustCompile(`^([1-9][0-9]*) +[0-9:.]+ \+\+\+ (superseded by execve in pid [0-9]+) \+\+\+$`)

// traceTree runs argv under spawntrace -c -o -w. The -o lines must
// parse strictly (parseEvents), but for strace's "+++ superseded by
// execve in pid N +++", which -o may print for a leader replaced by an
// exec'ing thread.
func (e *testEnv) traceTree(t *testing.T, argv ...string) *tracedRun {
	t.Helper()
	dir := t.TempDir()
	evPath, recPath := filepath.Join(dir, "events.txt"), filepath.Join(dir, "rec.json")
	r := e.spawntrace(t, runOpts{timeout: 30 * time.Second},
		append([]string{"-c", "-o", evPath, "-w", recPath, "--"}, argv...)...)
	out := &tracedRun{res: r, recPath: recPath}
	out.tab = checkCOutput(t, r)
	b, err := os.ReadFile(evPath)
	if err != nil {
		t.Fatalf("no -o file: %v\n%s", err, r)
	}
	out.raw = b
	// Superseded lines, where strace prints them, are kept apart from the
	// strict parser and put back in place.
	var keep []string
	superseded := map[int]callLine{} // index in keep before which it stood
	for _, l := range splitLines(b) {
		if m := supersededRe.FindStringSubmatch(l); m != nil {
			pid, _ := strconv.Atoi(m[1])
			superseded[len(keep)] = callLine{Pid: pid, End: m[2], Text: l}
			continue
		}
		keep = append(keep, l)
	}
	text := strings.Join(keep, "\n")
	if text != "" {
		text += "\n"
	}
	evs, err := parseEvents(text)
	if err != nil {
		t.Fatalf("-o lines do not parse: %v\n%s", err, clip(b, 4000))
	}
	for i, ev := range evs {
		if s, ok := superseded[i]; ok {
			out.lines = append(out.lines, s)
		}
		out.lines = append(out.lines, callLine{Pid: ev.Pid, Call: ev.Call, Args: ev.Args, Ret: ev.Ret,
			Errno: ev.Errno, End: ev.Exit, Text: ev.Line})
	}
	if s, ok := superseded[len(evs)]; ok {
		out.lines = append(out.lines, s)
	}
	out.rec = loadRecording(t, recPath)
	return out
}

var (
	stracePidRe = regexp.MustCompile(`^([1-9][0-9]*) +(.*)$`)
	resumedRe   = regexp.MustCompile(`^<\.\.\. [a-z0-9_]+ resumed>(.*)$`)
	endRe       = regexp.MustCompile(`^\+\+\+ (exited with [0-9]+|killed by SIG[A-Z0-9]+( \(core dumped\))?|superseded by execve in pid ([0-9]+)) \+\+\+$`)
	callRe      = regexp.MustCompile(`^([a-z_][a-z0-9_]*)\((.*)\) += (-?[0-9]+|0x[0-9a-f]+)(?: (E[A-Z0-9]+) \([^()]+\))?$`)
)

// straceCalls runs argv under `strace -f -C -w -e trace=... -o FILE`: the
// calls (halves joined) and the table of the same run. (Not -e signal=none:
// it drops "+++ killed by SIG... +++" too.)
func straceCalls(t *testing.T, argv ...string) (*countTable, []callLine, *cmdResult) {
	t.Helper()
	strace := requireTool(t, "strace")
	out := filepath.Join(t.TempDir(), "strace.txt")
	r := runCmd(t, runOpts{timeout: 30 * time.Second}, append([]string{strace, "-f", "-C", "-w",
		"-e", straceTrace, "-o", out, "--"}, argv...)...)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("%s: %v", r, err)
	}
	tab, err := parseTable(string(b))
	if err != nil {
		t.Fatalf("strace's table does not parse: %v\n%s", err, clip(b, 4000))
	}
	lines, err := parseStrace(tab.Before)
	if err != nil {
		t.Fatalf("strace's lines: %v\n%s", err, clip(b, 4000))
	}
	return tab, lines, r
}

// parseStrace reads strace -f -o lines (no -tt): "PID  call(...) = ret",
// split calls ("<unfinished ...>", "<... call resumed>") joined at the
// resumed half, and +++ lines; signal lines ("--- SIGCHLD ... ---") are
// skipped. A call that an exec'ing thread left unfinished resumes in the
// leader's pid, after "+++ superseded by execve in pid OLD +++".
func parseStrace(text string) ([]callLine, error) {
	var out []callLine
	pending := map[int]string{}
	for n, l := range splitLines([]byte(text)) {
		m := stracePidRe.FindStringSubmatch(l)
		if m == nil {
			return nil, fmt.Errorf("line %d: no pid: %q", n+1, l)
		}
		pid, _ := strconv.Atoi(m[1])
		rest := m[2]
		if strings.HasPrefix(rest, "--- ") && strings.HasSuffix(rest, " ---") {
			continue
		}
		if x := endRe.FindStringSubmatch(rest); x != nil {
			if x[3] != "" {
				old, _ := strconv.Atoi(x[3])
				if p, ok := pending[old]; ok {
					pending[pid] = p
					delete(pending, old)
				}
			}
			out = append(out, callLine{Pid: pid, End: x[1], Text: l})
			continue
		}
		if head, ok := strings.CutSuffix(rest, " <unfinished ...>"); ok {
			pending[pid] = head
			continue
		}
		if x := resumedRe.FindStringSubmatch(rest); x != nil {
			head, ok := pending[pid]
			if !ok {
				return nil, fmt.Errorf("line %d: resumed call never started: %q", n+1, l)
			}
			delete(pending, pid)
			rest = head + x[1]
		}
		c := callRe.FindStringSubmatch(rest)
		if c == nil {
			return nil, fmt.Errorf("line %d: not `call(args) = ret`: %q", n+1, rest)
		}
		ret, _ := strconv.ParseInt(c[3], 0, 64)
		out = append(out, callLine{Pid: pid, Call: c[1], Args: c[2], Ret: ret, Errno: c[4], Text: l})
	}
	return out, nil
}

// compareSpawnRows checks the spawn rows (and the extra rows named) of
// spawntrace's table against strace's.
func compareSpawnRows(t *testing.T, strace, spawntrace *countTable, extra ...string) {
	t.Helper()
	for _, name := range append(slices.Clone(exactTreeCalls), extra...) {
		if strace.Calls(name) != spawntrace.Calls(name) || strace.Errors(name) != spawntrace.Errors(name) {
			t.Errorf("%s: strace -f %d calls %d errors, spawntrace %d calls %d errors",
				name, strace.Calls(name), strace.Errors(name), spawntrace.Calls(name), spawntrace.Errors(name))
		}
	}
}

// checkSpawnRows checks the spawn rows of a table against what the workload did
// (zero for the rows not named).
func checkSpawnRows(t *testing.T, who string, tab *countTable, want map[string][2]uint64) {
	t.Helper()
	for _, name := range exactTreeCalls {
		w := want[name]
		checkRow(t, who, tab, name, w[0], w[1])
	}
}

var execFileRe = regexp.MustCompile(`^"((?:[^"\\]|\\.)*)"`)

// execFile is the filename of an execve line, as printed (escaped).
func execFile(args string) string {
	if m := execFileRe.FindStringSubmatch(args); m != nil {
		return m[1]
	}
	return "?" + args
}

func isSpawn(call string) bool {
	return call == "clone" || call == "clone3" || call == "fork" || call == "vfork"
}

// lineToken is a line without what changes from run to run (pids,
// addresses): "execve /bin/true = 0", "clone3 = child", "+++ exited with 0".
func lineToken(l callLine) string {
	switch {
	case l.End != "":
		if strings.HasPrefix(l.End, "superseded") {
			return "+++ superseded by execve"
		}
		return "+++ " + l.End
	case l.Call == "execve":
		s := fmt.Sprintf("execve %s = %d", execFile(l.Args), l.Ret)
		if l.Errno != "" {
			s += " " + l.Errno
		}
		return s
	case isSpawn(l.Call) && l.Ret > 0:
		return l.Call + " = child"
	default:
		return strings.TrimSpace(fmt.Sprintf("%s = %d %s", l.Call, l.Ret, l.Errno))
	}
}

// pidTokens are the tokens of pid's lines, in order; with spawns, also
// the lines of other pids whose spawn call returned pid, as "spawn CALL".
func pidTokens(lines []callLine, pid int, spawns bool) []string {
	var out []string
	for _, l := range lines {
		switch {
		case l.Pid == pid && (l.Call != "wait4"):
			out = append(out, lineToken(l))
		case spawns && l.Pid != pid && isSpawn(l.Call) && l.Ret == int64(pid):
			out = append(out, "spawn "+l.Call)
		}
	}
	return out
}

// eventsInOrder returns the recording's events in time order (a loaded
// recording keeps the order they arrived in).
func eventsInOrder(rec *recording.Recording) []*tracer.Event {
	evs := make([]*tracer.Event, len(rec.Events))
	for i := range rec.Events {
		evs[i] = &rec.Events[i]
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].TimeNs < evs[j].TimeNs })
	return evs
}

// isProcessSpawn: a clone-like call that made a process (not a thread).
func isProcessSpawn(ev *tracer.Event) bool {
	_, _, ok := spawn.IsProcessSpawn(ev)
	return ev.Kind == tracer.KindSyscall && ok
}

// groupExits counts the exits of whole processes by pid.
func groupExits(rec *recording.Recording) map[uint32][]*tracer.Event {
	out := map[uint32][]*tracer.Event{}
	for _, ev := range eventsInOrder(rec) {
		if ev.Kind == tracer.KindExit && ev.GroupDead {
			out[ev.Pid] = append(out[ev.Pid], ev)
		}
	}
	return out
}

var footerRe = regexp.MustCompile(`(?m)^spawntrace: ([0-9]+) process(?:es)? exited, and ([0-9]+) other threads?$`)

// footerCounts returns N and M of the -c footer "spawntrace: N processes
// exited, and M other threads" (-1, -1 when it is missing: the footer is
// not this file's to require).
func footerCounts(rest string) (procs, threads int) {
	m := footerRe.FindStringSubmatch(rest)
	if m == nil {
		return -1, -1
	}
	procs, _ = strconv.Atoi(m[1])
	threads, _ = strconv.Atoi(m[2])
	return procs, threads
}

var processesRe = regexp.MustCompile(`(?m)^Processes: ([0-9]+) seen`)

// reportProcesses runs `spawntrace report REC` and returns N of its
// "Processes: N seen" line.
func (e *testEnv) reportProcesses(t *testing.T, recPath string) int {
	t.Helper()
	rep := e.report(t, recPath)
	text := string(rep.stdout) + string(rep.stderr)
	m := processesRe.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("report has no \"Processes: N seen\" line:\n%s", text)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// ---- double fork: a daemon reparented to init ----

// daemonPids reads tree_daemon's PIDFILE ("grandchild PID ppid PPID"),
// waiting up to wait for it to appear.
func daemonPids(pidfile string, wait time.Duration) (gc, ppid int, err error) {
	end := time.Now().Add(wait)
	for {
		b, rerr := os.ReadFile(pidfile)
		if rerr == nil && strings.HasSuffix(string(b), "\n") {
			_, err = fmt.Sscanf(string(b), "grandchild %d ppid %d", &gc, &ppid)
			return gc, ppid, err
		}
		if time.Now().After(end) {
			return 0, 0, fmt.Errorf("no pid file %s after %v: %v", pidfile, wait, rerr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// awaitGone waits (up to 5 s) for a process the tracer under test
// left running, so that it does not outlive its test.
func awaitGone(pidfile string) {
	gc, _, err := daemonPids(pidfile, 5*time.Second)
	if err != nil {
		return
	}
	for end := time.Now().Add(5 * time.Second); alive(gc) && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
}

// daemonOracle runs tree_daemon under strace -f, checks that strace
// waited for the daemon and that its counts are what the workload did, and
// returns its table and the daemon's tokens.
func daemonOracle(t *testing.T, e *testEnv, n, setup int) (*countTable, []string) {
	t.Helper()
	pidfile := filepath.Join(t.TempDir(), "daemon.pid")
	st, lines, sr := straceCalls(t, e.Workload("tree_daemon"), pidfile, strconv.Itoa(n), strconv.Itoa(setup))
	if sr.status != 0 {
		t.Fatalf("under strace: %s", sr)
	}
	gc, ppid, err := daemonPids(pidfile, 0)
	if err != nil {
		awaitGone(pidfile)
		t.Fatalf("strace -f returned before the daemon wrote its pid: %v", err)
	}
	if alive(gc) {
		t.Fatalf("strace -f returned while the daemon %d still runs", gc)
	}
	t.Logf("strace -f: the daemon %d ran with ppid %d", gc, ppid)
	checkSpawnRows(t, "strace -f", st, map[string][2]uint64{
		"clone": {2, 0}, "clone3": {uint64(setup + n), 0}, "execve": {uint64(1 + setup + n + 1), 0}})
	return st, pidTokens(lines, gc, false)
}

// daemonAttempt runs tree_daemon once under spawntrace and checks it
// against the oracle.
func daemonAttempt(t *testing.T, e *testEnv, n, setup int, st *countTable, oracle []string) {
	pidfile := filepath.Join(t.TempDir(), "daemon.pid")
	t.Cleanup(func() { awaitGone(pidfile) })
	out := e.traceTree(t, e.Workload("tree_daemon"), pidfile, strconv.Itoa(n), strconv.Itoa(setup))
	if out.res.status != 0 {
		t.Errorf("exit status %d, strace's 0\n%s", out.res.status, out.res)
	}

	// spawntrace, like strace -f, returns once the daemon has finished.
	gc, ppid, err := daemonPids(pidfile, 0)
	if err != nil {
		t.Errorf("spawntrace returned after %v, before the daemon wrote its pid 200 ms after the double fork: "+
			"it did not wait for the reparented grandchild as strace -f does (%v)", out.res.elapsed.Round(time.Millisecond), err)
		gc, ppid, err = daemonPids(pidfile, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
	} else if alive(gc) {
		t.Errorf("spawntrace returned while the daemon %d still runs; strace -f waits for it", gc)
	}
	var child int // the daemon's parent before it was orphaned
	for _, l := range out.lines {
		if l.Call == "clone" && l.Ret == int64(gc) {
			child = l.Pid
		}
	}
	if child == 0 {
		t.Errorf("no spawn line returned the daemon's pid %d:\n%s", gc, clip(out.raw, 4000))
	}
	if ppid == child || ppid == 0 {
		t.Fatalf("the daemon was not reparented (ppid %d, its parent was %d)", ppid, child)
	}

	// The table: the same spawn rows as strace -f's.
	compareSpawnRows(t, st, out.tab)

	// The -o lines of the daemon: its spawns, its exec, its exit, as strace's.
	if got := pidTokens(out.lines, gc, false); !slices.Equal(got, oracle) {
		t.Errorf("-o lines of the daemon %d:\n  %s\nstrace -f printed for its daemon:\n  %s",
			gc, strings.Join(got, "\n  "), strings.Join(oracle, "\n  "))
	}

	// The recording: the daemon's spawns and exec, under its new parent.
	var spawns, execs, exits int
	kids := map[uint32]bool{}
	for _, ev := range eventsInOrder(out.rec) {
		if ev.Pid != uint32(gc) {
			continue
		}
		if ev.PPid != uint32(ppid) {
			t.Errorf("recording: the daemon's %s event has ppid %d, want %d (its parent after reparenting)", ev.Kind, ev.PPid, ppid)
		}
		switch {
		case isProcessSpawn(ev):
			spawns++
			kids[uint32(ev.Ret)] = true
		case ev.Kind == tracer.KindSyscall && ev.Nr == sysno.Execve && ev.Ret == 0 && ev.Filename == "/bin/true":
			execs++
		case ev.Kind == tracer.KindExit && ev.GroupDead:
			exits++
			if ev.TimeNs > out.rec.EndMonoNs {
				t.Errorf("recording ends before the daemon's exit")
			}
		}
	}
	if spawns != n || execs != 1 || exits != 1 {
		t.Errorf("recording: the daemon %d has %d spawns, %d execs of /bin/true, %d exits; want %d, 1, 1",
			gc, spawns, execs, exits, n)
	}
	kidExecs := 0
	for _, ev := range out.rec.Events {
		if kids[ev.Pid] && ev.Kind == tracer.KindSyscall && ev.Nr == sysno.Execve && ev.Ret == 0 && ev.Filename == "/bin/true" {
			kidExecs++
		}
	}
	if kidExecs != n {
		t.Errorf("recording: the daemon's %d children have %d execs of /bin/true, want %d", n, kidExecs, n)
	}
	// The summary charges each exec to the spawn that made its process.
	s := summarized(t, out.rec)
	var ofDaemon, madeDaemon int
	for _, sp := range summaryRows(t, &s) {
		if sp.ParentPid == uint32(gc) && sp.ExecOK && sp.Exe == "/bin/true" {
			ofDaemon++
		}
		if sp.ChildPid == uint32(gc) && sp.ExecOK && sp.Exe == "/bin/true" {
			madeDaemon++
		}
	}
	if ofDaemon != n || madeDaemon != 1 {
		t.Errorf("summary: %d spawns of the daemon exec'd /bin/true (want %d), %d spawns made the daemon and saw its exec (want 1)",
			ofDaemon, n, madeDaemon)
	}
}

// checkDaemon checks the daemon against strace -f over several runs of
// spawntrace (a run that loses the daemon stops the test).
func checkDaemon(t *testing.T, n, setup, attempts int) {
	e := setupEnv(t)
	st, oracle := daemonOracle(t, e, n, setup)
	for i := 1; i <= attempts; i++ {
		ok := t.Run(fmt.Sprintf("run%d", i), func(t *testing.T) {
			daemonAttempt(t, e, n, setup, st, oracle)
		})
		if !ok {
			t.Fatalf("spawntrace run %d of %d failed", i, attempts)
		}
	}
}

// TestTreeDoubleForkDaemon: a workload daemonizes by a double fork (its
// child forks the grandchild and exits at once; the grandchild, reparented
// to init, sleeps 200 ms, then posix_spawns /bin/true 3 times and execs
// /bin/true), and the top process exits first. spawntrace must, as strace
// -f does, follow the reparented grandchild and wait for it: the spawn
// rows equal strace's, the daemon's -o lines are strace's, the recording
// holds its spawns and execs under its new parent, and spawntrace returns
// only once it has finished. Whether the daemon's birth has been read when
// the top process exits is a matter of timing, so several runs.
func TestTreeDoubleForkDaemon(t *testing.T) {
	checkDaemon(t, 3, 0, 6)
}

// TestTreeDaemonAfterSetupStep: the same double fork, by a child that
// first runs a setup step (posix_spawn of /bin/true, then a 20 ms pause),
// as launch scripts do: the daemon is not the first process its parent
// makes, so its birth is not the first the tracer hears of that parent.
func TestTreeDaemonAfterSetupStep(t *testing.T) {
	checkDaemon(t, 3, 1, 3)
}

// ---- a subreaper adopts its grandchild ----

// subreaperPids parses tree_subreaper's "child C grandchild G".
func subreaperPids(t *testing.T, r *cmdResult) (child, gc int) {
	t.Helper()
	if _, err := fmt.Sscanf(string(r.stdout), "child %d grandchild %d", &child, &gc); err != nil {
		t.Fatalf("tree_subreaper wrote %q: %v\n%s", r.stdout, err, r)
	}
	return child, gc
}

// roleEnds maps each process of a tree_subreaper run to its role and
// returns the end lines by role, and the role order of the ends.
func roleEnds(lines []callLine, roles map[int]string) (map[string][]string, []string) {
	ends := map[string][]string{}
	var order []string
	for _, l := range lines {
		if l.End == "" {
			continue
		}
		role, ok := roles[l.Pid]
		if !ok {
			role = "other"
		}
		ends[role] = append(ends[role], l.End)
		order = append(order, role)
	}
	return ends, order
}

// TestTreeSubreaper: the workload is a child subreaper; its child forks a
// grandchild and exits at once, the kernel reparents the grandchild to
// the workload, which reaps both. The spawn rows and wait4 equal strace's;
// every process has exactly one exit line and one exit in the recording,
// with the statuses strace -f shows; the grandchild's events carry the
// subreaper as their parent.
func TestTreeSubreaper(t *testing.T) {
	e := setupEnv(t)
	argv := []string{e.Workload("tree_subreaper")}
	st, slines, sr := straceCalls(t, argv...)
	if sr.status != 0 {
		t.Fatalf("under strace: %s", sr)
	}
	sChild, sGC := subreaperPids(t, sr)
	checkSpawnRows(t, "strace -f", st, map[string][2]uint64{"clone": {2, 0}, "clone3": {1, 0}, "execve": {2, 0}})

	out := e.traceTree(t, argv...)
	if out.res.status != 0 {
		t.Errorf("exit status %d, strace's 0\n%s", out.res.status, out.res)
	}
	child, gc := subreaperPids(t, out.res)
	compareSpawnRows(t, st, out.tab, "wait4")

	// Roles: the workload is the pid of the first line; the grandchild's
	// child is what its clone3 returned.
	roles := func(lines []callLine, child, gc int) map[int]string {
		m := map[int]string{lines[0].Pid: "workload", child: "child", gc: "grandchild"}
		for _, l := range lines {
			if l.Pid == gc && isSpawn(l.Call) && l.Ret > 0 {
				m[int(l.Ret)] = "true"
			}
		}
		return m
	}
	want := map[string][]string{
		"workload": {"exited with 0"}, "child": {"exited with 0"},
		"grandchild": {"exited with 3"}, "true": {"exited with 0"},
	}
	gotEnds, gotOrder := roleEnds(out.lines, roles(out.lines, child, gc))
	stEnds, stOrder := roleEnds(slines, roles(slines, sChild, sGC))
	for role, w := range want {
		if !slices.Equal(stEnds[role], w) {
			t.Errorf("strace -f: %s ends %q, want %q", role, stEnds[role], w)
		}
		if !slices.Equal(gotEnds[role], w) {
			t.Errorf("-o: %s ends %q, want %q as strace -f shows", role, gotEnds[role], w)
		}
	}
	if len(gotEnds["other"]) > 0 {
		t.Errorf("-o: exit lines of unknown pids: %q", gotEnds["other"])
	}
	// The subreaper reaped its adopted grandchild: the workload ends last.
	if len(gotOrder) == 0 || gotOrder[len(gotOrder)-1] != "workload" || len(stOrder) == 0 || stOrder[len(stOrder)-1] != "workload" {
		t.Errorf("order of the exit lines: -o %q, strace -f %q; the workload must end last", gotOrder, stOrder)
	}

	// The recording: one process exit each, with the same statuses; the
	// grandchild's parent is the subreaper.
	workload := out.lines[0].Pid
	exits := groupExits(out.rec)
	wantCode := map[int]int32{workload: 0, child: 0, gc: 3 << 8}
	for _, l := range out.lines {
		if l.Pid == gc && isSpawn(l.Call) && l.Ret > 0 {
			wantCode[int(l.Ret)] = 0
		}
	}
	if len(wantCode) != 4 {
		t.Errorf("-o: the grandchild's spawn of /bin/true is missing:\n%s", out.raw)
	}
	for pid, code := range wantCode {
		if got := exits[uint32(pid)]; len(got) != 1 || got[0].ExitCode != code {
			var codes []int32
			for _, ev := range got {
				codes = append(codes, ev.ExitCode)
			}
			t.Errorf("recording: process %d has exits with statuses %v, want one with %#x", pid, codes, code)
		}
	}
	if len(exits) != len(wantCode) {
		t.Errorf("recording: %d processes exited, want %d", len(exits), len(wantCode))
	}
	if ce := exits[uint32(child)]; len(ce) == 1 {
		n := 0
		for _, ev := range eventsInOrder(out.rec) {
			if ev.Pid != uint32(gc) || ev.TimeNs <= ce[0].TimeNs {
				continue
			}
			n++
			if ev.PPid != uint32(workload) {
				t.Errorf("recording: the grandchild's %s event after its parent's exit has ppid %d, want the subreaper %d",
					ev.Kind, ev.PPid, workload)
			}
		}
		if n < 2 { // its spawn of /bin/true and its exit at least
			t.Errorf("recording: %d events of the grandchild after its parent's exit, want its spawn and its exit", n)
		}
	}
	if procs, _ := footerCounts(out.tab.Rest); procs >= 0 && procs != 4 {
		t.Errorf("-c footer says %d processes exited, want 4:\n%s", procs, out.tab.Rest)
	}
}

// ---- pid reuse ----

// parsePidReuse parses tree_pidreuse's "pid P forks F vforks V misses M".
func parsePidReuse(t *testing.T, r *cmdResult) (pid, forks, vforks, misses int) {
	t.Helper()
	if _, err := fmt.Sscanf(string(r.stdout), "pid %d forks %d vforks %d misses %d", &pid, &forks, &vforks, &misses); err != nil {
		t.Fatalf("tree_pidreuse wrote %q: %v\n%s", r.stdout, err, r)
	}
	return
}

// TestTreePidReuse: four children in a row get the same pid P (the workload
// sets ns_last_pid), each with another mechanism and program: fork
// /bin/true, vfork /bin/false, fork /bin/sleep, vfork of a missing file.
// Each exec is charged to the spawn that made its process: in the -o lines
// (in the order strace -f shows them for P), in the recording's summary,
// and in the number of processes the report says it saw.
func TestTreePidReuse(t *testing.T) {
	e := setupEnv(t)
	argv := []string{e.Workload("tree_pidreuse")}
	const missing = "/nonexistent-spawntrace/reused"
	execs := [2]uint64{5, 1} // the workload's own, 3 programs, the missing file

	st, slines, sr := straceCalls(t, argv...)
	if sr.status != 0 {
		t.Fatalf("under strace: %s", sr)
	}
	sP, sForks, sVforks, sMisses := parsePidReuse(t, sr)
	checkSpawnRows(t, "strace -f", st, map[string][2]uint64{"clone": {uint64(sForks), 0}, "vfork": {uint64(sVforks), 0}, "execve": execs})

	out := e.traceTree(t, argv...)
	if out.res.status != 0 {
		t.Fatalf("exit status %d, strace's 0\n%s", out.res.status, out.res)
	}
	P, forks, vforks, misses := parsePidReuse(t, out.res)
	t.Logf("pid %d made 4 times (%d misses: another process took it first); under strace: pid %d, %d misses", P, misses, sP, sMisses)
	checkSpawnRows(t, "spawntrace", out.tab, map[string][2]uint64{"clone": {uint64(forks), 0}, "vfork": {uint64(vforks), 0}, "execve": execs})
	if misses == sMisses {
		compareSpawnRows(t, st, out.tab)
	}

	// -o: P's lines, and the spawns that returned P, in time order.
	want := []string{
		"spawn clone", "execve /bin/true = 0", "+++ exited with 0",
		"spawn vfork", "execve /bin/false = 0", "+++ exited with 1",
		"spawn clone", "execve /bin/sleep = 0", "+++ exited with 0",
		"spawn vfork", "execve " + missing + " = -1 ENOENT", "+++ exited with 127",
	}
	if got := pidTokens(out.lines, P, true); !slices.Equal(got, want) {
		t.Errorf("-o lines of pid %d and of the spawns that returned it:\n  %s\nwant:\n  %s",
			P, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	var wantOracle []string
	for _, w := range want {
		if !strings.HasPrefix(w, "spawn ") {
			wantOracle = append(wantOracle, w)
		}
	}
	if got := pidTokens(slines, sP, false); !slices.Equal(got, wantOracle) {
		t.Errorf("strace -f lines of pid %d:\n  %s\nwant:\n  %s", sP, strings.Join(got, "\n  "), strings.Join(wantOracle, "\n  "))
	}

	// The summary: each spawn of P with its own program.
	type spawnOf struct {
		syscall, exe string
		ok           bool
		failed       int
	}
	wantSpawns := []spawnOf{{"clone", "/bin/true", true, 0}, {"vfork", "/bin/false", true, 0},
		{"clone", "/bin/sleep", true, 0}, {"vfork", "", false, 1}}
	s := summarized(t, out.rec)
	var gotSpawns []spawnOf
	for _, sp := range summaryRows(t, &s) {
		if sp.ChildPid == uint32(P) {
			gotSpawns = append(gotSpawns, spawnOf{sp.Syscall, sp.Exe, sp.ExecOK, sp.FailedExecs})
		}
	}
	if !slices.Equal(gotSpawns, wantSpawns) {
		t.Errorf("summary: the spawns of pid %d (syscall, exe, exec ok, failed execs):\n got %v\nwant %v", P, gotSpawns, wantSpawns)
	}
	if s.SpawnCount() != forks+vforks {
		t.Errorf("summary: %d spawns, the workload made %d", s.SpawnCount(), forks+vforks)
	}

	// Every spawn made a process of its own: 1+F+V processes in all.
	procs := 1 + forks + vforks
	if got, _ := footerCounts(out.tab.Rest); got >= 0 && got != procs {
		t.Errorf("-c footer: %d processes exited, want %d:\n%s", got, procs, out.tab.Rest)
	}
	if got := s.Processes; got != procs {
		t.Errorf("summary: Processes = %d, want %d (the workload and %d children, 4 of them pid %d)", got, procs, forks+vforks, P)
	}
	if got := e.reportProcesses(t, out.recPath); got != procs {
		t.Errorf("report: \"Processes: %d seen\", want %d (the workload and %d children, 4 of them pid %d)", got, procs, forks+vforks, P)
	}
}

// ---- processes that end before an exec of theirs is seen ----

// TestTreeExitBeforeExec: children that _exit(0) right after fork or vfork,
// that exec a missing file and _exit(127), and one killed by SIGKILL before
// any exec. Counts equal strace's, failed execs included (ENOENT); the
// failed execve lines, the exit lines and their order are strace's; the
// summary has every spawn without an exec, the failed ones charged to
// their spawn.
func TestTreeExitBeforeExec(t *testing.T) {
	e := setupEnv(t)
	argv := []string{e.Workload("tree_noexec")}
	const missing = "/nonexistent-spawntrace/never"
	st, slines, sr := straceCalls(t, argv...)
	if sr.status != 0 {
		t.Fatalf("under strace: %s", sr)
	}
	wantTab := map[string][2]uint64{"clone": {3, 0}, "vfork": {2, 0}, "execve": {3, 2}}
	checkSpawnRows(t, "strace -f", st, wantTab)

	out := e.traceTree(t, argv...)
	if out.res.status != 0 {
		t.Errorf("exit status %d, strace's 0\n%s", out.res.status, out.res)
	}
	compareSpawnRows(t, st, out.tab)
	checkSpawnRows(t, "spawntrace", out.tab, wantTab)

	// The calls and the ends, in order, without pids: as strace -f prints
	// them (its spawn lines may come after the child's, when it resumes).
	tokens := func(lines []callLine) (calls, ends []string) {
		for _, l := range lines {
			switch {
			case l.End != "":
				ends = append(ends, lineToken(l))
			case l.Call == "execve":
				calls = append(calls, lineToken(l))
			}
		}
		return calls, ends
	}
	wantCalls := []string{"execve " + argv[0] + " = 0",
		"execve " + missing + " = -1 ENOENT", "execve " + missing + " = -1 ENOENT"}
	wantEnds := []string{"+++ exited with 0", "+++ exited with 127", "+++ killed by SIGKILL",
		"+++ exited with 0", "+++ exited with 127", "+++ exited with 0"}
	sCalls, sEnds := tokens(slines)
	gCalls, gEnds := tokens(out.lines)
	if !slices.Equal(sCalls, wantCalls) || !slices.Equal(sEnds, wantEnds) {
		t.Errorf("strace -f: execs %q, ends %q; want %q, %q", sCalls, sEnds, wantCalls, wantEnds)
	}
	if !slices.Equal(gCalls, sCalls) || !slices.Equal(gEnds, sEnds) {
		t.Errorf("-o: execs %q, ends %q; strace -f: %q, %q", gCalls, gEnds, sCalls, sEnds)
	}
	// Each failed execve line is strace's, but for the pid and the envp address.
	envp := regexp.MustCompile(`0x[0-9a-f]+ /\*`)
	for i, sl := range slines {
		if sl.Call != "execve" || sl.Ret != -1 {
			continue
		}
		wantArgs := envp.ReplaceAllString(sl.Args, "ENVP /*")
		for _, l := range out.lines {
			if l.Call == "execve" && l.Ret == -1 && envp.ReplaceAllString(l.Args, "ENVP /*") != wantArgs {
				t.Errorf("-o: %q\nstrace -f line %d: %q", l.Text, i+1, sl.Text)
			}
		}
	}

	// Every process has one exit line: the workload and the 5 children.
	pidEnds := map[int]int{}
	for _, l := range out.lines {
		if l.End != "" {
			pidEnds[l.Pid]++
		}
	}
	var kids []int
	for _, l := range out.lines {
		if isSpawn(l.Call) && l.Ret > 0 {
			kids = append(kids, int(l.Ret))
		}
	}
	if len(kids) != 5 {
		t.Errorf("-o: %d spawn lines, want 5", len(kids))
	}
	for _, p := range append([]int{out.lines[0].Pid}, kids...) {
		if pidEnds[p] != 1 {
			t.Errorf("-o: process %d has %d exit lines, want 1", p, pidEnds[p])
		}
	}

	// The summary: five spawns, none exec'd; the failed execs charged to
	// their own spawn, in time order.
	s := summarized(t, out.rec)
	var failed []int
	for _, sp := range summaryRows(t, &s) {
		if sp.ExecOK || sp.Exe != "" {
			t.Errorf("summary: the spawn of %d has an exec (%q), but no child exec'd", sp.ChildPid, sp.Exe)
		}
		failed = append(failed, sp.FailedExecs)
	}
	if want := []int{0, 1, 0, 0, 1}; !slices.Equal(failed, want) {
		t.Errorf("summary: failed execs per spawn %v, want %v", failed, want)
	}
	if s.ExecOK != 1 || s.ExecFailed != 2 || s.Processes != 6 {
		t.Errorf("summary: %d execs ok, %d failed, %d processes; want 1, 2, 6", s.ExecOK, s.ExecFailed, s.Processes)
	}
	if n := len(groupExits(out.rec)); n != 6 {
		t.Errorf("recording: %d processes exited, want 6", n)
	}
}

// ---- a thread that execs ----

// TestTreeThreadExec: the last of 3 threads (not the leader) execs /bin/sh
// -c '/bin/true; /bin/true; exit 0'. The kernel kills the other threads and
// the leader, and the exec'ing thread takes over the leader's pid. Counts
// equal strace's; the exec is recorded once, with its program and argv;
// the process is not lost: sh's two children are traced, and the process
// ends once, after them, in the -o lines (where strace -f shows the
// leader "superseded by execve", not exited) and in the recording.
func TestTreeThreadExec(t *testing.T) {
	e := setupEnv(t)
	const threads = 3
	argv := []string{e.Workload("tree_threadexec"), strconv.Itoa(threads)}
	st, slines, sr := straceCalls(t, argv...)
	if sr.status != 0 {
		t.Fatalf("under strace: %s", sr)
	}
	if got := tableSpawns(st) - st.Calls("clone3"); got != 2 || st.Calls("clone3") != threads {
		t.Errorf("strace -f: %d spawns by sh and %d clone3, want 2 and %d", got, st.Calls("clone3"), threads)
	}
	checkRow(t, "strace -f", st, "execve", 4, 0)

	out := e.traceTree(t, argv...)
	if out.res.status != 0 {
		t.Errorf("exit status %d, strace's 0\n%s", out.res.status, out.res)
	}
	compareSpawnRows(t, st, out.tab)
	W := out.lines[0].Pid

	// The recording: one exec of /bin/sh, in the workload's pid, whole.
	var shExec *tracer.Event
	var spawnsAfter, trueExecs int
	kids := map[uint32]bool{}
	for _, ev := range eventsInOrder(out.rec) {
		if ev.Kind != tracer.KindSyscall {
			continue
		}
		if ev.Nr == sysno.Execve && ev.Ret == 0 && ev.Filename == "/bin/sh" {
			if shExec != nil {
				t.Errorf("recording: a second execve of /bin/sh (pid %d tid %d)", ev.Pid, ev.Tid)
			}
			shExec = ev
			continue
		}
		if shExec != nil && ev.Pid == uint32(W) && isProcessSpawn(ev) {
			spawnsAfter++
			kids[uint32(ev.Ret)] = true
		}
		if kids[ev.Pid] && ev.Nr == sysno.Execve && ev.Ret == 0 && ev.Filename == "/bin/true" {
			trueExecs++
		}
	}
	if shExec == nil {
		t.Fatalf("recording: no successful execve of /bin/sh")
	}
	wantArgv := []string{"sh", "-c", "/bin/true; /bin/true; exit 0"}
	if shExec.Pid != uint32(W) || shExec.Tid != uint32(W) || shExec.NameUnread || !slices.Equal(shExec.Argv, wantArgv) {
		t.Errorf("recording: the exec of /bin/sh is pid %d tid %d, argv %q (unread %v); want pid and tid %d, argv %q",
			shExec.Pid, shExec.Tid, shExec.Argv, shExec.NameUnread, W, wantArgv)
	}
	if spawnsAfter != 2 || trueExecs != 2 {
		t.Errorf("recording: after its exec the workload made %d spawns whose children exec'd /bin/true %d times; want 2 and 2",
			spawnsAfter, trueExecs)
	}
	exits := groupExits(out.rec)[uint32(W)]
	if len(exits) != 1 || exits[0].ExitCode != 0 {
		t.Errorf("recording: the workload has %d process exits, want 1 with status 0", len(exits))
	}
	if out.rec.Threads != threads {
		t.Errorf("recording: %d threads, want %d", out.rec.Threads, threads)
	}
	if s := summarized(t, out.rec); s.ExecOK != 4 || s.SpawnCount() != 2 {
		t.Errorf("summary: %d execs ok, %d spawns; want 4 and 2", s.ExecOK, s.SpawnCount())
	}

	// -o: one execve of /bin/sh; then sh's spawns; the workload's pid ends
	// once, after them, as in strace -f's lines.
	tokens := pidTokens(out.lines, W, false)
	want := []string{"execve " + argv[0] + " = 0", "clone3 = child", "clone3 = child", "clone3 = child"}
	stTokens := pidTokens(slines, slines[0].Pid, false)
	t.Logf("strace -f, the workload's pid: %q", stTokens)
	t.Logf("-o, the workload's pid: %q", tokens)
	if len(tokens) < len(want) || !slices.Equal(tokens[:len(want)], want) {
		t.Errorf("-o: the workload's first lines %q, want %q", tokens, want)
	}
	// sh's spawns: whatever call this sh makes them with, after its exec.
	var shLines, exited, spawnsSeen int
	shAt, lastSpawn, exitAt := -1, -1, -1
	for i, tok := range tokens {
		switch {
		case tok == "execve /bin/sh = 0":
			shLines++
			shAt = i
		case strings.HasPrefix(tok, "+++ exited") || strings.HasPrefix(tok, "+++ killed"):
			exited++
			exitAt = i
		case shAt >= 0 && strings.HasSuffix(tok, " = child"):
			spawnsSeen++
			lastSpawn = i
		}
	}
	if shLines != 1 {
		t.Errorf("-o: %d execve lines of /bin/sh, want 1", shLines)
	}
	if spawnsSeen != 2 {
		t.Errorf("-o: %d spawn lines by sh in the workload's pid, want 2", spawnsSeen)
	}
	if exited != 1 || exitAt < lastSpawn {
		t.Errorf("-o: the workload's pid %d has %d \"exited\"/\"killed\" lines, the last at its line %d, its last spawn at %d; "+
			"want one, after its spawns (strace -f prints the leader's end at the exec as \"+++ superseded by execve in pid N +++\"):\n  %s",
			W, exited, exitAt, lastSpawn, strings.Join(tokens, "\n  "))
	}
	// Threads: the two sleepers end with the exec, as in strace -f.
	tids := map[int]bool{}
	for _, l := range out.lines {
		if l.Pid == W && l.Call == "clone3" && l.Ret > 0 && strings.Contains(l.Args, "CLONE_THREAD") {
			tids[int(l.Ret)] = true
		}
	}
	threadEnds := 0
	for _, l := range out.lines {
		if tids[l.Pid] && l.End != "" {
			threadEnds++
		}
	}
	if threadEnds != threads-1 {
		t.Errorf("-o: %d exit lines of the threads, want %d (the exec'ing thread lives on as the process)", threadEnds, threads-1)
	}
}
