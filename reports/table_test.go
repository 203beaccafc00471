package reports

import (
	"bufio"
	"bytes"
	"errors"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// readStats reads testdata/strace_cw_stats.txt: "name calls errors time_ns".
func readStats(t *testing.T) []recording.SyscallStat {
	t.Helper()
	f, err := os.Open("testdata/strace_cw_stats.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stats []recording.SyscallStat
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		var n [3]uint64
		fields := strings.Fields(line)
		if len(fields) != 4 {
			t.Fatalf("bad line %q", line)
		}
		for i := range n {
			if n[i], err = strconv.ParseUint(fields[i+1], 10, 64); err != nil {
				t.Fatal(err)
			}
		}
		stats = append(stats, recording.SyscallStat{Name: fields[0], Calls: n[0], Errors: n[1], TimeNs: n[2]})
	}
	return stats
}

// TestSyscallTableMatchesStrace: testdata/strace_cw_table.txt is what
//
//	strace -f -c -w -o out sh -c 'ls /usr/bin >/dev/null; ./spawn; cat /nonexistent 2>/dev/null; true'
//
// printed; fed the same numbers, in another order, WriteSyscallTable prints
// the same bytes.
func TestSyscallTableMatchesStrace(t *testing.T) {
	stats := readStats(t)
	// Shuffle deterministically: the writer sorts.
	for i := range stats {
		j := (i * 7) % len(stats)
		stats[i], stats[j] = stats[j], stats[i]
	}
	var buf bytes.Buffer
	if err := WriteSyscallTable(&buf, stats); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/strace_cw_table.txt")
	if err != nil {
		t.Fatal(err)
	}
	if buf.String() != string(want) {
		t.Errorf("got:\n%s\nwant (strace's):\n%s", buf.Bytes(), want)
	}
}

// TestSyscallTableWide: columns grow past their historical widths as
// count.c grows them; ties in time go to more calls, then the name; rows
// without calls are left out; a name missing from the stat comes from the
// syscall number.
func TestSyscallTableWide(t *testing.T) {
	stats := []recording.SyscallStat{
		{Nr: 435, Name: "clone3", Calls: 3, TimeNs: 9_000_000},
		{Nr: 13, Name: "rt_sigaction", Calls: 12_345_678_901, Errors: 10_000_000_000, TimeNs: 123_456_789_012_345},
		{Nr: 14, Name: "rt_sigprocmask", Calls: 4, TimeNs: 9_000_000},
		{Nr: 56, Calls: 4, TimeNs: 9_000_000},
		{Nr: 0, Name: "read", Calls: 0, TimeNs: 0},
		{Nr: 334, Name: "a_name_longer_than_sixteen", Calls: 1, TimeNs: 0},
		{Nr: 61, Name: "wait4", Calls: 1, TimeNs: 98_765_432_100},
	}
	var buf bytes.Buffer
	if err := WriteSyscallTable(&buf, stats); err != nil {
		t.Fatal(err)
	}
	golden(t, "table_wide.golden", buf.Bytes())
}

// TestSyscallTableEmpty: with no calls strace would divide 0 by 0; the
// table stays well-formed.
func TestSyscallTableEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteSyscallTable(&buf, nil); err != nil {
		t.Fatal(err)
	}
	golden(t, "table_empty.golden", buf.Bytes())
}

func countRecording() *recording.Recording {
	rec := newRecording([]tracer.Event{
		{Kind: tracer.KindExit, Tid: 10, Pid: 10, ExitCode: 0, GroupDead: true},
		{Kind: tracer.KindExit, Tid: 11, Pid: 10, ExitCode: 0},
		{Kind: tracer.KindExit, Tid: 12, Pid: 12, ExitCode: 9, GroupDead: true},
		{Kind: tracer.KindSyscall, Tid: 10, Nr: sysno.Vfork, Ret: 12},
	})
	rec.Syscalls = []recording.SyscallStat{
		{Nr: sysno.Clone3, Name: "clone3", Calls: 2, TimeNs: 18_000_000},
		{Nr: sysno.Execve, Name: "execve", Calls: 12, Errors: 10, TimeNs: 900_000},
		{Nr: sysno.ExitGroup, Name: "exit_group", Calls: 2},
		{Nr: sysno.Exit, Name: "exit", Calls: 1},
		{Nr: 13, Name: "rt_sigaction", Calls: 244, TimeNs: 122_000},
	}
	rec.Probes = []tracer.Probe{
		{Name: "tracepoint/syscalls/sys_enter_clone3", Available: true},
		{Name: "tracepoint/mmap_lock/mmap_lock_acquire_returned", Reason: "tracepoint not found"},
		{Name: "fexit/dup_mmap", Reason: "load: operation not permitted"},
		{Name: "kprobe/dup_mmap"},
	}
	return rec
}

func TestCountReport(t *testing.T) {
	rec := countRecording()
	var buf bytes.Buffer
	if err := WriteCountReport(&buf, rec); err != nil {
		t.Fatal(err)
	}
	golden(t, "count_lost0.golden", buf.Bytes())

	rec.Lost = tracer.Lost{Events: 3, TrackedLimits: 1}
	buf.Reset()
	if err := WriteCountReport(&buf, rec); err != nil {
		t.Fatal(err)
	}
	golden(t, "count_lost.golden", buf.Bytes())
	for _, line := range strings.Split(buf.String(), "\n") {
		if strings.HasSuffix(line, " exit_group") || strings.HasSuffix(line, " exit") {
			t.Errorf("exit or exit_group has a row in the table: %q", line)
		}
	}
}

func TestTableWriteError(t *testing.T) {
	if err := WriteSyscallTable(failWriter{}, readStats(t)); !errors.Is(err, errFull) {
		t.Errorf("WriteSyscallTable: %v, want %v", err, errFull)
	}
	if err := WriteCountReport(failWriter{}, countRecording()); !errors.Is(err, errFull) {
		t.Errorf("WriteCountReport: %v, want %v", err, errFull)
	}
}

// TestCountersNear2to64: counts a recording can hold but no run produces.
// The totals saturate at 2^64-1 (said in a note) rather than wrap to small
// numbers; a mean does not overflow on the way; lost counts that would sum
// past 2^64 do not print as "lost events: 0".
func TestCountersNear2to64(t *testing.T) {
	const top = math.MaxUint64
	rec := countRecording()
	rec.Syscalls = []recording.SyscallStat{
		{Nr: 13, Name: "rt_sigaction", Calls: top - 1, Errors: top - 1, TimeNs: top - 1},
		{Nr: 14, Name: "rt_sigprocmask", Calls: 3, Errors: 2, TimeNs: top},
		{Nr: 61, Name: "wait4", Calls: 2, TimeNs: 5},
	}
	rec.Lost = tracer.Lost{Events: top, SpawnSlots: 1}
	var buf bytes.Buffer
	if err := WriteCountReport(&buf, rec); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	var total string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasSuffix(line, " total") {
			total = line
		}
	}
	f := strings.Fields(total)
	if len(f) != 6 || f[3] != "18446744073709551615" || f[4] != "18446744073709551615" {
		t.Errorf("total line %q: want calls and errors saturated at 18446744073709551615\n%s", total, out)
	}
	if s, err := strconv.ParseFloat(f[1], 64); err != nil || s < 1.8e10 {
		t.Errorf("total line %q: seconds %q wrapped (want ~1.8e10)", total, f[1])
	}
	// rt_sigprocmask's mean: (2^64-1)/3 = 6148914691236517205 ns, exactly.
	if !strings.Contains(out, " 6148914691236517 ") {
		t.Errorf("rt_sigprocmask's usecs/call overflowed:\n%s", out)
	}
	if !strings.Contains(out, "spawntrace: a total reached 2^64-1 and stopped there") {
		t.Errorf("no note on the saturated total:\n%s", out)
	}
	if !strings.Contains(out, "spawntrace: lost events: 18446744073709551615 (") {
		t.Errorf("lost total wrapped:\n%s", out)
	}
	buf.Reset()
	if err := WriteLostWarning(&buf, rec.Lost); err != nil || !strings.Contains(buf.String(), "lost events: 18446744073709551615") {
		t.Errorf("lost warning: %v %q", err, buf.String())
	}
}

// TestCountReportBackend: a ptrace recording says which calls its backend
// counted (a seccomp filter's), not --spawns-only, which was never given.
func TestCountReportBackend(t *testing.T) {
	rec := countRecording()
	rec.Backend, rec.SpawnCallsOnly = tracer.BackendPtrace, true
	var buf bytes.Buffer
	if err := WriteCountReport(&buf, rec); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "spawntrace: ptrace backend: only clone, clone3, fork, vfork, execve, execveat, socketpair and pipe2 were counted") ||
		strings.Contains(out, "--spawns-only") {
		t.Errorf("the footer does not say what the ptrace backend counted:\n%s", out)
	}
}
