package ptrace

import (
	"encoding/binary"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// runFilter interprets the classic BPF program the way the kernel runs a
// seccomp filter, on a struct seccomp_data built from arch, nr and arg0.
func runFilter(t *testing.T, prog []unix.SockFilter, arch, nr uint32, arg0 uint64) uint32 {
	t.Helper()
	var data [64]byte
	binary.LittleEndian.PutUint32(data[dataNr:], nr)
	binary.LittleEndian.PutUint32(data[dataArch:], arch)
	binary.LittleEndian.PutUint64(data[dataArg0:], arg0)
	var acc uint32
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			acc = binary.LittleEndian.Uint32(data[in.K:])
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			if acc == in.K {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		default:
			t.Fatalf("instruction %d: unexpected code %#x", pc, in.Code)
		}
	}
	t.Fatal("the program ran off its end")
	return 0
}

func TestFilterStopsOnlyTheSpawnCalls(t *testing.T) {
	prog := filterProgram()
	if len(prog) > unix.BPF_MAXINSNS {
		t.Fatalf("%d instructions", len(prog))
	}
	trace64 := uint32(unix.SECCOMP_RET_TRACE | dataX8664)
	trace32 := uint32(unix.SECCOMP_RET_TRACE | dataI386)
	allow := uint32(unix.SECCOMP_RET_ALLOW)
	for _, c := range []struct {
		name     string
		arch, nr uint32
		arg0     uint64
		want     uint32
	}{
		{"x86_64 clone", auditArchX8664, sysno.Clone, 0, trace64},
		{"x86_64 clone3", auditArchX8664, sysno.Clone3, 0, trace64},
		{"x86_64 fork", auditArchX8664, sysno.Fork, 0, trace64},
		{"x86_64 vfork", auditArchX8664, sysno.Vfork, 0, trace64},
		{"x86_64 execve", auditArchX8664, sysno.Execve, 0, trace64},
		{"x86_64 execveat", auditArchX8664, sysno.Execveat, 0, trace64},
		{"x86_64 socketpair", auditArchX8664, sysno.Socketpair, 0, trace64},
		{"x86_64 rt_sigaction", auditArchX8664, 13, 0, allow},
		{"x86_64 open (i386 fork's number)", auditArchX8664, sysno.I386Fork, 0, allow},
		{"x86_64 wait4", auditArchX8664, sysno.Wait4, 0, allow},
		{"x32 execve", auditArchX8664, 0x40000000 | 520, 0, allow},
		{"i386 fork", auditArchI386, sysno.I386Fork, 0, trace32},
		{"i386 vfork", auditArchI386, sysno.I386Vfork, 0, trace32},
		{"i386 clone", auditArchI386, sysno.I386Clone, 0, trace32},
		{"i386 clone3", auditArchI386, sysno.I386Clone3, 0, trace32},
		{"i386 execve", auditArchI386, sysno.I386Execve, 0, trace32},
		{"i386 execveat", auditArchI386, sysno.I386Execveat, 0, trace32},
		{"i386 socketpair", auditArchI386, sysno.I386Socketpair, 0, trace32},
		{"i386 socketcall(SYS_SOCKETPAIR)", auditArchI386, sysno.I386Socketcall, sysno.SocketcallSocketpair, trace32},
		{"i386 socketcall(SYS_SOCKET)", auditArchI386, sysno.I386Socketcall, sysno.SocketcallSocket, allow},
		{"i386 execve's x86_64 twin (munmap)", auditArchI386, sysno.Execve, 0, allow},
		{"another arch", 0xc00000b7, sysno.Execve, 0, allow},
	} {
		if got := runFilter(t, prog, c.arch, c.nr, c.arg0); got != c.want {
			t.Errorf("%s: %#x, want %#x", c.name, got, c.want)
		}
	}
}

func TestShimCredRoundTrip(t *testing.T) {
	for _, cred := range []*syscall.Credential{
		nil,
		{Uid: 1000, Gid: 1000, Groups: []uint32{}},
		{Uid: 65534, Gid: 65533, Groups: []uint32{4, 24, 27}},
	} {
		args := shimArgs("/bin/true", []string{"true"}, cred)
		got, err := parseCred(args[2])
		if err != nil {
			t.Fatal(err)
		}
		if (got == nil) != (cred == nil) || got != nil && (got.Uid != cred.Uid || got.Gid != cred.Gid || len(got.Groups) != len(cred.Groups)) {
			t.Errorf("%+v came back as %+v", cred, got)
		}
	}
	for _, bad := range []string{"", "1:2", "x:1:", "1:2:a"} {
		if _, err := parseCred(bad); err == nil {
			t.Errorf("parseCred(%q) took it", bad)
		}
	}
}

func TestExecNames(t *testing.T) {
	if got := commOf("/usr/lib/x86_64-linux-gnu/some-very-long-program-name"); got != "some-very-long-" {
		t.Errorf("comm %q", got)
	}
	at := func(fd int32, name string) *call {
		return &call{nr64: sysno.Execveat, args: [6]uint64{uint64(uint32(fd))}, filename: name}
	}
	for _, c := range []struct {
		c    *call
		want string
	}{
		{&call{nr64: sysno.Execve, filename: "true"}, "true"},
		{at(unix.AT_FDCWD, "bin/true"), "bin/true"},
		{at(5, "/bin/true"), "/bin/true"},
		{at(5, "true"), "/dev/fd/5/true"},
		{at(5, ""), "/dev/fd/5"},
	} {
		if got := c.c.bprmFilename(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.c, got, c.want)
		}
	}
}
