// Package sysno is the x86_64 and i386 syscall tables: numbers and the
// names strace prints, generated from the kernel's uapi headers
// (asm/unistd_64.h and asm/unistd_32.h, Debian's linux-libc-dev) by
// mksysno, which also writes bpf/sysno.h for the BPF programs. Every
// syscall number spawntrace uses is defined there and nowhere else.
//
// The i386 table is the compat one: a 32-bit program's syscalls, and a
// 64-bit program's int $0x80, go through it, and its numbers name other
// calls than x86_64's (i386's 2 is fork, x86_64's 2 is open).
//
// It imports nothing, so every package can use it.
package sysno

//go:generate go run ./mksysno -o . -h ../../bpf/sysno.h

// Name is the name of x86_64 syscall nr, and whether the table has one.
func Name(nr int) (string, bool) { return lookup(namesX8664[:], nr) }

// NameI386 is the name of i386 syscall nr, and whether the table has one.
func NameI386(nr int) (string, bool) { return lookup(namesI386[:], nr) }

func lookup(names []string, nr int) (string, bool) {
	if nr < 0 || nr >= len(names) || names[nr] == "" {
		return "", false
	}
	return names[nr], true
}
