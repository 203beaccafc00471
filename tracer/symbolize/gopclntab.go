package symbolize

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
)

// goPcln reads the Go 1.20+ runtime's function table (.gopclntab) the way
// the runtime's own traceback does, inlined calls included: debug/gosym
// names only the outermost function of an inlined call, with the file and
// line of the innermost one.
type goPcln struct {
	text                                   uint64 // runtime.text: function entries are offsets from it
	minLC                                  uint64
	nfunc                                  int
	funcnames, cutab, filetab, pctab, pcln []byte
	// gofunc is the go:func.* area inline trees are found in; nil when it
	// could not be located (then inlined code is named by its outermost
	// function, without a file and line).
	gofunc []byte
}

const go120Magic = 0xfffffff1

// newGoPcln parses the header of a Go 1.20+ pclntab; nil for older ones.
func newGoPcln(f *elf.File, data []byte, text uint64) *goPcln {
	le := binary.LittleEndian
	if len(data) < 8+8*8 || le.Uint32(data) != go120Magic || data[4] != 0 || data[5] != 0 || data[7] != 8 {
		return nil
	}
	word := func(i int) uint64 { return le.Uint64(data[8+8*i:]) }
	off := func(i int) []byte {
		o := word(i)
		if o > uint64(len(data)) {
			return nil
		}
		return data[o:]
	}
	t := &goPcln{text: text, minLC: uint64(data[6]), nfunc: int(word(0)),
		funcnames: off(3), cutab: off(4), filetab: off(5), pctab: off(6), pcln: off(7)}
	if t.funcnames == nil || t.cutab == nil || t.filetab == nil || t.pctab == nil || len(t.pcln) < 8*(t.nfunc+1) {
		return nil
	}
	t.gofunc = findGoFunc(f, text)
	return t
}

// findGoFunc locates go:func.*: by its symbol, or, in a stripped binary,
// through the runtime's moduledata, found by its first word (the pclntab's
// address) and checked by its text field.
func findGoFunc(f *elf.File, text uint64) []byte {
	if syms, err := f.Symbols(); err == nil {
		for _, s := range syms {
			if s.Name == "go:func.*" {
				return sectionBytesAt(f, s.Value)
			}
		}
	}
	pcln := f.Section(".gopclntab")
	if pcln == nil {
		return nil
	}
	le := binary.LittleEndian
	var key [8]byte
	le.PutUint64(key[:], pcln.Addr)
	// moduledata (Go 1.20+), in words: pcHeader, 6 slices of 3 words,
	// findfunctab, minpc, maxpc, text (22), etext, ... rodata (39), gofunc
	// (40). Go 1.26 gives it a section of its own; before, it sits in
	// .noptrdata.
	for _, name := range []string{".go.module", ".noptrdata", ".data"} {
		sec := f.Section(name)
		if sec == nil || sec.Type == elf.SHT_NOBITS {
			continue
		}
		d, err := sec.Data()
		if err != nil {
			continue
		}
		for i := 0; ; {
			j := bytes.Index(d[i:], key[:])
			if j < 0 {
				break
			}
			at := i + j
			i = at + 1
			if (sec.Addr+uint64(at))%8 != 0 || at+41*8 > len(d) || le.Uint64(d[at+22*8:]) != text {
				continue
			}
			return sectionBytesAt(f, le.Uint64(d[at+40*8:]))
		}
	}
	return nil
}

// sectionBytesAt returns the file contents from virtual address v to the
// end of its section.
func sectionBytesAt(f *elf.File, v uint64) []byte {
	for _, s := range f.Sections {
		if s.Type == elf.SHT_NOBITS || s.Flags&elf.SHF_ALLOC == 0 || v < s.Addr || v >= s.Addr+s.Size {
			continue
		}
		d, err := s.Data()
		if err != nil {
			return nil
		}
		return d[v-s.Addr:]
	}
	return nil
}

// goFunc is one _func record.
type goFunc struct {
	entry     uint64
	nameOff   uint32
	pcfile    uint32
	pcln      uint32
	cuOffset  uint32
	pcdata    []byte // [npcdata]uint32
	funcdata  []byte // [nfuncdata]uint32
	npcdata   int
	nfuncdata int
}

// funcAt finds the function holding pc.
func (t *goPcln) funcAt(pc uint64) (goFunc, bool) {
	le := binary.LittleEndian
	if pc < t.text {
		return goFunc{}, false
	}
	off := pc - t.text
	entryOff := func(i int) uint64 { return uint64(le.Uint32(t.pcln[8*i:])) }
	lo, hi := 0, t.nfunc
	for lo < hi {
		mid := (lo + hi) / 2
		if entryOff(mid) <= off {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	i := lo - 1
	if i < 0 || off >= entryOff(i+1) {
		return goFunc{}, false
	}
	fo := uint64(le.Uint32(t.pcln[8*i+4:]))
	if fo+44 > uint64(len(t.pcln)) {
		return goFunc{}, false
	}
	r := t.pcln[fo:]
	f := goFunc{
		entry: t.text + uint64(le.Uint32(r)), nameOff: le.Uint32(r[4:]),
		pcfile: le.Uint32(r[20:]), pcln: le.Uint32(r[24:]), npcdata: int(le.Uint32(r[28:])),
		cuOffset: le.Uint32(r[32:]), nfuncdata: int(r[43]),
	}
	end := 44 + 4*f.npcdata + 4*f.nfuncdata
	if end > len(r) || f.npcdata > 1<<10 {
		return goFunc{}, false
	}
	f.pcdata = r[44 : 44+4*f.npcdata]
	f.funcdata = r[44+4*f.npcdata : end]
	return f, true
}

// pcvalue decodes a pc-value table (runtime.pcvalue) at pc; ok is false
// when the table is absent or does not cover pc.
func (t *goPcln) pcvalue(off uint32, entry, pc uint64) (int32, bool) {
	if off == 0 || uint64(off) >= uint64(len(t.pctab)) {
		return -1, false
	}
	p := t.pctab[off:]
	val, cur := int32(-1), entry
	for first := true; ; first = false {
		uv, n := binary.Uvarint(p)
		if n <= 0 || (uv == 0 && !first) {
			return -1, false
		}
		p = p[n:]
		d := uint32(uv)
		val += int32(-(d & 1) ^ (d >> 1))
		pcd, n := binary.Uvarint(p)
		if n <= 0 {
			return -1, false
		}
		p = p[n:]
		cur += pcd * t.minLC
		if pc < cur {
			return val, true
		}
	}
}

func cstring(b []byte, off uint64) string {
	if off >= uint64(len(b)) {
		return ""
	}
	b = b[off:]
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

func (t *goPcln) fileLine(f goFunc, pc uint64) (string, int) {
	fileno, ok := t.pcvalue(f.pcfile, f.entry, pc)
	if !ok || fileno < 0 {
		return "", 0
	}
	line, _ := t.pcvalue(f.pcln, f.entry, pc)
	i := 4 * (uint64(f.cuOffset) + uint64(fileno))
	if i+4 > uint64(len(t.cutab)) {
		return "", 0
	}
	fo := binary.LittleEndian.Uint32(t.cutab[i:])
	if fo == ^uint32(0) {
		return "", 0
	}
	return cstring(t.filetab, uint64(fo)), int(max(line, 0))
}

const (
	pcdataInlTreeIndex = 2
	funcdataInlTree    = 3
)

// frames names the code at pc, innermost inlined call first, the
// function holding pc last.
func (t *goPcln) frames(pc uint64) []symInfo {
	f, ok := t.funcAt(pc)
	if !ok {
		return nil
	}
	le := binary.LittleEndian
	var tree []byte
	if f.nfuncdata > funcdataInlTree && t.gofunc != nil {
		if o := le.Uint32(f.funcdata[4*funcdataInlTree:]); o != ^uint32(0) && uint64(o) < uint64(len(t.gofunc)) {
			tree = t.gofunc[o:]
		}
	}
	var out []symInfo
	for depth := 0; depth < 64; depth++ {
		idx := int32(-1)
		if f.npcdata > pcdataInlTreeIndex {
			idx, _ = t.pcvalue(le.Uint32(f.pcdata[4*pcdataInlTreeIndex:]), f.entry, pc)
		}
		file, line := t.fileLine(f, pc)
		if idx < 0 {
			out = append(out, symInfo{fn: cstring(t.funcnames, uint64(f.nameOff)), file: file, line: line})
			return out
		}
		if tree == nil || 16*(uint64(idx)+1) > uint64(len(tree)) {
			// Inlined, but the tree is out of reach: the outermost
			// function, whose file and line here would be the inlined
			// callee's.
			return append(out, symInfo{fn: cstring(t.funcnames, uint64(f.nameOff))})
		}
		ic := tree[16*idx:]
		out = append(out, symInfo{fn: cstring(t.funcnames, uint64(le.Uint32(ic[4:]))), file: file, line: line})
		pc = f.entry + uint64(int64(int32(le.Uint32(ic[8:]))))
	}
	return out
}
