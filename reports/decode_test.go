package reports

import (
	"fmt"
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// Every want below is a line strace 6.1 printed on this project's dev VM
// (Linux 6.18, x86_64, glibc 2.36), copied as it was. The programs are in
// testdata/cprog, built with gcc -O1 (rawclone.c with -fno-stack-protector,
// as its children run with a borrowed TLS), and run as
//
//	strace -f -o out ./spawn     (S)  strace -o out ./spawn     (S1, no -f)
//	strace -f -o out ./rawclone  (R)  strace -o out ./rawclone  (R1, no -f)
//	strace -f -o out ./execs     (E, after: printf 'not a binary\n' >
//	                                  /tmp/st/noexec.txt; chmod +x it;
//	                                  mkdir "/tmp/st/d<TAB>ir"; ulimit -c unlimited)
//
// Each case names its source. Where strace -f split a call into
// "<unfinished ...>" and "<... resumed>", the case takes the whole line of
// the run without -f, and has tid 0 for "no pid column".

// straceLine is the line strace -f (no -tt, no -T) prints for ev, or
// strace without -f when ev.Tid is 0.
func straceLine(ev *tracer.Event) string {
	var b strings.Builder
	if ev.Tid != 0 {
		fmt.Fprintf(&b, "%-5d ", ev.Tid)
	}
	writeCall(&b, ev, defaultStrlen)
	return b.String()
}

func sys(tid uint32, nr int, ret int64, args ...uint64) tracer.Event {
	return tracer.Event{Kind: tracer.KindSyscall, Tid: tid, Pid: tid, Nr: nr, Ret: ret, Args: args}
}

func TestCloneLines(t *testing.T) {
	const (
		ptid = 0x7ffe97a9bfdc
		ctid = 0x7ffe97a9bfd8
		tls  = 0x562613fef060
	)
	cases := []struct {
		ev   tracer.Event
		want string
	}{
		// S: glibc fork()
		{sys(5482, sysno.Clone, 5483, 0x01200011, 0, 0, 0x7fae86089a10, 0),
			"5482  clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7fae86089a10) = 5483"},
		// R1, R: the exit signal alone (padded to column 40), none at all
		{sys(0, sysno.Clone, 10899, 17, 0, 0, 0, 0), "clone(child_stack=NULL, flags=SIGCHLD)  = 10899"},
		{sys(5956, sysno.Clone, 5958, 0, 0, 0, 0, 0), "5956  clone(child_stack=NULL, flags=0)  = 5958"},
		{sys(5956, sysno.Clone, 5959, 10, 0, 0, 0, 0), "5956  clone(child_stack=NULL, flags=SIGUSR1) = 5959"},
		// R: real-time signals are named from SIGRTMIN (32)
		{sys(5956, sysno.Clone, 5967, 40, 0, 0, 0, 0), "5956  clone(child_stack=NULL, flags=SIGRT_8) = 5967"},
		{sys(5956, sysno.Clone, 5968, 35, 0, 0, 0, 0), "5956  clone(child_stack=NULL, flags=SIGRT_3) = 5968"},
		// R: parent_tid shows the tid the kernel stored, which is the return value
		{sys(5956, sysno.Clone, 5960, 0x100011, 0, ptid, 0, 0),
			"5956  clone(child_stack=NULL, flags=CLONE_PARENT_SETTID|SIGCHLD, parent_tid=[5960]) = 5960"},
		{sys(5956, sysno.Clone, 5961, 0x80011, 0, 0, 0, tls),
			"5956  clone(child_stack=NULL, flags=CLONE_SETTLS|SIGCHLD, tls=0x562613fef060) = 5961"},
		// R: strace's order is parent_tid, tls, child_tidptr
		{sys(5956, sysno.Clone, 5962, 0x1180011, 0, ptid, ctid, tls),
			"5956  clone(child_stack=NULL, flags=CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_SETTID|SIGCHLD, parent_tid=[5962], tls=0x562613fef060, child_tidptr=0x7ffe97a9bfd8) = 5962"},
		// R: unknown bits: hex with a comment when alone, plain hex after names
		{sys(5956, sysno.Clone, 5964, 0x400011, 0, 0, 0, 0),
			"5956  clone(child_stack=NULL, flags=0x400000 /* CLONE_??? */|SIGCHLD) = 5964"},
		{sys(5956, sysno.Clone, 5965, 0x400000, 0, 0, 0, 0),
			"5956  clone(child_stack=NULL, flags=0x400000 /* CLONE_??? */) = 5965"},
		{sys(5956, sysno.Clone, 5966, 0x100000211, 0, 0, 0, 0),
			"5956  clone(child_stack=NULL, flags=CLONE_FS|0x100000000|SIGCHLD) = 5966"},
		// R: errors; a failed call leaves *parent_tid unread, so the pointer
		{sys(5956, sysno.Clone, -22, 0x10011, 0, 0, 0, 0),
			"5956  clone(child_stack=NULL, flags=CLONE_THREAD|SIGCHLD) = -1 EINVAL (Invalid argument)"},
		{sys(5956, sysno.Clone, -22, 0x110011, 0, ptid, 0, 0),
			"5956  clone(child_stack=NULL, flags=CLONE_THREAD|CLONE_PARENT_SETTID|SIGCHLD, parent_tid=0x7ffe97a9bfdc) = -1 EINVAL (Invalid argument)"},
		// R1: vfork by clone flags
		{sys(0, sysno.Clone, 10911, 0x4111, 0, 0, 0, 0),
			"clone(child_stack=NULL, flags=CLONE_VM|CLONE_VFORK|SIGCHLD) = 10911"},
		// R and S1: fork() and vfork() have no arguments
		{sys(5956, sysno.Fork, 5978), "5956  fork()                            = 5978"},
		{sys(0, sysno.Vfork, 8826), "vfork()                                 = 8826"},
	}
	for _, c := range cases {
		if got := straceLine(&c.ev); got != c.want {
			t.Errorf("\ngot  %s\nwant %s", got, c.want)
		}
	}
}

func TestClone3Lines(t *testing.T) {
	c3 := func(tid uint32, ret int64, size uint64, a tracer.Clone3Args) tracer.Event {
		ev := sys(tid, sysno.Clone3, ret, 0x7ffe97a9bf70, size)
		ev.Clone3 = &a
		return ev
	}
	const (
		pidfd = 0x7ffe97a9bfd4
		ptid  = 0x7ffe97a9bfdc
		ctid  = 0x7ffe97a9bfd8
		tls   = 0x562613fef060
	)
	cases := []struct {
		ev   tracer.Event
		want string
	}{
		// S1: glibc's posix_spawn
		{c3(0, 8827, 88, tracer.Clone3Args{Flags: 0x4100, ExitSignal: 17, Stack: 0x7f6f007b9000, StackSize: 0x9000}),
			"clone3({flags=CLONE_VM|CLONE_VFORK, exit_signal=SIGCHLD, stack=0x7f6f007b9000, stack_size=0x9000}, 88) = 8827"},
		// S: glibc's pthread_create, with what the kernel wrote back
		{c3(5482, 5487, 88, tracer.Clone3Args{Flags: 0x3d0f00, ChildTid: 0x7fae86088990, ParentTid: 0x7fae86088990,
			Stack: 0x7fae85888000, StackSize: 0x7fff80, TLS: 0x7fae860886c0}),
			"5482  clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID, child_tid=0x7fae86088990, parent_tid=0x7fae86088990, exit_signal=0, stack=0x7fae85888000, stack_size=0x7fff80, tls=0x7fae860886c0} => {parent_tid=[5487]}, 88) = 5487"},
		// R: zero fields are shown all the same
		{c3(5956, 5970, 88, tracer.Clone3Args{ExitSignal: 17}),
			"5956  clone3({flags=0, exit_signal=SIGCHLD, stack=NULL, stack_size=0}, 88) = 5970"},
		{c3(5956, 5972, 64, tracer.Clone3Args{}),
			"5956  clone3({flags=0, exit_signal=0, stack=NULL, stack_size=0}, 64) = 5972"},
		{c3(5956, 5974, 88, tracer.Clone3Args{Flags: 0x1100000, ChildTid: ctid, ParentTid: ptid, ExitSignal: 17}),
			"5956  clone3({flags=CLONE_PARENT_SETTID|CLONE_CHILD_SETTID, child_tid=0x7ffe97a9bfd8, parent_tid=0x7ffe97a9bfdc, exit_signal=SIGCHLD, stack=NULL, stack_size=0} => {parent_tid=[5974]}, 88) = 5974"},
		// R: clone3-only flags after clone's, unknown ones in hex
		{c3(5956, 5975, 88, tracer.Clone3Args{Flags: 0x100000400, ExitSignal: 17}),
			"5956  clone3({flags=CLONE_FILES|CLONE_CLEAR_SIGHAND, exit_signal=SIGCHLD, stack=NULL, stack_size=0}, 88) = 5975"},
		{c3(5956, 5977, 88, tracer.Clone3Args{Flags: 0x80, ExitSignal: 17}),
			"5956  clone3({flags=CLONE_NEWTIME, exit_signal=SIGCHLD, stack=NULL, stack_size=0}, 88) = 5977"},
		{c3(5956, -22, 88, tracer.Clone3Args{Flags: 0x400000000, ExitSignal: 17}),
			"5956  clone3({flags=0x400000000 /* CLONE_??? */, exit_signal=SIGCHLD, stack=NULL, stack_size=0}, 88) = -1 EINVAL (Invalid argument)"},
		{c3(5956, 5976, 88, tracer.Clone3Args{Flags: 0x80000, ExitSignal: 17, TLS: tls}),
			"5956  clone3({flags=CLONE_SETTLS, exit_signal=SIGCHLD, stack=NULL, stack_size=0, tls=0x562613fef060}, 88) = 5976"},
		// R: an exit signal too big for an int prints as a number
		{c3(5956, -22, 88, tracer.Clone3Args{Flags: 0x4100, ExitSignal: 1 << 32}),
			"5956  clone3({flags=CLONE_VM|CLONE_VFORK, exit_signal=4294967296, stack=NULL, stack_size=0}, 88) = -1 EINVAL (Invalid argument)"},
		// R: too small to decode, or unreadable: the pointer
		{c3(5956, -22, 32, tracer.Clone3Args{}), "5956  clone3(0x7ffe97a9bf70, 32)        = -1 EINVAL (Invalid argument)"},
	}
	for _, c := range cases {
		if got := straceLine(&c.ev); got != c.want {
			t.Errorf("\ngot  %s\nwant %s", got, c.want)
		}
	}

	// R printed clone3(NULL, 88) = -1 EFAULT (Bad address).
	null := sys(5956, sysno.Clone3, -14, 0, 88)
	if got, want := straceLine(&null), "5956  clone3(NULL, 88)                  = -1 EFAULT (Bad address)"; got != want {
		t.Errorf("\ngot  %s\nwant %s", got, want)
	}

	// R printed clone(child_stack=NULL, flags=CLONE_PIDFD|SIGCHLD, parent_tid=[3]) = 5963,
	// reading the pidfd the kernel stored; not captured, so the pointer.
	cpfd := sys(5956, sysno.Clone, 5963, 0x1011, 0, pidfd, 0, 0)
	want := "5956  clone(child_stack=NULL, flags=CLONE_PIDFD|SIGCHLD, parent_tid=0x7ffe97a9bfd4) = 5963"
	if got := straceLine(&cpfd); got != want {
		t.Errorf("\ngot  %s\nwant %s", got, want)
	}

	// R printed "... => {pidfd=[4]}, 88) = 5973": strace read the fd number
	// the kernel stored. The tracer does not capture it, so spawntrace
	// prints what strace prints when that read fails: the pointer.
	pfd := c3(5956, 5973, 88, tracer.Clone3Args{Flags: 0x1000, Pidfd: pidfd, ExitSignal: 17})
	want = "5956  clone3({flags=CLONE_PIDFD, pidfd=0x7ffe97a9bfd4, exit_signal=SIGCHLD, stack=NULL, stack_size=0} => {pidfd=0x7ffe97a9bfd4}, 88) = 5973"
	if got := straceLine(&pfd); got != want {
		t.Errorf("\ngot  %s\nwant %s", got, want)
	}
}

func TestExecLines(t *testing.T) {
	const envp = 0x7ffee8d81348
	exec := func(tid uint32, ret int64, name string, argv []string, envc int) tracer.Event {
		ev := sys(tid, sysno.Execve, ret, 0x55d0d8a1e004, 0x7ffee8d810f0, envp)
		ev.Filename, ev.Argv, ev.EnvCount = name, argv, envc
		return ev
	}
	var many []string
	for i := range 39 {
		many = append(many, fmt.Sprintf("a%d", i))
	}
	escapes := exec(6024, 0, "/bin/true", []string{"/bin/echo", "tab\there", "nl\nx", "q\"b\\s", "\0017x", "\001x", "\377\200", "\033[1m"}, 1)
	escapes.Args[2] = 0x7ffee8d810f0
	long := exec(6025, 0, "/bin/true", []string{"abcdefghijklmnopqrstuvwxyz012345", "abcdefghijklmnopqrstuvwxyz0123456", "abcdefghijklmnopqrstuvwxyz01234"}, 0)
	long.Args[2] = 0x7ffee8d810e8
	manyArgs := exec(6026, 0, "/bin/true", many, 0)
	manyArgs.Args[2] = 0
	unread := exec(6030, -14, "", []string{"x"}, 35)
	unread.NameUnread, unread.Args[0] = true, 1
	null := exec(6031, -14, "", []string{"x"}, 35)
	null.NameUnread, null.Args[0] = true, 0
	noArgv := exec(6032, 0, "/bin/true", nil, 35)
	noArgv.Args[1] = 0
	at := func(tid uint32, ret int64, dirfd uint64, name string, argv []string, flags uint64) tracer.Event {
		ev := sys(tid, sysno.Execveat, ret, dirfd, 0x55d0d8a1e004, 0x7ffee8d810f0, envp, flags)
		ev.Filename, ev.Argv, ev.EnvCount = name, argv, 35
		return ev
	}
	big := exec(6036, -7, "/bin/true", []string{"x", strings.Repeat("a", 3<<20-1)}, 35)

	cases := []struct {
		ev   tracer.Event
		want string
	}{
		// E: escapes, octal with three digits only before an octal digit; "1 var"
		{escapes, `6024  execve("/bin/true", ["/bin/echo", "tab\there", "nl\nx", "q\"b\\s", "\0017x", "\1x", "\377\200", "\33[1m"], 0x7ffee8d810f0 /* 1 var */) = 0`},
		// E: 32 bytes show whole, 33 are cut with "..."
		{long, `6025  execve("/bin/true", ["abcdefghijklmnopqrstuvwxyz012345", "abcdefghijklmnopqrstuvwxyz012345"..., "abcdefghijklmnopqrstuvwxyz01234"], 0x7ffee8d810e8 /* 0 vars */) = 0`},
		// E: at most 32 elements, then "..."; a NULL envp
		{manyArgs, `6026  execve("/bin/true", ["a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9", "a10", "a11", "a12", "a13", "a14", "a15", "a16", "a17", "a18", "a19", "a20", "a21", "a22", "a23", "a24", "a25", "a26", "a27", "a28", "a29", "a30", "a31", ...], NULL) = 0`},
		// E: errno names and glibc's texts
		{exec(6027, -2, "/nonexistent", []string{"x"}, 35), `6027  execve("/nonexistent", ["x"], 0x7ffee8d81348 /* 35 vars */) = -1 ENOENT (No such file or directory)`},
		{exec(6028, -13, "/etc/passwd", []string{"x"}, 35), `6028  execve("/etc/passwd", ["x"], 0x7ffee8d81348 /* 35 vars */) = -1 EACCES (Permission denied)`},
		{exec(6029, -8, "/tmp/st/noexec.txt", []string{"x"}, 35), `6029  execve("/tmp/st/noexec.txt", ["x"], 0x7ffee8d81348 /* 35 vars */) = -1 ENOEXEC (Exec format error)`},
		{big, `6036  execve("/bin/true", ["x", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"...], 0x7ffee8d81348 /* 35 vars */) = -1 E2BIG (Argument list too long)`},
		// E: an unreadable filename is its pointer; a null one NULL
		{unread, `6030  execve(0x1, ["x"], 0x7ffee8d81348 /* 35 vars */) = -1 EFAULT (Bad address)`},
		{null, `6031  execve(NULL, ["x"], 0x7ffee8d81348 /* 35 vars */) = -1 EFAULT (Bad address)`},
		{noArgv, `6032  execve("/bin/true", NULL, 0x7ffee8d81348 /* 35 vars */) = 0`},
		{exec(6035, -2, "/tmp/st/d\tir/\n", []string{"x"}, 35), `6035  execve("/tmp/st/d\tir/\n", ["x"], 0x7ffee8d81348 /* 35 vars */) = -1 ENOENT (No such file or directory)`},
		// E: execveat
		{at(6037, -2, 0xffffff9c, "/nonexistent", []string{"y"}, 0), `6037  execveat(AT_FDCWD, "/nonexistent", ["y"], 0x7ffee8d81348 /* 35 vars */, 0) = -1 ENOENT (No such file or directory)`},
		{at(6038, 0, 3, "", []string{"true"}, 0x1000), `6038  execveat(3, "", ["true"], 0x7ffee8d81348 /* 35 vars */, AT_EMPTY_PATH) = 0`},
		{at(6039, -22, 3, "x", []string{"true"}, 0x8100), `6039  execveat(3, "x", ["true"], 0x7ffee8d81348 /* 35 vars */, AT_SYMLINK_NOFOLLOW|AT_RECURSIVE) = -1 EINVAL (Invalid argument)`},
	}
	for _, c := range cases {
		if got := straceLine(&c.ev); got != c.want {
			t.Errorf("\ngot  %s\nwant %s", got, c.want)
		}
	}
}

// TestExecArgvTruncated: the tracer keeps at most 16 arguments; the rest
// is shown as strace shows what it does not print, with "...".
func TestExecArgvTruncated(t *testing.T) {
	ev := sys(1, sysno.Execve, 0, 0x1000, 0x2000, 0x3000)
	ev.Filename, ev.Argv, ev.ArgvTruncated, ev.EnvCount = "/bin/sh", []string{"sh", "-c"}, true, 2
	want := `execve("/bin/sh", ["sh", "-c", ...], 0x3000 /* 2 vars */)`
	if got := FormatCall(&ev); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestSocketpairLines(t *testing.T) {
	pair := func(ret int64, domain, typ uint64, fds ...int32) tracer.Event {
		ev := sys(5482, sysno.Socketpair, ret, domain, typ, 0, 0x7ffd3173ad40)
		ev.Fds = fds
		return ev
	}
	// All from S.
	cases := []struct {
		ev   tracer.Event
		want string
	}{
		{pair(0, 1, 0x80005, 3, 4), "5482  socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC, 0, [3, 4]) = 0"},
		{pair(0, 1, 0x80801, 5, 6), "5482  socketpair(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC|SOCK_NONBLOCK, 0, [5, 6]) = 0"},
		{pair(0, 1, 2, 7, 8), "5482  socketpair(AF_UNIX, SOCK_DGRAM, 0, [7, 8]) = 0"},
		{pair(-95, 2, 1), "5482  socketpair(AF_INET, SOCK_STREAM, 0, 0x7ffd3173ad40) = -1 EOPNOTSUPP (Operation not supported)"},
		{pair(-94, 1, 9), "5482  socketpair(AF_UNIX, 0x9 /* SOCK_??? */, 0, 0x7ffd3173ad40) = -1 ESOCKTNOSUPPORT (Socket type not supported)"},
		{pair(-97, 99, 1), "5482  socketpair(0x63 /* AF_??? */, SOCK_STREAM, 0, 0x7ffd3173ad40) = -1 EAFNOSUPPORT (Address family not supported by protocol)"},
	}
	for _, c := range cases {
		if got := straceLine(&c.ev); got != c.want {
			t.Errorf("\ngot  %s\nwant %s", got, c.want)
		}
	}
}

func TestFormatReturn(t *testing.T) {
	cases := []struct {
		ret  int64
		want string
	}{
		{7050, "= 7050"},
		{0, "= 0"},
		{-2, "= -1 ENOENT (No such file or directory)"},
		{-7, "= -1 E2BIG (Argument list too long)"},
		{-11, "= -1 EAGAIN (Resource temporarily unavailable)"},
		{-12, "= -1 ENOMEM (Cannot allocate memory)"},
		// Kernel-internal codes: strace's own texts for the restart codes
		// (syscall.c), glibc's "Unknown error N" for the others.
		{-512, "= ? ERESTARTSYS (To be restarted if SA_RESTART is set)"},
		{-513, "= ? ERESTARTNOINTR (To be restarted)"},
		{-514, "= ? ERESTARTNOHAND (To be restarted if no handler)"},
		{-516, "= ? ERESTART_RESTARTBLOCK (Interrupted by signal)"},
		{-515, "= -1 ENOIOCTLCMD (Unknown error 515)"},
		{-600, "= -1 (errno 600)"},
		{-4096, "= -4096"}, // below -4095 it is a value, not an error
	}
	for _, c := range cases {
		if got := FormatReturn(c.ret); got != c.want {
			t.Errorf("FormatReturn(%d) = %q, want %q", c.ret, got, c.want)
		}
	}
}

func TestFormatExit(t *testing.T) {
	// E printed these for _exit(127), raise(SIGKILL), a NULL write with
	// ulimit -c unlimited, and _exit(255); S for _exit(3).
	cases := []struct {
		status int32
		want   string
	}{
		{0, "+++ exited with 0 +++"},
		{3 << 8, "+++ exited with 3 +++"},
		{127 << 8, "+++ exited with 127 +++"},
		{255 << 8, "+++ exited with 255 +++"},
		{9, "+++ killed by SIGKILL +++"},
		{11 | 0x80, "+++ killed by SIGSEGV (core dumped) +++"},
		{32, "+++ killed by SIGRTMIN +++"},
		{45, "+++ killed by SIGRT_13 +++"},
	}
	for _, c := range cases {
		if got := FormatExit(c.status); got != c.want {
			t.Errorf("FormatExit(%#x) = %q, want %q", c.status, got, c.want)
		}
	}
}

func TestSignalName(t *testing.T) {
	for sig, want := range map[uint64]string{0: "0", 1: "SIGHUP", 17: "SIGCHLD", 31: "SIGSYS", 32: "SIGRTMIN",
		33: "SIGRT_1", 64: "SIGRT_32", 65: "65"} {
		if got := SignalName(sig); got != want {
			t.Errorf("SignalName(%d) = %q, want %q", sig, got, want)
		}
	}
}
