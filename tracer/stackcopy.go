package tracer

import (
	"fmt"
	"unsafe"
)

// StackCopy is what an unwinder needs of a spawner's user stack that the
// frame-pointer walk (Event.UserFrames) cannot give: the thread's
// registers as the spawn call returned to it, and the bytes of its stack
// from SP up, copied by the kernel (Config.StackCopy).
type StackCopy struct {
	// Code32: the thread ran 32-bit code (a 32-bit program: its code
	// segment was the kernel's __USER32_CS, not the syscall's table, so a
	// 64-bit program's int $0x80 is not). Its eip, esp, ebp, edi and ecx
	// are then IP, SP, BP, DI and CX, and its stack's words are 4 bytes.
	Code32 bool
	// IP, SP, BP are the leaf's registers; DI and CX hold a vfork's return
	// address across its syscall in x86-64 glibc (rdi) and i386 glibc
	// (ecx).
	IP, SP, BP, DI, CX uint64
	// Stack holds the bytes at SP, SP+1, ...: up to the main thread's
	// initial stack pointer (where _start's frame ends), or up to the
	// copy's size limit.
	Stack []byte
	// AtLimit: the copy stopped at its size limit (bpf STACK_COPY_MAX)
	// with stack left above it, or on a thread whose stack's top is not
	// known: an unwind that runs out of bytes was cut by the copy.
	AtLimit bool
	// RecordBytes is the copy's record in the ring buffer (its header and
	// Stack; the ring adds 8 bytes of its own to each record).
	RecordBytes int
}

// StackCopy is a spawn event's copy of its caller's stack; nil when stacks
// were not asked for or the copy was lost.
func (ev *Event) StackCopy() *StackCopy { return ev.stackCopy }

// stackCopies holds the stack copies read ahead of their spawn events, by
// tid: the kernel sends a copy just before its spawn's record, but another
// CPU's records may come between the two.
type stackCopies struct {
	byTid map[uint32]pendingCopy
}

type pendingCopy struct {
	tsNs uint64
	c    *StackCopy
}

// maxPendingCopies bounds the copies whose spawn record has not come (lost
// when the ring was full): past it they are forgotten.
const maxPendingCopies = 1024

// stackCopyHeader is the bytes of struct stack_copy before stack[].
var stackCopyHeader = int(unsafe.Offsetof(spawntraceStackCopy{}.Stack))

// add keeps the copy in record b until its spawn event comes.
func (s *stackCopies) add(b []byte) error {
	if len(b) < stackCopyHeader {
		return fmt.Errorf("short stack copy record: %d bytes", len(b))
	}
	// The record is only as long as its used stack: read the header in
	// place, the stack from the bytes that follow.
	r := (*spawntraceStackCopy)(unsafe.Pointer(&b[0]))
	n := int(r.Len)
	if n > len(b)-stackCopyHeader || n > len(r.Stack) {
		return fmt.Errorf("stack copy record of %d bytes claims %d bytes of stack", len(b), n)
	}
	if s.byTid == nil || len(s.byTid) >= maxPendingCopies {
		s.byTid = map[uint32]pendingCopy{}
	}
	s.byTid[r.Tid] = pendingCopy{tsNs: r.TsNs, c: &StackCopy{
		Code32: r.Flags&uint32(spawntraceStackCopyFlagSTACKF_CODE32) != 0,
		IP:     r.Ip, SP: r.Sp, BP: r.Bp, DI: r.Di, CX: r.Cx,
		Stack:       append([]byte(nil), b[stackCopyHeader:stackCopyHeader+n]...),
		AtLimit:     r.Flags&uint32(spawntraceStackCopyFlagSTACKF_AT_CAP) != 0,
		RecordBytes: len(b),
	}}
	return nil
}

// attach gives a spawn event the copy sent for it, if any.
func (s *stackCopies) attach(ev *Event) {
	p, ok := s.byTid[ev.Tid]
	if !ok || ev.Kind != KindSyscall || p.tsNs != ev.TimeNs {
		return
	}
	delete(s.byTid, ev.Tid)
	ev.stackCopy = p.c
}
