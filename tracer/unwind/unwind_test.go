package unwind

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"
)

// seedTable is the CFI of the small program in fuzz_test.go: .plt at
// 0x1020 (its CFA an expression), _start at 0x1080 (return address
// undefined), a push/pop function at 0x1060..0x1080 (CFA rsp+16 from
// 0x1064, ra at CFA-8).
func seedTable(t *testing.T, withHdr bool) *Table {
	t.Helper()
	sec := &cfiSection{data: seedBytes(seedEhFrame), addr: seedEhFrameAddr, eh: true}
	if withHdr {
		sec.useHdr(seedBytes(seedHdr), seedHdrAddr)
		if sec.hdr == nil {
			t.Fatal("the seed's .eh_frame_hdr was not taken")
		}
	} else if err := sec.buildIndex(); err != nil {
		t.Fatal(err)
	}
	return &Table{secs: []*cfiSection{sec}}
}

// stackOf lays out 8-byte words from SP.
func stackOf(words ...uint64) []byte {
	b := make([]byte, 8*len(words))
	for i, w := range words {
		binary.LittleEndian.PutUint64(b[8*i:], w)
	}
	return b
}

type noTables struct{}

func (noTables) Table(uint64) (*Table, uint64, error) { return nil, 0, nil }

// The seed's CFI read from an ELF file without section headers (through
// PT_GNU_EH_FRAME) is the seed's CFI.
func TestSeedELFSegments(t *testing.T) {
	ef, err := elf.NewFile(bytes.NewReader(seedELF()))
	if err != nil {
		t.Fatal(err)
	}
	got, err := NewTable(ef)
	if err != nil {
		t.Fatal(err)
	}
	want := seedTable(t, true)
	n := 0
	for pc := uint64(0x1000); pc < 0x1200; pc++ {
		a, errA := got.Row(pc)
		b, errB := want.Row(pc)
		if fmt.Sprint(a, errA) != fmt.Sprint(b, errB) {
			t.Fatalf("pc %#x: %+v %v, want %+v %v", pc, a, errA, b, errB)
		}
		if errA == nil {
			n++
		}
	}
	if n == 0 {
		t.Fatal("no address has a row")
	}
}

func TestHdrAndIndexAgree(t *testing.T) {
	a, b := seedTable(t, true), seedTable(t, false)
	for pc := uint64(0x1000); pc < 0x1200; pc++ {
		ra, errA := a.Row(pc)
		rb, errB := b.Row(pc)
		if !errors.Is(errA, ErrNoCFI) || !errors.Is(errB, ErrNoCFI) {
			if errA != nil || errB != nil || readelfCFA(ArchX8664, ra.CFA) != readelfCFA(ArchX8664, rb.CFA) || ra.Loc != rb.Loc {
				t.Fatalf("pc %#x: hdr %+v %v, index %+v %v", pc, ra, errA, rb, errB)
			}
		}
	}
}

func TestPLTExpression(t *testing.T) {
	tab := seedTable(t, true)
	// A PLT entry is 16 bytes: the CFA is rsp+8 before its push (offset
	// 11 in the entry), rsp+16 after it.
	for _, tc := range []struct{ off, cfa uint64 }{{0, 0x7008}, {6, 0x7008}, {10, 0x7008}, {11, 0x7010}, {15, 0x7010}} {
		pc := 0x1030 + tc.off
		row, err := tab.Row(pc)
		if err != nil || row.CFA.Expr == nil {
			t.Fatalf("Row(%#x) = %+v, %v; want a CFA expression", pc, row, err)
		}
		x := exprCtx{regs: &frameRegs{ip: pc, sp: 0x7000}, mem: &stackMem{base: 0x7000}}
		cfa, err := x.eval(row.CFA.Expr, 0, false)
		if err != nil || cfa != tc.cfa {
			t.Errorf("pc %#x: CFA %#x, %v; want %#x", pc, cfa, err, tc.cfa)
		}
	}
}

func TestUnwindStops(t *testing.T) {
	tab := seedTable(t, true)
	const sp = 0x7000
	for _, tc := range []struct {
		name      string
		ip, bp    uint64
		stack     []byte
		pcs       []uint64
		stop      Stop
		need      uint64
		readBytes uint64
	}{
		// _start's CIE says DW_CFA_undefined rip.
		{name: "outermost", ip: 0x1085, stack: stackOf(0), pcs: []uint64{0x1085}, stop: StopOutermost},
		// CFA rsp+16, ra at CFA-8 = sp+8: not in an 8-byte copy.
		{name: "cut", ip: 0x1070, stack: stackOf(0), pcs: []uint64{0x1070}, stop: StopCut, need: 8},
		{name: "ra zero", ip: 0x1070, stack: stackOf(0, 0), pcs: []uint64{0x1070}, stop: StopOutermost, readBytes: 16},
		// CFA rbp+16 (an alloca function), rbp below rsp: corrupt.
		{name: "bad frame", ip: 0x1180, bp: 0x6000, stack: stackOf(0, 0), pcs: []uint64{0x1180}, stop: StopBadFrame},
		// The caller has no CFI and rbp is no frame pointer.
		{name: "no cfi", ip: 0x1070, stack: stackOf(0, 0x9000), pcs: []uint64{0x1070, 0x9000}, stop: StopNoCFI, readBytes: 16},
		// ... unless rbp points into the copy: [rbp] the caller's rbp,
		// [rbp+8] its return address.
		{name: "frame pointer", ip: 0x1070, bp: sp + 16, stack: stackOf(0, 0x9000, sp+32, 0x9100, 0, 0),
			pcs: []uint64{0x1070, 0x9000, 0x9100}, stop: StopOutermost, readBytes: 48},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := Unwind(nil, Regs{IP: tc.ip, SP: sp, BP: tc.bp}, tc.stack, oneTable{tab})
			if !slices.Equal(res.PCs, tc.pcs) || res.Stop != tc.stop || res.NeedBytes != tc.need || res.ReadBytes != tc.readBytes {
				t.Errorf("got %#x stop %v (%v) need %d read %d; want %#x stop %v need %d read %d",
					res.PCs, res.Stop, res.Err, res.NeedBytes, res.ReadBytes, tc.pcs, tc.stop, tc.need, tc.readBytes)
			}
		})
	}
}

func TestFramePointerFallback(t *testing.T) {
	const sp = 0x1000
	// Two frames through rbp, then an rbp beyond the copy.
	stack := stackOf(0, 0, 0x1030, 0x4001, 0, 0, 0x2000, 0x3001)
	res := Unwind(nil, Regs{IP: 0x5000, SP: sp, BP: 0x1010}, stack, noTables{})
	if want := []uint64{0x5000, 0x4001, 0x3001}; !slices.Equal(res.PCs, want) || res.Stop != StopNoCFI || res.FramePointerFrames != 2 {
		t.Errorf("got %#x stop %v, %d through rbp; want %#x, no-cfi, 2", res.PCs, res.Stop, res.FramePointerFrames, want)
	}
	// rbp below sp, misaligned, or past the copy: no frame pointer.
	for _, bp := range []uint64{0x0ff0, 0x1011, 0x1040, 0} {
		res := Unwind(nil, Regs{IP: 0x5000, SP: sp, BP: bp}, stack, noTables{})
		if len(res.PCs) != 1 || res.Stop != StopNoCFI {
			t.Errorf("rbp %#x: got %#x stop %v; want one frame, no-cfi", bp, res.PCs, res.Stop)
		}
	}
	// A chain ends at rbp 0, the ABI's outermost frame (Go's goexit).
	res = Unwind(nil, Regs{IP: 0x5000, SP: sp, BP: 0x1010}, stackOf(0, 0, 0, 0x4001), noTables{})
	if want := []uint64{0x5000, 0x4001}; !slices.Equal(res.PCs, want) || res.Stop != StopOutermost {
		t.Errorf("chain to rbp 0: got %#x stop %v; want %#x, outermost", res.PCs, res.Stop, want)
	}
	// A frame-pointer chain that loops ([rbp] = rbp) ends: the caller's
	// rbp is then below its stack pointer.
	loop := stackOf(0, 0, 0x1010, 0x4001)
	res = Unwind(nil, Regs{IP: 0x5000, SP: sp, BP: 0x1010}, loop, noTables{})
	if res.Stop != StopNoCFI || len(res.PCs) != 2 {
		t.Errorf("looping chain: got %#x stop %v; want two frames, no-cfi", res.PCs, res.Stop)
	}
}

// stackOf32 lays out an i386 stack's 4-byte words from SP.
func stackOf32(words ...uint32) []byte {
	b := make([]byte, 4*len(words))
	for i, w := range words {
		binary.LittleEndian.PutUint32(b[4*i:], w)
	}
	return b
}

// An i386 stack's frame-pointer chain: [ebp] the caller's ebp, [ebp+4] the
// return address, 4-byte words; ebp 0 ends it. The same bytes read as
// x86-64's words would give other frames.
func TestFramePointerFallbackI386(t *testing.T) {
	const sp = 0xffffd000
	stack := stackOf32(0, 0, 0xffffd018, 0x8049001, 0, 0, 0, 0x8048001)
	res := Unwind(nil, Regs{Arch: ArchI386, IP: 0x8050000, SP: sp, BP: 0xffffd008}, stack, noTables{})
	if want := []uint64{0x8050000, 0x8049001, 0x8048001}; !slices.Equal(res.PCs, want) || res.Stop != StopOutermost || res.FramePointerFrames != 2 {
		t.Errorf("got %#x stop %v (%v), %d through ebp; want %#x, outermost, 2", res.PCs, res.Stop, res.Err, res.FramePointerFrames, want)
	}
	if res.ReadBytes != 0x20 {
		t.Errorf("read %d bytes of the copy, want 32 (to the last return address)", res.ReadBytes)
	}
	// ebp 4-byte aligned but not 8: still a frame pointer of i386's.
	res = Unwind(nil, Regs{Arch: ArchI386, IP: 0x8050000, SP: sp, BP: 0xffffd004}, stackOf32(0, 0, 0x8049001), noTables{})
	if want := []uint64{0x8050000, 0x8049001}; !slices.Equal(res.PCs, want) {
		t.Errorf("ebp %#x: got %#x stop %v; want %#x", 0xffffd004, res.PCs, res.Stop, want)
	}
}

func TestMaxFrames(t *testing.T) {
	// A chain of MaxFrames+10 frame records.
	const sp = 0x10000
	words := make([]uint64, 2*(MaxFrames+10))
	for i := 0; i < len(words); i += 2 {
		words[i] = sp + uint64(8*(i+2)) // the next record
		words[i+1] = 0x4000 + uint64(i)
	}
	res := Unwind(nil, Regs{IP: 0x5000, SP: sp, BP: sp}, stackOf(words...), noTables{})
	if len(res.PCs) != MaxFrames || res.Stop != StopMaxFrames {
		t.Errorf("%d frames, stop %v; want %d, max-frames", len(res.PCs), res.Stop, MaxFrames)
	}
}

func TestCacheBounded(t *testing.T) {
	c := NewCache[int](1000)
	loads := 0
	table := func() (*Table, error) { loads++; return &Table{bytes: 400}, nil }
	for _, k := range []int{1, 2, 1, 3} { // 3 evicts 2, the least recently used
		if _, err := c.Get(k, table); err != nil {
			t.Fatal(err)
		}
	}
	if loads != 3 || c.UsedBytes() > 1000 {
		t.Fatalf("%d loads, %d bytes used; want 3 loads within 1000 bytes", loads, c.UsedBytes())
	}
	c.Get(1, table)
	if loads != 3 {
		t.Errorf("1 was evicted; want 2 evicted (least recently used)")
	}
	c.Get(2, table)
	if loads != 4 {
		t.Errorf("2 was still cached; want it evicted")
	}
	// Failures are kept: a file without CFI is read once.
	fail := 0
	for range 3 {
		c.Get(9, func() (*Table, error) { fail++; return nil, errors.New("no") })
	}
	if fail != 1 {
		t.Errorf("a failing load ran %d times, want 1", fail)
	}
	// A table larger than the budget is returned once, then not read
	// again: an error.
	big := &Table{bytes: 5000}
	if got, _ := c.Get(7, func() (*Table, error) { return big, nil }); got != big || c.UsedBytes() > 1000 {
		t.Errorf("big table: got %p (want %p), %d bytes used", got, big, c.UsedBytes())
	}
	if got, err := c.Get(7, func() (*Table, error) { return big, nil }); got != nil || err == nil {
		t.Errorf("big table again: got %p, %v; want an error", got, err)
	}
}

// glibc's clone and clone3 end their FDE at their syscall instruction:
// the parent, stopped right after it when its spawn is copied, is in no
// FDE, yet its caller is found (the return address at rsp).
func TestSyscallGapLibc(t *testing.T) {
	f, err := elf.Open(libcPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tab, err := NewTable(f)
	if err != nil {
		t.Fatal(err)
	}
	text := f.Section(".text")
	code, err := text.Data()
	if err != nil {
		t.Fatal(err)
	}
	sec := tab.secs[0]
	var gaps []uint64
	for off := uint64(0); ; {
		e, ok, err := sec.entryAt(off)
		if err != nil || !ok {
			break
		}
		if fd, err := sec.fdeAt(off); err == nil && fd.pcEnd >= text.Addr && fd.pcEnd+2 <= text.Addr+uint64(len(code)) {
			i := fd.pcEnd - text.Addr
			if _, err := tab.Row(fd.pcEnd + 2); errors.Is(err, ErrNoCFI) && code[i] == 0x0f && code[i+1] == 0x05 {
				gaps = append(gaps, fd.pcEnd)
			}
		}
		off = e.end
	}
	leafOnly := 0
	for _, insn := range gaps {
		ip := insn + 2
		res := Unwind(nil, Regs{IP: ip, SP: 0x7000}, stackOf(0x9990, 0x9991, 0x9992), oneTable{tab})
		if len(res.PCs) == 2 && res.PCs[1] == 0x9990 {
			leafOnly++
		}
	}
	t.Logf("syscall instructions just past an FDE, in no FDE: %#x", gaps)
	if leafOnly < 2 {
		t.Errorf("%d of %d syscall gaps unwound to the return address at rsp; want at least clone's and clone3's", leafOnly, len(gaps))
	}
}

// glibc's vfork pops its return address into rdi around the syscall
// (DW_CFA_register rip in rdi): with rdi captured, its caller is found.
func TestVforkReturnAddressInRDI(t *testing.T) {
	f, err := elf.Open(libcPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tab, err := NewTable(f)
	if err != nil {
		t.Fatal(err)
	}
	syms, err := f.DynamicSymbols()
	if err != nil {
		t.Fatal(err)
	}
	var vfork uint64
	for _, s := range syms {
		if s.Name == "vfork" {
			vfork = s.Value
		}
	}
	text := f.Section(".text")
	code, _ := text.Data()
	if vfork < text.Addr || vfork+32 > text.Addr+uint64(len(code)) {
		t.Fatalf("vfork at %#x not in .text", vfork)
	}
	// The leaf stands right after vfork's syscall instruction.
	i := bytes.Index(code[vfork-text.Addr:vfork-text.Addr+32], []byte{0x0f, 0x05})
	if i < 0 {
		t.Fatalf("no syscall instruction in vfork's first 32 bytes")
	}
	ip := vfork + uint64(i) + 2
	regs := Regs{IP: ip, SP: 0x7000}
	res := Unwind(nil, regs, stackOf(0x9990), oneTable{tab})
	if res.Stop != StopUnsupported || len(res.PCs) != 1 {
		t.Errorf("without rdi: %#x stop %v; want vfork alone, unsupported", res.PCs, res.Stop)
	}
	regs.Other[5], regs.OtherValid = 0x4444, 1<<5
	res = Unwind(nil, regs, stackOf(0x9990), oneTable{tab})
	if want := []uint64{ip, 0x4444}; !slices.Equal(res.PCs, want) {
		t.Errorf("with rdi: %#x stop %v (%v); want %#x", res.PCs, res.Stop, res.Err, want)
	}
}

// GCC's stack-realigning prologues (DRAP) leave, in the body, CFA =
// [rbp-8] (DW_OP_breg6 -8; DW_OP_deref) and rbp saved at rbp+0
// (DW_CFA_expression rbp: DW_OP_breg6 0).
func TestRealignedFrameExpressions(t *testing.T) {
	row := Row{
		CFA: CFARule{Expr: []byte{0x76, 0x78, 0x06}},
		RA:  Rule{Kind: RuleOffset, Offset: -8},
		RBP: Rule{Kind: RuleExpression, Expr: []byte{0x76, 0x00}},
	}
	const sp = 0x7000
	words := make([]uint64, 8)
	words[1] = 0x7040 // at rbp-8: the CFA
	words[2] = 0x7100 // at rbp: the caller's rbp
	words[7] = 0x4242 // at CFA-8: the return address
	mem := &stackMem{base: sp, data: stackOf(words...)}
	next, err := apply(&row, frameRegs{ip: 0x1000, sp: sp, bp: sp + 16, bpOK: true}, mem)
	if err != nil || next.ip != 0x4242 || next.sp != 0x7040 || next.bp != 0x7100 || !next.bpOK {
		t.Errorf("got %+v, %v; want ip 0x4242, sp 0x7040, rbp 0x7100", next, err)
	}
}

func TestUnwindWordsAreTheReads(t *testing.T) {
	const sp = 0x1000
	// Two frames through rbp, then an rbp beyond the copy (as in
	// TestFramePointerFallback); slot 0 and 1 are locals no walk reads.
	stack := stackOf(0x1111, 0x2222, 0x1030, 0x4001, 0, 0, 0x2000, 0x3001)
	regs := Regs{IP: 0x5000, SP: sp, BP: 0x1010}
	want := Unwind(nil, regs, stack, noTables{})
	res, words := UnwindWords(nil, nil, regs, stack, noTables{})
	if !slices.Equal(res.PCs, want.PCs) || res.Stop != want.Stop || res.ReadBytes != want.ReadBytes || res.FramePointerFrames != want.FramePointerFrames {
		t.Fatalf("UnwindWords gave %+v, Unwind %+v", res, want)
	}
	wantWords := []Word{{0x10, 0x1030}, {0x18, 0x4001}, {0x30, 0x2000}, {0x38, 0x3001}}
	if !slices.Equal(words, wantWords) {
		t.Errorf("words %#x, want %#x", words, wantWords)
	}
	if !SameWords(ArchX8664, words, stack) {
		t.Error("SameWords false on the copy the words came from")
	}
	locals := slices.Clone(stack)
	locals[0] ^= 0xff
	if !SameWords(ArchX8664, words, locals) {
		t.Error("SameWords false on a copy differing in a word the walk did not read")
	}
	ra := slices.Clone(stack)
	ra[0x38] ^= 0xff
	if SameWords(ArchX8664, words, ra) {
		t.Error("SameWords true on a copy whose return address differs")
	}
	if SameWords(ArchX8664, words, stack[:0x38]) {
		t.Error("SameWords true on a copy too short for a word")
	}
}
