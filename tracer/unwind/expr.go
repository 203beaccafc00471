package unwind

import (
	"errors"
	"fmt"
)

// DWARF expressions in CFI: glibc's and GCC's PLT entries define the CFA
// as rsp+8 plus 8 when rip is past the entry's push (DW_OP_breg7 8;
// DW_OP_breg16 0; DW_OP_lit15; DW_OP_and; DW_OP_lit11; DW_OP_ge;
// DW_OP_lit3; DW_OP_shl; DW_OP_plus), glibc's __restore_rt reads the
// interrupted registers from the signal frame (DW_OP_breg7 N; DW_OP_deref),
// and GCC's stack-realigning prologues do the same with rbp. Those need a
// small stack machine over rip, rsp, rbp, the CFA and the copied stack; an
// operation outside it is ErrUnsupported.

const (
	maxExprOps   = 256 // operations executed, branches included
	maxExprStack = 64
)

// exprCtx is what an expression may read.
type exprCtx struct {
	regs *frameRegs
	cfa  uint64
	mem  *stackMem
	arch Arch
}

// addr is v as an address of the stack's mode: i386 arithmetic wraps at 4
// GiB (esp+N, or an expression's result, past it is a low address).
func (x *exprCtx) addr(v uint64) uint64 {
	if x.arch == ArchI386 {
		return uint64(uint32(v))
	}
	return v
}

// eval runs expr with initial pushed first when push is set.
func (x *exprCtx) eval(expr []byte, initial uint64, push bool) (uint64, error) {
	var st [maxExprStack]uint64
	n := 0
	pushv := func(v uint64) error {
		if n == len(st) {
			return errors.New("DWARF expression stack overflow")
		}
		st[n] = v
		n++
		return nil
	}
	if push {
		_ = pushv(initial)
	}
	r := reader{data: expr}
	for ops := 0; r.pos < len(r.data); ops++ {
		if ops == maxExprOps {
			return 0, fmt.Errorf("DWARF expression runs more than %d operations", maxExprOps)
		}
		op := r.u8()
		need := func(k int) error {
			if n < k {
				return fmt.Errorf("DWARF expression op %#x: stack underflow", op)
			}
			return nil
		}
		var err error
		switch {
		case op >= 0x30 && op <= 0x4f: // DW_OP_lit0..31
			err = pushv(uint64(op - 0x30))
		case op >= 0x70 && op <= 0x8f: // DW_OP_breg0..31
			off := r.sleb()
			var v uint64
			if v, err = x.reg(uint64(op - 0x70)); err == nil {
				err = pushv(v + uint64(off))
			}
		case op == 0x92: // DW_OP_bregx
			reg, off := r.uleb(), r.sleb()
			var v uint64
			if v, err = x.reg(reg); err == nil {
				err = pushv(v + uint64(off))
			}
		case op == 0x03: // DW_OP_addr
			err = pushv(r.addr(x.arch == ArchI386))
		case op == 0x08:
			err = pushv(uint64(r.u8()))
		case op == 0x09:
			err = pushv(uint64(int64(int8(r.u8()))))
		case op == 0x0a:
			err = pushv(uint64(r.u16()))
		case op == 0x0b:
			err = pushv(uint64(int64(int16(r.u16()))))
		case op == 0x0c:
			err = pushv(uint64(r.u32()))
		case op == 0x0d:
			err = pushv(uint64(int64(int32(r.u32()))))
		case op == 0x0e, op == 0x0f:
			err = pushv(r.u64())
		case op == 0x10:
			err = pushv(r.uleb())
		case op == 0x11:
			err = pushv(uint64(r.sleb()))
		case op == 0x9c: // DW_OP_call_frame_cfa
			if x.cfa == 0 {
				err = fmt.Errorf("DW_OP_call_frame_cfa in the CFA's own rule: %w", ErrUnsupported)
			} else {
				err = pushv(x.cfa)
			}
		case op == 0x96: // DW_OP_nop
		case op == 0x06, op == 0x94: // DW_OP_deref, DW_OP_deref_size
			size := uint8(x.arch.WordBytes())
			if op == 0x94 {
				size = r.u8()
			}
			if err = need(1); err == nil {
				// The stack's words are read whole: an 8-byte read of
				// an i386 stack is not one of them.
				if size != uint8(x.arch.WordBytes()) && size != 4 {
					err = fmt.Errorf("DW_OP_deref_size %d: %w", size, ErrUnsupported)
					break
				}
				var v uint64
				if v, err = x.mem.read(x.addr(st[n-1])); err == nil {
					if size == 4 {
						v = uint64(uint32(v))
					}
					st[n-1] = v
				}
			}
		case op == 0x12: // dup
			if err = need(1); err == nil {
				err = pushv(st[n-1])
			}
		case op == 0x13: // drop
			if err = need(1); err == nil {
				n--
			}
		case op == 0x14: // over
			if err = need(2); err == nil {
				err = pushv(st[n-2])
			}
		case op == 0x15: // pick
			i := int(r.u8())
			if err = need(i + 1); err == nil {
				err = pushv(st[n-1-i])
			}
		case op == 0x16: // swap
			if err = need(2); err == nil {
				st[n-1], st[n-2] = st[n-2], st[n-1]
			}
		case op == 0x17: // rot
			if err = need(3); err == nil {
				st[n-1], st[n-2], st[n-3] = st[n-2], st[n-3], st[n-1]
			}
		case op == 0x1f, op == 0x20: // neg, not
			if err = need(1); err == nil {
				if op == 0x1f {
					st[n-1] = -st[n-1]
				} else {
					st[n-1] = ^st[n-1]
				}
			}
		case op == 0x23: // plus_uconst
			c := r.uleb()
			if err = need(1); err == nil {
				st[n-1] += c
			}
		case op >= 0x1a && op <= 0x2e && op != 0x28: // binary operations
			if err = need(2); err == nil {
				a, b := st[n-2], st[n-1]
				var v uint64
				if v, err = binop(op, a, b); err == nil {
					n--
					st[n-1] = v
				}
			}
		case op == 0x2f, op == 0x28: // skip, bra
			off := int(int16(r.u16()))
			take := true
			if op == 0x28 {
				if err = need(1); err != nil {
					break
				}
				n--
				take = st[n] != 0
			}
			if take {
				to := r.pos + off
				if to < 0 || to > len(r.data) {
					err = errors.New("DWARF expression branches out of itself")
					break
				}
				r.pos = to
			}
		default:
			err = fmt.Errorf("DWARF expression op %#x: %w", op, ErrUnsupported)
		}
		if err == nil {
			err = r.err
		}
		if err != nil {
			return 0, err
		}
	}
	if n == 0 {
		return 0, errors.New("DWARF expression leaves an empty stack")
	}
	return x.addr(st[n-1]), nil
}

func binop(op uint8, a, b uint64) (uint64, error) {
	flag := func(c bool) uint64 {
		if c {
			return 1
		}
		return 0
	}
	switch op {
	case 0x1a:
		return a & b, nil
	case 0x1b:
		if b == 0 {
			return 0, errors.New("DWARF expression divides by zero")
		}
		return uint64(int64(a) / int64(b)), nil
	case 0x1c:
		return a - b, nil
	case 0x1d:
		if b == 0 {
			return 0, errors.New("DWARF expression divides by zero")
		}
		return a % b, nil
	case 0x1e:
		return a * b, nil
	case 0x21:
		return a | b, nil
	case 0x22:
		return a + b, nil
	case 0x24:
		if b >= 64 {
			return 0, nil
		}
		return a << b, nil
	case 0x25:
		if b >= 64 {
			return 0, nil
		}
		return a >> b, nil
	case 0x26:
		return uint64(int64(a) >> min(b, 63)), nil
	case 0x27:
		return a ^ b, nil
	case 0x29:
		return flag(a == b), nil
	case 0x2a:
		return flag(int64(a) >= int64(b)), nil
	case 0x2b:
		return flag(int64(a) > int64(b)), nil
	case 0x2c:
		return flag(int64(a) <= int64(b)), nil
	case 0x2d:
		return flag(int64(a) < int64(b)), nil
	case 0x2e:
		return flag(a != b), nil
	}
	return 0, fmt.Errorf("DWARF expression op %#x: %w", op, ErrUnsupported)
}

// reg is the value of DWARF register n (of x.arch's numbers) in the frame
// being unwound.
func (x *exprCtx) reg(n uint64) (uint64, error) {
	ra := uint64(RegRA)
	if x.arch == ArchI386 {
		ra = RegI386RA
	}
	switch n {
	case x.arch.spReg():
		return x.regs.sp, nil
	case x.arch.bpReg():
		if !x.regs.bpOK {
			return 0, errors.New("the frame pointer is unknown in this frame")
		}
		return x.regs.bp, nil
	case ra:
		return x.regs.ip, nil
	}
	if n < 16 && x.regs.other != nil && x.regs.otherValid&(1<<n) != 0 {
		return x.regs.other[n], nil
	}
	return 0, fmt.Errorf("register %d not known in this frame: %w", n, ErrUnsupported)
}
