package ptrace

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// The seccomp filter stops the workload only at the spawn-related calls,
// a few per spawn, where strace stops twice at every syscall (a glibc
// posix_spawn child makes a hundred rt_sigaction calls before its execve).

// struct seccomp_data (linux/seccomp.h): nr, arch, instruction pointer,
// then six 64-bit arguments.
const (
	dataNr   = 0
	dataArch = 4
	dataArg0 = 16 // low half of args[0] on a little-endian host
)

// auditArch* are the AUDIT_ARCH_ values the filter tells tables apart by:
// the numbers of one table mean other calls in the other.
const (
	auditArchX8664 = 0xc000003e
	auditArchI386  = 0x40000003
)

// The filter's SECCOMP_RET_DATA says which table the stopped call is of,
// as PTRACE_GETEVENTMSG gives it at the seccomp stop.
const (
	dataX8664 = 0
	dataI386  = 1
)

// tracedX8664 and tracedI386 are the calls the filter stops at, by table.
var (
	tracedX8664 = []uint32{sysno.Clone, sysno.Clone3, sysno.Fork, sysno.Vfork, sysno.Execve, sysno.Execveat, sysno.Socketpair, sysno.Pipe2}
	tracedI386  = []uint32{sysno.I386Clone, sysno.I386Clone3, sysno.I386Fork, sysno.I386Vfork, sysno.I386Execve, sysno.I386Execveat, sysno.I386Socketpair,
		sysno.I386Pipe2}
)

// abiOfData is the table a seccomp stop's call went through.
func abiOfData(data uint) tracer.ABI {
	if data == dataI386 {
		return tracer.ABII386
	}
	return tracer.ABIX8664
}

// filterProgram is the classic BPF program: check the arch, stop at the
// spawn-related calls of its table (and i386 socketcall's socketpair),
// allow everything else. x32 calls (the x86_64 arch with bit 30 set in the
// number) match no number here and are allowed.
func filterProgram() []unix.SockFilter {
	var a asm
	a.ld(dataArch)
	a.jeq(auditArchX8664, "x86_64")
	a.jeq(auditArchI386, "i386")
	a.ret(unix.SECCOMP_RET_ALLOW)

	a.label("x86_64")
	a.ld(dataNr)
	for _, nr := range tracedX8664 {
		a.jeq(nr, "trace_x86_64")
	}
	a.ret(unix.SECCOMP_RET_ALLOW)
	a.label("trace_x86_64")
	a.ret(unix.SECCOMP_RET_TRACE | dataX8664)

	a.label("i386")
	a.ld(dataNr)
	for _, nr := range tracedI386 {
		a.jeq(nr, "trace_i386")
	}
	a.jeq(sysno.I386Socketcall, "socketcall")
	a.ret(unix.SECCOMP_RET_ALLOW)
	a.label("socketcall")
	a.ld(dataArg0)
	a.jeq(sysno.SocketcallSocketpair, "trace_i386") // 32-bit glibc makes socketpair through socketcall
	a.ret(unix.SECCOMP_RET_ALLOW)
	a.label("trace_i386")
	a.ret(unix.SECCOMP_RET_TRACE | dataI386)
	return a.assemble()
}

// InstallFilter installs the filter on the calling thread, which must be
// the one that then execs the workload (the filter survives exec and is
// inherited by every child). Without CAP_SYS_ADMIN the kernel wants
// no_new_privs first, which also makes setuid programs of the workload run
// without their privileges; noNewPrivs says whether it was set.
func InstallFilter() (noNewPrivs bool, err error) {
	prog := filterProgram()
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	err = unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog)), 0, 0)
	if err == unix.EACCES {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return false, fmt.Errorf("setting no_new_privs for the seccomp filter: %w", err)
		}
		noNewPrivs = true
		err = unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&fprog)), 0, 0)
	}
	if err != nil {
		return noNewPrivs, fmt.Errorf("installing the seccomp filter: %w", err)
	}
	return noNewPrivs, nil
}

// asm assembles a classic BPF program whose forward jumps go to labels.
type asm struct {
	insns  []unix.SockFilter
	labels map[string]int
	fixups []fixup
}

type fixup struct {
	at    int
	label string
}

func (a *asm) ld(off uint32) {
	a.insns = append(a.insns, unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: off})
}

// jeq jumps to label when the accumulator equals k, else falls through.
func (a *asm) jeq(k uint32, label string) {
	a.fixups = append(a.fixups, fixup{len(a.insns), label})
	a.insns = append(a.insns, unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: k})
}

func (a *asm) ret(k uint32) {
	a.insns = append(a.insns, unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: k})
}

func (a *asm) label(name string) {
	if a.labels == nil {
		a.labels = map[string]int{}
	}
	a.labels[name] = len(a.insns)
}

// assemble resolves the jumps; a label behind its jump or out of a jump's
// reach (255 instructions) is a bug in the program above.
func (a *asm) assemble() []unix.SockFilter {
	for _, f := range a.fixups {
		to, ok := a.labels[f.label]
		off := to - f.at - 1
		if !ok || off < 0 || off > 255 {
			panic(fmt.Sprintf("seccomp filter: jump to %q out of reach", f.label))
		}
		a.insns[f.at].Jt = uint8(off)
	}
	return a.insns
}
