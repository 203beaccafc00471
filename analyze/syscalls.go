package analyze

import "fmt"

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

// SyscallName is the name strace prints for an x86_64 syscall number, or
// "syscall_N" for numbers this build does not know.
func SyscallName(nr int) string {
	if s, ok := syscallNames[nr]; ok {
		return s
	}
	return fmt.Sprintf("syscall_%d", nr)
}
