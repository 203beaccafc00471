package unwind

import (
	"errors"
	"fmt"
	"math/bits"
)

// DWARF register numbers of x86-64 (System V psABI, figure 3.36).
const (
	RegRBP = 6
	RegRSP = 7
	RegRA  = 16 // the return address column
)

// DWARF register numbers of i386 (System V i386 psABI, table 2.14; GCC's
// and glibc's .eh_frame): eax 0, ecx 1, edx 2, ebx 3, esp 4, ebp 5, esi 6,
// edi 7, and the return address column eip 8.
const (
	RegI386ECX = 1
	RegI386ESP = 4
	RegI386EBP = 5
	RegI386EDI = 7
	RegI386RA  = 8
)

// Arch is the instruction set a stack's code runs in: it sets the size of
// the stack's words and addresses, and what the CFI's register numbers
// name.
type Arch uint8

const (
	ArchX8664 Arch = iota
	// ArchI386 is 32-bit x86: a 32-bit program (gcc -m32) run by a 64-bit
	// kernel, its registers eip, esp, ebp... in the low halves of rip, rsp,
	// rbp.
	ArchI386
)

func (a Arch) String() string {
	switch a {
	case ArchX8664:
		return "x86-64"
	case ArchI386:
		return "i386"
	}
	return fmt.Sprintf("arch(%d)", uint8(a))
}

// WordBytes is the size of a stack word and an address.
func (a Arch) WordBytes() uint64 {
	if a == ArchI386 {
		return 4
	}
	return 8
}

// spReg and bpReg are the stack and frame pointers' DWARF numbers.
func (a Arch) spReg() uint64 {
	if a == ArchI386 {
		return RegI386ESP
	}
	return RegRSP
}

func (a Arch) bpReg() uint64 {
	if a == ArchI386 {
		return RegI386EBP
	}
	return RegRBP
}

// RuleKind says how a register of the caller is recovered.
type RuleKind uint8

const (
	// RuleUnset: no instruction named the register. Callee-saved
	// registers (rbp) then keep their value, as GCC's unwinder assumes;
	// rsp becomes the CFA.
	RuleUnset RuleKind = iota
	RuleUndefined
	RuleSameValue
	RuleOffset        // saved at CFA+Offset
	RuleValOffset     // is CFA+Offset
	RuleRegister      // is in register Reg
	RuleExpression    // saved at the address Expr computes (the CFA pushed first)
	RuleValExpression // is what Expr computes
)

// Rule is one register's recovery rule.
type Rule struct {
	Kind   RuleKind
	Reg    uint16
	Offset int64
	Expr   []byte // DWARF expression, for the expression kinds
}

// CFARule defines the Canonical Frame Address: Reg+Offset, or the value
// of Expr when Expr is not nil.
type CFARule struct {
	Reg    uint16
	Offset int64
	Expr   []byte
}

// Row is the rule row of one address: how to find the CFA and the
// caller's return address, frame pointer and stack pointer (rbp and rsp,
// or in an i386 object's, ebp and esp).
type Row struct {
	Loc uint64 // the first address the row applies to
	CFA CFARule
	RA  Rule
	RBP Rule
	RSP Rule
	// Signal marks a signal trampoline ("S" augmentation): the caller's
	// address is where it was interrupted, not a return address.
	Signal bool
}

// maxRememberDepth bounds DW_CFA_remember_state's stack (glibc nests 2).
const maxRememberDepth = 16

// machine runs CFA programs.
type machine struct {
	row     Row
	initial Row
	stack   [maxRememberDepth]Row
	depth   int
	raReg   uint64
	arch    Arch // of the table being read: which numbers are RBP and RSP
}

// errStop ends a program when the location passes the target.
var errStop = errors.New("stop")

// ErrUnsupported marks CFI this unwinder does not implement.
var ErrUnsupported = errors.New("unsupported")

// rowAt runs the CIE's and the FDE's programs up to vaddr.
func (m *machine) rowAt(f *fde, vaddr uint64) (Row, error) {
	if err := m.start(f); err != nil {
		return Row{}, err
	}
	err := m.exec(f, f.insns, vaddr, nil)
	if err != nil && err != errStop {
		return Row{}, fmt.Errorf("FDE at %#x: %w", f.off, err)
	}
	return m.row, nil
}

// rows runs f's whole program and gives each row as readelf prints them:
// the one before every advance, and the last.
func (m *machine) rows(f *fde, emit func(Row)) error {
	if err := m.start(f); err != nil {
		return err
	}
	if err := m.exec(f, f.insns, ^uint64(0), emit); err != nil && err != errStop {
		return fmt.Errorf("FDE at %#x: %w", f.off, err)
	}
	emit(m.row)
	return nil
}

func (m *machine) start(f *fde) error {
	m.raReg = f.cie.raReg
	m.depth = 0
	m.row = Row{Loc: f.pcBegin, Signal: f.cie.signal}
	if err := m.exec(f, f.cie.initial, ^uint64(0), nil); err != nil {
		return fmt.Errorf("CIE of FDE at %#x: %w", f.off, err)
	}
	m.row.Loc = f.pcBegin
	m.initial = m.row
	m.depth = 0
	return nil
}

// rule is the tracked rule of DWARF register reg, nil for one not tracked.
func (m *machine) rule(row *Row, reg uint64) *Rule {
	switch reg {
	case m.raReg:
		return &row.RA
	case m.arch.bpReg():
		return &row.RBP
	case m.arch.spReg():
		return &row.RSP
	}
	return nil
}

func (m *machine) set(reg uint64, r Rule) {
	if p := m.rule(&m.row, reg); p != nil {
		*p = r
	}
}

// DW_CFA_* opcodes.
const (
	cfaAdvanceLoc       = 0x40
	cfaOffset           = 0x80
	cfaRestore          = 0xc0
	cfaNop              = 0x00
	cfaSetLoc           = 0x01
	cfaAdvanceLoc1      = 0x02
	cfaAdvanceLoc2      = 0x03
	cfaAdvanceLoc4      = 0x04
	cfaOffsetExtended   = 0x05
	cfaRestoreExtended  = 0x06
	cfaUndefined        = 0x07
	cfaSameValue        = 0x08
	cfaRegister         = 0x09
	cfaRememberState    = 0x0a
	cfaRestoreState     = 0x0b
	cfaDefCFA           = 0x0c
	cfaDefCFARegister   = 0x0d
	cfaDefCFAOffset     = 0x0e
	cfaDefCFAExpression = 0x0f
	cfaExpression       = 0x10
	cfaOffsetExtendedSf = 0x11
	cfaDefCFASf         = 0x12
	cfaDefCFAOffsetSf   = 0x13
	cfaValOffset        = 0x14
	cfaValOffsetSf      = 0x15
	cfaValExpression    = 0x16
	cfaGNUArgsSize      = 0x2e
	cfaGNUNegOffsetExt  = 0x2f
)

// exec runs insns, stopping with errStop before an advance past target.
// emit, when not nil, gets the row before each advance.
func (m *machine) exec(f *fde, insns []byte, target uint64, emit func(Row)) error {
	r := reader{data: insns}
	c := &f.cie
	advance := func(delta uint64) error {
		hi, lo := bits.Mul64(delta, c.codeAlign)
		next := m.row.Loc + lo
		if hi != 0 || next < m.row.Loc || next > target {
			return errStop
		}
		if emit != nil {
			emit(m.row)
		}
		m.row.Loc = next
		return nil
	}
	reg := func() uint64 { return r.uleb() }
	factored := func(v int64) int64 { return v * c.dataAlign }
	for r.pos < len(r.data) && r.err == nil {
		op := r.u8()
		var err error
		switch op & 0xc0 {
		case cfaAdvanceLoc:
			err = advance(uint64(op & 0x3f))
		case cfaOffset:
			m.set(uint64(op&0x3f), Rule{Kind: RuleOffset, Offset: factored(int64(r.uleb()))})
		case cfaRestore:
			m.restore(uint64(op & 0x3f))
		default:
			switch op {
			case cfaNop:
			case cfaSetLoc:
				if c.fdeEnc&0x70 != peAbsptr {
					return fmt.Errorf("DW_CFA_set_loc with relative encoding %#x: %w", c.fdeEnc, ErrUnsupported)
				}
				loc := r.pointer(c.fdeEnc, ptrBases{addr4: c.addr4})
				if r.err == nil {
					if loc < m.row.Loc {
						return fmt.Errorf("DW_CFA_set_loc backwards")
					}
					err = advance(0)
					if err == nil {
						if loc > target {
							return errStop
						}
						m.row.Loc = loc
					}
				}
			case cfaAdvanceLoc1:
				err = advance(uint64(r.u8()))
			case cfaAdvanceLoc2:
				err = advance(uint64(r.u16()))
			case cfaAdvanceLoc4:
				err = advance(uint64(r.u32()))
			case cfaOffsetExtended:
				n := reg()
				m.set(n, Rule{Kind: RuleOffset, Offset: factored(int64(r.uleb()))})
			case cfaOffsetExtendedSf:
				n := reg()
				m.set(n, Rule{Kind: RuleOffset, Offset: factored(r.sleb())})
			case cfaGNUNegOffsetExt:
				n := reg()
				m.set(n, Rule{Kind: RuleOffset, Offset: -factored(int64(r.uleb()))})
			case cfaValOffset:
				n := reg()
				m.set(n, Rule{Kind: RuleValOffset, Offset: factored(int64(r.uleb()))})
			case cfaValOffsetSf:
				n := reg()
				m.set(n, Rule{Kind: RuleValOffset, Offset: factored(r.sleb())})
			case cfaRestoreExtended:
				m.restore(reg())
			case cfaUndefined:
				m.set(reg(), Rule{Kind: RuleUndefined})
			case cfaSameValue:
				m.set(reg(), Rule{Kind: RuleSameValue})
			case cfaRegister:
				n, from := reg(), reg()
				m.set(n, Rule{Kind: RuleRegister, Reg: uint16(min(from, 0xffff))})
			case cfaRememberState:
				if m.depth == len(m.stack) {
					return fmt.Errorf("DW_CFA_remember_state nested deeper than %d", len(m.stack))
				}
				m.stack[m.depth] = m.row
				m.depth++
			case cfaRestoreState:
				if m.depth == 0 {
					return errors.New("DW_CFA_restore_state without remember_state")
				}
				m.depth--
				loc := m.row.Loc
				m.row = m.stack[m.depth]
				m.row.Loc = loc
			case cfaDefCFA:
				n, off := reg(), r.uleb()
				m.row.CFA = CFARule{Reg: uint16(min(n, 0xffff)), Offset: int64(off)}
			case cfaDefCFASf:
				n, off := reg(), r.sleb()
				m.row.CFA = CFARule{Reg: uint16(min(n, 0xffff)), Offset: factored(off)}
			case cfaDefCFARegister:
				m.row.CFA.Reg, m.row.CFA.Expr = uint16(min(reg(), 0xffff)), nil
			case cfaDefCFAOffset:
				m.row.CFA.Offset, m.row.CFA.Expr = int64(r.uleb()), nil
			case cfaDefCFAOffsetSf:
				m.row.CFA.Offset, m.row.CFA.Expr = factored(r.sleb()), nil
			case cfaDefCFAExpression:
				e := block(&r)
				if r.err == nil {
					m.row.CFA = CFARule{Expr: e}
				}
			case cfaExpression, cfaValExpression:
				n := reg()
				e := block(&r)
				if r.err == nil {
					k := RuleExpression
					if op == cfaValExpression {
						k = RuleValExpression
					}
					m.set(n, Rule{Kind: k, Expr: e})
				}
			case cfaGNUArgsSize:
				r.uleb()
			default:
				return fmt.Errorf("DW_CFA opcode %#x: %w", op, ErrUnsupported)
			}
		}
		if err != nil {
			return err
		}
	}
	return r.err
}

// block reads a ULEB128 length and that many bytes; never nil when read.
func block(r *reader) []byte {
	n := r.uleb()
	if n > uint64(len(r.data)-r.pos) {
		r.fail(errTruncated)
		return nil
	}
	b := r.bytes(int(n))
	if b == nil {
		b = []byte{}
	}
	return b
}

func (m *machine) restore(reg uint64) {
	if p := m.rule(&m.initial, reg); p != nil {
		m.set(reg, *p)
	}
}
