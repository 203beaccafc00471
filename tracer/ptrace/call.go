package ptrace

import (
	"encoding/binary"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// call is a spawn-related call between its seccomp stop and its exit.
type call struct {
	abi   tracer.ABI
	sysNr int // the number in abi's table that the table counts it under
	nr64  int // the x86_64 number of the call it makes
	args  [6]uint64
	// entryNs is when the tracee was let go into the call.
	entryNs      uint64
	sawEntryStop bool
	// heldNs is the time spawntrace held the tracee at event stops inside
	// the call (its fork event stop), reading it: not the call's own time.
	heldNs   uint64
	clone3   *tracer.Clone3Args
	childPid uint32
	parent   *tracer.ParentSize
	// execve, execveat: the file name as the call passed it.
	filename   string
	nameUnread bool
}

// newCall reads the call's number and arguments from its registers, as
// the kernel reads them for the table it went through.
func newCall(abi tracer.ABI, r *unix.PtraceRegs) *call {
	c := &call{abi: abi}
	if abi == tracer.ABII386 {
		c.sysNr = int(uint32(r.Orig_rax))
		// i386: bx, cx, dx, si, di, bp, 32 bits each.
		c.args = [6]uint64{uint64(uint32(r.Rbx)), uint64(uint32(r.Rcx)), uint64(uint32(r.Rdx)),
			uint64(uint32(r.Rsi)), uint64(uint32(r.Rdi)), uint64(uint32(r.Rbp))}
	} else {
		c.sysNr = int(r.Orig_rax)
		c.args = [6]uint64{r.Rdi, r.Rsi, r.Rdx, r.R10, r.R8, r.R9}
	}
	c.nr64 = abi.Nr64(c.sysNr)
	return c
}

// socketcall turns i386 socketcall(SYS_SOCKETPAIR, args) into the
// socketpair it makes, as strace and the BPF tracer name it: its arguments
// are four 32-bit values in the caller's memory.
func (c *call) socketcall(tid uint32) {
	ptr := c.args[1]
	c.sysNr, c.nr64 = sysno.I386Socketpair, sysno.Socketpair
	c.args = [6]uint64{}
	var b [16]byte
	if readMem(tid, ptr, b[:]) == len(b) {
		for i := range 4 {
			c.args[i] = uint64(binary.LittleEndian.Uint32(b[4*i:]))
		}
	}
}

func (c *call) isExec() bool { return c.nr64 == sysno.Execve || c.nr64 == sysno.Execveat }

func (c *call) isClone() bool {
	switch c.nr64 {
	case sysno.Clone, sysno.Clone3, sysno.Fork, sysno.Vfork:
		return true
	}
	return false
}

// cloneFlags are a clone-family call's flags (vfork's are implied).
func (c *call) cloneFlags() uint64 {
	switch c.nr64 {
	case sysno.Clone:
		return c.args[0]
	case sysno.Clone3:
		if c.clone3 != nil {
			return c.clone3.Flags
		}
	case sysno.Vfork:
		return unix.CLONE_VM | unix.CLONE_VFORK
	}
	return 0
}

// clone3ArgsBytes is the part of struct clone_args spawntrace keeps: every
// version of the struct holds at least these 64 bytes.
const clone3ArgsBytes = 64

// readArgs reads what the call points to, now, while the tracee waits:
// clone3's struct, an exec's file name, and a fork-like spawn's parent
// size (the brief's "parent RSS at the spawn stop").
func (c *call) readArgs(tk *task) {
	switch {
	case c.nr64 == sysno.Clone3:
		if c.args[1] >= clone3ArgsBytes {
			var b [clone3ArgsBytes]byte
			if readMem(tk.tid, c.args[0], b[:]) == len(b) {
				u := func(i int) uint64 { return binary.LittleEndian.Uint64(b[8*i:]) }
				c.clone3 = &tracer.Clone3Args{Flags: u(0), Pidfd: u(1), ChildTid: u(2), ParentTid: u(3),
					ExitSignal: u(4), Stack: u(5), StackSize: u(6), TLS: u(7)}
			}
		}
	case c.isExec():
		ptr := c.args[0]
		if c.nr64 == sysno.Execveat {
			ptr = c.args[1]
		}
		var ok bool
		c.filename, ok = readString(tk.tid, ptr, pathMax)
		c.nameUnread = !ok
	}
	if c.isClone() && c.cloneFlags()&(unix.CLONE_VM|unix.CLONE_THREAD) == 0 {
		c.parent = readParentSize(tk.tgid)
	}
}

// pathMax bounds a file name read from a tracee (PATH_MAX).
const pathMax = 4096

// bprmFilename is the name the kernel gives the new program (its
// bprm->filename, whose base name becomes the comm): the path as passed,
// or, for execveat relative to a descriptor, /dev/fd/N[/path].
func (c *call) bprmFilename() string {
	if c.nr64 != sysno.Execveat {
		return c.filename
	}
	fd := int32(c.args[0])
	if fd == unix.AT_FDCWD || (len(c.filename) > 0 && c.filename[0] == '/') {
		return c.filename
	}
	name := "/dev/fd/" + strconv.Itoa(int(fd))
	if c.filename != "" {
		name += "/" + c.filename
	}
	return name
}

// fill completes the call's event, at its exit.
func (c *call) fill(ev *tracer.Event, tk *task, ret int64, durNs uint64) {
	ev.ABI, ev.Nr, ev.Ret, ev.DurNs = c.abi, c.sysNr, ret, durNs
	ev.Args = append([]uint64(nil), c.args[:]...)
	ev.Clone3 = c.clone3
	switch {
	case c.isClone():
		if ret > 0 && c.cloneFlags()&unix.CLONE_THREAD == 0 {
			ev.ChildPid = c.childPid
			ev.Parent = c.parent
		}
	case c.isExec() && ret != 0:
		// A failed exec: its file name, read at entry; its argv and
		// environment now, from the caller's memory, which the failed
		// call left as it was.
		ev.Filename, ev.NameUnread = c.filename, c.nameUnread
		argv, envp := c.args[1], c.args[2]
		if c.nr64 == sysno.Execveat {
			argv, envp = c.args[2], c.args[3]
		}
		readFailedExecArgs(tk.tid, argv, envp, c.abi == tracer.ABII386, ev)
	case (c.nr64 == sysno.Socketpair || c.nr64 == sysno.Pipe2) && ret == 0:
		pair := c.args[3]
		if c.nr64 == sysno.Pipe2 {
			pair = c.args[0]
		}
		var b [8]byte
		if readMem(tk.tid, pair, b[:]) == len(b) {
			ev.Fds = []int32{int32(binary.LittleEndian.Uint32(b[:])), int32(binary.LittleEndian.Uint32(b[4:]))}
		}
	}
}
