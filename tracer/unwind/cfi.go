package unwind

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
)

// ErrNoCFI is returned by Table.Row for an address no FDE covers.
var ErrNoCFI = errors.New("no call frame information")

// maxSectionBytes bounds what one CFI section may make us read: the
// largest .eh_frame here, python3.11's, is 401 KiB (Chromium's 410 KiB,
// libstdc++'s 196 KiB); 40 times that is hostile or broken.
const maxSectionBytes = 16 << 20

// Table is the call frame information of one ELF object: its .eh_frame
// (searched through .eh_frame_hdr's sorted table when the file has one)
// and its .debug_frame. Addresses are the file's virtual addresses. A
// Table is read-only once made, so safe for concurrent use.
type Table struct {
	secs  []*cfiSection // .eh_frame first
	bytes int
	arch  Arch // of the object's code: its register numbers and address size
}

// cfiSection is one .eh_frame or .debug_frame and the way to find an FDE
// in it: .eh_frame_hdr's table, or an index built by reading every entry.
type cfiSection struct {
	data  []byte
	addr  uint64 // virtual address of data[0]
	eh    bool   // .eh_frame's encoding (CIE id 0, pointers relative) or .debug_frame's
	addr4 bool   // an i386 object's: absolute pointers are 4 bytes

	hdr     []byte // .eh_frame_hdr's table: fdeCount pairs of sdata4, relative to hdrAddr
	hdrAddr uint64

	index []fdeRef // sorted by pc, when there is no usable hdr table
}

// fdeRef places one FDE: the first address it covers and its offset.
type fdeRef struct {
	pc  uint64
	off uint64
}

// NewTable reads the CFI of an ELF object: an x86-64 one (ELFCLASS64) or
// an i386 one (ELFCLASS32, EM_386). An object with neither .eh_frame nor
// .debug_frame gives a Table whose every lookup is ErrNoCFI.
func NewTable(f *elf.File) (*Table, error) {
	t := &Table{}
	switch {
	case f.Data != elf.ELFDATA2LSB:
		return nil, errors.New("CFI: only little-endian objects are read")
	case f.Class == elf.ELFCLASS64:
		t.arch = ArchX8664
	case f.Class == elf.ELFCLASS32 && f.Machine == elf.EM_386:
		t.arch = ArchI386
	default:
		return nil, fmt.Errorf("CFI: %v %v objects are not read (x86-64 and i386 are)", f.Class, f.Machine)
	}
	addr4 := t.arch == ArchI386
	if f.Section(".eh_frame") == nil {
		// No section headers (stripped with sstrip, or hostile): the
		// loader's own way in, PT_GNU_EH_FRAME.
		sec, err := ehFrameFromSegments(f, addr4)
		if err != nil {
			return nil, err
		}
		if sec != nil {
			t.secs = append(t.secs, sec)
			t.bytes += len(sec.data) + len(sec.hdr) + 16*len(sec.index)
		}
	}
	if s := f.Section(".eh_frame"); s != nil && s.Type != elf.SHT_NOBITS {
		data, err := sectionData(s)
		if err != nil {
			return nil, err
		}
		sec := &cfiSection{data: data, addr: s.Addr, eh: true, addr4: addr4}
		if h := f.Section(".eh_frame_hdr"); h != nil && h.Type != elf.SHT_NOBITS {
			hdr, err := sectionData(h)
			if err != nil {
				return nil, err
			}
			sec.useHdr(hdr, h.Addr)
			t.bytes += len(sec.hdr)
		}
		if sec.hdr == nil {
			if err := sec.buildIndex(); err != nil {
				return nil, fmt.Errorf(".eh_frame: %w", err)
			}
		}
		t.secs = append(t.secs, sec)
		t.bytes += len(data) + 16*len(sec.index)
	}
	if s := f.Section(".debug_frame"); s != nil && s.Type != elf.SHT_NOBITS {
		data, err := sectionData(s)
		if err != nil {
			return nil, err
		}
		sec := &cfiSection{data: data, addr4: addr4}
		if err := sec.buildIndex(); err != nil {
			return nil, fmt.Errorf(".debug_frame: %w", err)
		}
		t.secs = append(t.secs, sec)
		t.bytes += len(data) + 16*len(sec.index)
	}
	return t, nil
}

// Open reads the CFI of the ELF object in r.
func Open(r io.ReaderAt) (*Table, error) {
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, err
	}
	return NewTable(f)
}

// Arch is the instruction set of the object's code.
func (t *Table) Arch() Arch { return t.arch }

// SizeBytes is about how much memory the table holds.
func (t *Table) SizeBytes() int { return t.bytes + 64 }

func sectionData(s *elf.Section) ([]byte, error) {
	if s.Size > maxSectionBytes {
		return nil, fmt.Errorf("%s: %d bytes, more than %d", s.Name, s.Size, maxSectionBytes)
	}
	d, err := s.Data()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", s.Name, err)
	}
	if len(d) > maxSectionBytes {
		return nil, fmt.Errorf("%s: %d bytes, more than %d", s.Name, len(d), maxSectionBytes)
	}
	return d, nil
}

// ehFrameFromSegments finds .eh_frame through PT_GNU_EH_FRAME (which
// is .eh_frame_hdr) and its eh_frame_ptr, reading from there to the end of
// the load segment holding it; the section's zero terminator ends it.
func ehFrameFromSegments(f *elf.File, addr4 bool) (*cfiSection, error) {
	var hdrProg *elf.Prog
	for _, p := range f.Progs {
		if p.Type == elf.PT_GNU_EH_FRAME {
			hdrProg = p
		}
	}
	if hdrProg == nil {
		return nil, nil
	}
	hdr, err := readProg(hdrProg, 0, hdrProg.Filesz)
	if err != nil {
		return nil, fmt.Errorf("PT_GNU_EH_FRAME: %w", err)
	}
	r := reader{data: hdr}
	version, ptrEnc := r.u8(), r.u8()
	r.bytes(2)
	ehAddr := r.pointer(ptrEnc, ptrBases{sectionAddr: hdrProg.Vaddr, dataAddr: hdrProg.Vaddr, hasData: true, addr4: addr4})
	if r.err != nil || version != 1 {
		return nil, fmt.Errorf("PT_GNU_EH_FRAME: version %d, %v", version, r.err)
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD || ehAddr < p.Vaddr || ehAddr-p.Vaddr >= p.Filesz {
			continue
		}
		data, err := readProg(p, ehAddr-p.Vaddr, p.Filesz-(ehAddr-p.Vaddr))
		if err != nil {
			return nil, fmt.Errorf("PT_GNU_EH_FRAME's .eh_frame: %w", err)
		}
		sec := &cfiSection{data: data, addr: ehAddr, eh: true, addr4: addr4}
		sec.useHdr(hdr, hdrProg.Vaddr)
		if sec.hdr == nil {
			if err := sec.buildIndex(); err != nil {
				return nil, fmt.Errorf(".eh_frame: %w", err)
			}
		}
		return sec, nil
	}
	return nil, fmt.Errorf("PT_GNU_EH_FRAME: .eh_frame at %#x in no load segment", ehAddr)
}

// readProg reads n bytes at off of a segment, at most maxSectionBytes.
func readProg(p *elf.Prog, off, n uint64) ([]byte, error) {
	n = min(n, maxSectionBytes)
	d := make([]byte, n)
	if _, err := p.ReadAt(d, int64(off)); err != nil {
		return nil, err
	}
	return d, nil
}

// useHdr keeps .eh_frame_hdr's search table when it is the usual kind
// (pairs of datarel sdata4) and describes this .eh_frame; otherwise the
// section gets an index of its own.
func (s *cfiSection) useHdr(hdr []byte, hdrAddr uint64) {
	r := reader{data: hdr}
	version, ptrEnc, countEnc, tableEnc := r.u8(), r.u8(), r.u8(), r.u8()
	b := ptrBases{sectionAddr: hdrAddr, dataAddr: hdrAddr, hasData: true, addr4: s.addr4}
	ehPtr := r.pointer(ptrEnc, b)
	count := r.pointer(countEnc, b)
	if r.err != nil || version != 1 || tableEnc != peDatarel|peSdata4 || ehPtr != s.addr {
		return
	}
	if count > uint64(len(hdr)-r.pos)/8 {
		return
	}
	s.hdr = hdr[r.pos : r.pos+int(count)*8]
	s.hdrAddr = hdrAddr
}

// entry is the frame of one CIE or FDE record.
type entry struct {
	off    uint64 // of its length field
	body   uint64 // first byte after the id field
	end    uint64 // one past its last byte
	isCIE  bool
	cieOff uint64 // FDE: its CIE's offset
}

// entryAt reads the record header at off. ok is false at the terminator.
func (s *cfiSection) entryAt(off uint64) (e entry, ok bool, err error) {
	if off >= uint64(len(s.data)) {
		return e, false, nil
	}
	r := reader{data: s.data, pos: int(off)}
	e.off = off
	length := uint64(r.u32())
	dwarf64 := false
	if length == 0xffffffff {
		length, dwarf64 = r.u64(), true
	}
	if r.err != nil {
		return e, false, fmt.Errorf("record at %#x: %w", off, r.err)
	}
	if length == 0 {
		return e, false, nil
	}
	if length > uint64(len(s.data)-r.pos) {
		return e, false, fmt.Errorf("record at %#x: length %d past the section's end", off, length)
	}
	e.end = uint64(r.pos) + length
	idPos := uint64(r.pos)
	var id uint64
	if dwarf64 {
		id = r.u64()
	} else {
		id = uint64(r.u32())
	}
	if r.err != nil || uint64(r.pos) > e.end {
		return e, false, fmt.Errorf("record at %#x: %w", off, errTruncated)
	}
	e.body = uint64(r.pos)
	switch {
	case s.eh && id == 0:
		e.isCIE = true
	case s.eh:
		if id > idPos {
			return e, false, fmt.Errorf("FDE at %#x: CIE pointer %#x before the section", off, id)
		}
		e.cieOff = idPos - id
	case id == 0xffffffff || (dwarf64 && id == ^uint64(0)):
		e.isCIE = true
	default:
		e.cieOff = id
	}
	return e, true, nil
}

// cie is what an FDE takes from its Common Information Entry.
type cie struct {
	codeAlign uint64
	dataAlign int64
	raReg     uint64
	fdeEnc    uint8
	addr4     bool // its object's addresses are 4 bytes (i386)
	hasAug    bool // "z": FDEs carry an augmentation length
	signal    bool // "S": its FDEs are signal trampolines
	initial   []byte
}

func (s *cfiSection) cieAt(off uint64) (cie, error) {
	c := cie{addr4: s.addr4}
	e, ok, err := s.entryAt(off)
	if err != nil {
		return c, err
	}
	if !ok || !e.isCIE {
		return c, fmt.Errorf("no CIE at %#x", off)
	}
	r := reader{data: s.data[:e.end], pos: int(e.body)}
	version := r.u8()
	if version != 1 && version != 3 && version != 4 {
		return c, fmt.Errorf("CIE at %#x: version %d", off, version)
	}
	augStart := r.pos
	for r.err == nil && r.u8() != 0 {
	}
	aug := r.data[augStart:max(augStart, r.pos-1)] // a []byte: a string would allocate per lookup
	if version == 4 {
		addrSize, segSize := r.u8(), r.u8()
		if r.err == nil && (addrSize != s.addrBytes() || segSize != 0) {
			return c, fmt.Errorf("CIE at %#x: address size %d, segment size %d", off, addrSize, segSize)
		}
	}
	c.codeAlign = r.uleb()
	c.dataAlign = r.sleb()
	if version == 1 {
		c.raReg = uint64(r.u8())
	} else {
		c.raReg = r.uleb()
	}
	c.fdeEnc = peAbsptr
	if len(aug) > 0 {
		if aug[0] != 'z' {
			return c, fmt.Errorf("CIE at %#x: augmentation %q: %w", off, aug, ErrUnsupported)
		}
		c.hasAug = true
		augLen := r.uleb()
		if r.err == nil && augLen > uint64(len(r.data)-r.pos) {
			return c, fmt.Errorf("CIE at %#x: augmentation data past its end", off)
		}
		augEnd := r.pos + int(augLen)
		ar := reader{data: r.data[:augEnd], pos: r.pos}
	augLoop:
		for _, ch := range aug[1:] {
			switch ch {
			case 'R':
				c.fdeEnc = ar.u8()
			case 'L':
				ar.u8() // the LSDA's encoding: FDEs' LSDA pointers are skipped by length
			case 'P':
				ar.skipPointer(ar.u8(), s.addr4)
			case 'S':
				c.signal = true
			default:
				// 'B' (AArch64 BTI), 'G' (MTE) and the like carry no data
				// an unwinder needs; the length lets us skip the rest.
				break augLoop
			}
		}
		if ar.err != nil {
			return c, fmt.Errorf("CIE at %#x: augmentation data: %w", off, ar.err)
		}
		r.pos = augEnd
	}
	if r.err != nil {
		return c, fmt.Errorf("CIE at %#x: %w", off, r.err)
	}
	if c.codeAlign == 0 {
		return c, fmt.Errorf("CIE at %#x: code alignment 0", off)
	}
	c.initial = r.data[r.pos:e.end:e.end]
	return c, nil
}

// fde is one Frame Description Entry with its CIE.
type fde struct {
	off            uint64
	cie            cie
	pcBegin, pcEnd uint64
	insns          []byte
}

func (s *cfiSection) bases() ptrBases { return ptrBases{sectionAddr: s.addr, addr4: s.addr4} }

// addrBytes is the size of the object's addresses.
func (s *cfiSection) addrBytes() uint8 {
	if s.addr4 {
		return 4
	}
	return 8
}

// fdeAt reads the FDE whose record starts at off.
func (s *cfiSection) fdeAt(off uint64) (fde, error) {
	f := fde{off: off}
	e, ok, err := s.entryAt(off)
	if err != nil {
		return f, err
	}
	if !ok || e.isCIE {
		return f, fmt.Errorf("no FDE at %#x", off)
	}
	if f.cie, err = s.cieAt(e.cieOff); err != nil {
		return f, fmt.Errorf("FDE at %#x: %w", off, err)
	}
	r := reader{data: s.data[:e.end], pos: int(e.body)}
	f.pcBegin = r.pointer(f.cie.fdeEnc, s.bases())
	pcRange := r.pointer(f.cie.fdeEnc&0x0f, s.bases())
	if f.cie.hasAug {
		r.bytes(int(min(r.uleb(), uint64(len(r.data)+1))))
	}
	if r.err != nil {
		return f, fmt.Errorf("FDE at %#x: %w", off, r.err)
	}
	f.pcEnd = f.pcBegin + pcRange
	if f.pcEnd < f.pcBegin {
		return f, fmt.Errorf("FDE at %#x: range wraps around", off)
	}
	f.insns = r.data[r.pos:e.end:e.end]
	return f, nil
}

// buildIndex reads every record's address range, for a section without a
// search table.
func (s *cfiSection) buildIndex() error {
	for off := uint64(0); ; {
		e, ok, err := s.entryAt(off)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if !e.isCIE {
			f, err := s.fdeAt(off)
			if err != nil {
				return err
			}
			if f.pcEnd > f.pcBegin {
				s.index = append(s.index, fdeRef{pc: f.pcBegin, off: off})
			}
		}
		off = e.end
	}
	sort.Slice(s.index, func(i, j int) bool { return s.index[i].pc < s.index[j].pc })
	return nil
}

// find returns the FDE covering pc.
func (s *cfiSection) find(pc uint64) (fde, error) {
	var off uint64
	if s.hdr != nil {
		n := len(s.hdr) / 8
		loc := func(i int) uint64 {
			return s.hdrAddr + uint64(int64(int32(binary.LittleEndian.Uint32(s.hdr[8*i:]))))
		}
		i := sort.Search(n, func(i int) bool { return loc(i) > pc }) - 1
		if i < 0 {
			return fde{}, ErrNoCFI
		}
		addr := s.hdrAddr + uint64(int64(int32(binary.LittleEndian.Uint32(s.hdr[8*i+4:]))))
		off = addr - s.addr
	} else {
		i := sort.Search(len(s.index), func(i int) bool { return s.index[i].pc > pc }) - 1
		if i < 0 {
			return fde{}, ErrNoCFI
		}
		off = s.index[i].off
	}
	f, err := s.fdeAt(off)
	if err != nil {
		return f, err
	}
	if pc < f.pcBegin || pc >= f.pcEnd {
		return f, ErrNoCFI
	}
	return f, nil
}

// Row is the unwind rule row in effect at one address.
func (t *Table) Row(vaddr uint64) (Row, error) {
	var m machine
	row, _, err := t.rowAndEnd(&m, vaddr)
	return row, err
}

// rowAndEnd is Row, run on m (a walk reuses one: it is 3 KiB to clear),
// and the end of the FDE that gave it.
func (t *Table) rowAndEnd(m *machine, vaddr uint64) (Row, uint64, error) {
	m.arch = t.arch
	for _, s := range t.secs {
		f, err := s.find(vaddr)
		if errors.Is(err, ErrNoCFI) {
			continue
		}
		if err != nil {
			return Row{}, 0, err
		}
		row, err := m.rowAt(&f, vaddr)
		return row, f.pcEnd, err
	}
	return Row{}, 0, ErrNoCFI
}
