package symbolize

import (
	"bytes"
	"debug/elf"
	"debug/gosym"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/spawntrace/spawntrace/tracer"
)

// elfSym is a function symbol: [Addr, Addr+Size) in the file's virtual
// addresses (Size 0 when the symbol table does not say).
type elfSym struct {
	Addr, Size uint64
	Name       string
}

// objFile is what the symbolizer keeps of one executable or shared
// library: its load segments, build ID and symbol sources. The file itself
// is closed once read.
type objFile struct {
	path    string
	buildID string          // GNU build ID in hex; the Go build ID when there is none
	gnuID   *tracer.BuildID // the GNU build ID as the kernel gives it; nil when none fits
	loads   []elf.ProgHeader
	syms    []elfSym     // sorted by Addr: .symtab (or a separate debug file's) and .dynsym
	gopcln  *goPcln      // Go 1.20+ pclntab, inlined calls included
	gotab   *gosym.Table // older Go binaries' pclntab
	// execLo..execHi are the virtual addresses of the executable segments;
	// execOff is the (page-aligned) file offset of the first.
	execLo, execHi, execOff uint64
}

// debugRoot is where separate debug files are looked for (Debian's -dbg and
// -dbgsym packages install under it); a variable so tests can move it.
var debugRoot = "/usr/lib/debug"

const pageMask = 0xfff

// loadObject reads an ELF file's segments, build ID, symbols and, for Go
// binaries, the pclntab. path is where the file lives as the process sees
// it, used to find a separate debug file.
func loadObject(r io.ReaderAt, path string) (*objFile, error) {
	f, err := elf.NewFile(newBudgetReader(r))
	if err != nil {
		return nil, err
	}
	o := &objFile{path: path}
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD {
			continue
		}
		o.loads = append(o.loads, p.ProgHeader)
		if p.Flags&elf.PF_X != 0 {
			lo, hi := p.Vaddr&^pageMask, p.Vaddr+p.Memsz
			if o.execHi == 0 || lo < o.execLo {
				o.execLo, o.execOff = lo, p.Off&^pageMask
			}
			o.execHi = max(o.execHi, hi)
		}
	}
	gnu := gnuBuildID(f)
	o.buildID = hex.EncodeToString(gnu)
	if id, ok := kernelBuildID(gnu); ok {
		o.gnuID = &id
	}
	if o.buildID == "" {
		o.buildID = goBuildID(f)
	}
	o.gopcln, o.gotab = goTables(f)

	syms, symErr := f.Symbols()
	if len(syms) == 0 {
		// Stripped: a separate debug file (by build ID or .gnu_debuglink)
		// may hold the full symbol table, as perf finds glibc's.
		if dbg := findDebugFile(f, path, hex.EncodeToString(gnu)); dbg != "" {
			syms, symErr = readSymtab(dbg)
		}
	}
	_ = symErr // a file without .symtab still has .dynsym
	dyn, _ := f.DynamicSymbols()
	o.syms = funcSymbols(append(syms, dyn...))
	return o, nil
}

func readSymtab(path string) ([]elf.Symbol, error) {
	r, err := OpenRegular(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	f, err := elf.NewFile(newBudgetReader(r))
	if err != nil {
		return nil, err
	}
	return f.Symbols()
}

// funcSymbols keeps defined function symbols, sorted by address, one per
// address: of aliases (_Fork and __GI__Fork), the one perf would show.
func funcSymbols(in []elf.Symbol) []elfSym {
	var cand []elf.Symbol
	for _, s := range in {
		t := elf.ST_TYPE(s.Info)
		if (t != elf.STT_FUNC && t != elf.STT_GNU_IFUNC) || s.Value == 0 || s.Section == elf.SHN_UNDEF || s.Name == "" {
			continue
		}
		cand = append(cand, s)
	}
	sort.SliceStable(cand, func(i, j int) bool { return cand[i].Value < cand[j].Value })
	var out []elfSym
	for i := 0; i < len(cand); {
		best := cand[i]
		j := i + 1
		for ; j < len(cand) && cand[j].Value == best.Value; j++ {
			if betterSymbol(cand[j], best) {
				best = cand[j]
			}
		}
		out = append(out, elfSym{Addr: best.Value, Size: best.Size, Name: best.Name})
		i = j
	}
	return out
}

// betterSymbol picks among aliases as perf's choose_best_symbol does: one
// with a size, then global over weak over local, then fewer leading
// underscores, then the longer name.
func betterSymbol(a, b elf.Symbol) bool {
	if (a.Size == 0) != (b.Size == 0) {
		return a.Size != 0
	}
	rank := func(s elf.Symbol) int {
		switch elf.ST_BIND(s.Info) {
		case elf.STB_GLOBAL:
			return 2
		case elf.STB_WEAK:
			return 1
		}
		return 0
	}
	if ra, rb := rank(a), rank(b); ra != rb {
		return ra > rb
	}
	ua := len(a.Name) - len(strings.TrimLeft(a.Name, "_"))
	ub := len(b.Name) - len(strings.TrimLeft(b.Name, "_"))
	if ua != ub {
		return ua < ub
	}
	return len(a.Name) > len(b.Name)
}

// bias is the load bias of the file in a process, from one of its
// mappings: the process address of a virtual address v is v+bias.
func (o *objFile) bias(m *procMapping) uint64 {
	for _, p := range o.loads {
		if p.Off&^pageMask == m.Offset {
			return m.Start - p.Vaddr&^pageMask
		}
	}
	// No segment starts at that offset (a mapping split by mprotect):
	// find the segment holding it.
	for _, p := range o.loads {
		if m.Offset >= p.Off&^pageMask && m.Offset < p.Off+p.Filesz {
			return m.Start - (p.Vaddr&^pageMask + (m.Offset - p.Off&^pageMask))
		}
	}
	return m.Start - m.Offset
}

// symbols names the code at the virtual address v: the function holding
// it, after the calls inlined there (Go), innermost first; with files and
// lines when the binary says (Go). Empty when no symbol covers v.
func (o *objFile) symbols(v uint64) []symInfo {
	if o.gopcln != nil {
		if fr := o.gopcln.frames(v); fr != nil {
			return fr
		}
	}
	if o.gotab != nil {
		if f := o.gotab.PCToFunc(v); f != nil {
			file, line, _ := o.gotab.PCToLine(v)
			return []symInfo{{fn: f.Name, file: file, line: line}}
		}
	}
	i := sort.Search(len(o.syms), func(i int) bool { return o.syms[i].Addr > v }) - 1
	if i < 0 {
		return nil
	}
	s := o.syms[i]
	switch {
	case s.Size > 0 && v >= s.Addr+s.Size:
		return nil
	case s.Size == 0 && (v < o.execLo || v >= o.execHi):
		return nil
	}
	return []symInfo{{fn: s.Name}}
}

// symbol is the outermost name at v, for tests.
func (o *objFile) symbol(v uint64) string {
	s := o.symbols(v)
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1].fn
}

// hasSymbols tells whether any lookup can succeed.
func (o *objFile) hasSymbols() bool { return o.gopcln != nil || o.gotab != nil || len(o.syms) > 0 }

// gnuBuildID reads NT_GNU_BUILD_ID, from its section or any PT_NOTE.
func gnuBuildID(f *elf.File) []byte {
	if s := f.Section(".note.gnu.build-id"); s != nil {
		if d, err := s.Data(); err == nil {
			if id := findNote(d, f.ByteOrder, "GNU", 3); id != nil {
				return id
			}
		}
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE || p.Filesz > 1<<20 {
			continue
		}
		d := make([]byte, p.Filesz)
		if _, err := p.ReadAt(d, 0); err != nil {
			continue
		}
		if id := findNote(d, f.ByteOrder, "GNU", 3); id != nil {
			return id
		}
	}
	return nil
}

// kernelBuildID is a GNU build ID as the kernel reports it in a stack
// frame: zero-padded to 20 bytes. The kernel gives up on longer ones.
func kernelBuildID(id []byte) (tracer.BuildID, bool) {
	var b tracer.BuildID
	if len(id) == 0 || len(id) > len(b) {
		return b, false
	}
	copy(b[:], id)
	return b, true
}

// vaddr is the virtual address of the byte at file offset off, when a
// loaded code segment holds it: the kernel gives a frame's place in its
// file as an offset.
func (o *objFile) vaddr(off uint64) (uint64, bool) {
	for _, p := range o.loads {
		if p.Flags&elf.PF_X != 0 && off >= p.Off && off < p.Off+p.Filesz {
			return off - p.Off + p.Vaddr, true
		}
	}
	return 0, false
}

// goBuildID reads the Go toolchain's build ID note.
func goBuildID(f *elf.File) string {
	s := f.Section(".note.go.buildid")
	if s == nil {
		return ""
	}
	d, err := s.Data()
	if err != nil {
		return ""
	}
	return string(findNote(d, f.ByteOrder, "Go", 4))
}

// findNote returns the descriptor of the first note with that name and type.
func findNote(d []byte, bo binary.ByteOrder, name string, typ uint32) []byte {
	align4 := func(n uint32) uint32 { return (n + 3) &^ 3 }
	for len(d) >= 12 {
		nameSz, descSz, t := bo.Uint32(d), bo.Uint32(d[4:]), bo.Uint32(d[8:])
		d = d[12:]
		if uint64(align4(nameSz))+uint64(align4(descSz)) > uint64(len(d)) {
			return nil
		}
		n := strings.TrimRight(string(d[:nameSz]), "\x00")
		desc := d[align4(nameSz) : align4(nameSz)+descSz]
		if n == name && t == typ {
			return desc
		}
		d = d[align4(nameSz)+align4(descSz):]
	}
	return nil
}

// goTables loads Go's function table: the pclntab names every function of
// a Go binary, stripped (-ldflags=-s) or not, with files and lines. Go
// 1.20 and later are read with their inlined calls, older ones with
// debug/gosym.
func goTables(f *elf.File) (*goPcln, *gosym.Table) {
	pcln := f.Section(".gopclntab")
	text := f.Section(".text")
	if pcln == nil || text == nil {
		return nil, nil
	}
	data, err := pcln.Data()
	if err != nil {
		return nil, nil
	}
	if t := newGoPcln(f, data, text.Addr); t != nil {
		return t, nil
	}
	// gosym makes a slice of as many functions as the header says (the
	// file's word, 32 bits of it) before it looks at them: 2^32 of them
	// ended spawntrace, out of memory, on a C program's made-up pclntab.
	// Each function has a functab entry of 8 bytes at least.
	if n, ok := pclnFuncCount(data, f.ByteOrder); !ok || n > uint64(len(data))/8 {
		return nil, nil
	}
	var symtab []byte
	if s := f.Section(".gosymtab"); s != nil {
		symtab, _ = s.Data()
	}
	t, err := gosym.NewTable(symtab, gosym.NewLineTable(data, text.Addr))
	if err != nil || len(t.Funcs) == 0 {
		return nil, nil
	}
	return nil, t
}

// pclnFuncCount is the function count a pclntab's header gives, as
// debug/gosym reads it: a pointer-sized word after the 8-byte header,
// kept to 32 bits.
func pclnFuncCount(data []byte, order binary.ByteOrder) (uint64, bool) {
	if len(data) < 16 {
		return 0, false
	}
	switch data[7] {
	case 4:
		return uint64(order.Uint32(data[8:])), true
	case 8:
		return uint64(uint32(order.Uint64(data[8:]))), true
	}
	return 0, false
}

// findDebugFile looks for the separate debug file of a stripped ELF file
// where gdb and perf look: by build ID, then by .gnu_debuglink.
func findDebugFile(f *elf.File, path, buildID string) string {
	var tries []string
	if len(buildID) > 2 {
		tries = append(tries, filepath.Join(debugRoot, ".build-id", buildID[:2], buildID[2:]+".debug"))
	}
	if s := f.Section(".gnu_debuglink"); s != nil {
		if d, err := s.Data(); err == nil {
			if i := bytes.IndexByte(d, 0); i > 0 {
				name := filepath.Base(string(d[:i]))
				dir := filepath.Dir(path)
				tries = append(tries,
					filepath.Join(dir, name),
					filepath.Join(dir, ".debug", name),
					filepath.Join(debugRoot, dir, name))
			}
		}
	}
	for _, p := range tries {
		if p == path {
			continue
		}
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// maxELFReadBytes bounds what is read of one ELF file (its section data:
// symbol tables, pclntab, notes, the dynamic section). A file of the
// workload's can claim gigabytes of a sparse file in a section header,
// which debug/elf reads whole and parses into ~4.7 times its size: a
// program whose .symtab claimed 100 MiB (16 KiB on disk) took spawntrace
// -c from 57 to 470 MiB. The largest symbol table on this project's
// machines, librustc_driver's, is 4 MiB.
const maxELFReadBytes = 128 << 20

var errELFTooLarge = fmt.Errorf("reads more than %d MiB: not read further", maxELFReadBytes>>20)

// budgetReader is an io.ReaderAt that fails once its reads have taken
// maxELFReadBytes in all.
type budgetReader struct {
	r    io.ReaderAt
	left atomic.Int64
}

func newBudgetReader(r io.ReaderAt) *budgetReader {
	b := &budgetReader{r: r}
	b.left.Store(maxELFReadBytes)
	return b
}

func (b *budgetReader) ReadAt(p []byte, off int64) (int, error) {
	if b.left.Add(-int64(len(p))) < 0 {
		return 0, errELFTooLarge
	}
	return b.r.ReadAt(p, off)
}

// NeededLibraries are the DT_NEEDED entries of the program pid runs, none
// for a static one (its exec mapped it whole) or one that cannot be read.
// The file is the workload's: read within the same budget as any.
func NeededLibraries(pid uint32) []string {
	return neededLibrariesAt(fmt.Sprintf("/proc/%d/exe", pid))
}

func neededLibrariesAt(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	ef, err := elf.NewFile(newBudgetReader(f))
	if err != nil {
		return nil
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			needed, _ := ef.ImportedLibraries()
			return needed
		}
	}
	return nil
}

// errNotELF marks a mapped file that is not an ELF object (a font, a
// locale archive): nothing to symbolize there.
var errNotELF = errors.New("not an ELF file")

func openObject(path string, f *os.File) (*objFile, error) {
	var magic [4]byte
	if _, err := f.ReadAt(magic[:], 0); err != nil || string(magic[:]) != elf.ELFMAG {
		return nil, errNotELF
	}
	o, err := loadObject(f, path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return o, nil
}
