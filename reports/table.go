package reports

import (
	"fmt"
	"io"
	"math"
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
	return WriteSyscallTableWith(w, stats, DefaultTableOptions)
}

// WriteSyscallTableWith is WriteSyscallTable shaped by opts (strace's -S,
// -U and -e trace=).
func WriteSyscallTableWith(w io.Writer, stats []recording.SyscallStat, opts TableOptions) error {
	var rows64, rows32 []recording.SyscallStat
	for _, s := range opts.keep(tableRows(stats)) {
		if s.ABI == tracer.ABII386 {
			rows32 = append(rows32, s)
		} else {
			rows64 = append(rows64, s)
		}
	}
	bw := newTermWriter(w)
	// strace leaves out a personality without calls; with none at all,
	// the x86_64 table stands empty, unless -e trace= left every call
	// out: then strace prints no table.
	if len(rows64) > 0 || len(rows32) == 0 && opts.Trace == nil {
		writeTable(bw, rows64, opts)
	}
	if len(rows32) > 0 {
		bw.printf("System call usage summary for %s mode:\n", tracer.ABII386.Mode())
		writeTable(bw, rows32, opts)
	}
	return bw.Flush()
}

// writeTable writes one personality's table (count.c's call_summary_pers).
func writeTable(bw *termWriter, rows []recording.SyscallStat, opts TableOptions) {
	opts.sortRows(rows)
	cols := opts.Columns
	if len(cols) == 0 {
		cols = DefaultColumns
	}

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
	widths := map[Column]int{
		ColumnPercent: 6,
		ColumnTotal:   max(11, len(fmt.Sprintf("%.6f", total))),
		ColumnAvg:     max(11, len(fmt.Sprintf("%d", usecs(maxAvgNs)))),
		ColumnCalls:   max(9, len(fmt.Sprintf("%d", totalCalls))),
		ColumnErrors:  max(9, len(fmt.Sprintf("%d", totalErrors))),
		ColumnName:    nameWidth,
	}
	headers := map[Column]string{ColumnPercent: "% time", ColumnTotal: "seconds", ColumnAvg: "usecs/call",
		ColumnCalls: "calls", ColumnErrors: "errors", ColumnName: "syscall"}
	// cells writes one line: the name column is left-aligned, and unpadded
	// when last (count.c's CF_L and last_fmt).
	line := func(cell func(Column) string) {
		var b strings.Builder
		for i, c := range cols {
			if i > 0 {
				b.WriteByte(' ')
			}
			switch {
			case c == ColumnName && i == len(cols)-1:
				b.WriteString(cell(c))
			case c == ColumnName:
				fmt.Fprintf(&b, "%-*s", widths[c], cell(c))
			default:
				fmt.Fprintf(&b, "%*s", widths[c], cell(c))
			}
		}
		bw.line(b.String())
	}
	dashes := func(c Column) string { return strings.Repeat("-", widths[c]) }
	line(func(c Column) string { return headers[c] })
	line(dashes)
	for _, r := range rows {
		t := seconds(r.TimeNs)
		// As count.c: 100*t first, divided only when not zero (0/0 is NaN).
		percent := 100.0 * t
		if percent != 0 {
			percent /= total
		}
		line(func(c Column) string {
			switch c {
			case ColumnPercent:
				return fmt.Sprintf("%.2f", percent)
			case ColumnTotal:
				return fmt.Sprintf("%.6f", t)
			case ColumnAvg:
				return fmt.Sprintf("%d", usecs(avgNs(r.TimeNs, r.Calls)))
			case ColumnCalls:
				return fmt.Sprintf("%d", r.Calls)
			case ColumnErrors:
				return errorCell(r.Errors)
			}
			// Escaped before it is padded, as printf's arguments are.
			return TermSafe(r.Name)
		})
	}
	line(dashes)
	// The total's usecs/call is the float quotient, truncated (count.c).
	var totalAvg uint64
	if totalCalls > 0 {
		totalAvg = uint64(total / float64(totalCalls) * 1e6)
	}
	line(func(c Column) string {
		switch c {
		case ColumnPercent:
			return "100.00"
		case ColumnTotal:
			return fmt.Sprintf("%.6f", total)
		case ColumnAvg:
			return fmt.Sprintf("%d", totalAvg)
		case ColumnCalls:
			return fmt.Sprintf("%d", totalCalls)
		case ColumnErrors:
			return errorCell(totalErrors)
		}
		return "total"
	})
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

// estimatedRows counts the rows whose time was estimated from a sample.
func estimatedRows(rows []recording.SyscallStat) int {
	n := 0
	for _, r := range rows {
		if r.TimeEstimated() {
			n++
		}
	}
	return n
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
	return WriteCountReportWith(w, rec, DefaultTableOptions)
}

// WriteCountReportWith is WriteCountReport with the table shaped by opts.
func WriteCountReportWith(w io.Writer, rec *recording.Recording, opts TableOptions) error {
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
		if err := WriteSyscallTableWith(bw, stats, opts); err != nil {
			return err
		}
		rows := opts.keep(tableRows(stats))
		if _, _, _, saturated := syscallTotals(rows); saturated {
			fmt.Fprintln(bw, "spawntrace: a total reached 2^64-1 and stopped there: the recording's counts are not real")
		}
		if n := estimatedRows(rows); n > 0 {
			bw.printf("spawntrace: estimated: %% time, seconds and usecs/call of %d of the %d rows: past a syscall's first %d calls on a CPU, "+
				"a random 1 in %d was timed (calls and errors are exact)\n", n, len(rows), tracer.ExactTimedCalls, tracer.TimeSampleEvery)
		}
	}
	procs, threads := rec.Exits()
	if opts.Trace != nil {
		bw.printf("spawntrace: -e trace=%s: only those calls are in the table\n", opts.Trace)
	}
	switch {
	case rec.BackendName() == tracer.BackendPtrace:
		fmt.Fprintln(bw, "spawntrace: ptrace backend: only clone, clone3, fork, vfork, execve, execveat, socketpair and pipe2 were counted "+
			"(a seccomp filter stops the tree at them alone); the other syscalls are not measured")
	case rec.SpawnCallsOnly:
		fmt.Fprintln(bw, "spawntrace: --spawns-only: only clone, clone3, fork, vfork, execve, execveat, socketpair and pipe2 were counted; the other syscalls are not measured")
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
	return fmt.Sprintf("%d (%s)", l.Total(), strings.Join(lostParts(l), ", "))
}

// lostParts words each kind of loss in l that is not zero: the one
// definition of what every report says was lost.
func lostParts(l tracer.Lost) []string {
	var parts []string
	for _, p := range []struct {
		n         uint64
		one, many string
	}{
		{l.Events, "event dropped on a full ring buffer", "events dropped on a full ring buffer"},
		{l.SyscallSlots, "syscall not timed", "syscalls not timed"},
		{l.SpawnSlots, "spawn call not paired", "spawn calls not paired"},
		{l.TrackedLimits, "process not followed", "processes not followed"},
		{l.CompatCalls, "32-bit spawn call made before spawntrace attached its 32-bit path (its fork seen; the tree's 32-bit failed execs, pipe2 and socketpair of that time not counted)",
			"32-bit spawn calls made before spawntrace attached its 32-bit path (their forks seen; the tree's 32-bit failed execs, pipe2 and socketpair of that time not counted)"},
	} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, plural(int(p.n), p.one, p.many)))
		}
	}
	return append(parts, skipTexts(l.Skipped)...)
}

// skipWords says, by tracer.Skip's Measure, what one and many runs the
// kernel skipped left out.
var skipWords = map[string][2]string{
	tracer.SkipSyscalls:  {"syscall not counted", "syscalls not counted"},
	tracer.SkipForks:     {"new process not followed", "new processes not followed"},
	tracer.SkipExecs:     {"exec not recorded", "execs not recorded"},
	tracer.SkipExits:     {"exit not recorded", "exits not recorded"},
	tracer.SkipCopies:    {"page-table copy or exec teardown not timed", "page-table copies or exec teardowns not timed"},
	tracer.SkipLockWaits: {"wait on a forking parent's mmap lock not timed", "waits on a forking parent's mmap lock not timed"},
	tracer.SkipBlocked:   {"context switch of a spawning thread unseen", "context switches of spawning threads unseen"},
}

// skipTexts words what each program's skipped runs left out. The kernel
// counts them for the whole machine, so the traced tree lost at most that
// many: "up to".
func skipTexts(skips []tracer.Skip) []string {
	var out []string
	for _, s := range skips {
		w, ok := skipWords[s.Measure]
		if !ok {
			w = [2]string{"run of a program not made", "runs of a program not made"}
		}
		where := s.Point
		if where == "" {
			where = s.Prog
		}
		n := int(min(s.Runs, math.MaxInt))
		out = append(out, fmt.Sprintf("up to %d %s: the kernel skipped its program on %s",
			s.Runs, plural(n, w[0], w[1]), TermSafe(where)))
	}
	return out
}

// onlyTimes says whether l lost nothing but times: counts and spawns are
// whole.
func onlyTimes(l tracer.Lost) bool {
	if l.Events|l.SyscallSlots|l.SpawnSlots|l.TrackedLimits != 0 {
		return false
	}
	for _, s := range l.Skipped {
		switch s.Measure {
		case tracer.SkipCopies, tracer.SkipLockWaits, tracer.SkipBlocked:
		default:
			return false
		}
	}
	return true
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
