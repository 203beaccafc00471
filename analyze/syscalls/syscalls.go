package syscalls

import (
	"fmt"

	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// SyscallName is the name strace prints for syscall number nr of abi's
// table, or "syscall_N" for numbers this build does not know.
func SyscallName(abi tracer.ABI, nr int) string {
	name := sysno.Name
	if abi == tracer.ABII386 {
		name = sysno.NameI386
		if s, ok := socketcallPseudo[nr]; ok {
			return s
		}
	}
	if s, ok := name(nr); ok {
		return s
	}
	return fmt.Sprintf("syscall_%d", nr)
}

// socketcallPseudo names the numbers the kernel side counts socketcall's
// accept, send and recv under: they have no i386 number of their own.
// socketcall's other calls count as their own i386 numbers (socketpair as
// 360), and strace names each by the call it makes too.
var socketcallPseudo = map[int]string{
	tracer.I386SocketcallAccept: "accept",
	tracer.I386SocketcallSend:   "send",
	tracer.I386SocketcallRecv:   "recv",
}
