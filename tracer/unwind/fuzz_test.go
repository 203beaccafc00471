package unwind

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"testing"
)

// The .eh_frame and .eh_frame_hdr of a small gcc -O2 program (at 0x2048
// and 0x2008): two CIEs ("zR", _start's with an undefined return address),
// a PLT FDE with the CFA expression, rbp-based and push/pop FDEs.
const (
	seedEhFrameAddr = 0x2048
	seedHdrAddr     = 0x2008
	seedEhFrame     = "1400000000000000017a5200017810011b0c070890010710140000001c00000018f0ffff2200000000000000000000001400000000000000017a5200017810011b0c070890010000240000001c00000088efffff30000000000e10460e184a0f0b770880003f1a3b2a33242200000000140000004400000090efffff080000000000000000000000280000005c00000098f0ffff6d00000000410e108602480d06438c03830402510a0c0708430b4c0c070800001800000088000000dcf0ffff0f00000000410e1083024d0e0800000014000000a400000040efffff2000000000440e105b0e080000000000"
	seedHdr         = "011b033b3c0000000600000018f0ffff8800000048f0ffffb000000058f0ffff1001000078f0ffff5800000068f1ffffc8000000d8f1fffff4000000"
)

func seedBytes(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

type oneTable struct{ t *Table }

func (o oneTable) Table(uint64) (*Table, uint64, error) { return o.t, 0, nil }

// FuzzCFI feeds hostile CFI sections, search tables and stacks to the
// parser, the CFA programs, the expression machine and the unwinder:
// errors are fine, a panic or a hang is not.
func FuzzCFI(f *testing.F) {
	eh, hdr := seedBytes(seedEhFrame), seedBytes(seedHdr)
	stack := make([]byte, 256)
	for i := 0; i < len(stack); i += 8 {
		binary.LittleEndian.PutUint64(stack[i:], 0x1000+uint64(i)*16)
	}
	for _, pc := range []uint64{0x1020, 0x1035, 0x1175, 0x11e5, 0x1070, 0x1090} {
		f.Add(eh, hdr, false, pc, stack)
		f.Add(eh, []byte(nil), false, pc, stack)
	}
	f.Add(eh, hdr, true, uint64(0x1020), stack)
	f.Fuzz(func(t *testing.T, data, hdr []byte, debugFrame bool, pc uint64, stack []byte) {
		// Each input as an x86-64 object's CFI and as an i386 one's.
		for _, arch := range []Arch{ArchX8664, ArchI386} {
			sec := &cfiSection{data: data, addr: seedEhFrameAddr, eh: !debugFrame, addr4: arch == ArchI386}
			if !debugFrame && len(hdr) > 0 {
				sec.useHdr(hdr, seedHdrAddr)
			}
			if sec.hdr == nil {
				if err := sec.buildIndex(); err != nil {
					continue
				}
			}
			tab := &Table{secs: []*cfiSection{sec}, arch: arch}
			for i, e := range sec.index {
				if i == 64 {
					break
				}
				if fd, err := sec.fdeAt(e.off); err == nil {
					m := machine{arch: arch}
					_ = m.rows(&fd, func(Row) {})
				}
				_, _ = tab.Row(e.pc)
			}
			_, _ = tab.Row(pc)
			res := Unwind(nil, Regs{Arch: arch, IP: pc, SP: 0x7ff000, BP: 0x7ff010}, stack, oneTable{tab})
			if len(res.PCs) == 0 || len(res.PCs) > MaxFrames {
				t.Fatalf("%v: %d frames", arch, len(res.PCs))
			}
		}
	})
}

// FuzzExpr runs hostile DWARF expressions over a small stack.
func FuzzExpr(f *testing.F) {
	// The PLT pattern, __restore_rt's, a realigned prologue's, a loop.
	for _, s := range []string{"770892001f3f1a3b2a332422", "77a00106", "76780606", "2ffdff", "3128fdff"} {
		f.Add(seedBytes(s), uint64(0x1234))
	}
	f.Fuzz(func(t *testing.T, expr []byte, ip uint64) {
		mem := &stackMem{base: 0x7ff000, data: make([]byte, 512)}
		x := exprCtx{regs: &frameRegs{ip: ip, sp: 0x7ff000, bp: 0x7ff100, bpOK: true}, mem: mem, cfa: 0x7ff040}
		_, _ = x.eval(expr, 0x7ff040, true)
		_, _ = x.eval(expr, 0, false)
	})
}

// seedELF is an ELF64 object without section headers whose only CFI is
// the seed's .eh_frame and .eh_frame_hdr, at the addresses they were
// built for, found through PT_GNU_EH_FRAME.
func seedELF() []byte {
	const (
		ehdrBytes = 64
		phdrBytes = 56
		hdrOff    = ehdrBytes + 2*phdrBytes // 176
		loadVaddr = seedHdrAddr - hdrOff
		ehOff     = seedEhFrameAddr - loadVaddr
	)
	eh, hdr := seedBytes(seedEhFrame), seedBytes(seedHdr)
	b := make([]byte, ehOff+len(eh))
	copy(b, "\x7fELF\x02\x01\x01")
	le := binary.LittleEndian
	le.PutUint16(b[16:], uint16(elf.ET_DYN))
	le.PutUint16(b[18:], uint16(elf.EM_X86_64))
	le.PutUint32(b[20:], 1)
	le.PutUint64(b[32:], ehdrBytes) // e_phoff
	le.PutUint16(b[52:], ehdrBytes)
	le.PutUint16(b[54:], phdrBytes)
	le.PutUint16(b[56:], 2) // e_phnum
	le.PutUint16(b[58:], 64)
	phdr := func(i int, typ elf.ProgType, off, vaddr, size uint64) {
		p := b[ehdrBytes+i*phdrBytes:]
		le.PutUint32(p, uint32(typ))
		le.PutUint32(p[4:], uint32(elf.PF_R))
		le.PutUint64(p[8:], off)
		le.PutUint64(p[16:], vaddr)
		le.PutUint64(p[24:], vaddr)
		le.PutUint64(p[32:], size)
		le.PutUint64(p[40:], size)
		le.PutUint64(p[48:], 1)
	}
	phdr(0, elf.PT_LOAD, 0, loadVaddr, uint64(len(b)))
	phdr(1, elf.PT_GNU_EH_FRAME, hdrOff, seedHdrAddr, uint64(len(hdr)))
	copy(b[hdrOff:], hdr)
	copy(b[ehOff:], eh)
	return b
}

// FuzzNewTable feeds hostile ELF files (their program headers, the
// .eh_frame_hdr they point to) to NewTable, as a root tracer reads a
// workload's files.
func FuzzNewTable(f *testing.F) {
	f.Add(seedELF())
	f.Fuzz(func(t *testing.T, data []byte) {
		ef, err := elf.NewFile(bytes.NewReader(data))
		if err != nil {
			return
		}
		tab, err := NewTable(ef)
		if err != nil {
			return
		}
		for pc := uint64(0x1000); pc < 0x1200; pc += 7 {
			_, _ = tab.Row(pc)
		}
	})
}
