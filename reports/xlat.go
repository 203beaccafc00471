package reports

import (
	"fmt"
	"strings"
)

// The values below are x86_64 Linux ABI facts, written out rather than taken
// from golang.org/x/sys/unix: unix defines them only when building for Linux,
// and reports must also run where a recording is read (a laptop, another OS).

// flagName is one entry of a strace xlat table.
type flagName struct {
	val  uint64
	name string
}

// cloneFlags is strace 6.1's src/xlat/clone_flags.in in its order, which is
// the order strace prints the names in (not numeric: CLONE_PIDFD comes
// before CLONE_PTRACE, CLONE_UNTRACED before CLONE_CHILD_SETTID).
// CLONE_DETACHED (0x400000) is left out there too, so strace prints it as hex.
var cloneFlags = []flagName{
	{0x00000100, "CLONE_VM"},
	{0x00000200, "CLONE_FS"},
	{0x00000400, "CLONE_FILES"},
	{0x00000800, "CLONE_SIGHAND"},
	{0x00001000, "CLONE_PIDFD"},
	{0x00002000, "CLONE_PTRACE"},
	{0x00004000, "CLONE_VFORK"},
	{0x00008000, "CLONE_PARENT"},
	{0x00010000, "CLONE_THREAD"},
	{0x00020000, "CLONE_NEWNS"},
	{0x00040000, "CLONE_SYSVSEM"},
	{0x00080000, "CLONE_SETTLS"},
	{0x00100000, "CLONE_PARENT_SETTID"},
	{0x00200000, "CLONE_CHILD_CLEARTID"},
	{0x00800000, "CLONE_UNTRACED"},
	{0x01000000, "CLONE_CHILD_SETTID"},
	{0x02000000, "CLONE_NEWCGROUP"},
	{0x04000000, "CLONE_NEWUTS"},
	{0x08000000, "CLONE_NEWIPC"},
	{0x10000000, "CLONE_NEWUSER"},
	{0x20000000, "CLONE_NEWPID"},
	{0x40000000, "CLONE_NEWNET"},
	{0x80000000, "CLONE_IO"},
}

// clone3Flags is src/xlat/clone3_flags.in: clone3 prints these after
// cloneFlags. CLONE_NEWTIME sits in clone(2)'s exit-signal byte, so only
// clone3 can pass it.
var clone3Flags = []flagName{
	{0x00000080, "CLONE_NEWTIME"},
	{0x100000000, "CLONE_CLEAR_SIGHAND"},
	{0x200000000, "CLONE_INTO_CGROUP"},
}

// Flag bits the decoders test.
const (
	clonePidfd         = 0x00001000
	cloneSettls        = 0x00080000
	cloneParentSettid  = 0x00100000
	cloneChildCleartid = 0x00200000
	cloneChildSettid   = 0x01000000
	csignal            = 0xff // clone(2): the exit signal in the low byte
)

// atFlags is src/xlat/at_flags.in, for execveat's last argument.
var atFlags = []flagName{
	{0x100, "AT_SYMLINK_NOFOLLOW"},
	{0x200, "AT_REMOVEDIR"},
	{0x400, "AT_SYMLINK_FOLLOW"},
	{0x800, "AT_NO_AUTOMOUNT"},
	{0x1000, "AT_EMPTY_PATH"},
	{0x8000, "AT_RECURSIVE"},
}

// sockTypeFlags is src/xlat/sock_type_flags.in (SOCK_CLOEXEC first).
var sockTypeFlags = []flagName{
	{0x80000, "SOCK_CLOEXEC"},
	{0x800, "SOCK_NONBLOCK"},
}

// sockTypes is src/xlat/socktypes.in for x86_64.
var sockTypes = map[uint64]string{
	1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 4: "SOCK_RDM",
	5: "SOCK_SEQPACKET", 6: "SOCK_DCCP", 10: "SOCK_PACKET",
}

// addrFamilies is src/xlat/addrfams.in (value-indexed).
var addrFamilies = []string{
	"AF_UNSPEC", "AF_UNIX", "AF_INET", "AF_AX25", "AF_IPX", "AF_APPLETALK",
	"AF_NETROM", "AF_BRIDGE", "AF_ATMPVC", "AF_X25", "AF_INET6", "AF_ROSE",
	"AF_DECnet", "AF_NETBEUI", "AF_SECURITY", "AF_KEY", "AF_NETLINK",
	"AF_PACKET", "AF_ASH", "AF_ECONET", "AF_ATMSVC", "AF_RDS", "AF_SNA",
	"AF_IRDA", "AF_PPPOX", "AF_WANPIPE", "AF_LLC", "AF_IB", "AF_MPLS",
	"AF_CAN", "AF_TIPC", "AF_BLUETOOTH", "AF_IUCV", "AF_RXRPC", "AF_ISDN",
	"AF_PHONET", "AF_IEEE802154", "AF_CAIF", "AF_ALG", "AF_NFC", "AF_VSOCK",
	"AF_KCM", "AF_QIPCRTR", "AF_SMC", "AF_XDP", "AF_MCTP",
}

// printFlags is strace's printflags_ex: the names of the set bits, table by
// table in table order, joined by "|"; leftover bits as one hex number after
// them; with no name at all, the hex number and a comment naming the
// unknown kind ("0x400000 /* CLONE_??? */"), and "0" for no bits.
func printFlags(flags uint64, unknown string, tables ...[]flagName) string {
	var names []string
	for _, t := range tables {
		for _, f := range t {
			if flags&f.val == f.val && f.val != 0 {
				names = append(names, f.name)
				flags &^= f.val
			}
		}
	}
	switch {
	case len(names) == 0 && flags == 0:
		return "0"
	case len(names) == 0:
		return fmt.Sprintf("%#x /* %s */", flags, unknown)
	case flags != 0:
		names = append(names, fmt.Sprintf("%#x", flags))
	}
	return strings.Join(names, "|")
}

// signalNames is src/linux/generic/signalent.h: 1 to 32. Above that, strace
// names real-time signals relative to SIGRTMIN (32), up to 64.
var signalNames = [...]string{
	"", "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS",
	"SIGFPE", "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM",
	"SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP",
	"SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM",
	"SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS", "SIGRTMIN",
}

// SignalName is the name strace prints for a signal number (strace's
// printsignal): "SIGCHLD", "SIGRT_3" for 35, and the number itself for 0 and
// for numbers no signal has.
func SignalName(sig uint64) string {
	switch {
	case sig >= 1 && sig < uint64(len(signalNames)):
		return signalNames[sig]
	case sig > 32 && sig <= 64:
		return fmt.Sprintf("SIGRT_%d", sig-32)
	}
	return fmt.Sprintf("%d", int32(sig))
}

// CloneFlags decodes clone(2)'s flags argument as strace prints it: the
// CLONE_* names, then the exit signal from the low byte
// ("CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD"); "SIGCHLD" alone, or
// "0" when nothing is set.
func CloneFlags(flags uint64) string {
	sig := flags & csignal
	flags &^= csignal
	if flags == 0 {
		return SignalName(sig)
	}
	s := printFlags(flags, "CLONE_???", cloneFlags)
	if sig != 0 {
		s += "|" + SignalName(sig)
	}
	return s
}

// Clone3Flags decodes struct clone_args.flags as strace prints it; clone3
// has its exit signal in a field of its own.
func Clone3Flags(flags uint64) string {
	return printFlags(flags, "CLONE_???", cloneFlags, clone3Flags)
}

// sockType is strace's tprint_sock_type: the type from the low four bits,
// then the SOCK_* flags.
func sockType(v uint64) string {
	v = uint64(uint32(v)) // the kernel and strace take an int
	if name, ok := sockTypes[v&0xf]; ok {
		if rest := v &^ 0xf; rest != 0 {
			return name + "|" + printFlags(rest, "SOCK_???", sockTypeFlags)
		}
		return name
	}
	return printFlags(v, "SOCK_???", sockTypeFlags)
}

// pipe2FlagNames are the open flags pipe2 takes (strace's open_mode_flags
// order; O_NOTIFICATION_PIPE is O_EXCL's value).
var pipe2FlagNames = []flagName{{0x80, "O_NOTIFICATION_PIPE"}, {0x800, "O_NONBLOCK"}, {0x4000, "O_DIRECT"},
	{0x80000, "O_CLOEXEC"}}

// pipe2Flags is pipe2's flags as strace prints them.
func pipe2Flags(v uint64) string {
	if v == 0 {
		return "0"
	}
	return printFlags(uint64(uint32(v)), "O_???", pipe2FlagNames)
}

// addrFamily is strace's printxval(addrfams, ...).
func addrFamily(v uint64) string {
	if v < uint64(len(addrFamilies)) {
		return addrFamilies[v]
	}
	return fmt.Sprintf("%#x /* AF_??? */", v)
}
