//go:build integration && linux

package integration

// Helpers shared by the integration tests: building spawntrace and the C
// workloads once per test binary, the root and tool guards (a skip outside
// CI, a failure with CI=true), running commands, and parsing strace -c
// tables and strace -f -tt -T event lines.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testEnv is what the integration tests need: the spawntrace binary and the
// directory holding the compiled workloads.
type testEnv struct {
	bin string // spawntrace, built from this package
	wl  string // compiled workloads, one executable per testdata/workloads/*.c
	dir string // world-readable directory holding both
}

// Workload returns the path of the compiled workload name.
func (e *testEnv) Workload(name string) string { return filepath.Join(e.wl, name) }

var builtEnv struct {
	once sync.Once
	env  *testEnv
	err  error
}

// requireRoot skips a test that needs root, unless CI=true, where skipping
// would hide a failure.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("integration tests need root (CAP_BPF, CAP_PERFMON) and CI=true: run them as root")
	}
	t.Skip("needs root (CAP_BPF, CAP_PERFMON); run as root, or with CI=true to make this a failure")
}

// requireTool finds an external command the tests rely on, failing in CI
// and skipping elsewhere when it is missing.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found in PATH; CI must install it", name)
	}
	t.Skipf("%s not found in PATH", name)
	return ""
}

// setupEnv requires root, then builds spawntrace and the workloads (once per
// test binary) and returns where they are.
func setupEnv(t *testing.T) *testEnv {
	t.Helper()
	requireRoot(t)
	requireTool(t, "cc")
	builtEnv.once.Do(func() { builtEnv.env, builtEnv.err = buildAll() })
	if builtEnv.err != nil {
		t.Fatal(builtEnv.err)
	}
	return builtEnv.env
}

// buildAll builds into /tmp/spawntrace-it-PID. There is no TestMain to
// remove it afterwards (the command's own tests may want TestMain), so the
// directories of earlier test binaries that are no longer running are
// removed here instead.
func buildAll() (*testEnv, error) {
	old, _ := filepath.Glob(filepath.Join(os.TempDir(), "spawntrace-it-*"))
	for _, d := range old {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), "spawntrace-it-"))
		if err != nil || pid == os.Getpid() {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			os.RemoveAll(d)
		}
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("spawntrace-it-%d", os.Getpid()))
	os.RemoveAll(dir)
	env := &testEnv{dir: dir, bin: filepath.Join(dir, "spawntrace"), wl: filepath.Join(dir, "workloads")}
	// World-readable, so tests can run the binary as an unprivileged user.
	if err := os.MkdirAll(env.wl, 0o755); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}

	cmd := exec.Command(goCmd(), "build", "-o", env.bin, "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build spawntrace: %v\n%s", err, out)
	}

	srcs, err := filepath.Glob(filepath.Join("..", "..", "..", "testdata", "workloads", "*.c"))
	if err != nil || len(srcs) == 0 {
		return nil, fmt.Errorf("no workloads in ../../../testdata/workloads (%v)", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(srcs))
	for i, src := range srcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out := filepath.Join(env.wl, strings.TrimSuffix(filepath.Base(src), ".c"))
			cmd := exec.Command("cc", "-O2", "-Wall", "-pthread", "-o", out, src)
			if b, err := cmd.CombinedOutput(); err != nil {
				errs[i] = fmt.Errorf("cc %s: %v\n%s", src, err, b)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return env, nil
}

// goCmd is the go command that runs these tests (go test puts its own
// first in PATH).
func goCmd() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "go"
}

// openDir returns a new temporary directory that any user may enter, read
// and write (t.TempDir's parent is private to root), removed after the test.
func openDir(t *testing.T) string {
	t.Helper()
	d, err := os.MkdirTemp("", "spawntrace-it-open-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o777); err != nil {
		t.Fatal(err)
	}
	return d
}

// cmdResult is the outcome of one command.
type cmdResult struct {
	cmdline  string
	stdout   []byte
	stderr   []byte
	status   int  // as a shell sees it: exit code, or 128+N when killed by signal N
	signaled bool // the process itself died of a signal
	elapsed  time.Duration
}

func (r *cmdResult) String() string {
	return fmt.Sprintf("`%s`: status %d (signaled %v) after %v\nstderr:\n%s",
		r.cmdline, r.status, r.signaled, r.elapsed.Round(time.Millisecond), r.stderr)
}

// runOpts adjusts how runCmd starts a command.
type runOpts struct {
	env     []string // replaces the environment when set
	stdin   []byte
	timeout time.Duration // 60s when zero
	cred    *syscall.Credential
}

// runCmd runs argv to completion (or kills it after the timeout, which fails
// the test) and returns its output and status.
func runCmd(t *testing.T, o runOpts, argv ...string) *cmdResult {
	t.Helper()
	timeout := o.timeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	r, err := runDuring(cmd, o, func() error { return nil })
	if ctx.Err() != nil {
		t.Fatalf("%s: timed out after %v\nstderr:\n%s", r.cmdline, timeout, r.stderr)
	}
	if err != nil {
		t.Fatalf("%s: %v", r.cmdline, err)
	}
	return r
}

// runDuring starts cmd, calls during() while it runs, and waits for it.
func runDuring(cmd *exec.Cmd, o runOpts, during func() error) (*cmdResult, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if o.stdin != nil {
		cmd.Stdin = bytes.NewReader(o.stdin)
	}
	if o.env != nil {
		cmd.Env = o.env
	}
	if o.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: o.cred}
	}
	r := &cmdResult{cmdline: strings.Join(cmd.Args, " ")}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return r, err
	}
	derr := during()
	werr := cmd.Wait()
	r.elapsed = time.Since(start)
	r.stdout, r.stderr = stdout.Bytes(), stderr.Bytes()
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) {
		return r, werr
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case ws.Signaled():
		r.status, r.signaled = 128+int(ws.Signal()), true
	default:
		r.status = ws.ExitStatus()
	}
	return r, derr
}

// spawntrace runs bin/spawntrace with args.
func (e *testEnv) spawntrace(t *testing.T, o runOpts, args ...string) *cmdResult {
	t.Helper()
	return runCmd(t, o, append([]string{e.bin}, args...)...)
}

// straceCount runs `strace -f -c -w -o FILE argv...` and returns strace's
// table and the command's result.
func straceCount(t *testing.T, o runOpts, argv ...string) (*countTable, *cmdResult) {
	t.Helper()
	strace := requireTool(t, "strace")
	out := filepath.Join(t.TempDir(), "strace-c.txt")
	r := runCmd(t, o, append([]string{strace, "-f", "-c", "-w", "-o", out, "--"}, argv...)...)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("%s: %v", r, err)
	}
	tab, err := parseTable(string(b))
	if err != nil {
		t.Fatalf("strace's own table does not parse: %v\n%s", err, b)
	}
	if strings.TrimSpace(tab.Rest) != "" {
		t.Fatalf("strace wrote more than one table:\n%s", b)
	}
	return tab, r
}

// ---- strace -c tables ----

// tableRow is one row of an strace -c table (or its total line).
type tableRow struct {
	Pct     float64
	Seconds float64
	Usecs   uint64
	Calls   uint64
	Errors  uint64
	Name    string
}

// countTable is a parsed strace -c table.
type countTable struct {
	Rows   []tableRow
	Total  tableRow
	ByName map[string]tableRow
	// Text is the table itself, header to total line, newline-terminated.
	Text string
	// Before and Rest are what came before the header and after the total line.
	Before, Rest string
}

// Calls returns the calls of syscall name (0 when it has no row).
func (t *countTable) Calls(name string) uint64 { return t.ByName[name].Calls }

// Errors returns the errors of syscall name (0 when it has no row).
func (t *countTable) Errors(name string) uint64 { return t.ByName[name].Errors }

var (
	dashRe    = regexp.MustCompile(`^-+( -+){5}$`)
	pctRe     = regexp.MustCompile(`^[0-9]+\.[0-9]{2}$`)
	secondsRe = regexp.MustCompile(`^[0-9]+\.[0-9]{6}$`)
	uintRe    = regexp.MustCompile(`^(0|[1-9][0-9]*)$`)
	posRe     = regexp.MustCompile(`^[1-9][0-9]*$`)
	nameRe    = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
)

// parseTable finds an strace -c table in text (the first line starting with
// "% time") and parses it strictly, as strace 6.x prints it (src/count.c,
// call_summary_pers): right-aligned columns separated by one space, whose
// widths are those of the dash line (6, 11, 11, 9, 9, 16 unless a value needs
// more), errors blank when zero, rows sorted by time, then a dash line and the
// total line. It stops after the total line and checks that the total adds up.
func parseTable(text string) (*countTable, error) {
	lines := strings.SplitAfter(text, "\n")
	h := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "% time") {
			h = i
			break
		}
	}
	if h < 0 {
		return nil, errors.New("no table header (a line starting with \"% time\")")
	}
	tab := &countTable{ByName: map[string]tableRow{}, Before: strings.Join(lines[:h], "")}
	line := func(i int) (string, error) {
		if i >= len(lines) || lines[i] == "" {
			return "", fmt.Errorf("table ends early, after line %d", i)
		}
		if !strings.HasSuffix(lines[i], "\n") {
			return "", fmt.Errorf("line %d has no newline: %q", i+1, lines[i])
		}
		return strings.TrimSuffix(lines[i], "\n"), nil
	}

	dash, err := line(h + 1)
	if err != nil {
		return nil, err
	}
	if !dashRe.MatchString(dash) {
		return nil, fmt.Errorf("line %d: not a dash line: %q", h+2, dash)
	}
	var w [6]int
	for i, f := range strings.Split(dash, " ") {
		w[i] = len(f)
	}
	for i, min := range [6]int{6, 11, 11, 9, 9, 16} {
		if w[i] < min {
			return nil, fmt.Errorf("line %d: column %d is %d wide, strace's is at least %d: %q", h+2, i+1, w[i], min, dash)
		}
	}
	if w[0] != 6 {
		return nil, fmt.Errorf("line %d: %% time column is %d wide, not 6", h+2, w[0])
	}
	wantHeader := fmt.Sprintf("%*s %*s %*s %*s %*s %s", w[0], "% time", w[1], "seconds",
		w[2], "usecs/call", w[3], "calls", w[4], "errors", "syscall")
	if header, _ := line(h); header != wantHeader {
		return nil, fmt.Errorf("line %d: header %q, want %q", h+1, header, wantHeader)
	}

	parseRow := func(n int, l string) (tableRow, error) {
		var row tableRow
		bad := func(format string, a ...any) (tableRow, error) {
			return row, fmt.Errorf("line %d: %s: %q", n, fmt.Sprintf(format, a...), l)
		}
		fields := make([]string, 6)
		pos := 0
		for i := 0; i < 5; i++ {
			if len(l) < pos+w[i]+1 {
				return bad("too short for column %d", i+1)
			}
			f := l[pos : pos+w[i]]
			if l[pos+w[i]] != ' ' {
				return bad("column %d is wider than %d", i+1, w[i])
			}
			v := strings.TrimLeft(f, " ")
			if strings.Contains(v, " ") || (v == "" && i != 4) {
				return bad("column %d is not one right-aligned value", i+1)
			}
			fields[i] = v
			pos += w[i] + 1
		}
		fields[5] = l[pos:]
		if !pctRe.MatchString(fields[0]) {
			return bad("%% time %q", fields[0])
		}
		if !secondsRe.MatchString(fields[1]) {
			return bad("seconds %q", fields[1])
		}
		if !uintRe.MatchString(fields[2]) {
			return bad("usecs/call %q", fields[2])
		}
		if !posRe.MatchString(fields[3]) {
			return bad("calls %q", fields[3])
		}
		if fields[4] != "" && !posRe.MatchString(fields[4]) {
			return bad("errors %q (blank when zero)", fields[4])
		}
		if !nameRe.MatchString(fields[5]) {
			return bad("syscall name %q", fields[5])
		}
		row.Pct, _ = strconv.ParseFloat(fields[0], 64)
		row.Seconds, _ = strconv.ParseFloat(fields[1], 64)
		row.Usecs, _ = strconv.ParseUint(fields[2], 10, 64)
		row.Calls, _ = strconv.ParseUint(fields[3], 10, 64)
		if fields[4] != "" {
			row.Errors, _ = strconv.ParseUint(fields[4], 10, 64)
		}
		row.Name = fields[5]
		if row.Errors > row.Calls {
			return bad("more errors than calls")
		}
		// usecs/call is the integer part of seconds/calls in µs; seconds
		// is rounded to the µs, so allow one either way.
		if avg := row.Seconds * 1e6 / float64(row.Calls); math.Abs(float64(row.Usecs)-avg) > 1.0001 {
			return bad("usecs/call %d but seconds/calls is %.1f µs", row.Usecs, avg)
		}
		return row, nil
	}

	i := h + 2
	for {
		l, err := line(i)
		if err != nil {
			return nil, err
		}
		if l == dash {
			break
		}
		row, err := parseRow(i+1, l)
		if err != nil {
			return nil, err
		}
		if row.Name == "total" {
			return nil, fmt.Errorf("line %d: total row before the closing dash line", i+1)
		}
		if _, dup := tab.ByName[row.Name]; dup {
			return nil, fmt.Errorf("line %d: second row for %s", i+1, row.Name)
		}
		if n := len(tab.Rows); n > 0 && row.Seconds > tab.Rows[n-1].Seconds {
			return nil, fmt.Errorf("line %d: rows not sorted by time: %s %.6f after %s %.6f",
				i+1, row.Name, row.Seconds, tab.Rows[n-1].Name, tab.Rows[n-1].Seconds)
		}
		tab.Rows = append(tab.Rows, row)
		tab.ByName[row.Name] = row
		i++
	}
	l, err := line(i + 1)
	if err != nil {
		return nil, err
	}
	total, err := parseRow(i+2, l)
	if err != nil {
		return nil, err
	}
	if total.Name != "total" {
		return nil, fmt.Errorf("line %d: expected the total line, got %q", i+2, l)
	}
	if total.Pct != 100 {
		return nil, fmt.Errorf("line %d: total %% time is %.2f, strace prints 100.00", i+2, total.Pct)
	}
	tab.Total = total
	tab.Text = strings.Join(lines[h:i+2], "")
	tab.Rest = strings.Join(lines[i+2:], "")

	// The total must add up.
	var calls, errs uint64
	var secs float64
	for _, r := range tab.Rows {
		calls += r.Calls
		errs += r.Errors
		secs += r.Seconds
	}
	if calls != total.Calls || errs != total.Errors {
		return nil, fmt.Errorf("total says %d calls %d errors, rows add up to %d calls %d errors",
			total.Calls, total.Errors, calls, errs)
	}
	if tol := 0.5e-6*float64(len(tab.Rows)+1) + 1e-9; math.Abs(secs-total.Seconds) > tol {
		return nil, fmt.Errorf("total says %.6f s, rows add up to %.6f s", total.Seconds, secs)
	}
	// % time is 100*seconds/total, from unrounded times.
	for _, r := range tab.Rows {
		want := 0.0
		if total.Seconds > 0 {
			want = 100 * r.Seconds / total.Seconds
		}
		tol := 0.0051
		if total.Seconds > 0 {
			tol += 100 * 1e-6 * float64(len(tab.Rows)+1) / total.Seconds
		}
		if math.Abs(r.Pct-want) > tol {
			return nil, fmt.Errorf("%s: %% time %.2f, but its seconds make it %.2f", r.Name, r.Pct, want)
		}
	}
	return tab, nil
}

// ---- strace -f -tt -T event lines ----

// eventLine is one line of an -o file.
type eventLine struct {
	Pid    int
	Time   string // HH:MM:SS.uuuuuu
	Call   string // syscall name; empty for exit lines
	Args   string
	Ret    int64
	Errno  string // ENOENT, ...; empty on success
	Dur    float64
	Exit   string // "exited with N" or "killed by SIGX", for +++ lines
	Mode   string // "32 bit" or "64 bit", for "[ Process PID=N runs in ... mode. ]" lines
	Line   string
	LineNo int
}

var (
	eventHeadRe = regexp.MustCompile(`^([1-9][0-9]*) +([0-2][0-9]:[0-5][0-9]:[0-6][0-9]\.[0-9]{6}) (.*)$`)
	exitRe      = regexp.MustCompile(`^\+\+\+ (exited with [0-9]+|killed by SIG[A-Z0-9]+( \(core dumped\))?) \+\+\+$`)
	modeRe      = regexp.MustCompile(`^\[ Process PID=([1-9][0-9]*) runs in (32 bit|64 bit) mode\. \]$`)
	timedCallRe = regexp.MustCompile(`^([a-z_][a-z0-9_]*)\((.*)\) += (-?[0-9]+|0x[0-9a-f]+)(?: (E[A-Z0-9]+) \(([^()]+)\))? <([0-9]+\.[0-9]{6})>$`)
)

// readEvents reads and strictly parses an -o file.
func readEvents(t *testing.T, path string) ([]eventLine, []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := parseEvents(string(b))
	if err != nil {
		t.Fatalf("-o lines do not parse: %v\n%s", err, clip(b, 4000))
	}
	return evs, b
}

// parseEvents parses an -o file strictly: every line is a complete call
// line (`PID   HH:MM:SS.uuuuuu call(args) = ret <secs>`, the pid padded to 5
// columns, ` ERRNO (text)` after a -1) or an exit line
// (`PID   HH:MM:SS.uuuuuu +++ exited with N +++`) or a change of
// personality, as strace prints it to a terminal
// (`PID   HH:MM:SS.uuuuuu [ Process PID=PID runs in 32 bit mode. ]`).
func parseEvents(text string) ([]eventLine, error) {
	var evs []eventLine
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		l := sc.Text()
		m := eventHeadRe.FindStringSubmatch(l)
		if m == nil {
			return nil, fmt.Errorf("line %d: not `PID HH:MM:SS.uuuuuu ...`: %q", n, l)
		}
		ev := eventLine{Time: m[2], Line: l, LineNo: n}
		ev.Pid, _ = strconv.Atoi(m[1])
		// strace -f prints the pid as "%-5d " (src/strace.c, printleader).
		if !strings.HasPrefix(l, fmt.Sprintf("%-5d %s ", ev.Pid, ev.Time)) {
			return nil, fmt.Errorf("line %d: pid not printed as strace's %%-5d: %q", n, l)
		}
		rest := m[3]
		if x := modeRe.FindStringSubmatch(rest); x != nil {
			if x[1] != m[1] {
				return nil, fmt.Errorf("line %d: another task's personality: %q", n, l)
			}
			ev.Mode = x[2]
			evs = append(evs, ev)
			continue
		}
		if x := exitRe.FindStringSubmatch(rest); x != nil {
			ev.Exit = x[1]
			evs = append(evs, ev)
			continue
		}
		c := timedCallRe.FindStringSubmatch(rest)
		if c == nil {
			return nil, fmt.Errorf("line %d: neither `call(args) = ret <secs>` nor `+++ ... +++`: %q", n, l)
		}
		ev.Call, ev.Args, ev.Errno = c[1], c[2], c[4]
		ev.Ret, _ = strconv.ParseInt(c[3], 0, 64)
		ev.Dur, _ = strconv.ParseFloat(c[6], 64)
		if (ev.Ret == -1) != (ev.Errno != "") {
			return nil, fmt.Errorf("line %d: an error return needs -1 and an errno name, and only then: %q", n, l)
		}
		evs = append(evs, ev)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if !strings.HasSuffix(text, "\n") && text != "" {
		return nil, errors.New("last line has no newline")
	}
	return evs, nil
}

// ---- processes ----

// descendant polls /proc until a descendant of pid whose comm is comm
// exists, and returns its pid (0 after the timeout).
func descendant(pid int, comm string, timeout time.Duration) int {
	for end := time.Now().Add(timeout); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		parent := map[int]int{}
		comms := map[int]string{}
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			p, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			c, pp, _, ok := procStat(p)
			if ok {
				parent[p], comms[p] = pp, c
			}
		}
		// The shallowest match: a shell's forked children are named like
		// it until they exec, and picking one of those instead of the
		// shell itself left the shell running after the test.
		best, bestDepth := 0, 0
		for p, c := range comms {
			if c != comm {
				continue
			}
			depth := 1
			for a := parent[p]; a > 1; a, depth = parent[a], depth+1 {
				if a == pid {
					if best == 0 || depth < bestDepth || depth == bestDepth && p < best {
						best, bestDepth = p, depth
					}
					break
				}
			}
		}
		if best != 0 {
			return best
		}
	}
	return 0
}

// procStat reads comm, ppid and state of pid from /proc/PID/stat.
func procStat(pid int) (comm string, ppid int, state byte, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, 0, false
	}
	s := string(b)
	l, r := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if l < 0 || r < l || len(s) < r+4 {
		return "", 0, 0, false
	}
	f := strings.Fields(s[r+2:])
	if len(f) < 2 {
		return "", 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	return s[l+1 : r], ppid, f[0][0], true
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	_, _, st, ok := procStat(pid)
	return ok && st != 'Z' && st != 'X'
}

// compileC builds C source into an executable in dir.
func compileC(t *testing.T, dir, name, src string) string {
	t.Helper()
	c := filepath.Join(dir, name+".c")
	prog := filepath.Join(dir, name)
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cc", "-O2", "-Wall", "-o", prog, c).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	return prog
}
