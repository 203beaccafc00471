package symbolize

import (
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// sparseSymtabELF writes an ELF file whose .symtab section claims
// symtabBytes of a sparse file: a few KiB on disk.
func sparseSymtabELF(t *testing.T, symtabBytes uint64) string {
	t.Helper()
	const shoff, dataOff = 0x100, 0x1000
	b := make([]byte, dataOff)
	copy(b, "\x7fELF\x02\x01\x01")
	le := binary.LittleEndian
	le.PutUint16(b[0x10:], uint16(elf.ET_DYN))
	le.PutUint16(b[0x12:], uint16(elf.EM_X86_64))
	le.PutUint32(b[0x14:], 1)
	le.PutUint64(b[0x28:], shoff) // e_shoff
	le.PutUint16(b[0x34:], 0x40)  // e_ehsize
	le.PutUint16(b[0x3a:], 0x40)  // e_shentsize
	le.PutUint16(b[0x3c:], 4)     // e_shnum
	le.PutUint16(b[0x3e:], 3)     // e_shstrndx
	names := "\x00.symtab\x00.strtab\x00.shstrtab\x00"
	copy(b[0x80:], names)
	sh := func(i int, name uint32, typ elf.SectionType, off, size, link, entsize uint64) {
		s := b[shoff+0x40*i:]
		le.PutUint32(s[0:], name)
		le.PutUint32(s[4:], uint32(typ))
		le.PutUint64(s[0x18:], off)
		le.PutUint64(s[0x20:], size)
		le.PutUint32(s[0x28:], uint32(link))
		le.PutUint64(s[0x38:], entsize)
	}
	sh(1, 1, elf.SHT_SYMTAB, dataOff, symtabBytes, 2, 24)
	sh(2, 9, elf.SHT_STRTAB, 0x80, 1, 0, 0)
	sh(3, 17, elf.SHT_STRTAB, 0x80, uint64(len(names)), 0, 0)
	p := filepath.Join(t.TempDir(), "libsparse.so")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, int64(dataOff+symtabBytes)); err != nil {
		t.Fatal(err)
	}
	return p
}

// A file the workload made can claim a symbol table of gigabytes in a
// sparse file: debug/elf read it whole and parsed it into ~4.7 times its
// size (a copy of a small program whose .symtab claims 100 MiB: 470 MiB
// peak RSS for spawntrace -c, 57 MiB without; this one's 256 MiB
// allocated 1306 MiB). What one file's reads may take is bounded, whatever
// the file claims; its symbols are then not read.
func TestLoadObjectBoundsSparseSymtab(t *testing.T) {
	p := sparseSymtabELF(t, 512<<20)
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	o, _ := openObject(p, f)
	runtime.ReadMemStats(&after)
	// The reads stop at maxELFReadBytes; growing the buffer to it
	// allocates about 5 times that in all.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 6*maxELFReadBytes {
		t.Errorf("reading a sparse file's 512 MiB .symtab allocated %d MiB, past %d MiB", alloc>>20, 6*maxELFReadBytes>>20)
	}
	if o != nil && len(o.syms) != 0 {
		t.Errorf("%d symbols read from an all-zero table", len(o.syms))
	}
}

// elfWithSections writes an ELF file holding the given PROGBITS sections.
func elfWithSections(t *testing.T, secs map[string][]byte) string {
	t.Helper()
	const shoff = 0x100
	names := "\x00.shstrtab\x00"
	type sec struct {
		name string
		off  int
	}
	var order []sec
	dataOff := 0x1000
	var data []byte
	for n, d := range secs {
		order = append(order, sec{n, len(names)})
		names += n + "\x00"
		data = append(data, d...)
		for len(data)%16 != 0 {
			data = append(data, 0)
		}
	}
	b := make([]byte, dataOff)
	copy(b, "\x7fELF\x02\x01\x01")
	le := binary.LittleEndian
	le.PutUint16(b[0x10:], uint16(elf.ET_EXEC))
	le.PutUint16(b[0x12:], uint16(elf.EM_X86_64))
	le.PutUint32(b[0x14:], 1)
	le.PutUint64(b[0x28:], shoff)
	le.PutUint16(b[0x34:], 0x40)
	le.PutUint16(b[0x3a:], 0x40)
	le.PutUint16(b[0x3c:], uint16(2+len(order)))
	le.PutUint16(b[0x3e:], 1)
	copy(b[0x80:], names)
	sh := func(i int, name int, typ elf.SectionType, addr, off, size uint64) {
		s := b[shoff+0x40*i:]
		le.PutUint32(s[0:], uint32(name))
		le.PutUint32(s[4:], uint32(typ))
		le.PutUint64(s[0x10:], addr)
		le.PutUint64(s[0x18:], off)
		le.PutUint64(s[0x20:], size)
	}
	sh(1, 1, elf.SHT_STRTAB, 0, 0x80, uint64(len(names)))
	off := dataOff
	for i, s := range order {
		d := secs[s.name]
		sh(2+i, s.off, elf.SHT_PROGBITS, 0x400000+uint64(off), uint64(off), uint64(len(d)))
		off += (len(d) + 15) &^ 15
	}
	p := filepath.Join(t.TempDir(), "fake")
	if err := os.WriteFile(p, append(b, data...), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// A C program of the workload's with a made-up .gopclntab: debug/gosym
// makes a slice of as many functions as its header says, and 2^32 of
// them ended spawntrace ("fatal error: runtime: out of memory", beyond
// recover) while it read the workload's main binary for its profiles.
func TestGoTablesFunctionCountBounded(t *testing.T) {
	for _, magic := range []uint32{0xfffffffb, 0xfffffffa, 0xfffffff0, 0xfffffff1} {
		pcln := make([]byte, 4096)
		le := binary.LittleEndian
		le.PutUint32(pcln, magic)
		pcln[6], pcln[7] = 1, 8
		le.PutUint64(pcln[8:], 0xfffffff0) // functions: gosym keeps 32 bits of the count
		for i := 1; i < 8; i++ {
			le.PutUint64(pcln[8+8*i:], 64)
		}
		p := elfWithSections(t, map[string][]byte{".text": make([]byte, 64), ".gopclntab": pcln})
		f, err := elf.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		goTables(f) // must return, not end the process
		f.Close()
	}
}
