// Package unwind walks a user stack copied at a syscall by the call frame
// information (CFI) of the objects its code is in, as perf --call-graph
// dwarf does: code built without frame pointers (Debian's and RHEL's
// glibc) leaves a frame-pointer walk at its first frame.
//
// It parses .eh_frame, .eh_frame_hdr and .debug_frame of x86-64 and i386
// ELF objects itself (a 32-bit program's stack has 4-byte words and its
// CFI i386's register numbers): the project's dependencies are cilium/ebpf, x/sys and
// google/pprof only, so Delve's pkg/dwarf/frame was not imported; binutils'
// readelf --debug-dump=frames-interp is the tests' oracle. It reads no
// process and opens no file: a Resolver (package symbolize's) maps each
// address to its object's Table.
package unwind

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Regs are the user registers of the thread when its stack was copied.
type Regs struct {
	// Arch is the mode the thread's code ran in: ArchI386 for a 32-bit
	// program, whose eip, esp and ebp IP, SP and BP then hold.
	Arch       Arch
	IP, SP, BP uint64
	// Other holds more of the leaf's registers by Arch's DWARF numbers
	// (x86-64: rax 0, rdx 1, rcx 2, rbx 3, rsi 4, rdi 5, r8..r15 8..15;
	// i386: eax 0, ecx 1, edx 2, ebx 3, esi 6, edi 7) where the capture
	// has them, bit n of OtherValid saying register n is there: a leaf's
	// CFI may keep the return address in one (glibc's vfork pops it into
	// rdi around its syscall, i386 glibc's into ecx).
	Other      [16]uint64
	OtherValid uint16
}

// Resolver finds the CFI of the code at an address.
type Resolver interface {
	// Table returns the CFI of the object holding the code at pc and the
	// object's load bias: pc-bias is pc's address in the Table. A nil
	// Table (with a nil error) means no object file is mapped there
	// (anonymous memory, JIT code).
	Table(pc uint64) (t *Table, bias uint64, err error)
}

// Stop says why an unwind ended.
type Stop uint8

const (
	// StopOutermost: the CFI says the last frame has no caller (its return
	// address rule is undefined, as _start's and clone's are) or the
	// return address is 0. A complete stack.
	StopOutermost Stop = iota
	// StopCut: the next frame's data lies beyond the copied stack
	// (Result.NeedBytes says how far, when known).
	StopCut
	// StopNoCFI: no CFI covers the frame's address and no frame pointer
	// could stand in (Result.Err says why).
	StopNoCFI
	// StopUnsupported: the frame's CFI needs what this unwinder does not
	// implement (a DWARF operation, a CFA in a register it does not track).
	StopUnsupported
	// StopMaxFrames: MaxFrames frames were found.
	StopMaxFrames
	// StopBadFrame: the rules gave a caller that cannot be (a stack pointer
	// that did not move up, a read below the stack pointer): a corrupt
	// stack or wrong CFI.
	StopBadFrame
)

func (s Stop) String() string {
	switch s {
	case StopOutermost:
		return "outermost"
	case StopCut:
		return "cut"
	case StopNoCFI:
		return "no-cfi"
	case StopUnsupported:
		return "unsupported"
	case StopMaxFrames:
		return "max-frames"
	case StopBadFrame:
		return "bad-frame"
	}
	return fmt.Sprintf("stop(%d)", uint8(s))
}

// MaxFrames bounds an unwind.
const MaxFrames = 128

// Result is an unwound stack.
type Result struct {
	// PCs are the leaf's IP, then the return addresses of its callers
	// (each one past its call instruction, as a frame-pointer walk gives
	// them), except after a signal frame, whose caller's address is where
	// the signal interrupted it.
	PCs  []uint64
	Stop Stop
	// NeedBytes, with StopCut, is how many bytes more the copy would have
	// needed for the read that failed; 0 when that is not known.
	NeedBytes uint64
	// Err explains StopNoCFI, StopUnsupported and StopBadFrame.
	Err error
	// FramePointerFrames counts the callers found through rbp, for frames
	// without CFI.
	FramePointerFrames int
	// ReadBytes is how much of the copy, from SP up, the walk used: a copy
	// that long would have given the same frames (to size the copy by).
	ReadBytes uint64
}

// frameRegs are the registers of one frame as far as they are known (for
// i386, their 32-bit values).
type frameRegs struct {
	ip, sp, bp uint64
	bpOK       bool
	other      *[16]uint64 // the leaf's other registers; nil in its callers
	otherValid uint16
}

// stackMem is the copy of the stack from the leaf's SP.
type stackMem struct {
	arch    Arch // its words are 8 bytes, or 4 (i386)
	base    uint64
	data    []byte
	readEnd uint64 // one past the highest byte read, from base
	words   []Word // the words read, when the caller asked (UnwindWords)
	keep    bool
}

// cutError is a read past the copy's end.
type cutError struct{ need uint64 }

func (e *cutError) Error() string {
	return fmt.Sprintf("stack copy %d bytes short", e.need)
}

// errBelowSP: a read under the leaf's stack pointer, where nothing of the
// callers' frames can be.
var errBelowSP = errors.New("read below the stack pointer")

// read reads the stack word at addr, zero-extended.
func (m *stackMem) read(addr uint64) (uint64, error) {
	if addr < m.base {
		return 0, errBelowSP
	}
	n := m.arch.WordBytes()
	off := addr - m.base
	if off > uint64(len(m.data)) || uint64(len(m.data))-off < n {
		return 0, &cutError{need: addr + n - m.base - uint64(len(m.data))}
	}
	m.readEnd = max(m.readEnd, off+n)
	v := wordAt(m.data[off:], n)
	if m.keep {
		m.words = append(m.words, Word{Off: off, Val: v})
	}
	return v, nil
}

// wordAt is the n-byte (4 or 8) little-endian word at b's start.
func wordAt(b []byte, n uint64) uint64 {
	if n == 4 {
		return uint64(binary.LittleEndian.Uint32(b))
	}
	return binary.LittleEndian.Uint64(b)
}

// has tells whether a word's read at addr falls in the copy.
func (m *stackMem) has(addr uint64) bool {
	n := m.arch.WordBytes()
	return addr >= m.base && addr-m.base <= uint64(len(m.data)) && uint64(len(m.data))-(addr-m.base) >= n
}

// Unwind walks the stack whose registers are regs and whose bytes from
// regs.SP up are stack, appending the frames' addresses to dst[:0].
func Unwind(dst []uint64, regs Regs, stack []byte, r Resolver) Result {
	res := Result{PCs: append(dst[:0], regs.IP)}
	mem := stackMem{arch: regs.Arch, base: regs.SP, data: stack}
	walk(&res, &regs, &mem, r)
	res.ReadBytes = mem.readEnd
	return res
}

// Word is one word (8 bytes, or an i386 stack's 4) of a stack copy that an
// unwind read: its offset from the copy's start (the leaf's SP) and its
// value.
type Word struct {
	Off uint64
	Val uint64
}

// UnwindWords is Unwind that also appends to words[:0] every word of the
// copy the walk read (return-address slots, saved registers, values of
// DW_OP_deref), in the order read. The walk is a function of the
// registers, the copy's length, those words and the Resolver's tables:
// another copy of the same length that holds the same words (SameWords)
// under the same registers and tables unwinds to the same Result, which
// lets a caller reuse it.
func UnwindWords(dst []uint64, words []Word, regs Regs, stack []byte, r Resolver) (Result, []Word) {
	res := Result{PCs: append(dst[:0], regs.IP)}
	mem := stackMem{arch: regs.Arch, base: regs.SP, data: stack, words: words[:0], keep: true}
	walk(&res, &regs, &mem, r)
	res.ReadBytes = mem.readEnd
	return res, mem.words
}

// SameWords tells whether stack holds every word of words at its offset,
// words of an unwind in arch.
func SameWords(arch Arch, words []Word, stack []byte) bool {
	n := arch.WordBytes()
	for _, w := range words {
		if w.Off > uint64(len(stack)) || uint64(len(stack))-w.Off < n ||
			wordAt(stack[w.Off:], n) != w.Val {
			return false
		}
	}
	return true
}

func walk(res *Result, regs *Regs, mem *stackMem, r Resolver) {
	cur := frameRegs{ip: regs.IP, sp: regs.SP, bp: regs.BP, bpOK: true, other: &regs.Other, otherValid: regs.OtherValid}
	exact := true // the leaf's IP (and a signal frame's caller's) is no return address
	var m machine
	fpChain := false
	for {
		if len(res.PCs) >= MaxFrames {
			res.Stop = StopMaxFrames
			return
		}
		lookup := cur.ip
		if !exact {
			lookup-- // inside the call instruction: a noreturn call may end its function
		}
		next, signal, viaFP, err := step(&m, cur, lookup, len(res.PCs) == 1, fpChain, mem, r)
		if err != nil {
			res.Stop, res.Err = classify(err)
			var cut *cutError
			if errors.As(err, &cut) {
				res.NeedBytes = cut.need
			}
			return
		}
		if next.ip == 0 {
			res.Stop = StopOutermost
			return
		}
		// A caller's frame lies above its callee's, by the return address
		// at least; only a leaf that popped its own (vfork) shares its
		// caller's stack pointer.
		if !signal && (next.sp < cur.sp || next.sp == cur.sp && len(res.PCs) > 1) {
			res.Stop = StopBadFrame
			res.Err = fmt.Errorf("frame at %#x: caller's stack pointer %#x not above %#x", cur.ip, next.sp, cur.sp)
			return
		}
		if viaFP {
			res.FramePointerFrames++
		}
		res.PCs = append(res.PCs, next.ip)
		cur, exact, fpChain = next, signal, viaFP
	}
}

// errOutermost ends a walk at a frame whose return address is undefined.
var errOutermost = errors.New("outermost frame")

func classify(err error) (Stop, error) {
	var cut *cutError
	switch {
	case errors.Is(err, errOutermost):
		return StopOutermost, nil
	case errors.As(err, &cut):
		return StopCut, nil
	case errors.Is(err, ErrUnsupported):
		return StopUnsupported, err
	case errors.Is(err, ErrNoCFI):
		return StopNoCFI, err
	}
	return StopBadFrame, err
}

// syscallInsnBytes is the length of x86-64's syscall instruction, and of
// i386's int $0x80 and sysenter.
const syscallInsnBytes = 2

// step recovers the caller's registers of the frame cur, whose code is
// looked up at lookup; leaf is set for the first frame, fpChain when cur
// was itself found through rbp.
func step(m *machine, cur frameRegs, lookup uint64, leaf, fpChain bool, mem *stackMem, r Resolver) (next frameRegs, signal, viaFP bool, err error) {
	t, bias, resolveErr := r.Table(lookup)
	var row Row
	switch {
	case resolveErr != nil: // an object that could not be read is a frame without CFI
		err = ErrNoCFI
	case t == nil:
		err = ErrNoCFI
	case t.arch != mem.arch:
		// An object of the other mode (an i386 library in a 64-bit
		// stack): its rules would read the stack in the wrong words.
		err = fmt.Errorf("an %v object's CFI in an %v stack: %w", t.arch, mem.arch, ErrNoCFI)
	default:
		row, _, err = t.rowAndEnd(m, lookup-bias)
		if errors.Is(err, ErrNoCFI) && leaf {
			row, err = syscallGapRow(m, t, lookup-bias)
		}
	}
	if errors.Is(err, ErrNoCFI) {
		// Errors are worded only when the walk ends: Go binaries take
		// this way at every frame.
		if next, ok := framePointer(cur, mem); ok {
			return next, false, true, nil
		}
		if fpChain && cur.bpOK && cur.bp == 0 {
			// A frame-pointer chain's end: the ABI's outermost frame has
			// rbp 0 (glibc's _start and Go's goexit clear it). Only in a
			// chain: elsewhere rbp may be any register's value.
			return next, false, false, errOutermost
		}
		switch {
		case resolveErr != nil:
			err = fmt.Errorf("%#x: %w (%v)", lookup, ErrNoCFI, resolveErr)
		case t == nil:
			err = fmt.Errorf("%#x: no object file mapped: %w", lookup, ErrNoCFI)
		default:
			err = fmt.Errorf("%#x: %w", lookup, err)
		}
		return next, false, false, err
	}
	if err != nil {
		return next, false, false, fmt.Errorf("%#x: %w", lookup, err)
	}
	next, err = apply(&row, cur, mem)
	if err != nil {
		return next, false, false, fmt.Errorf("%#x: %w", lookup, err)
	}
	return next, row.Signal, false, nil
}

// syscallGapRow is the row of a leaf stopped right after a syscall
// instruction that no FDE covers: glibc's clone and clone3 end their FDE
// at the syscall (the child starts there, under an FDE that says it has
// no caller), so the parent, where spawns are copied, has none. The
// syscall changes neither rsp nor rbp: the row in effect at the end of
// the FDE ending at that instruction still holds.
func syscallGapRow(m *machine, t *Table, vaddr uint64) (Row, error) {
	if vaddr < syscallInsnBytes+1 {
		return Row{}, ErrNoCFI
	}
	insn := vaddr - syscallInsnBytes
	row, end, err := t.rowAndEnd(m, insn-1)
	if err != nil {
		return Row{}, err
	}
	if end != insn {
		return Row{}, ErrNoCFI
	}
	return row, nil
}

// framePointer takes the caller from the frame rbp points to, when rbp
// points into the copy above the stack pointer: code built with frame
// pointers keeps [rbp] = the caller's rbp, [rbp+8] = the return address
// (i386: [ebp], [ebp+4]).
func framePointer(cur frameRegs, mem *stackMem) (frameRegs, bool) {
	w := mem.arch.WordBytes()
	if !cur.bpOK || cur.bp < cur.sp || cur.bp%w != 0 || !mem.has(cur.bp) || !mem.has(cur.bp+w) {
		return frameRegs{}, false
	}
	bp, _ := mem.read(cur.bp)
	ra, _ := mem.read(cur.bp + w)
	return frameRegs{ip: ra, sp: cur.bp + 2*w, bp: bp, bpOK: true}, true
}

// apply computes the caller's registers by row.
func apply(row *Row, cur frameRegs, mem *stackMem) (frameRegs, error) {
	x := exprCtx{regs: &cur, mem: mem, arch: mem.arch}
	var cfa uint64
	if row.CFA.Expr != nil {
		v, err := x.eval(row.CFA.Expr, 0, false)
		if err != nil {
			return frameRegs{}, fmt.Errorf("CFA expression: %w", err)
		}
		cfa = v
	} else {
		v, err := x.reg(uint64(row.CFA.Reg))
		if err != nil {
			return frameRegs{}, fmt.Errorf("CFA: %w", err)
		}
		cfa = x.addr(v + uint64(row.CFA.Offset))
	}
	x.cfa = cfa
	var next frameRegs
	ra, ok, err := x.recover(&row.RA, 0, false)
	switch {
	case err != nil:
		return next, fmt.Errorf("return address: %w", err)
	case row.RA.Kind == RuleUndefined:
		return next, errOutermost
	case row.RA.Kind == RuleUnset || !ok:
		return next, errors.New("no rule for the return address")
	}
	next.ip = ra
	if next.sp, ok, err = x.recover(&row.RSP, cfa, true); err != nil {
		return next, fmt.Errorf("rsp: %w", err)
	} else if !ok {
		return next, errors.New("rsp undefined")
	}
	if next.bp, next.bpOK, err = x.recover(&row.RBP, cur.bp, cur.bpOK); err != nil {
		return next, fmt.Errorf("rbp: %w", err)
	}
	return next, nil
}

// recover applies rule; unset is what an unset register keeps (def,
// known when defOK). ok is false when the value is undefined.
func (x *exprCtx) recover(rule *Rule, def uint64, defOK bool) (uint64, bool, error) {
	switch rule.Kind {
	case RuleUnset:
		return def, defOK, nil
	case RuleUndefined:
		return 0, false, nil
	case RuleSameValue:
		return def, defOK, nil
	case RuleOffset:
		v, err := x.mem.read(x.cfa + uint64(rule.Offset))
		return v, err == nil, err
	case RuleValOffset:
		return x.addr(x.cfa + uint64(rule.Offset)), true, nil
	case RuleRegister:
		v, err := x.reg(uint64(rule.Reg))
		return v, err == nil, err
	case RuleExpression:
		a, err := x.eval(rule.Expr, x.cfa, true)
		if err != nil {
			return 0, false, err
		}
		v, err := x.mem.read(a)
		return v, err == nil, err
	case RuleValExpression:
		v, err := x.eval(rule.Expr, x.cfa, true)
		return v, err == nil, err
	}
	return 0, false, fmt.Errorf("rule kind %d: %w", rule.Kind, ErrUnsupported)
}
