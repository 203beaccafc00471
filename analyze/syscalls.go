package analyze

import (
	"fmt"

	"github.com/spawntrace/spawntrace/tracer"
)

// x86_64 syscall numbers spawntrace treats specially.
const (
	NrSocketpair = 53
	NrClone      = 56
	NrFork       = 57
	NrVfork      = 58
	NrExecve     = 59
	NrExit       = 60
	NrWait4      = 61
	NrExitGroup  = 231
	NrExecveat   = 322
	NrClone3     = 435
)

// SyscallName is the name strace prints for syscall number nr of abi's
// table, or "syscall_N" for numbers this build does not know.
func SyscallName(abi tracer.ABI, nr int) string {
	names := syscallNames
	if abi == tracer.ABII386 {
		names = syscallNamesI386
		if s, ok := socketcallPseudo[nr]; ok {
			return s
		}
	}
	if s, ok := names[nr]; ok {
		return s
	}
	return fmt.Sprintf("syscall_%d", nr)
}

// socketcallPseudo names the numbers the kernel side counts socketcall's
// accept, send and recv under (490 + their socketcall number, past the end
// of the i386 table): they have no i386 number of their own. socketcall's
// other calls count as their own i386 numbers (socketpair as 360), and
// strace names each by the call it makes too.
var socketcallPseudo = map[int]string{495: "accept", 499: "send", 500: "recv"}
