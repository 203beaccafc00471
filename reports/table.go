package reports

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/syscalls"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// WriteSyscallTable writes stats in the layout of `strace -c`, byte for
// byte: strace 6.1's count.c (call_summary) with its default columns,
// widths and printf formats, rows by time descending. Rows without calls are
// left out, as strace leaves out syscalls it did not see. As strace, the
// calls of each personality have a table of their own: x86_64's, then,
// under "System call usage summary for 32 bit mode:", i386's (a 32-bit
// program's calls, or a 64-bit one's int $0x80).
func WriteSyscallTable(w io.Writer, stats []recording.SyscallStat) error {
	var rows64, rows32 []recording.SyscallStat
	for _, s := range tableRows(stats) {
		if s.ABI == tracer.ABII386 {
			rows32 = append(rows32, s)
		} else {
			rows64 = append(rows64, s)
		}
	}
	bw := newTermWriter(w)
	// strace leaves out a personality without calls; with none at all,
	// the x86_64 table stands empty.
	if len(rows64) > 0 || len(rows32) == 0 {
		writeTable(bw, rows64)
	}
	if len(rows32) > 0 {
		bw.printf("System call usage summary for %s mode:\n", tracer.ABII386.Mode())
		writeTable(bw, rows32)
	}
	return bw.Flush()
}

// writeTable writes one personality's table (count.c's call_summary_pers).
func writeTable(bw *termWriter, rows []recording.SyscallStat) {
	// strace sorts by time only (qsort, so ties fall anyhow); calls and name
	// break ties here so that the output is reproducible.
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.TimeNs != b.TimeNs {
			return a.TimeNs > b.TimeNs
		}
		if a.Calls != b.Calls {
			return a.Calls > b.Calls
		}
		return a.Name < b.Name
	})

	totalNs, totalCalls, totalErrors, _ := syscallTotals(rows)
	var maxAvgNs uint64
	nameWidth := 16 // strace's historical minimum, as for the other columns
	for _, r := range rows {
		maxAvgNs = max(maxAvgNs, avgNs(r.TimeNs, r.Calls))
		nameWidth = max(nameWidth, len(r.Name)+1)
	}
	total := seconds(totalNs)
	// Each column is as wide as its header's historical size or its widest
	// value, measured as count.c does.
	secW := max(11, len(fmt.Sprintf("%.6f", total)))
	avgW := max(11, len(fmt.Sprintf("%d", usecs(maxAvgNs))))
	callsW := max(9, len(fmt.Sprintf("%d", totalCalls)))
	errW := max(9, len(fmt.Sprintf("%d", totalErrors)))

	bw.printf("%6s %*s %*s %*s %*s %s\n", "% time", secW, "seconds", avgW, "usecs/call",
		callsW, "calls", errW, "errors", "syscall")
	dashes := strings.Join([]string{strings.Repeat("-", 6), strings.Repeat("-", secW),
		strings.Repeat("-", avgW), strings.Repeat("-", callsW), strings.Repeat("-", errW),
		strings.Repeat("-", nameWidth)}, " ") + "\n"
	bw.WriteString(dashes)
	for _, r := range rows {
		t := seconds(r.TimeNs)
		// As count.c: 100*t first, divided only when not zero (0/0 is NaN).
		percent := 100.0 * t
		if percent != 0 {
			percent /= total
		}
		bw.printf("%6.2f %*.6f %*d %*d %*s %s\n", percent, secW, t,
			avgW, usecs(avgNs(r.TimeNs, r.Calls)), callsW, r.Calls, errW, errorCell(r.Errors), r.Name)
	}
	bw.WriteString(dashes)
	// The total's usecs/call is the float quotient, truncated (count.c).
	var totalAvg uint64
	if totalCalls > 0 {
		totalAvg = uint64(total / float64(totalCalls) * 1e6)
	}
	bw.printf("%6.2f %*.6f %*d %*d %*s %s\n", 100.0, secW, total,
		avgW, totalAvg, callsW, totalCalls, errW, errorCell(totalErrors), "total")
}

// tableRows are the stats with calls, named.
func tableRows(stats []recording.SyscallStat) []recording.SyscallStat {
	rows := make([]recording.SyscallStat, 0, len(stats))
	for _, s := range stats {
		if s.Calls > 0 {
			if s.Name == "" {
				s.Name = syscalls.SyscallName(s.ABI, s.Nr)
			}
			rows = append(rows, s)
		}
	}
	return rows
}

// syscallTotals sums the rows' time, calls and errors, each saturating at
// the largest uint64 (a recording's counts can be anything: a total that
// wrapped would print as small); saturated says one did.
func syscallTotals(rows []recording.SyscallStat) (ns, calls, errors uint64, saturated bool) {
	for _, r := range rows {
		ns = tracer.SatAdd(ns, r.TimeNs)
		calls = tracer.SatAdd(calls, r.Calls)
		errors = tracer.SatAdd(errors, r.Errors)
	}
	return ns, calls, errors, max(ns, calls, errors) == math.MaxUint64
}

// seconds is strace's ts_float: whole seconds plus the nanoseconds divided,
// converted apart so the float rounds as strace's does.
func seconds(ns uint64) float64 {
	return float64(ns/1e9) + float64(ns%1e9)/1e9
}

// avgNs is strace's ts_div: the mean rounded to the nearest nanosecond,
// (ns + calls/2) / calls computed without the sum's overflow.
func avgNs(ns, calls uint64) uint64 {
	q, r := ns/calls, ns%calls
	if r >= calls-calls/2 {
		q++
	}
	return q
}

// usecs is how count.c turns a mean into usecs/call: (uint64_t)(ts_float * 1e6).
func usecs(ns uint64) uint64 {
	return uint64(seconds(ns) * 1e6)
}

// errorCell is count.c's "%.0llu": a zero prints as nothing.
func errorCell(n uint64) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d", n)
}

// WriteCountReport writes rec's syscall table, then notes saying what the
// numbers are and what is missing from them, each starting "spawntrace: ".
func WriteCountReport(w io.Writer, rec *recording.Recording) error {
	// exit and exit_group never return, so strace -c, which counts at
	// syscall exit, has no row for them; leave them out whatever the
	// kernel side counted, so the table compares with strace's.
	var stats []recording.SyscallStat
	for _, s := range rec.Syscalls {
		if nr := s.ABI.Nr64(s.Nr); nr != sysno.Exit && nr != sysno.ExitGroup {
			stats = append(stats, s)
		}
	}
	bw := newTermWriter(w)
	// Without the syscall probes the table would be all zeros: leave it out
	// (the unavailable probe below says so).
	if !probeUnavailable(rec, tracer.SyscallsProbe) {
		if err := WriteSyscallTable(bw, stats); err != nil {
			return err
		}
		if _, _, _, saturated := syscallTotals(tableRows(stats)); saturated {
			fmt.Fprintln(bw, "spawntrace: a total reached 2^64-1 and stopped there: the recording's counts are not real")
		}
	}
	procs, threads := rec.Exits()
	if rec.SpawnCallsOnly {
		fmt.Fprintln(bw, "spawntrace: --spawns-only: only clone, clone3, fork, vfork, execve, execveat and socketpair were counted; the other syscalls are not measured")
	}
	fmt.Fprintln(bw, "spawntrace: seconds are wall-clock time in each call, as strace -c -w shows (not CPU time)")
	fmt.Fprintln(bw, "spawntrace: exit and exit_group never return, so, as in strace -c, they are not in the table")
	bw.printf("spawntrace: %d %s exited, and %d other %s\n",
		procs, plural(procs, "process", "processes"), threads, plural(threads, "thread", "threads"))
	bw.printf("spawntrace: lost events: %s\n", lostText(rec.Lost))
	for _, p := range rec.Probes {
		if p.Fallback != "" {
			bw.printf("spawntrace: fallback: %s (%s): %s\n", p.Name, p.Reason, p.Fallback)
			continue
		}
		if p.Available {
			continue
		}
		if p.Reason != "" {
			bw.printf("spawntrace: unavailable: %s (%s)\n", p.Name, p.Reason)
		} else {
			bw.printf("spawntrace: unavailable: %s\n", p.Name)
		}
		if feeds := ProbeFeeds(p.Name); feeds != "" {
			bw.printf("spawntrace: not measured: %s\n", feeds)
		}
	}
	return bw.Flush()
}

// lostText is the total of l and, when not zero, what the losses were.
func lostText(l tracer.Lost) string {
	if l.Total() == 0 {
		return "0"
	}
	var parts []string
	for _, p := range []struct {
		n         uint64
		one, many string
	}{
		{l.Events, "event dropped on a full ring buffer", "events dropped on a full ring buffer"},
		{l.SyscallSlots, "syscall not timed", "syscalls not timed"},
		{l.SpawnSlots, "spawn call not paired", "spawn calls not paired"},
		{l.TrackedLimits, "process not followed", "processes not followed"},
	} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, plural(int(p.n), p.one, p.many)))
		}
	}
	return fmt.Sprintf("%d (%s)", l.Total(), strings.Join(parts, ", "))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
