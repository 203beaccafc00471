//go:build integration && linux

package integration

// Tests of the integration tests' own parsers. They need no root: a parser
// that accepts a broken table would let the integration tests pass on one.

import (
	"fmt"
	"strings"
	"testing"
)

// straceGolden is the output of `strace -f -c -w -o FILE posix_spawnp 5`
// (strace 6.1) with PATH=/nonex1:/nonex2:/usr/bin:/bin.
const straceGolden = `% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 38.40    0.022316        4463         5           clone3
 31.01    0.018020        3603         5           wait4
 15.62    0.009078          14       610           rt_sigaction
  4.12    0.002394         149        16        10 execve
  2.93    0.001705          32        53           mmap
  1.27    0.000738          67        11           munmap
  1.05    0.000607          33        18           mprotect
  0.86    0.000500          41        12           openat
  0.67    0.000388          19        20           rt_sigprocmask
  0.66    0.000381          31        12           close
  0.60    0.000346          28        12           newfstatat
  0.56    0.000325          27        12           pread64
  0.37    0.000217          36         6           brk
  0.32    0.000188          31         6           rseq
  0.32    0.000187          31         6         6 access
  0.28    0.000163          27         6           read
  0.26    0.000151          25         6           set_tid_address
  0.25    0.000148          24         6           prlimit64
  0.24    0.000138          22         6           set_robust_list
  0.21    0.000122          20         6           arch_prctl
------ ----------- ----------- --------- --------- ----------------
100.00    0.058111          69       834        16 total
`

func TestParseTableGolden(t *testing.T) {
	in := "some noise before\n" + straceGolden + "spawntrace: lost events: 0\n"
	tab, err := parseTable(in)
	if err != nil {
		t.Fatal(err)
	}
	if tab.Text != straceGolden {
		t.Errorf("Text is not the table:\n%s", tab.Text)
	}
	if tab.Before != "some noise before\n" || tab.Rest != "spawntrace: lost events: 0\n" {
		t.Errorf("Before %q, Rest %q", tab.Before, tab.Rest)
	}
	if len(tab.Rows) != 20 {
		t.Errorf("%d rows, want 20", len(tab.Rows))
	}
	for _, c := range []struct {
		name          string
		calls, errors uint64
	}{{"clone3", 5, 0}, {"execve", 16, 10}, {"access", 6, 6}, {"rt_sigaction", 610, 0}, {"vfork", 0, 0}} {
		if tab.Calls(c.name) != c.calls || tab.Errors(c.name) != c.errors {
			t.Errorf("%s: %d calls %d errors, want %d %d", c.name, tab.Calls(c.name), tab.Errors(c.name), c.calls, c.errors)
		}
	}
	if tab.Total.Calls != 834 || tab.Total.Errors != 16 || tab.Total.Usecs != 69 || tab.Total.Seconds != 0.058111 {
		t.Errorf("total %+v", tab.Total)
	}
}

// formatTable prints rows the way strace's call_summary_pers does,
// including its widening of columns for large values.
func formatTable(rows []tableRow) string {
	var tot tableRow
	var secs float64
	nameW := 16
	for _, r := range rows {
		tot.Calls += r.Calls
		tot.Errors += r.Errors
		secs += r.Seconds
		nameW = max(nameW, len(r.Name)+1)
	}
	maxUsecs := uint64(0)
	for _, r := range rows {
		maxUsecs = max(maxUsecs, uint64(r.Seconds*1e6/float64(r.Calls)))
	}
	w := [6]int{6, max(11, len(fmt.Sprintf("%.6f", secs))), max(11, len(fmt.Sprint(maxUsecs))),
		max(9, len(fmt.Sprint(tot.Calls))), max(9, len(fmt.Sprint(tot.Errors))), nameW}
	var b strings.Builder
	fmt.Fprintf(&b, "%*s %*s %*s %*s %*s %s\n", w[0], "% time", w[1], "seconds", w[2], "usecs/call", w[3], "calls", w[4], "errors", "syscall")
	dash := ""
	for i, n := range w {
		if i > 0 {
			dash += " "
		}
		dash += strings.Repeat("-", n)
	}
	b.WriteString(dash + "\n")
	row := func(pct, s float64, usecs, calls, errs uint64, name string) {
		e := ""
		if errs != 0 {
			e = fmt.Sprint(errs)
		}
		fmt.Fprintf(&b, "%*.2f %*.6f %*d %*d %*s %s\n", w[0], pct, w[1], s, w[2], usecs, w[3], calls, w[4], e, name)
	}
	for _, r := range rows {
		row(100*r.Seconds/secs, r.Seconds, uint64(r.Seconds*1e6/float64(r.Calls)), r.Calls, r.Errors, r.Name)
	}
	b.WriteString(dash + "\n")
	row(100, secs, uint64(secs/float64(tot.Calls)*1e6), tot.Calls, tot.Errors, "total")
	return b.String()
}

func TestParseTableWideColumns(t *testing.T) {
	rows := []tableRow{
		{Seconds: 123456.5, Calls: 3, Name: "wait4"},
		{Seconds: 2.25, Calls: 1234567890, Errors: 1234567890, Name: "a_very_long_syscall_name"},
		{Seconds: 0.000001, Calls: 1, Name: "getpid"},
	}
	text := formatTable(rows)
	tab, err := parseTable(text)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	if tab.Calls("a_very_long_syscall_name") != 1234567890 || tab.Errors("a_very_long_syscall_name") != 1234567890 || tab.Calls("wait4") != 3 {
		t.Errorf("wrong values:\n%s", text)
	}
}

func TestParseTableRejects(t *testing.T) {
	g := straceGolden
	for _, c := range []struct{ name, text string }{
		{"empty", ""},
		{"no header", strings.SplitN(g, "\n", 2)[1]},
		{"header spacing", strings.Replace(g, "% time     seconds", "% time    seconds", 1)},
		{"header name", strings.Replace(g, "errors syscall", "errs   syscall", 1)},
		{"no dash line", strings.Replace(g, "------ ----------- ----------- --------- --------- ----------------\n 38.40", " 38.40", 1)},
		{"short dash", strings.Replace(g, "------ ----------- ----------- --------- --------- ----------------\n 38", "------ ---------- ----------- --------- --------- ----------------\n 38", 1)},
		{"no total", strings.TrimSuffix(g, "100.00    0.058111          69       834        16 total\n")},
		{"no closing dash", strings.Replace(g, "  0.21    0.000122          20         6           arch_prctl\n------ ----------- ----------- --------- --------- ----------------\n", "  0.21    0.000122          20         6           arch_prctl\n", 1)},
		{"total without newline", strings.TrimSuffix(g, "\n")},
		{"misaligned", strings.Replace(g, " 38.40    0.022316        4463         5           clone3", " 38.40   0.022316         4463         5           clone3", 1)},
		{"shifted name", strings.Replace(g, "         5           clone3", "         5            clone3", 1)},
		{"trailing space", strings.Replace(g, "clone3\n", "clone3 \n", 1)},
		{"tab", strings.Replace(g, "       5           clone3", "       5\t          clone3", 1)},
		{"zero errors printed", strings.Replace(g, "         5           clone3", "         5         0 clone3", 1)},
		{"zero calls", strings.Replace(g, "  0.21    0.000122          20         6           arch_prctl", "  0.21    0.000122          20         0           arch_prctl", 1)},
		{"seconds precision", strings.Replace(g, " 38.40    0.022316 ", " 38.40     0.02232 ", 1)},
		{"pct precision", strings.Replace(g, " 38.40    0.022316 ", "  38.4    0.022316 ", 1)},
		{"non-number", strings.Replace(g, "        4463         5", "        44x3         5", 1)},
		{"usecs/call wrong", strings.Replace(g, "        4463         5", "        4400         5", 1)},
		{"pct wrong", strings.Replace(g, " 38.40    0.022316", " 37.40    0.022316", 1)},
		{"unsorted", strings.Replace(strings.Replace(g, " 31.01    0.018020        3603         5           wait4\n", "", 1),
			"  0.21    0.000122          20         6           arch_prctl\n",
			"  0.21    0.000122          20         6           arch_prctl\n 31.01    0.018020        3603         5           wait4\n", 1)},
		{"duplicate row", strings.Replace(g, "  0.32    0.000188          31         6           rseq", "  0.32    0.000188          31         6           brk", 1)},
		{"total calls", strings.Replace(g, "       834        16 total", "       835        16 total", 1)},
		{"total errors", strings.Replace(g, "       834        16 total", "       834        15 total", 1)},
		{"total seconds", strings.Replace(g, "100.00    0.058111          69", "100.00    0.058211          69", 1)},
		{"total pct", strings.Replace(g, "100.00    0.058111", " 99.99    0.058111", 1)},
		{"total name", strings.Replace(g, "16 total", "16 sum", 1)},
		{"more errors than calls", strings.Replace(strings.Replace(g, "         6         6 access", "         6         7 access", 1), "834        16 total", "834        17 total", 1)},
		{"garbage row", strings.Replace(g, "  0.37    0.000217          36         6           brk\n", "  0.37    0.000217          36         6           brk\nspawntrace: oops\n", 1)},
	} {
		if c.text == g {
			t.Errorf("%s: the mutation did not change the table", c.name)
			continue
		}
		if tab, err := parseTable(c.text); err == nil {
			t.Errorf("%s: parsed a malformed table:\n%s", c.name, tab.Text)
		}
	}
}

func TestParseEvents(t *testing.T) {
	// Pids are printed "%-5d ", as strace -f does.
	good := `7048  19:50:01.123456 execve("/tmp/w/posix_spawnp", ["/tmp/w/posix_spawnp", "5"], 0x7ffd5a1c2b38 /* 39 vars */) = 0 <0.000512>
7048  19:50:01.124000 clone3({flags=CLONE_VM|CLONE_VFORK, exit_signal=SIGCHLD, stack=0x7f1c2a5f6000, stack_size=0x9000}, 88) = 7049 <0.004100>
7049  19:50:01.124100 execve("/nonex1/true", ["true"], 0x7ffd5a1c2b38 /* 39 vars */) = -1 ENOENT (No such file or directory) <0.000020>
7049  19:50:01.124200 execve("/usr/bin/true", ["true"], 0x7ffd5a1c2b38 /* 39 vars */) = 0 <0.000300>
7048  19:50:01.125000 socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC, 0, [3, 4]) = 0 <0.000010>
7048  19:50:01.125100 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f1c2a7fea10) = 7050 <0.000700>
7050  19:50:01.126000 +++ killed by SIGKILL +++
7049  19:50:01.126100 +++ exited with 0 +++
`
	evs, err := parseEvents(good)
	if err != nil {
		t.Fatal(err)
	}
	mode, err := parseEvents("7048  19:50:01.123456 [ Process PID=7048 runs in 32 bit mode. ]\n")
	if err != nil || len(mode) != 1 || mode[0].Mode != "32 bit" || mode[0].Call != "" {
		t.Errorf("personality line: %+v %v", mode, err)
	}
	if len(evs) != 8 || evs[1].Call != "clone3" || evs[1].Ret != 7049 || evs[2].Errno != "ENOENT" || evs[2].Ret != -1 ||
		evs[6].Exit != "killed by SIGKILL" || evs[7].Exit != "exited with 0" || evs[7].Pid != 7049 {
		t.Errorf("parsed wrong: %+v", evs)
	}
	for _, bad := range []string{
		"7048  19:50:01.123456 vfork() = 7049\n",                                           // no duration
		"7048  19:50:01.1234 vfork() = 7049 <0.000100>\n",                                  // short time
		"19:50:01.123456 vfork() = 7049 <0.000100>\n",                                      // no pid
		"7048  19:50:01.123456 vfork( <unfinished ...>\n",                                  // unpaired
		"7048  19:50:01.123456 <... vfork resumed>) = 7049 <0.000100>\n",                   // unpaired
		"7048  19:50:01.123456 execve(\"/x\", [\"x\"], 0x1 /* 1 var */) = -1 <0.000100>\n", // no errno
		"7048  19:50:01.123456 +++ exited with 0\n",
		"7048  19:50:01.123456 --- SIGCHLD {si_signo=SIGCHLD} ---\n",
		"7048  19:50:01.123456 vfork() = 7049 <0.000100>",                   // no final newline
		"7048 19:50:01.123456 vfork() = 7049 <0.000100>\n",                  // pid not padded to 5
		"123456 19:50:01.123456 vfork() = 7049 <0.000100>x\n",               // trailing garbage
		"7048   19:50:01.123456 vfork() = 7049 <0.000100>\n",                // padded too far
		"7048  19:50:01.123456 [ Process PID=7049 runs in 32 bit mode. ]\n", // another task's
		"7048  19:50:01.123456 [ Process PID=7048 runs in 16 bit mode. ]\n",
	} {
		if _, err := parseEvents(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
