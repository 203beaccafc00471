package tracer

import (
	"fmt"

	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// ABI is the syscall table a call went through. A 64-bit program's calls
// use x86_64's; a 32-bit program's, and a 64-bit program's int $0x80, use
// i386's (the kernel's compat syscalls), whose numbers mean other calls:
// i386's 2 is fork, x86_64's 2 is open. strace calls them personalities.
type ABI uint8

const (
	// ABIX8664 is the x86_64 table, the zero value: recordings made before
	// the ABI was recorded are all of it.
	ABIX8664 ABI = 0
	// ABII386 is the i386 table (compat syscalls).
	ABII386 ABI = 1
)

var abiNames = map[ABI]string{ABIX8664: "x86_64", ABII386: "i386"}

func (a ABI) String() string {
	if s, ok := abiNames[a]; ok {
		return s
	}
	return fmt.Sprintf("abi(%d)", uint8(a))
}

// Known says whether a is a table spawntrace records (what MarshalText
// can write).
func (a ABI) Known() bool {
	_, ok := abiNames[a]
	return ok
}

// Mode is strace's name for the personality: "64 bit", "32 bit".
func (a ABI) Mode() string {
	if a == ABII386 {
		return "32 bit"
	}
	return "64 bit"
}

// MarshalText writes the ABI by name.
func (a ABI) MarshalText() ([]byte, error) {
	if _, ok := abiNames[a]; !ok {
		return nil, fmt.Errorf("unknown syscall ABI %d", uint8(a))
	}
	return []byte(a.String()), nil
}

// UnmarshalText accepts the names MarshalText writes.
func (a *ABI) UnmarshalText(b []byte) error {
	for abi, name := range abiNames {
		if name == string(b) {
			*a = abi
			return nil
		}
	}
	return fmt.Errorf("unknown syscall ABI %q", b)
}

// i386 numbers the kernel side counts socketcall's accept, send and recv
// under (bpf/spawntrace.h's enum socketcall_pseudo): past the end of the
// i386 table, as they have no i386 number of their own.
const (
	I386SocketcallAccept = int(spawntraceSocketcallPseudoSOCKETCALL_PSEUDO_ACCEPT)
	I386SocketcallSend   = int(spawntraceSocketcallPseudoSOCKETCALL_PSEUDO_SEND)
	I386SocketcallRecv   = int(spawntraceSocketcallPseudoSOCKETCALL_PSEUDO_RECV)
)

// i386 numbers of the calls that have an x86_64 twin spawntrace names.
var i386To64 = map[int]int{
	sysno.I386Exit:       sysno.Exit,
	sysno.I386Fork:       sysno.Fork,
	sysno.I386Execve:     sysno.Execve,
	sysno.I386Wait4:      sysno.Wait4,
	sysno.I386Clone:      sysno.Clone,
	sysno.I386Vfork:      sysno.Vfork,
	sysno.I386ExitGroup:  sysno.ExitGroup,
	sysno.I386Execveat:   sysno.Execveat,
	sysno.I386Socketpair: sysno.Socketpair,
	sysno.I386Pipe2:      sysno.Pipe2,
	sysno.I386Clone3:     sysno.Clone3,
}

// Nr64 is the x86_64 number of the call that is nr in a's table: nr itself
// for x86_64; for i386, the x86_64 number of the same call when it is one
// spawntrace treats specially (clone, clone3, fork, vfork, execve, execveat,
// socketpair, pipe2, wait4, exit, exit_group), else -1, which is no call's number.
// Code that asks "is this an execve" asks it of Nr64, never of a raw number.
func (a ABI) Nr64(nr int) int {
	if a == ABIX8664 {
		return nr
	}
	if n, ok := i386To64[nr]; ok && a == ABII386 {
		return n
	}
	return -1
}

// Nr64 is the x86_64 number of the call ev made (ABI.Nr64).
func (ev *Event) Nr64() int { return ev.ABI.Nr64(ev.Nr) }
