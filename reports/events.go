package reports

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/spawn"
	"github.com/spawntrace/spawntrace/analyze/syscalls"
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
func WriteEventLines(w io.Writer, rec *recording.Recording) error {
	return WriteEventLinesWith(w, rec, DefaultEventOptions)
}

// Stamp is how an event line starts after the pid: strace's -t, -tt, -ttt
// or none.
type Stamp int

// The stamps, as strace's -t (time of day), -tt (with microseconds) and
// -ttt (seconds since the epoch with microseconds).
const (
	StampNone Stamp = iota
	StampSeconds
	StampMicros
	StampEpoch
)

// EventOptions shape event lines as strace's flags do.
type EventOptions struct {
	Stamp     Stamp
	Durations bool // -T: the time spent in the call, " <0.000044>"
	// Strlen is -s: the bytes shown of a string argument and the elements
	// of an argv; 0 is strace's default, 32.
	Strlen int
	// Trace is -e trace=SET: the calls shown (nil: all). Exits are shown
	// whatever it holds, as strace shows them.
	Trace *syscalls.TraceSet
	// FailedOnly is -e status=failed: only calls that returned an error.
	FailedOnly bool
	loc        *time.Location // the time zone of the stamps; nil: local time
}

// DefaultEventOptions are spawntrace's lines when no flag shapes them:
// strace -f -tt -T's.
var DefaultEventOptions = EventOptions{Stamp: StampMicros, Durations: true}

// WriteEventLinesWith is WriteEventLines shaped by opts.
func WriteEventLinesWith(w io.Writer, rec *recording.Recording, opts EventOptions) error {
	if opts.loc == nil {
		opts.loc = time.Local
	}
	if opts.Strlen <= 0 {
		opts.Strlen = defaultStrlen
	}
	return writeEventLines(w, rec, opts)
}

// writeEventLines takes the time zone in opts so that tests do not depend on the host's.
func writeEventLines(w io.Writer, rec *recording.Recording, opts EventOptions) error {
	if opts.Strlen <= 0 {
		opts.Strlen = defaultStrlen
	}
	// In time order; a call and an exit with the same timestamp keep the
	// recorder's order. One event at a time: a recording run's events
	// stream from disk.
	bw := bufio.NewWriter(w)
	// Tasks whose calls go through the i386 table (a 32-bit program, or
	// int $0x80 now): the rest use x86_64's. strace says when a task
	// changes, "[ Process PID=7 runs in 32 bit mode. ]"; here, as there,
	// a child starts in the mode its parent forked it in.
	modes := taskModes{}
	err := rec.EachEvent(func(ev *tracer.Event) error {
		switch ev.Kind {
		case tracer.KindExit:
			delete(modes, ev.Tid)
		case tracer.KindExec:
			// An exec whose call was lost: the new program's mode alone.
			return modes.note(bw, ev.Tid, ev.ExecABI, ev.TimeNs, rec.MonoToUnixNs, opts)
		case tracer.KindSyscall:
			if err := modes.note(bw, ev.Tid, ev.ABI, ev.TimeNs, rec.MonoToUnixNs, opts); err != nil {
				return err
			}
		default:
			return nil
		}
		if ev.Kind != tracer.KindSyscall || opts.shows(ev) {
			if _, err := bw.WriteString(eventLine(ev, rec.MonoToUnixNs, opts)); err != nil {
				return err
			}
		}
		if ev.Kind != tracer.KindSyscall {
			return nil
		}
		if _, ok := spawn.CloneFlags(ev); ok && ev.Ret > 0 {
			modes.set(uint32(ev.Ret), ev.ABI)
		} else if spawn.IsExec(ev.Nr64()) && ev.Ret == 0 {
			// The new program's mode, from its first call on: strace
			// says so after the execve line.
			return modes.note(bw, ev.Tid, ev.ExecABI, ev.TimeNs+ev.DurNs, rec.MonoToUnixNs, opts)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}

// taskModes holds the tasks whose calls go through the i386 table.
type taskModes map[uint32]bool

func (m taskModes) set(tid uint32, abi tracer.ABI) {
	if abi == tracer.ABII386 {
		m[tid] = true
	} else {
		delete(m, tid)
	}
}

// note writes strace's line for a task whose calls change table, "[ Process
// PID=7 runs in 32 bit mode. ]", when abi is not the one tid used so far.
// strace prints it only to a terminal (not with -o FILE); here nothing else
// would tell a 32-bit clone line from a 64-bit one.
func (m taskModes) note(bw *bufio.Writer, tid uint32, abi tracer.ABI, timeNs uint64, monoToUnixNs int64, opts EventOptions) error {
	if m[tid] == (abi == tracer.ABII386) {
		return nil
	}
	m.set(tid, abi)
	_, err := fmt.Fprintf(bw, "%s[ Process PID=%d runs in %s mode. ]\n", leader(tid, timeNs, monoToUnixNs, opts), tid, abi.Mode())
	return err
}

// shows says whether a call's line is written: in -e trace=SET, and
// failed when -e status=failed.
func (o EventOptions) shows(ev *tracer.Event) bool {
	if o.FailedOnly && ev.Ret >= 0 {
		return false
	}
	return o.Trace.Has(ev.ABI, syscalls.SyscallName(ev.ABI, ev.Nr))
}

// leader is strace's printleader: the tid left-aligned in 5 columns, then
// the stamp: -t's time of day, -tt's with microseconds, -ttt's seconds
// since the epoch with microseconds (truncated, as strace divides tv_nsec).
func leader(tid uint32, timeNs uint64, monoToUnixNs int64, opts EventOptions) string {
	t := time.Unix(0, int64(timeNs)+monoToUnixNs).In(opts.loc)
	switch opts.Stamp {
	case StampSeconds:
		return fmt.Sprintf("%-5d %s ", tid, t.Format("15:04:05"))
	case StampMicros:
		return fmt.Sprintf("%-5d %s.%06d ", tid, t.Format("15:04:05"), t.Nanosecond()/1000)
	case StampEpoch:
		return fmt.Sprintf("%-5d %d.%06d ", tid, t.Unix(), t.Nanosecond()/1000)
	}
	return fmt.Sprintf("%-5d ", tid)
}

// eventLine is one line of strace -f output shaped by opts, newline included.
func eventLine(ev *tracer.Event, monoToUnixNs int64, opts EventOptions) string {
	var b strings.Builder
	b.WriteString(leader(ev.Tid, ev.TimeNs, monoToUnixNs, opts))
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
	writeCall(&b, ev, opts.Strlen)
	if opts.Durations {
		// -T: the time spent in the call, microseconds truncated.
		fmt.Fprintf(&b, " <%d.%06d>", ev.DurNs/1e9, ev.DurNs%1e9/1e3)
	}
	b.WriteByte('\n')
	return b.String()
}

// writeCall appends the call and its return value to a line that holds the
// leader, padding between them as strace's tabto does: the padding counts
// the whole line, leader included.
func writeCall(b *strings.Builder, ev *tracer.Event, strlen int) {
	b.WriteString(formatCall(ev, strlen))
	b.WriteByte(' ')
	if n := b.Len(); n < returnColumn {
		b.WriteString(strings.Repeat(" ", returnColumn-n))
	}
	b.WriteString(FormatReturn(ev.Ret))
}
