//go:build integration && linux

package integration

import (
	"fmt"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// Tests of strace's flags: each runs one workload under strace and under
// spawntrace with the same flags and compares what both print: -o lines
// modulo pids, times and addresses; -c rows by name, order and header.

// flagsScript is a workload of every spawn mechanism, with failed execs
// (a PATH search, a missing program) and a long argument (for -s).
func flagsScript(e *testEnv) string {
	w := e.Workload
	return strings.Join([]string{
		w("posix_spawnp") + " 3",
		w("fork_exec") + " 3",
		w("vfork_exec") + " 3",
		w("rust_spawn") + " 2",
		w("rust_spawn") + " 2 /nonexistent-spawntrace/true",
		"/bin/true aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa b c d e f g h i j",
		"/nonexistent-spawntrace/x 2>/dev/null",
		"exit 0",
	}, "; ")
}

var (
	normPidRe     = regexp.MustCompile(`^[1-9][0-9]* +`)
	normDigitRe   = regexp.MustCompile(`[0-9]`)
	normStampRe   = regexp.MustCompile(`^([0-9:.]+ )`)
	normDurRe     = regexp.MustCompile(` <[0-9]+\.[0-9]{6}>$`)
	normRetRe     = regexp.MustCompile(`^((?:clone|clone3|fork|vfork)\(.*\) += )[1-9][0-9]*`)
	normHexRe     = regexp.MustCompile(`0x[0-9a-f]+`)
	normSpaceRe   = regexp.MustCompile(` +=`)
	resumedHalfRe = regexp.MustCompile(`^<\.\.\. ([a-z0-9_]+) resumed>(.*)$`)
)

// normLines turns -o lines into what must be equal between strace and
// spawntrace: the spawn calls and exit lines, pids and the digits of
// stamps and durations replaced (their form kept), addresses and the
// children's pids clone returns replaced; strace's "<unfinished ...>" and
// "<... resumed>" halves joined, whose padding before "=" strace counts
// on the resumed half, so for those (and every vfork, whose line strace
// always splits) the padding is one space. Sorted: the
// order in which tasks' lines interleave is not the same run to run.
func normLines(t *testing.T, text string) []string {
	t.Helper()
	unfinished := map[string]string{}
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if l == "" {
			continue
		}
		pidPart := normPidRe.FindString(l)
		if pidPart == "" {
			t.Fatalf("line without a pid: %q", l)
		}
		pid := strings.TrimSpace(pidPart)
		rest := l[len(pidPart):]
		stamp := normStampRe.FindString(rest)
		rest = rest[len(stamp):]
		joined := false
		if strings.HasSuffix(rest, " <unfinished ...>") {
			unfinished[pid] = strings.TrimSuffix(rest, " <unfinished ...>")
			continue
		}
		if m := resumedHalfRe.FindStringSubmatch(rest); m != nil {
			rest, joined = unfinished[pid]+m[2], true
			delete(unfinished, pid)
		}
		isExit := strings.HasPrefix(rest, "+++ exited") || strings.HasPrefix(rest, "+++ killed")
		name, _, _ := strings.Cut(rest, "(")
		if !isExit && !slices.Contains(eventCalls, name) {
			continue // strace's other calls, signals, "[ Process ..." lines
		}
		// strace always splits vfork's line (its child runs first).
		if joined || name == "vfork" {
			rest = normSpaceRe.ReplaceAllString(rest, " =")
		}
		rest = normRetRe.ReplaceAllString(rest, "${1}PID")
		rest = normHexRe.ReplaceAllString(rest, "0xADDR")
		if d := normDurRe.FindString(rest); d != "" {
			rest = strings.TrimSuffix(rest, d) + normDigitRe.ReplaceAllString(d, "N")
		}
		out = append(out, "PID "+normDigitRe.ReplaceAllString(stamp, "N")+rest)
	}
	sort.Strings(out)
	return out
}

// straceLines runs `strace -f -o FILE flags... -- argv` and returns FILE.
func straceLines(t *testing.T, o runOpts, flags []string, argv ...string) string {
	t.Helper()
	strace := requireTool(t, "strace")
	out := filepath.Join(t.TempDir(), "strace.txt")
	args := append([]string{strace, "-f", "-o", out}, flags...)
	r := runCmd(t, o, append(append(args, "--"), argv...)...)
	if r.status != 0 {
		t.Fatalf("strace: %s", r)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// diffLines reports the lines in one list and not the other.
func diffLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	count := map[string]int{}
	for _, l := range want {
		count[l]++
	}
	for _, l := range got {
		count[l]--
	}
	bad := 0
	for l, n := range count {
		if n != 0 {
			if bad++; bad <= 10 {
				t.Errorf("%s: %+d in strace's lines against spawntrace's: %s", what, n, l)
			}
		}
	}
	if bad == 0 && len(got) == 0 {
		t.Errorf("%s: no lines at all", what)
	}
}

// TestStraceFlagsLines: -o lines under -t, -tt, -ttt, -T, -s, -Z,
// -e status=failed and -e trace= are strace's lines under the same flags.
func TestStraceFlagsLines(t *testing.T) {
	e := setupEnv(t)
	env := environ(missingDirs + ":" + trueBinDir(t))
	argv := []string{"/bin/sh", "-c", flagsScript(e)}
	for _, flags := range [][]string{
		{"-tt", "-T"}, // spawntrace's default, which the plain run checks too
		nil,
		{"-T"},
		{"-t"},
		{"-ttt", "-T"},
		{"-s", "8"},
		{"-s", "100"},
		{"-Z"},
		{"-e", "status=failed"},
		{"-e", "trace=execve"},
		{"-e", "trace=%process"},
		{"-e", "trace=!execve,clone3"},
		{"-e", "trace=%network"},
	} {
		name := strings.Join(flags, " ")
		t.Run(name, func(t *testing.T) {
			// Without a flag that shapes the stamps, spawntrace's lines
			// are strace -tt -T's.
			straceFlags, stFlags := flags, flags
			if !slices.ContainsFunc(flags, func(f string) bool { return f == "-t" || f == "-tt" || f == "-ttt" || f == "-T" }) {
				straceFlags = append([]string{"-tt", "-T"}, flags...)
				if flags != nil {
					stFlags = straceFlags
				}
			}
			want := normLines(t, straceLines(t, runOpts{env: env}, straceFlags, argv...))
			ev := filepath.Join(t.TempDir(), "ev.txt")
			r := e.spawntrace(t, runOpts{env: env}, append(append([]string{"-c", "-o", ev}, stFlags...), append([]string{"--"}, argv...)...)...)
			if r.status != 0 {
				t.Fatalf("%s", r)
			}
			b, err := os.ReadFile(ev)
			if err != nil {
				t.Fatal(err)
			}
			diffLines(t, name, normLines(t, string(b)), want)
		})
	}
}

// classScript makes calls of every class strace names: files, stats,
// descriptors, a pipe and select, sockets (a pair and TCP on loopback),
// signals, memory maps, credentials and a subprocess.
const classScript = `
import os, socket, signal, mmap, select, subprocess, tempfile
d = tempfile.mkdtemp()
p = os.path.join(d, "f")
with open(p, "w") as f:
    f.write("x")
os.stat(p); os.lstat(p); os.access(p, os.R_OK); os.statvfs(d); os.fstatvfs(os.open(d, os.O_RDONLY))
os.rename(p, p + "2"); os.unlink(p + "2"); os.rmdir(d)
r, w = os.pipe(); os.write(w, b"x"); select.select([r], [], [], 0); os.read(r, 1); os.dup(r)
a, b = socket.socketpair(); a.send(b"x"); b.recv(1)
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
c = socket.create_connection(s.getsockname()); conn, _ = s.accept(); c.getsockname(); c.shutdown(socket.SHUT_RDWR)
signal.signal(signal.SIGUSR1, lambda *a: None); os.kill(os.getpid(), signal.SIGUSR1)
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2])
m = mmap.mmap(-1, 1 << 20); m[0] = 1; m.close()
os.getuid(); os.getgid(); os.geteuid(); os.getresuid(); os.setgroups(os.getgroups())
os.getppid(); os.umask(0o22)
subprocess.run(["/bin/true"])
`

// tableNames returns the row names of the first strace -c table in text
// (any columns, the name last), in order.
func tableNames(t *testing.T, text string) (header string, names []string) {
	t.Helper()
	lines := strings.Split(text, "\n")
	h := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "syscall") && !strings.HasPrefix(l, "spawntrace:") })
	if h < 0 {
		return "", nil // strace prints no table when -e trace= left every call out
	}
	for _, l := range lines[h+2:] {
		if strings.HasPrefix(l, "---") {
			return lines[h], names
		}
		f := strings.Fields(l)
		names = append(names, f[len(f)-1])
	}
	t.Fatalf("table without an end:\n%s", text)
	return "", nil
}

// straceTable runs strace -f -c -w flags... -- argv and returns its table.
func straceTable(t *testing.T, o runOpts, flags []string, argv ...string) string {
	t.Helper()
	strace := requireTool(t, "strace")
	out := filepath.Join(t.TempDir(), "strace-c.txt")
	args := append([]string{strace, "-f", "-c", "-w", "-o", out}, flags...)
	r := runCmd(t, o, append(append(args, "--"), argv...)...)
	if r.status != 0 {
		t.Fatalf("strace: %s", r)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestStraceFlagsClasses: -e trace= with each of strace's classes, a
// negation and a list keeps the rows strace keeps. A call one run made
// and the other did not (Python's start is not quite the same each run)
// is not held against either: a row is wrong when the other tool's
// unfiltered run had the call and its filtered one left it out.
func TestStraceFlagsClasses(t *testing.T) {
	e := setupEnv(t)
	argv := []string{python(t), "-c", classScript}
	_, straceAll := tableNames(t, straceTable(t, runOpts{}, nil, argv...))
	r := e.spawntrace(t, runOpts{}, append([]string{"-c", "--"}, argv...)...)
	if r.status != 0 {
		t.Fatalf("%s", r)
	}
	_, stAll := tableNames(t, string(r.stderr))
	for _, set := range []string{"%file", "%process", "%network", "%net", "%signal", "%desc", "%memory",
		"%creds", "%stat", "%lstat", "%fstat", "%%stat", "%statfs", "%fstatfs", "%%statfs", "%pure",
		"%clock", "!%file", "file", "read,write,%signal", "!%desc,%memory", "?nosuchcall,getpid"} {
		t.Run(set, func(t *testing.T) {
			_, want := tableNames(t, straceTable(t, runOpts{}, []string{"-e", "trace=" + set}, argv...))
			r := e.spawntrace(t, runOpts{}, append([]string{"-c", "-e", "trace=" + set, "--"}, argv...)...)
			if r.status != 0 {
				t.Fatalf("%s", r)
			}
			_, got := tableNames(t, string(r.stderr))
			for _, n := range got {
				if !slices.Contains(want, n) && slices.Contains(straceAll, n) {
					t.Errorf("-e trace=%s: spawntrace shows %s, strace leaves it out (strace: %v)", set, n, want)
				}
			}
			for _, n := range want {
				if !slices.Contains(got, n) && slices.Contains(stAll, n) {
					t.Errorf("-e trace=%s: strace shows %s, spawntrace leaves it out (spawntrace: %v)", set, n, got)
				}
			}
			if (len(want) == 0) != (len(got) == 0) {
				t.Errorf("-e trace=%s: spawntrace has rows %v, strace %v", set, got, want)
			}
			t.Logf("-e trace=%s: %d rows, strace %d", set, len(got), len(want))
		})
	}
}

// TestStraceFlagsTable: -S sorts the -c table and -U picks its columns
// as strace's do: the same header, the same rows, in an order strace's
// key gives (ties fall anyhow in strace's qsort); -S nothing keeps
// strace's order, the syscall numbers'.
func TestStraceFlagsTable(t *testing.T) {
	e := setupEnv(t)
	env := environ(missingDirs + ":" + trueBinDir(t))
	argv := []string{"/bin/sh", "-c", flagsScript(e)}
	for _, flags := range [][]string{
		{"-S", "calls"}, {"-S", "errors"}, {"-S", "name"}, {"-S", "nothing"}, {"-S", "time"},
		{"-U", "calls,name,errors"}, {"-U", "name,calls"}, {"-U", "errors,calls"},
		{"-U", "time-percent,total-time,avg-time,calls,errors,name", "-S", "calls"},
		{"-e", "trace=%process", "-S", "name"},
	} {
		name := strings.Join(flags, " ")
		t.Run(name, func(t *testing.T) {
			wantHeader, want := tableNames(t, straceTable(t, runOpts{env: env}, flags, argv...))
			r := e.spawntrace(t, runOpts{env: env}, append(append([]string{"-c"}, flags...), append([]string{"--"}, argv...)...)...)
			if r.status != 0 {
				t.Fatalf("%s", r)
			}
			gotHeader, got := tableNames(t, string(r.stderr))
			if gotHeader != wantHeader {
				t.Errorf("header %q, strace's %q", gotHeader, wantHeader)
			}
			// The rows: the same names, and where the key orders them,
			// the same order. The key is compared by what both tables
			// show: for these spawn-heavy runs, calls and errors are
			// the same in both; time is not, so -S time checks only
			// that spawntrace's own rows are in time order.
			common := func(names, other []string) []string {
				var out []string
				for _, n := range names {
					if slices.Contains(other, n) {
						out = append(out, n)
					}
				}
				return out
			}
			g, w := common(got, want), common(want, got)
			if len(g) < len(want)-3 {
				t.Errorf("rows %v, strace's %v", got, want)
			}
			switch {
			case slices.Contains(flags, "name"):
				if !slices.IsSorted(got) {
					t.Errorf("-S name: rows not sorted by name: %v", got)
				}
				if !slices.Equal(g, w) {
					t.Errorf("rows %v, strace's %v", g, w)
				}
			case slices.Contains(flags, "nothing"):
				if !slices.Equal(g, w) {
					t.Errorf("-S nothing: rows %v, strace's (by number) %v", g, w)
				}
			}
		})
	}
	// -S calls: the calls column never grows down the table, in both.
	r := e.spawntrace(t, runOpts{env: env}, append([]string{"-c", "-S", "calls", "-U", "calls,name", "--"}, argv...)...)
	prev := uint64(1 << 63)
	for _, l := range strings.Split(string(r.stderr), "\n")[2:] {
		if strings.HasPrefix(l, "---") {
			break
		}
		var n uint64
		var name string
		if _, err := fmt.Sscan(l, &n, &name); err != nil {
			t.Fatalf("row %q: %v", l, err)
		}
		if n > prev {
			t.Errorf("-S calls: %s with %d calls after a row of %d", name, n, prev)
		}
		prev = n
	}
}

// TestStraceFlagsSummaryPlus: -C writes the lines (to -o, or before the
// table on stderr) and the table, as strace -C writes both.
func TestStraceFlagsSummaryPlus(t *testing.T) {
	e := setupEnv(t)
	env := environ(missingDirs + ":" + trueBinDir(t))
	argv := []string{"/bin/sh", "-c", flagsScript(e)}
	text := straceLines(t, runOpts{env: env}, []string{"-C", "-w", "-tt", "-T"}, argv...)
	i := strings.Index(text, "% time")
	if i < 0 {
		t.Fatalf("strace -C wrote no table:\n%s", text)
	}
	want := normLines(t, text[:i])
	st, err := parseTable(text[i:])
	if err != nil {
		t.Fatal(err)
	}

	ev := filepath.Join(t.TempDir(), "ev.txt")
	r := e.spawntrace(t, runOpts{env: env}, append([]string{"-C", "-o", ev, "--"}, argv...)...)
	if r.status != 0 {
		t.Fatalf("%s", r)
	}
	b, err := os.ReadFile(ev)
	if err != nil {
		t.Fatal(err)
	}
	diffLines(t, "-C -o", normLines(t, string(b)), want)
	tab := checkCOutput(t, r)
	for _, name := range eventCalls {
		checkRow(t, "spawntrace -C", tab, name, st.Calls(name), st.Errors(name))
	}

	// Without -o the lines come first on stderr, then the table alone.
	r = e.spawntrace(t, runOpts{env: env}, append([]string{"-C", "--"}, argv...)...)
	out := string(r.stderr)
	j := strings.Index(out, "% time")
	if j < 0 {
		t.Fatalf("no table:\n%s", out)
	}
	diffLines(t, "-C", normLines(t, out[:j]), want)
	if strings.Contains(out[j:], "Spawns: ") {
		t.Errorf("-C printed the spawn section, strace -C prints the table alone:\n%s", out[j:])
	}
}

// TestStraceFlagsCheapPath: a -e trace= set of spawn calls alone takes
// --spawns-only's path; one with other calls does not.
func TestStraceFlagsCheapPath(t *testing.T) {
	e := setupEnv(t)
	for _, c := range []struct {
		set  string
		want bool
	}{{"execve,clone,clone3,vfork", true}, {"%process", false}, {"!execve", false}} {
		rec := filepath.Join(openDir(t), "rec.json")
		r := e.spawntrace(t, runOpts{}, "-c", "-e", "trace="+c.set, "-w", rec, "--", "/bin/sh", "-c", "/bin/true; /bin/true")
		if r.status != 0 {
			t.Fatalf("%s", r)
		}
		loaded, err := recording.Load(rec)
		if err != nil {
			t.Fatal(err)
		}
		if loaded.SpawnCallsOnly != c.want {
			t.Errorf("-e trace=%s: recorded with --spawns-only %v, want %v", c.set, loaded.SpawnCallsOnly, c.want)
		}
	}
}

// TestStraceFlagsBadValues: an unknown name, class, column or status is
// one line naming it, exit 2, before anything runs.
func TestStraceFlagsBadValues(t *testing.T) {
	e := setupEnv(t)
	for _, c := range []struct {
		args []string
		bad  string
	}{
		{[]string{"-e", "trace=nosuchcall"}, "nosuchcall"},
		{[]string{"-e", "trace=%nosuchclass"}, "%nosuchclass"},
		{[]string{"-e", "trace=execve,bogus"}, "bogus"},
		{[]string{"-e", "status=weird"}, "weird"},
		{[]string{"-e", "inject=all:error=EPERM"}, "inject"},
		{[]string{"-S", "bogus"}, "bogus"},
		{[]string{"-U", "calls,bogus"}, "bogus"},
		{[]string{"-U", "max-time"}, "max-time"},
		{[]string{"-s", "0"}, "-s 0"},
	} {
		r := e.spawntrace(t, runOpts{}, append(c.args, "--", "/bin/true")...)
		lines := strings.Split(strings.TrimSuffix(string(r.stderr), "\n"), "\n")
		if r.status != 2 || len(lines) != 1 || !strings.Contains(lines[0], c.bad) {
			t.Errorf("%v: status %d, stderr %q; want 2 and one line naming %q", c.args, r.status, r.stderr, c.bad)
		}
	}
	r := e.spawntrace(t, runOpts{}, "-V")
	if r.status != 0 || !strings.HasPrefix(string(r.stdout), "spawntrace ") {
		t.Errorf("-V: %s\nstdout %q", r, r.stdout)
	}
}
