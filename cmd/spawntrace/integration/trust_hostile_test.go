//go:build integration && linux

package integration

// Hostile and broken input: argv near ARG_MAX, 10 000 environment
// variables, bytes that are not UTF-8 (nor printable) in paths and argv, a
// workload that closes its stdout, ignores SIGTERM, is killed with SIGKILL,
// spawntrace interrupted twice, two spawntraces at once, output to a full
// disk.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// parseBigexec parses trust_bigexec's "argc N envc M bytes B" line.
func parseBigexec(t *testing.T, r *cmdResult) (argc, envc, nbytes int) {
	t.Helper()
	if _, err := fmt.Sscanf(string(r.stdout), "argc %d envc %d bytes %d", &argc, &envc, &nbytes); err != nil {
		t.Fatalf("trust_bigexec wrote %q: %v\n%s", r.stdout, err, r)
	}
	return argc, envc, nbytes
}

// execEvent returns the one successful execve event of path in rec.
func execEvent(t *testing.T, rec *recording.Recording, path string) int {
	t.Helper()
	idx := -1
	for i := range rec.Events {
		ev := &rec.Events[i]
		if ev.Nr == sysno.Execve && ev.Ret == 0 && ev.Filename == path {
			if idx >= 0 {
				t.Fatalf("two successful execve of %s in the recording", path)
			}
			idx = i
		}
	}
	if idx < 0 {
		t.Fatalf("no successful execve of %s in the recording", path)
	}
	return idx
}

// execLine returns the one successful execve line of path in an -o file.
func execLine(t *testing.T, evs []eventLine, quotedPath string) eventLine {
	t.Helper()
	var found []eventLine
	for _, ev := range evs {
		if ev.Call == "execve" && ev.Ret == 0 && strings.HasPrefix(ev.Args, quotedPath+", ") {
			found = append(found, ev)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d successful execve lines of %s in -o, want 1", len(found), quotedPath)
	}
	return found[0]
}

// TestTrustArgvNearArgMax: a spawn whose argv is about 1.9 MiB (near
// ARG_MAX) is recorded with its true argc and a truncated argv, the -o
// line marks the truncation as strace does (", ...]"), and report -o
// prints the same line from the recording.
func TestTrustArgvNearArgMax(t *testing.T) {
	e := setupEnv(t)
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_STACK, &rl); err != nil {
		t.Fatal(err)
	}
	// The kernel allows argv and envp strings up to a quarter of the stack
	// limit (ARG_MAX, 2 MiB with the usual 8 MiB); keep 1.9 MiB under it.
	size := uint64(19 << 20 / 10)
	if rl.Cur != ^uint64(0) && rl.Cur/4 < size+128<<10 {
		size = rl.Cur/4 - 128<<10
		t.Logf("stack limit %d: %d bytes of arguments", rl.Cur, size)
	}
	dir := t.TempDir()
	ev, rec := filepath.Join(dir, "ev.txt"), filepath.Join(dir, "rec.json")
	r := e.spawntrace(t, runOpts{}, "-o", ev, "-w", rec, "--",
		e.Workload("trust_bigexec"), "args", strconv.FormatUint(size, 10))
	if r.status != 0 {
		t.Fatalf("the spawn with %d bytes of arguments failed: %s\nstdout: %s", size, r, r.stdout)
	}
	argc, envc, _ := parseBigexec(t, r)
	if _, err := parseTable(string(r.stderr)); err != nil {
		t.Errorf("summary: %v\n%s", err, clip(r.stderr, 4000))
	}

	evs, live := readEvents(t, ev)
	line := execLine(t, evs, `"/bin/true"`)
	// strace -s 32: each argument cut at 32 bytes with "...", and the
	// array ended by "..." where elements are left out.
	want := regexp.MustCompile(`^"/bin/true", \["/bin/true", "00001:b{26}"\.\.\.(, "[0-9]{5}:[a-z]{26}"\.\.\.)*, \.\.\.\], 0x[0-9a-f]+ /\* ` +
		strconv.Itoa(envc) + ` vars \*/$`)
	if !want.MatchString(line.Args) {
		t.Errorf("execve line of the big spawn: want argv truncated with a final \", ...]\" and %d vars, got\n%s", envc, line.Line)
	}
	if len(line.Line) > 4096 {
		t.Errorf("execve line is %d bytes long", len(line.Line))
	}

	got := loadRecording(t, rec)
	x := &got.Events[execEvent(t, got, "/bin/true")]
	if x.Argc != argc || !x.ArgvTruncated || x.EnvCount != envc {
		t.Errorf("recorded argc %d (truncated %v), env %d; want argc %d (truncated true), env %d",
			x.Argc, x.ArgvTruncated, x.EnvCount, argc, envc)
	}
	if len(x.Argv) == 0 || x.Argv[0] != "/bin/true" || len(x.Argv) >= argc {
		t.Errorf("recorded %d argv elements starting %.40q, want a few starting /bin/true", len(x.Argv), x.Argv)
	}

	rep := filepath.Join(dir, "rep.txt")
	e.report(t, "-o", rep, rec)
	if b, _ := os.ReadFile(rep); !bytes.Equal(b, live) {
		t.Errorf("report -o differs from the live -o:\nlive:\n%s\nreport:\n%s", live, b)
	}
}

// TestTrustTenThousandEnvVars: a spawn with exactly 10 000 environment
// variables shows "/* 10000 vars */" and records 10 000.
func TestTrustTenThousandEnvVars(t *testing.T) {
	e := setupEnv(t)
	const n = 10000
	dir := t.TempDir()
	ev, rec := filepath.Join(dir, "ev.txt"), filepath.Join(dir, "rec.json")
	r := e.spawntrace(t, runOpts{}, "-o", ev, "-w", rec, "--", e.Workload("trust_bigexec"), "env", strconv.Itoa(n))
	if r.status != 0 {
		t.Fatalf("%s\nstdout: %s", r, r.stdout)
	}
	if _, envc, _ := parseBigexec(t, r); envc != n {
		t.Fatalf("workload passed %d variables, want %d", envc, n)
	}
	evs, _ := readEvents(t, ev)
	line := execLine(t, evs, `"/bin/true"`)
	if !strings.HasSuffix(line.Args, fmt.Sprintf(" /* %d vars */", n)) {
		t.Errorf("want \"/* %d vars */\" in\n%s", n, line.Line)
	}
	got := loadRecording(t, rec)
	x := &got.Events[execEvent(t, got, "/bin/true")]
	// Each variable is SPAWNTRACE_TRUST_NNNNN=1 and its NUL: 25 bytes.
	if x.EnvCount != n || x.EnvBytes != 25*n {
		t.Errorf("recorded %d variables of %d bytes, want %d of %d", x.EnvCount, x.EnvBytes, n, 25*n)
	}
	if _, err := parseTable(string(r.stderr)); err != nil {
		t.Errorf("summary: %v", err)
	}
}

// Hostile bytes and how strace -f prints them. hostileName is a file
// name that is neither UTF-8 nor printable: \377, the Latin-1 é (\351),
// control bytes and an octal digit after one (printed "\0017", not
// "\17"). The arguments add C escapes, quotes, a backslash, an escape
// character and UTF-8 text. terminalName holds an escape sequence (red
// text on a terminal) and a newline, which a report must not print raw.
const (
	hostileName   = "tr\xffu\xe9e\x01\x017"
	hostileQuoted = `tr\377u\351e\1\0017`
	hostileArg1   = "a\xff\x80b\tc\nd\"e\\f\x1bg"
	hostileQuote1 = `"a\377\200b\tc\nd\"e\\f\33g"`
	hostileArg2   = "\xc3\xa9t\xc3\xa9 caf\xc3\xa9 ok" // UTF-8, not ASCII: strace prints octal too
	hostileQuote2 = `"\303\251t\303\251 caf\303\251 ok"`
	terminalName  = "x\x1b[31mred\nline\xff"
)

var execveArgvRe = regexp.MustCompile(`execve\((.*), 0x[0-9a-f]+ /\* [0-9]+ vars? \*/`)

// execveArgvs returns, for each execve line of an -o or strace -f file,
// its filename and argv as printed (up to the environment pointer).
func execveArgvs(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if m := execveArgvRe.FindStringSubmatch(l); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

// TestTrustNonUTF8 runs a path and arguments holding bytes that are not
// UTF-8 nor printable: -o escapes them exactly as strace does (and as
// strace -f prints the same run), report -o from the recording prints the
// same bytes, and no report sends a raw control byte or invalid UTF-8 to
// the terminal.
func TestTrustNonUTF8(t *testing.T) {
	e := setupEnv(t)
	dir := t.TempDir()
	target := filepath.Join(dir, hostileName)
	if err := os.Symlink("/bin/true", target); err != nil {
		t.Fatal(err)
	}
	// sh runs the target as a child (not exec: ": " follows), so both the
	// workload's own exec and a spawned exec carry the bytes; by a relative
	// path, so that strace's -s 32 does not cut argv[0].
	argv := []string{"/bin/sh", "-c", `cd "$0" && ./"$1" "$2" "$3"; :`, dir, hostileName, hostileArg1, hostileArg2}
	ev, rec := filepath.Join(dir, "ev.txt"), filepath.Join(dir, "rec.json")
	r := e.spawntrace(t, runOpts{}, append([]string{"-o", ev, "-w", rec, "--"}, argv...)...)
	if r.status != 0 {
		t.Fatalf("%s", r)
	}
	evs, live := readEvents(t, ev)
	quotedTarget := `"./` + hostileQuoted + `"`
	want := quotedTarget + ", [" + quotedTarget + ", " + hostileQuote1 + ", " + hostileQuote2 + "]"
	if got := execLine(t, evs, quotedTarget); !strings.HasPrefix(got.Args, want+", 0x") {
		t.Errorf("execve line of the hostile path:\n got %s\nwant execve(%s, 0x... /* N vars */) = 0", got.Line, want)
	}
	for i, c := range live {
		if (c < ' ' && c != '\n') || c >= 0x7f {
			t.Errorf("-o byte %d is %#x: strace escapes every byte that is not printable ASCII", i, c)
			break
		}
	}

	t.Run("strace", func(t *testing.T) {
		strace := requireTool(t, "strace")
		out := filepath.Join(t.TempDir(), "strace.txt")
		sr := runCmd(t, runOpts{}, append([]string{strace, "-f", "-o", out, "--"}, argv...)...)
		b, err := os.ReadFile(out)
		if err != nil || sr.status != 0 {
			t.Fatalf("strace: %v %s", err, sr)
		}
		st, sp := execveArgvs(string(b)), execveArgvs(string(live))
		if strings.Join(st, "\n") != strings.Join(sp, "\n") {
			t.Errorf("execve filenames and argv differ from strace -f's:\nstrace:\n%s\nspawntrace:\n%s",
				strings.Join(st, "\n"), strings.Join(sp, "\n"))
		}
	})

	t.Run("report-o", func(t *testing.T) {
		rep := filepath.Join(t.TempDir(), "rep.txt")
		e.report(t, "-o", rep, rec)
		if b, _ := os.ReadFile(rep); !bytes.Equal(b, live) {
			t.Errorf("report -o differs from the live -o:\nlive:\n%q\nreport:\n%q", live, b)
		}
	})

	// The summary names the exe of each slow spawn: a name with an escape
	// sequence and a newline must not reach the terminal raw.
	t.Run("summary", func(t *testing.T) {
		evil := filepath.Join(t.TempDir(), terminalName)
		if err := os.Symlink("/bin/true", evil); err != nil {
			t.Fatal(err)
		}
		rec := filepath.Join(t.TempDir(), "rec.json")
		r := e.spawntrace(t, runOpts{}, "-w", rec, "--", "/bin/sh", "-c", `"$0" "$@"; :`, evil, hostileArg1)
		if r.status != 0 {
			t.Fatalf("%s", r)
		}
		checkTerminalSafe(t, "live summary", r.stderr)
		rep := e.report(t, rec)
		checkTerminalSafe(t, "report", rep.stdout)
		for _, f := range []string{"text", "markdown"} {
			c := e.spawntrace(t, runOpts{}, "compare", "--format", f, rec, rec)
			if c.status != 0 {
				t.Fatalf("compare: %s", c)
			}
			checkTerminalSafe(t, "compare --format "+f, c.stdout)
		}
	})
}

// checkTerminalSafe fails when text holds a control byte other than a
// newline (an escape sequence, a carriage return) or is not UTF-8.
func checkTerminalSafe(t *testing.T, what string, text []byte) {
	t.Helper()
	for i, c := range text {
		if (c < ' ' && c != '\n') || c == 0x7f {
			lo := strings.LastIndexByte(string(text[:i]), '\n') + 1
			hi := i + 40
			if hi > len(text) {
				hi = len(text)
			}
			t.Errorf("%s: raw control byte %#x at byte %d, in %q", what, c, i, text[lo:hi])
			return
		}
	}
	if !utf8.Valid(text) {
		for i := 0; i < len(text); {
			r, n := utf8.DecodeRune(text[i:])
			if r == utf8.RuneError && n == 1 {
				lo := strings.LastIndexByte(string(text[:i]), '\n') + 1
				t.Errorf("%s: invalid UTF-8 at byte %d, in %q", what, i, text[lo:min(i+40, len(text))])
				return
			}
			i += n
		}
	}
}

// TestTrustWorkloadClosesStdout: a workload that closes its stdout and
// carries on spawning is traced as usual; and spawntrace started with its
// own stdout closed does not hand the workload a descriptor of its own
// (an -o file, a BPF object) as stdout.
func TestTrustWorkloadClosesStdout(t *testing.T) {
	e := setupEnv(t)
	t.Run("workload-closes", func(t *testing.T) {
		ev := filepath.Join(t.TempDir(), "ev.txt")
		r := e.spawntrace(t, runOpts{}, "-c", "-o", ev, "--", "/bin/sh", "-c", "exec 1>&-; /bin/true; echo gone 2>/dev/null; /bin/true; exit 3")
		if r.status != 3 {
			t.Errorf("status %d, want the workload's 3\n%s", r.status, r)
		}
		if len(r.stdout) != 0 {
			t.Errorf("stdout: %q", r.stdout)
		}
		tab := checkCOutput(t, r)
		checkRow(t, "spawntrace", tab, "execve", 3, 0)
		if s := tableSpawns(tab); s != 2 {
			t.Errorf("%d spawns, want 2", s)
		}
		b, err := os.ReadFile(ev)
		if err != nil {
			t.Fatal(err)
		}
		checkEvents(t, string(b), tab, false)
	})
	t.Run("spawntrace-started-closed", func(t *testing.T) {
		dir := t.TempDir()
		ev, rec := filepath.Join(dir, "ev.txt"), filepath.Join(dir, "rec.json")
		// The workload prints a word its command line does not contain.
		r := runCmd(t, runOpts{}, "/bin/sh", "-c", `exec 1>&-; exec "$0" "$@"`, e.bin,
			"-c", "-o", ev, "-w", rec, "--", "/bin/sh", "-c", "echo spawntrace-word-$((6*7)); /bin/true; exit 4")
		if r.status != 4 {
			t.Errorf("status %d, want the workload's 4\n%s", r.status, r)
		}
		checkCOutput(t, r)
		for _, f := range []string{ev, rec} {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte("spawntrace-word-42")) {
				t.Errorf("the workload's stdout went into %s", f)
			}
		}
		if _, err := recording.Load(rec); err != nil {
			t.Errorf("recording: %v", err)
		}
	})
}

// sigCaught reports whether pid has a handler for sig (SigCgt in
// /proc/PID/status).
func sigCaught(pid int, sig syscall.Signal) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "SigCgt:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && mask&(1<<(uint(sig)-1)) != 0
		}
	}
	return false
}

// startIgnoring starts spawntrace ARGS -- trust_ignore SIG... and waits
// until the workload has its handlers in place; it returns the run and the
// workload's pid.
func (e *testEnv) startIgnoring(t *testing.T, args []string, sigs ...syscall.Signal) (*bgRun, int) {
	t.Helper()
	argv := append(append([]string{}, args...), "--", e.Workload("trust_ignore"))
	for _, s := range sigs {
		argv = append(argv, strconv.Itoa(int(s)))
	}
	r := e.start(t, 60*time.Second, argv...)
	pid := workloadPid(t, r, "trust_ignore")
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		ok := true
		for _, s := range sigs {
			ok = ok && sigCaught(pid, s)
		}
		if ok {
			return r, pid
		}
		if time.Now().After(end) {
			t.Fatalf("trust_ignore (pid %d) did not set its handlers within 5s", pid)
		}
	}
}

// TestTrustWorkloadIgnoresSIGTERM: SIGTERM to spawntrace reaches the
// workload once, which survives it, and spawntrace keeps tracing; a SIGKILL
// to the workload then ends both, with exit status 137 and the report
// written.
func TestTrustWorkloadIgnoresSIGTERM(t *testing.T) {
	e := setupEnv(t)
	ev := filepath.Join(t.TempDir(), "ev.txt")
	run, pid := e.startIgnoring(t, []string{"-c", "-o", ev}, syscall.SIGTERM)
	if err := run.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if run.ended(1500 * time.Millisecond) {
		t.Fatalf("spawntrace ended on SIGTERM while its workload, which survives SIGTERM, runs:\n%s", run.res)
	}
	if !alive(pid) {
		t.Fatalf("the workload (pid %d) died of a SIGTERM it handles", pid)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	if !run.ended(10 * time.Second) {
		t.Fatalf("spawntrace still running 10s after its workload was killed")
	}
	r := run.wait(t)
	if r.status != 137 {
		t.Errorf("status %d, want 137 (the workload's SIGKILL)\n%s", r.status, r)
	}
	if got := strings.Count(string(r.stdout), "signal 15\n"); got != 1 {
		t.Errorf("the workload received SIGTERM %d times, want 1 (forwarded once); its stdout: %q", got, r.stdout)
	}
	tab := checkCOutput(t, r)
	checkRow(t, "spawntrace", tab, "execve", 1, 0)
	evs, b := readEvents(t, ev)
	if n := len(evs); n == 0 || evs[n-1].Pid != pid || evs[n-1].Exit != "killed by SIGKILL" {
		t.Errorf("want a last line `%d ... +++ killed by SIGKILL +++`:\n%s", pid, b)
	}
}

// TestTrustWorkloadKilled: a workload killed by SIGKILL from outside, in the
// middle of a spawn loop: exit status 137, its `+++ killed by SIGKILL +++`
// line, and the report written.
func TestTrustWorkloadKilled(t *testing.T) {
	e := setupEnv(t)
	ev := filepath.Join(t.TempDir(), "ev.txt")
	run := e.start(t, 60*time.Second, "-c", "-o", ev, "--", "/bin/sh", "-c", "while :; do /bin/true; done")
	pid := workloadPid(t, run, "sh")
	time.Sleep(500 * time.Millisecond)
	syscall.Kill(pid, syscall.SIGKILL)
	if !run.ended(10 * time.Second) {
		t.Fatalf("spawntrace still running 10s after its workload was killed")
	}
	r := run.wait(t)
	if r.status != 137 {
		t.Errorf("status %d, want 137\n%s", r.status, r)
	}
	tab := checkCOutput(t, r)
	if tableSpawns(tab) < 5 {
		t.Errorf("%d spawns in half a second of a /bin/true loop", tableSpawns(tab))
	}
	evs, b := readEvents(t, ev)
	var exits []string
	for _, x := range evs {
		if x.Pid == pid && x.Exit != "" {
			exits = append(exits, x.Exit)
		}
	}
	if len(exits) != 1 || exits[0] != "killed by SIGKILL" {
		t.Errorf("exit lines of the workload (pid %d): %q, want [\"killed by SIGKILL\"]\n%s", pid, exits, clip(b, 3000))
	}
}

// TestTrustInterruptedTwice: two SIGINTs to spawntrace while its workload
// survives SIGINT: spawntrace must not hang (the second one stops it) and
// still writes the report.
func TestTrustInterruptedTwice(t *testing.T) {
	e := setupEnv(t)
	run, pid := e.startIgnoring(t, []string{"-c"}, syscall.SIGINT)
	run.cmd.Process.Signal(syscall.SIGINT)
	time.Sleep(300 * time.Millisecond)
	run.cmd.Process.Signal(syscall.SIGINT)
	if !run.ended(5 * time.Second) {
		syscall.Kill(pid, syscall.SIGKILL)
		ended := run.ended(5 * time.Second)
		t.Fatalf("spawntrace still running 5s after the second SIGINT (its workload survives SIGINT); "+
			"it ended once the workload was killed: %v", ended)
	}
	r := run.wait(t)
	t.Logf("status %d; workload alive after: %v; workload's stdout %q", r.status, alive(pid), r.stdout)
	tab := checkCOutput(t, r)
	checkRow(t, "spawntrace", tab, "execve", 1, 0)
}

// TestTrustTwoInstances: two spawntraces tracing different workloads at the
// same time each see only their own: posix_spawn of /bin/true (clone3) in
// one, fork and exec of /bin/echo (clone) in the other.
func TestTrustTwoInstances(t *testing.T) {
	e := setupEnv(t)
	const na, nb = 400, 300
	dir := t.TempDir()
	recA, recB := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	evA, evB := filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.txt")
	a := e.start(t, 90*time.Second, "-c", "-o", evA, "-w", recA, "--", e.Workload("posix_spawn"), strconv.Itoa(na), "/bin/true")
	b := e.start(t, 90*time.Second, "-c", "-o", evB, "-w", recB, "--", e.Workload("fork_exec"), strconv.Itoa(nb), "0", "/bin/echo")
	ra, rb := a.wait(t), b.wait(t)
	if ra.status != 0 || rb.status != 0 {
		t.Fatalf("A: %s\nB: %s", ra, rb)
	}
	ta, tb := checkCOutput(t, ra), checkCOutput(t, rb)
	checkRow(t, "A", ta, "clone3", na, 0)
	checkRow(t, "A", ta, "clone", 0, 0)
	checkRow(t, "A", ta, "execve", na+1, 0)
	checkRow(t, "B", tb, "clone", nb, 0)
	checkRow(t, "B", tb, "clone3", 0, 0)
	checkRow(t, "B", tb, "execve", nb+1, 0)
	checkRow(t, "B", tb, "write", nb, 0) // each echo writes its newline
	checkRow(t, "A", ta, "write", 0, 0)

	gotA, gotB := loadRecording(t, recA), loadRecording(t, recB)
	if gotA.StartMonoNs > gotB.EndMonoNs || gotB.StartMonoNs > gotA.EndMonoNs {
		t.Logf("the two runs did not overlap (A %d-%d, B %d-%d): the machine is slow?",
			gotA.StartMonoNs, gotA.EndMonoNs, gotB.StartMonoNs, gotB.EndMonoNs)
	}
	check := func(who string, rec *recording.Recording, spawnNr, n int, exe string, own, comms []string) {
		c := tally(rec)
		if c.ok[spawnNr] != n || len(c.failed) != 0 {
			t.Errorf("%s: %d spawns recorded (failed calls %v), want %d", who, c.ok[spawnNr], c.failed, n)
		}
		want := map[string]int{own[0]: 1, exe: n}
		for name, k := range c.execNames {
			if want[name] != k {
				t.Errorf("%s: %d execs of %q recorded, want %d", who, k, name, want[name])
			}
		}
		for comm := range c.comms {
			if !strings.Contains(strings.Join(comms, " "), comm) {
				t.Errorf("%s: an event of %q, not of its own workload (%v)", who, comm, comms)
			}
		}
	}
	check("A", gotA, sysno.Clone3, na, "/bin/true", []string{e.Workload("posix_spawn")}, []string{"posix_spawn", "true"})
	check("B", gotB, sysno.Clone, nb, "/bin/echo", []string{e.Workload("fork_exec")}, []string{"fork_exec", "echo"})

	pidsOf := func(path string) map[int]bool {
		evs, _ := readEvents(t, path)
		m := map[int]bool{}
		for _, ev := range evs {
			m[ev.Pid] = true
		}
		return m
	}
	pa, pb := pidsOf(evA), pidsOf(evB)
	for p := range pa {
		if pb[p] {
			t.Errorf("pid %d has lines in both -o files", p)
		}
	}
}

// TestTrustOutputToFullDisk: an output that cannot be written (-o, -w, or
// report's and compare's -o on /dev/full) gives one error line, and the
// workload's exit status is not lost: its non-zero status, 1 when it
// succeeded.
func TestTrustOutputToFullDisk(t *testing.T) {
	e := setupEnv(t)
	check := func(t *testing.T, r *cmdResult, want int) {
		t.Helper()
		if r.status != want {
			t.Errorf("status %d, want %d\n%s", r.status, want, r)
		}
		text := string(r.stderr)
		if tab, err := parseTable(text); err == nil {
			text = tab.Before + tab.Rest
		}
		var errs []string
		for _, l := range splitLines([]byte(text)) {
			if !strings.HasPrefix(l, "spawntrace: ") {
				t.Errorf("a line that is neither the table nor a spawntrace: line: %q", l)
			}
			if strings.Contains(l, "/dev/full") {
				errs = append(errs, l)
			}
		}
		if len(errs) != 1 {
			t.Errorf("%d lines naming /dev/full, want one error line:\n%s", len(errs), r.stderr)
		}
	}
	w := e.Workload
	for _, c := range []struct {
		name string
		args []string
		want int
	}{
		{"-o, exit 3", []string{"-o", "/dev/full", "--", w("exit_code"), "3"}, 3},
		{"-o, exit 0", []string{"-o", "/dev/full", "--", w("exit_code"), "0"}, 1},
		{"-o, killed", []string{"-c", "-o", "/dev/full", "--", w("kill_self"), "9"}, 137},
		{"-w, exit 5", []string{"-c", "-w", "/dev/full", "--", w("exit_code"), "5"}, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			check(t, e.spawntrace(t, runOpts{}, c.args...), c.want)
		})
	}
	t.Run("report-and-compare", func(t *testing.T) {
		rec := filepath.Join(t.TempDir(), "rec.json")
		if r := e.spawntrace(t, runOpts{}, "-c", "-w", rec, "--", w("posix_spawn"), "3"); r.status != 0 {
			t.Fatalf("%s", r)
		}
		check(t, e.spawntrace(t, runOpts{}, "report", "-o", "/dev/full", rec), 1)
		check(t, e.spawntrace(t, runOpts{}, "compare", "-o", "/dev/full", rec, rec), 1)
		// The summary on a full stdout.
		for _, args := range [][]string{{"report", rec}, {"compare", rec, rec}} {
			r := runCmd(t, runOpts{}, append([]string{"/bin/sh", "-c", `exec "$0" "$@" >/dev/full`, e.bin}, args...)...)
			if msg := strings.TrimSuffix(string(r.stderr), "\n"); r.status != 1 || msg == "" || strings.Contains(msg, "\n") {
				t.Errorf("want status 1 and one line on stderr, got %s", r)
			}
		}
	})
}
