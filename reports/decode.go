// Package reports writes what analyze computed: strace-compatible event
// lines and syscall tables, and spawntrace's own sections. Every writer is
// a func(w io.Writer, ...) error that writes only to w.
package reports

import (
	"fmt"
	"strings"

	"github.com/spawntrace/spawntrace/analyze/syscalls"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// The decoders below print a syscall as strace 6.1 does on x86_64 with its
// default options (-s 32, abbreviated environment), so that a user can diff
// spawntrace's lines against strace's. Where strace reads user memory that
// the tracer did not capture, they print what strace prints when that read
// fails: the pointer.

// FormatCall is the strace text of a KindSyscall event up to and including
// its closing parenthesis, e.g.
// `clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7fdae9d94a10)`.
func FormatCall(ev *tracer.Event) string {
	return formatCall(ev, defaultStrlen)
}

// formatCall is FormatCall with strace's -s strlen.
func formatCall(ev *tracer.Event, strlen int) string {
	name := syscalls.SyscallName(ev.ABI, ev.Nr)
	switch ev.Nr64() {
	case sysno.Clone:
		return name + "(" + cloneArgs(ev) + ")"
	case sysno.Clone3:
		return name + "(" + clone3Args(ev) + ")"
	case sysno.Fork, sysno.Vfork:
		return name + "()"
	case sysno.Execve:
		return name + "(" + execArgs(ev, 0, strlen) + ")"
	case sysno.Execveat:
		return name + "(" + dirfd(arg(ev, 0)) + ", " + execArgs(ev, 1, strlen) + ", " +
			printFlags(arg(ev, 4), "AT_???", atFlags) + ")"
	case sysno.Socketpair:
		return name + "(" + socketpairArgs(ev) + ")"
	case sysno.Pipe2:
		return name + "(" + pipe2Args(ev) + ")"
	}
	// Not a call the tracer details: strace's printargs, every argument in hex.
	args := make([]string, len(ev.Args))
	for i, a := range ev.Args {
		args[i] = hexC(a)
	}
	return name + "(" + strings.Join(args, ", ") + ")"
}

// arg is the i-th raw argument, 0 when the event has fewer.
func arg(ev *tracer.Event, i int) uint64 {
	if i < len(ev.Args) {
		return ev.Args[i]
	}
	return 0
}

// cloneArgs follows strace's clone.c: child_stack and flags always; then
// parent_tid, tls and child_tidptr each only when a flag makes the kernel
// use it. x86_64 passes (flags, stack, parent_tid, child_tid, tls), i386
// (flags, stack, parent_tid, tls, child_tid). i386's tls points to a struct
// user_desc, which strace decodes and the tracer does not read: its address.
func cloneArgs(ev *tracer.Event) string {
	flags := arg(ev, 0)
	tls, childTid := arg(ev, 4), arg(ev, 3)
	if ev.ABI == tracer.ABII386 {
		tls, childTid = childTid, tls
	}
	s := "child_stack=" + addr(arg(ev, 1)) + ", flags=" + CloneFlags(flags)
	if flags&(cloneParentSettid|clonePidfd) != 0 {
		// strace reads *parent_tid after the call. With CLONE_PARENT_SETTID
		// the kernel stored the child's tid there, which is the return value;
		// a pidfd number was not captured, and after a failed call strace
		// prints the pointer too.
		if flags&cloneParentSettid != 0 && ev.Ret > 0 {
			s += fmt.Sprintf(", parent_tid=[%d]", ev.Ret)
		} else {
			s += ", parent_tid=" + addr(arg(ev, 2))
		}
	}
	if flags&cloneSettls != 0 {
		s += ", tls=" + addr(tls)
	}
	if flags&(cloneChildSettid|cloneChildCleartid) != 0 {
		s += ", child_tidptr=" + addr(childTid)
	}
	return s
}

// clone3MinSize is the smallest struct clone_args strace decodes (through
// tls); below it, or when the struct is unreadable, it prints the pointer.
const (
	clone3MinSize = 64
	efault        = 14
)

// clone3Args follows strace's clone3 decoder: the struct with flags,
// exit_signal, stack and stack_size always, the pointer fields only when a
// flag makes the kernel use them; after a successful call, the values the
// kernel wrote back (" => {parent_tid=[N]}"); then the size.
func clone3Args(ev *tracer.Event) string {
	size := arg(ev, 1)
	c := ev.Clone3
	if c == nil || size < clone3MinSize || ev.Ret == -efault {
		// strace prints the address when the struct is too small to decode
		// or cannot be read.
		return addr(arg(ev, 0)) + fmt.Sprintf(", %d", size)
	}
	f := c.Flags
	var b strings.Builder
	b.WriteString("{flags=" + Clone3Flags(f))
	if f&clonePidfd != 0 {
		b.WriteString(", pidfd=" + addr(c.Pidfd))
	}
	if f&(cloneChildSettid|cloneChildCleartid) != 0 {
		b.WriteString(", child_tid=" + addr(c.ChildTid))
	}
	if f&cloneParentSettid != 0 {
		b.WriteString(", parent_tid=" + addr(c.ParentTid))
	}
	if c.ExitSignal < 1<<31-1 {
		b.WriteString(", exit_signal=" + SignalName(c.ExitSignal))
	} else {
		fmt.Fprintf(&b, ", exit_signal=%d", c.ExitSignal)
	}
	fmt.Fprintf(&b, ", stack=%s, stack_size=%s", addr(c.Stack), hexC(c.StackSize))
	if f&cloneSettls != 0 {
		b.WriteString(", tls=" + addr(c.TLS))
	}
	// CLONE_INTO_CGROUP's cgroup fd and set_tid are not captured: left out.
	b.WriteByte('}')
	if ev.Ret >= 0 && f&(clonePidfd|cloneParentSettid) != 0 {
		var changed []string
		if f&clonePidfd != 0 {
			// The pidfd number itself was not captured: the pointer, as
			// strace prints an unreadable one.
			changed = append(changed, "pidfd="+addr(c.Pidfd))
		}
		if f&cloneParentSettid != 0 {
			changed = append(changed, fmt.Sprintf("parent_tid=[%d]", ev.Ret))
		}
		b.WriteString(" => {" + strings.Join(changed, ", ") + "}")
	}
	fmt.Fprintf(&b, ", %d", size)
	return b.String()
}

// execArgs prints pathname, argv and envp of execve, or of execveat from
// its second argument on (first is the index of pathname).
func execArgs(ev *tracer.Event, first, strlen int) string {
	var name string
	if ev.NameUnread {
		name = addr(arg(ev, first)) // "NULL" for a null pointer, as strace
	} else {
		name = quote(ev.Filename)
	}
	// Nothing read at all (the exec's details were lost, or the probe that
	// reads them is unavailable): addresses only, as strace prints memory
	// it cannot read.
	// A failed exec's argv and envp without bpf_loop: addresses too.
	unread := ev.ArgvUnread || ev.NameUnread && len(ev.Argv) == 0 && ev.EnvCount == 0
	argv := "NULL"
	if unread {
		argv = addr(arg(ev, first+1))
	} else if arg(ev, first+1) != 0 || len(ev.Argv) > 0 {
		argv = quoteArgv(ev.Argv, ev.ArgvTruncated, strlen)
	}
	// strace abbreviates the environment to its address and a count.
	envp := "NULL"
	if p := arg(ev, first+2); p != 0 && unread {
		envp = addr(p)
	} else if p != 0 {
		plural := "s"
		if ev.EnvCount == 1 {
			plural = ""
		}
		envp = fmt.Sprintf("%s /* %d var%s */", addr(p), ev.EnvCount, plural)
	}
	return name + ", " + argv + ", " + envp
}

// dirfd is strace's print_dirfd without -y.
func dirfd(v uint64) string {
	fd := int32(v)
	if fd == -100 {
		return "AT_FDCWD"
	}
	return fmt.Sprintf("%d", fd)
}

// socketpairArgs: domain, type, protocol, then the pair the kernel wrote,
// or the pointer when the call failed.
func socketpairArgs(ev *tracer.Event) string {
	sv := addr(arg(ev, 3))
	if ev.Ret == 0 && len(ev.Fds) == 2 {
		sv = fmt.Sprintf("[%d, %d]", ev.Fds[0], ev.Fds[1])
	}
	return fmt.Sprintf("%s, %s, %d, %s", addrFamily(arg(ev, 0)), sockType(arg(ev, 1)), arg(ev, 2), sv)
}

// pipe2Args: the pair the kernel wrote, or the pointer when the call failed,
// then the flags.
func pipe2Args(ev *tracer.Event) string {
	fds := addr(arg(ev, 0))
	if ev.Ret == 0 && len(ev.Fds) == 2 {
		fds = fmt.Sprintf("[%d, %d]", ev.Fds[0], ev.Fds[1])
	}
	return fds + ", " + pipe2Flags(arg(ev, 1))
}

// The kernel-internal restart codes, which strace prints apart: a syscall
// interrupted by a signal returns them (fork and clone give ERESTARTNOINTR).
const (
	erestartsys          = 512
	erestartnointr       = 513
	erestartnohand       = 514
	erestartRestartblock = 516
	maxErrno             = 4095
)

// FormatReturn is strace's text of a syscall's return value: "= 7050",
// "= -1 ENOENT (No such file or directory)", "= ? ERESTARTNOINTR (To be
// restarted)".
func FormatReturn(ret int64) string {
	if ret >= 0 || ret < -maxErrno {
		return fmt.Sprintf("= %d", ret)
	}
	switch e := int(-ret); e {
	case erestartsys:
		return "= ? ERESTARTSYS (To be restarted if SA_RESTART is set)"
	case erestartnointr:
		return "= ? ERESTARTNOINTR (To be restarted)"
	case erestartnohand:
		return "= ? ERESTARTNOHAND (To be restarted if no handler)"
	case erestartRestartblock:
		return "= ? ERESTART_RESTARTBLOCK (Interrupted by signal)"
	default:
		return "= -1 " + Errno(e)
	}
}

// Errno is an errno value as strace prints it after "= -1 ": the name and
// glibc's text, "ENOENT (No such file or directory)", or "(errno N)" for a
// value strace has no name for.
func Errno(e int) string {
	if info, ok := errnos[e]; ok {
		return info.name + " (" + info.text + ")"
	}
	return fmt.Sprintf("(errno %d)", e)
}

// FormatExit is strace's line for a task's end from its wait(2) status:
// "+++ exited with 0 +++", "+++ killed by SIGSEGV (core dumped) +++".
func FormatExit(status int32) string {
	if sig := status & 0x7f; sig != 0 {
		core := ""
		if status&0x80 != 0 {
			core = "(core dumped) "
		}
		return fmt.Sprintf("+++ killed by %s %s+++", SignalName(uint64(sig)), core)
	}
	return fmt.Sprintf("+++ exited with %d +++", (status>>8)&0xff)
}
