package reports

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spawntrace/spawntrace/analyze"
	"github.com/spawntrace/spawntrace/tracer"
)

// returnColumn is strace's default -a 40: the "= " of a return value starts
// at this column when the call is shorter.
const returnColumn = 40

// WriteEventLines writes the spawn syscalls and task exits of rec in the
// form of `strace -f -tt -T -o FILE`, in time order:
//
//	2046  19:46:25.437066 execve("/bin/true", ["true"], 0x7fffb6dabb98 /* 35 vars */) = 0 <0.000044>
//	2046  19:46:25.437950 +++ exited with 0 +++
//
// Times are the local time of day. Every call is one line: strace splits a
// call into "<unfinished ...>" and "<... resumed>" when another task prints
// in between; spawntrace has each call whole and prints it at its entry.
func WriteEventLines(w io.Writer, rec *analyze.Recording) error {
	return writeEventLines(w, rec, time.Local)
}

// writeEventLines takes the time zone so that tests do not depend on the host's.
func writeEventLines(w io.Writer, rec *analyze.Recording, loc *time.Location) error {
	// In time order; a call and an exit with the same timestamp keep the
	// recorder's order. One event at a time: a recording run's events
	// stream from disk.
	bw := bufio.NewWriter(w)
	err := rec.EachEvent(func(ev *tracer.Event) error {
		if ev.Kind != tracer.KindSyscall && ev.Kind != tracer.KindExit {
			return nil
		}
		_, err := bw.WriteString(eventLine(ev, rec.MonoToUnixNs, loc))
		return err
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// eventLine is one line of strace -f -tt -T output, newline included.
func eventLine(ev *tracer.Event, monoToUnixNs int64, loc *time.Location) string {
	var b strings.Builder
	// strace's printleader: the tid left-aligned in 5 columns, then -tt's
	// time of day with microseconds (truncated, as strace divides tv_nsec).
	t := time.Unix(0, int64(ev.TimeNs)+monoToUnixNs).In(loc)
	fmt.Fprintf(&b, "%-5d %s.%06d ", ev.Tid, t.Format("15:04:05"), t.Nanosecond()/1000)
	if ev.Kind == tracer.KindExit {
		if ev.SupersededBy != 0 {
			// The leader's end when another thread execs: the process
			// lives on under its pid, as strace words it.
			fmt.Fprintf(&b, "+++ superseded by execve in pid %d +++\n", ev.SupersededBy)
			return b.String()
		}
		b.WriteString(FormatExit(ev.ExitCode))
		b.WriteByte('\n')
		return b.String()
	}
	writeCall(&b, ev)
	// -T: the time spent in the call, microseconds truncated.
	fmt.Fprintf(&b, " <%d.%06d>\n", ev.DurNs/1e9, ev.DurNs%1e9/1e3)
	return b.String()
}

// writeCall appends the call and its return value to a line that holds the
// leader, padding between them as strace's tabto does: the padding counts
// the whole line, leader included.
func writeCall(b *strings.Builder, ev *tracer.Event) {
	b.WriteString(FormatCall(ev))
	b.WriteByte(' ')
	if n := b.Len(); n < returnColumn {
		b.WriteString(strings.Repeat(" ", returnColumn-n))
	}
	b.WriteString(FormatReturn(ev.Ret))
}
