package sysno

import "testing"

// The constants name the calls they are named after, in their own table,
// and a few numbers strace users know are where they should be.
func TestTables(t *testing.T) {
	for _, c := range []struct {
		nr, nrI386 int
		name       string
	}{
		{Socketpair, I386Socketpair, "socketpair"},
		{Clone, I386Clone, "clone"},
		{Fork, I386Fork, "fork"},
		{Vfork, I386Vfork, "vfork"},
		{Execve, I386Execve, "execve"},
		{Exit, I386Exit, "exit"},
		{Wait4, I386Wait4, "wait4"},
		{ExitGroup, I386ExitGroup, "exit_group"},
		{Execveat, I386Execveat, "execveat"},
		{Clone3, I386Clone3, "clone3"},
	} {
		if got, ok := Name(c.nr); !ok || got != c.name {
			t.Errorf("x86_64 %d is %q, %v; want %s", c.nr, got, ok, c.name)
		}
		if got, ok := NameI386(c.nrI386); !ok || got != c.name {
			t.Errorf("i386 %d is %q, %v; want %s", c.nrI386, got, ok, c.name)
		}
	}
	for _, c := range []struct {
		nr          int
		x8664, i386 string
	}{{0, "read", "restart_syscall"}, {2, "open", "fork"}, {11, "munmap", "execve"}, {59, "execve", "oldolduname"}} {
		if got, _ := Name(c.nr); got != c.x8664 {
			t.Errorf("x86_64 %d is %q, want %q", c.nr, got, c.x8664)
		}
		if got, _ := NameI386(c.nr); got != c.i386 {
			t.Errorf("i386 %d is %q, want %q", c.nr, got, c.i386)
		}
	}
	for _, nr := range []int{-1, 335, 423, 100000} { // 335-423: x86_64's gap
		if got, ok := Name(nr); ok {
			t.Errorf("x86_64 %d is %q, want none", nr, got)
		}
	}
}

// socketcall's call numbers are linux/net.h's, which strace's socketcall
// decoder shows as SYS_SOCKETPAIR and the like.
func TestSocketcalls(t *testing.T) {
	for _, c := range []struct{ got, want int }{
		{SocketcallSocket, 1}, {SocketcallAccept, 5}, {SocketcallSocketpair, 8}, {SocketcallSend, 9},
		{SocketcallRecv, 10}, {SocketcallSendmmsg, 20},
	} {
		if c.got != c.want {
			t.Errorf("socketcall number %d, want %d", c.got, c.want)
		}
	}
}
