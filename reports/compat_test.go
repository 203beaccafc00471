package reports

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/syscalls"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// compat returns ev as a call through the i386 table.
func compat(ev tracer.Event) tracer.Event {
	ev.ABI = tracer.ABII386
	return ev
}

// The layout of strace 6.1's `strace -f -c -w` of a gcc -m32 program that
// forks, fails an exec and waits (the 64-bit table holds the workload's
// first execve and /bin/true's start); the 32-bit rows' numbers are from
// such a run on this project's VM, the rest made up.
const compatTablesWant = `% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 90.00    0.000090          90         1           execve
 10.00    0.000010           1         6           close
------ ----------- ----------- --------- --------- ----------------
100.00    0.000100          14         7           total
System call usage summary for 32 bit mode:
% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 86.67    0.001574         524         3           wait4
 13.33    0.000242          40         6         3 execve
  0.00    0.000000           0         3           clone
------ ----------- ----------- --------- --------- ----------------
100.00    0.001816         151        12         3 total
`

// Each table's rows are named from its own syscall table: i386's 11, 114
// and 120 are execve, wait4 and clone, not x86_64's munmap, setregid and
// getresgid; i386's exit (1) and exit_group (252) have no row.
func TestSyscallTablesPerPersonality(t *testing.T) {
	rec := newRecording(nil)
	rec.Syscalls = []recording.SyscallStat{
		{Nr: sysno.Execve, Calls: 1, TimeNs: 90_000},
		{Nr: 3, Calls: 6, TimeNs: 10_000},
		{ABI: tracer.ABII386, Nr: 114, Calls: 3, TimeNs: 1_574_000},
		{ABI: tracer.ABII386, Nr: 11, Calls: 6, Errors: 3, TimeNs: 242_000},
		{ABI: tracer.ABII386, Nr: 120, Calls: 3},
		{ABI: tracer.ABII386, Nr: 1, Calls: 2},
		{ABI: tracer.ABII386, Nr: 252, Calls: 2},
	}
	var buf bytes.Buffer
	if err := WriteCountReport(&buf, rec); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := strings.Cut(buf.String(), "spawntrace: "); got != compatTablesWant {
		t.Errorf("got\n%s\nwant\n%s", got, compatTablesWant)
	}
	// Only 32-bit calls: strace prints no 64-bit table at all.
	buf.Reset()
	if err := WriteSyscallTable(&buf, rec.Syscalls[2:5]); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "System call usage summary for 32 bit mode:\n% time") {
		t.Errorf("32-bit calls alone:\n%s", buf.String())
	}
}

// i386's clone takes (flags, stack, parent_tid, tls, child_tid); strace's
// lines of a -m32 program and of int $0x80, copied as printed.
func TestCompatLines(t *testing.T) {
	for _, c := range []struct {
		ev   tracer.Event
		want string
	}{
		{compat(sys(21189, 120, 21190, 0x01200011, 0, 0, 0, 0xf7f4b5a8)),
			"21189 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0xf7f4b5a8) = 21190"},
		{compat(sys(0, 120, 7, 0x00080000|0x01000000|0x00200000, 0, 0, 0xffd0, 0xf7f4b5a8)),
			"clone(child_stack=NULL, flags=CLONE_SETTLS|CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID, tls=0xffd0, child_tidptr=0xf7f4b5a8) = 7"},
		{compat(sys(0, 2, 11229)), "fork()                                  = 11229"},
		{compat(sys(0, 190, 11230)), "vfork()                                 = 11230"},
		// i386's 2 and 190 are fork and vfork; x86_64's are open and setregid.
		{sys(0, 2, 3, 0x1000, 0), "open(0x1000, 0)                         = 3"},
	} {
		if got := straceLine(&c.ev); got != c.want {
			t.Errorf("got  %s\nwant %s", got, c.want)
		}
	}
}

// strace's terminal lines when a task changes personality: the workload
// after its exec of a 32-bit program, a child forked in 32-bit mode keeps
// it, and turns 64-bit when it execs /bin/true.
func TestPersonalityLines(t *testing.T) {
	at := func(us uint64) uint64 { return monoBase + us*1000 }
	execve := func(tid uint32, us uint64, abi, execABI tracer.ABI) tracer.Event {
		ev := tracer.Event{Kind: tracer.KindSyscall, TimeNs: at(us), DurNs: 100_000, Tid: tid, Pid: tid, Nr: 59,
			Filename: "/x", Argv: []string{"x"}, Args: []uint64{1, 2, 0}, ABI: abi, ExecABI: execABI}
		if abi == tracer.ABII386 {
			ev.Nr = 11
		}
		return ev
	}
	rec := newRecording([]tracer.Event{
		execve(100, 0, tracer.ABIX8664, tracer.ABII386),
		compat(tracer.Event{Kind: tracer.KindSyscall, TimeNs: at(200), DurNs: 1000, Tid: 100, Pid: 100, Nr: 2, Ret: 101}),
		execve(101, 300, tracer.ABII386, tracer.ABIX8664),
		{Kind: tracer.KindExit, TimeNs: at(500), Tid: 101, Pid: 101, GroupDead: true},
	})
	var buf bytes.Buffer
	if err := writeEventLines(&buf, rec, EventOptions{Stamp: StampMicros, Durations: true, loc: midnight.Location()}); err != nil {
		t.Fatal(err)
	}
	want := `100   00:00:00.000000 execve("/x", ["x"], NULL) = 0 <0.000100>
100   00:00:00.000100 [ Process PID=100 runs in 32 bit mode. ]
100   00:00:00.000200 fork()            = 101 <0.000001>
101   00:00:00.000300 execve("/x", ["x"], NULL) = 0 <0.000100>
101   00:00:00.000400 [ Process PID=101 runs in 64 bit mode. ]
101   00:00:00.000500 +++ exited with 0 +++
`
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

// socketcall's calls are counted by what they make (the kernel side maps
// them): socketpair as i386's 360, accept, send and recv past the table.
func TestSocketcallNames(t *testing.T) {
	for nr, want := range map[int]string{sysno.I386Socketpair: "socketpair", sysno.I386Socketcall: "socketcall",
		tracer.I386SocketcallAccept: "accept", tracer.I386SocketcallSend: "send", tracer.I386SocketcallRecv: "recv"} {
		if got := syscalls.SyscallName(tracer.ABII386, nr); got != want {
			t.Errorf("i386 %d: %s, want %s", nr, got, want)
		}
	}
	if got, want := syscalls.SyscallName(tracer.ABIX8664, tracer.I386SocketcallAccept), fmt.Sprintf("syscall_%d", tracer.I386SocketcallAccept); got != want {
		t.Errorf("x86_64 %d: %s, want %s", tracer.I386SocketcallAccept, got, want)
	}
}
