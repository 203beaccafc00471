package ptrace

import (
	"bytes"
	"encoding/binary"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/spawntrace/spawntrace/tracer"
)

// getRegs reads a tracee's registers in x86_64's layout whatever mode it
// runs in. unix.PtraceGetRegs asks for PTRACE_GETREGSET, which gives a
// 32-bit tracee's in i386's 68-byte layout and leaves the rest of the
// struct (orig_rax, cs) as the last call left it; PTRACE_GETREGS gives the
// tracer's own view.
func getRegs(tid uint32, regs *unix.PtraceRegs) error {
	_, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GETREGS, uintptr(tid), 0, uintptr(unsafe.Pointer(regs)), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// readMem reads a tracee's memory at addr into b and says how many bytes
// it read: fewer when the range runs into unmapped memory.
func readMem(tid uint32, addr uint64, b []byte) int {
	if len(b) == 0 || addr == 0 {
		return 0
	}
	local := []unix.Iovec{{Base: &b[0], Len: uint64(len(b))}}
	remote := []unix.RemoteIovec{{Base: uintptr(addr), Len: len(b)}}
	n, err := unix.ProcessVMReadv(int(tid), local, remote, 0)
	if err != nil {
		return 0
	}
	return n
}

// readString reads a NUL-terminated string of at most max bytes, a page
// at a time (a read that crosses into an unmapped page returns nothing of
// it). ok is false when no terminated string could be read.
func readString(tid uint32, addr uint64, max int) (s string, ok bool) {
	var out []byte
	page := uint64(os.Getpagesize())
	buf := make([]byte, page)
	for len(out) < max {
		n := int(page - addr%page)
		got := readMem(tid, addr, buf[:n])
		if got == 0 {
			return string(out), false
		}
		if i := bytes.IndexByte(buf[:got], 0); i >= 0 {
			out = append(out, buf[:i]...)
			if len(out) > max {
				return string(out[:max]), false
			}
			return string(out), true
		}
		out = append(out, buf[:got]...)
		addr += uint64(got)
	}
	return string(out[:max]), false
}

// readParentSize reads a spawning process's memory from /proc/PID/status,
// as the BPF tracer reads mm->rss_stat at the fork: nil when unreadable.
// map_count is not there (counting /proc/PID/maps lines would cost a read
// of every mapping per fork): MapCount stays 0.
func readParentSize(pid uint32) *tracer.ParentSize {
	b, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(pid), 10) + "/status")
	if err != nil {
		return nil
	}
	var ps tracer.ParentSize
	found := 0
	for line := range strings.SplitSeq(string(b), "\n") {
		name, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *uint64
		switch name {
		case "RssAnon":
			dst = &ps.RSSAnonBytes
		case "RssFile":
			dst = &ps.RSSFileBytes
		case "RssShmem":
			dst = &ps.RSSShmemBytes
		case "VmPTE":
			dst = &ps.PgtablesBytes
		default:
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			continue
		}
		*dst = kb << 10
		found++
	}
	if found == 0 {
		return nil
	}
	return &ps
}

// tgidOf is a task's process id from /proc, 0 when unreadable.
func tgidOf(tid uint32) uint32 {
	b, err := os.ReadFile("/proc/" + strconv.FormatUint(uint64(tid), 10) + "/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Tgid:"); ok {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
			return uint32(n)
		}
	}
	return 0
}

// commLen is TASK_COMM_LEN less its NUL.
const commLen = 15

// commOf is the comm the kernel gives a program it execs from filename:
// its base name, cut to 15 bytes.
func commOf(filename string) string {
	if i := strings.LastIndexByte(filename, '/'); i >= 0 {
		filename = filename[i+1:]
	}
	if len(filename) > commLen {
		filename = filename[:commLen]
	}
	return filename
}

// argvKeepBytes is how much of an exec's argv an event keeps, as the BPF
// tracer's (bpf/spawntrace.h ARGV_LEN).
const argvKeepBytes = 512

// readExecStrings reads a program's argv and environment just after its
// exec, from /proc: the kernel's copies on the new stack.
func readExecStrings(pid uint32, ev *tracer.Event) {
	dir := "/proc/" + strconv.FormatUint(uint64(pid), 10)
	if b, err := os.ReadFile(dir + "/cmdline"); err == nil {
		ev.Argc = bytes.Count(b, []byte{0})
		if len(b) > argvKeepBytes {
			b = b[:argvKeepBytes]
			ev.ArgvTruncated = true
		}
		if len(b) > 0 && b[len(b)-1] == 0 {
			b = b[:len(b)-1]
		}
		if len(b) > 0 || ev.Argc > 0 {
			for a := range bytes.SplitSeq(b, []byte{0}) {
				ev.Argv = append(ev.Argv, string(a))
			}
		}
	}
	if b, err := os.ReadFile(dir + "/environ"); err == nil {
		ev.EnvBytes = len(b)
		ev.EnvCount = bytes.Count(b, []byte{0})
	}
}

// kernelBefore reports whether the running kernel is older than
// major.minor; false when its release cannot be read.
func kernelBefore(major, minor int) bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	rel := unix.ByteSliceToString(u.Release[:])
	parts := strings.SplitN(rel, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(strings.TrimRightFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil {
		return false
	}
	return ma < major || ma == major && mi < minor
}

// A failed exec's argv is kept as the BPF tracer keeps it
// (bpf/spawntrace.h): at most maxArgs arguments of at most argChunk bytes
// each, argvKeepBytes in all; the environment is counted up to maxEnv.
const (
	maxArgs  = 16
	argChunk = 128
	maxEnv   = 1 << 16
)

// readFailedExecArgs reads a failed exec's argv and counts its
// environment, from the caller's arrays of pointers (4 bytes each for a
// 32-bit caller).
func readFailedExecArgs(tid uint32, argv, envp uint64, compat bool, ev *tracer.Event) {
	ptrs := readPtrs(tid, argv, compat, maxArgs+1)
	used := 0
	for i, p := range ptrs {
		if i >= maxArgs || used > argvKeepBytes-argChunk {
			ev.ArgvTruncated = true
			break
		}
		s, ok := readString(tid, p, argChunk-1)
		if !ok && len(s) == argChunk-1 {
			ev.ArgvTruncated = true
		}
		ev.Argv = append(ev.Argv, s)
		ev.Argc = i + 1
		used += len(s) + 1
	}
	if envp != 0 {
		ev.EnvCount = len(readPtrs(tid, envp, compat, maxEnv))
	}
}

// readPtrs reads a NULL-terminated array of user pointers, up to max of
// them, a page at a time; it stops early at memory it cannot read.
func readPtrs(tid uint32, addr uint64, compat bool, max int) []uint64 {
	size := uint64(8)
	if compat {
		size = 4
	}
	var out []uint64
	page := uint64(os.Getpagesize())
	buf := make([]byte, page)
	for addr != 0 && len(out) < max {
		n := int(page - addr%page)
		got := readMem(tid, addr, buf[:n])
		if got < int(size) {
			return out
		}
		for i := 0; i+int(size) <= got && len(out) < max; i += int(size) {
			var p uint64
			if compat {
				p = uint64(binary.LittleEndian.Uint32(buf[i:]))
			} else {
				p = binary.LittleEndian.Uint64(buf[i:])
			}
			if p == 0 {
				return out
			}
			out = append(out, p)
		}
		addr += uint64(got - got%int(size))
	}
	return out
}

// readNewStack reads a program's argv and environment size at its exec
// stop from its new stack, where the kernel has just laid them out:
// argc at the stack pointer, then the argv and envp arrays, whose strings
// follow one another (argv's, then the environment's): three reads of
// the tracee's memory, where /proc/PID/cmdline and environ cost two
// files' opens and reads at every exec. False when the stack cannot be
// read as that.
func readNewStack(tid uint32, sp uint64, compat bool, ev *tracer.Event) bool {
	size := 8
	if compat {
		size = 4
		sp = uint64(uint32(sp))
	}
	word := func(b []byte) uint64 {
		if compat {
			return uint64(binary.LittleEndian.Uint32(b))
		}
		return binary.LittleEndian.Uint64(b)
	}
	var head [8]byte
	if readMem(tid, sp, head[:size]) != size {
		return false
	}
	argc := word(head[:])
	if argc > 1<<20 {
		return false
	}
	argv := readPtrs(tid, sp+uint64(size), compat, int(argc)+1)
	if uint64(len(argv)) != argc {
		return false
	}
	envp := readPtrs(tid, sp+uint64(size)*(argc+2), compat, maxEnv)
	ev.Argc, ev.EnvCount = int(argc), len(envp)
	if len(envp) > 0 {
		last, ok := readString(tid, envp[len(envp)-1], 1<<20)
		if !ok {
			return false
		}
		ev.EnvBytes = int(envp[len(envp)-1] + uint64(len(last)) + 1 - envp[0])
	}
	if argc == 0 {
		return true
	}
	// The argv strings end where the environment's begin; without an
	// environment, at the last argument's NUL.
	n := argvKeepBytes + 1
	if len(envp) > 0 && envp[0] > argv[0] {
		n = min(n, int(envp[0]-argv[0]))
	}
	b := make([]byte, n)
	got := readMem(tid, argv[0], b)
	if got == 0 {
		return false
	}
	b = b[:got]
	// The argument strings end at the argc-th NUL: without an environment
	// the read may run past it.
	for i, nuls := 0, uint64(0); i < len(b); i++ {
		if b[i] == 0 {
			if nuls++; nuls == argc {
				b = b[:i+1]
				break
			}
		}
	}
	if len(b) > argvKeepBytes {
		b = b[:argvKeepBytes]
		ev.ArgvTruncated = true
	}
	if b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	} else {
		ev.ArgvTruncated = true // cut inside an argument
	}
	for a := range bytes.SplitSeq(b, []byte{0}) {
		ev.Argv = append(ev.Argv, string(a))
	}
	if len(ev.Argv) < ev.Argc {
		ev.ArgvTruncated = true
	}
	return true
}
