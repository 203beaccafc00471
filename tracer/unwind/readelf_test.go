package unwind

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The parser against binutils: for every FDE of an object, the rows
// (location, CFA rule, return address and rbp rules) that readelf
// --debug-dump=frames-interp prints.

const libcPath = "/lib/x86_64-linux-gnu/libc.so.6"

// readelfFDE is one FDE as readelf prints it.
type readelfFDE struct {
	off, cieOff uint64
	pcLo, pcHi  uint64
	cols        []string   // the columns after LOC
	rows        [][]string // LOC first
	section     string
}

var (
	// An ELF32 object's lengths and locations are 8 digits, not 16.
	reHeader = regexp.MustCompile(`^([0-9a-f]{8}) (?:[0-9a-f]{16}|[0-9a-f]{8}) ([0-9a-f]{8}) (CIE|FDE)(?: cie=([0-9a-f]{8}) pc=([0-9a-f]+)\.\.([0-9a-f]+))?`)
	reRow    = regexp.MustCompile(`^(?:[0-9a-f]{16}|[0-9a-f]{8}) `)
)

func readelfFrames(t *testing.T, path string) (fdes []readelfFDE, cies map[string]map[uint64]readelfFDE) {
	t.Helper()
	if _, err := exec.LookPath("readelf"); err != nil {
		t.Fatalf("readelf (binutils, installed by make deps) not found: %v", err)
	}
	out, err := exec.Command("readelf", "--debug-dump=no-follow-links", "--debug-dump=frames-interp", path).Output()
	if err != nil {
		t.Fatalf("readelf %s: %v", path, err)
	}
	cies = map[string]map[uint64]readelfFDE{}
	var cur *readelfFDE
	var isCIE bool
	section := ""
	flush := func() {
		if cur == nil {
			return
		}
		if isCIE {
			if cies[cur.section] == nil {
				cies[cur.section] = map[uint64]readelfFDE{}
			}
			cies[cur.section][cur.off] = *cur
		} else {
			fdes = append(fdes, *cur)
		}
		cur = nil
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "Contents of the ") {
			flush()
			section = strings.Fields(line)[3]
			continue
		}
		if m := reHeader.FindStringSubmatch(line); m != nil {
			flush()
			off, _ := strconv.ParseUint(m[1], 16, 64)
			cur = &readelfFDE{off: off, section: section}
			isCIE = m[3] == "CIE"
			if !isCIE {
				cur.cieOff, _ = strconv.ParseUint(m[4], 16, 64)
				cur.pcLo, _ = strconv.ParseUint(m[5], 16, 64)
				cur.pcHi, _ = strconv.ParseUint(m[6], 16, 64)
			}
			continue
		}
		if cur == nil {
			continue
		}
		f := fields(line)
		switch {
		case len(f) > 0 && f[0] == "LOC":
			cur.cols = f[1:]
		case reRow.MatchString(line) && !strings.Contains(line, "ZERO terminator"):
			cur.rows = append(cur.rows, f)
		}
	}
	flush()
	return fdes, cies
}

// fields splits a row into its columns: a register rule is printed as
// "r9 (r9)", one column.
func fields(line string) []string {
	var out []string
	for _, f := range strings.Fields(line) {
		if strings.HasPrefix(f, "(") && len(out) > 0 {
			out[len(out)-1] += " " + f
			continue
		}
		out = append(out, f)
	}
	return out
}

// regNames are readelf's names of the DWARF registers, by Arch.
var regNames = map[Arch][]string{
	ArchX8664: {"rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp",
		"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip"},
	ArchI386: {"eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi", "eip"},
}

func regName(a Arch, n uint16) string {
	if int(n) < len(regNames[a]) {
		return regNames[a][n]
	}
	return fmt.Sprintf("r%d", n)
}

// readelfLoc prints a row's location as frames-interp does: as wide as
// the object's addresses.
func readelfLoc(a Arch, loc uint64) string {
	return fmt.Sprintf("%0*x", 2*a.WordBytes(), loc)
}

// readelfCFA and readelfRule print rules as frames-interp does.
func readelfCFA(a Arch, c CFARule) string {
	if c.Expr != nil {
		return "exp"
	}
	return fmt.Sprintf("%s%+d", regName(a, c.Reg), c.Offset)
}

func readelfRule(a Arch, r Rule) string {
	switch r.Kind {
	case RuleUnset, RuleUndefined:
		return "u"
	case RuleSameValue:
		return "s"
	case RuleOffset:
		return fmt.Sprintf("c%+d", r.Offset)
	case RuleValOffset:
		return fmt.Sprintf("v%+d", r.Offset)
	case RuleRegister:
		return fmt.Sprintf("r%d (%s)", r.Reg, regName(a, r.Reg))
	case RuleExpression:
		return "exp"
	case RuleValExpression:
		return "vexp"
	}
	return "?"
}

// expectRows turns readelf's rows into LOC, CFA, ra, rbp (ebp) strings; a
// column readelf does not show is "u".
func expectRows(a Arch, fd readelfFDE) [][4]string {
	col := func(name string) int {
		for i, c := range fd.cols {
			if c == name {
				return i + 1
			}
		}
		return -1
	}
	cfa, ra, rbp := col("CFA"), col("ra"), col(regName(a, uint16(a.bpReg())))
	var out [][4]string
	for _, r := range fd.rows {
		get := func(i int) string {
			if i < 0 || i >= len(r) {
				return "u"
			}
			return r[i]
		}
		out = append(out, [4]string{r[0], get(cfa), get(ra), get(rbp)})
	}
	return out
}

func ourRows(t *testing.T, a Arch, s *cfiSection, off uint64) (fde, [][4]string) {
	t.Helper()
	f, err := s.fdeAt(off)
	if err != nil {
		t.Fatalf("FDE at %#x: %v", off, err)
	}
	var out [][4]string
	m := machine{arch: a}
	err = m.rows(&f, func(r Row) {
		out = append(out, [4]string{readelfLoc(a, r.Loc), readelfCFA(a, r.CFA), readelfRule(a, r.RA), readelfRule(a, r.RBP)})
	})
	if err != nil {
		t.Fatalf("FDE at %#x: %v", off, err)
	}
	return f, out
}

// compareWithReadelf checks every FDE readelf lists in path's .eh_frame
// (and .debug_frame) and returns how many it compared.
func compareWithReadelf(t *testing.T, path string) int {
	t.Helper()
	fdes, cies := readelfFrames(t, path)
	ef, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	tab, err := NewTable(ef)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	secs := map[string]*cfiSection{}
	for _, s := range tab.secs {
		if s.eh {
			secs[".eh_frame"] = s
		} else {
			secs[".debug_frame"] = s
		}
	}
	compared, mismatches := 0, 0
	for _, fd := range fdes {
		s := secs[fd.section]
		if s == nil {
			t.Fatalf("readelf shows %s, the table has none", fd.section)
		}
		f, got := ourRows(t, tab.arch, s, fd.off)
		if f.pcBegin != fd.pcLo || f.pcEnd != fd.pcHi {
			t.Errorf("%s FDE at %#x: pc %#x..%#x, readelf %#x..%#x", fd.section, fd.off, f.pcBegin, f.pcEnd, fd.pcLo, fd.pcHi)
			continue
		}
		want := expectRows(tab.arch, fd)
		if len(fd.rows) == 0 {
			// readelf prints no rows for an FDE whose program is empty:
			// its one row is the CIE's.
			c := cies[fd.section][fd.cieOff]
			want = expectRows(tab.arch, c)
			if len(want) != 1 {
				t.Fatalf("CIE at %#x: %d rows", fd.cieOff, len(want))
			}
			want[0][0] = readelfLoc(tab.arch, fd.pcLo)
			got = got[len(got)-1:]
		}
		compared++
		if fmt.Sprint(got) != fmt.Sprint(want) {
			mismatches++
			if mismatches <= 5 {
				t.Errorf("%s FDE at %#x (pc %#x):\n ours    %v\n readelf %v", fd.section, fd.off, fd.pcLo, got, want)
			}
			continue
		}
		// The lookup gives the same rows: at each row's first and last byte.
		for i, w := range want {
			lo, _ := strconv.ParseUint(w[0], 16, 64)
			hi := fd.pcHi - 1
			if i+1 < len(want) {
				next, _ := strconv.ParseUint(want[i+1][0], 16, 64)
				hi = next - 1
			}
			if hi < lo { // a row that an advance of 0 ends at once
				continue
			}
			for _, pc := range []uint64{lo, hi} {
				row, err := tab.Row(pc)
				if err != nil {
					t.Fatalf("Row(%#x): %v", pc, err)
				}
				g := [3]string{readelfCFA(tab.arch, row.CFA), readelfRule(tab.arch, row.RA), readelfRule(tab.arch, row.RBP)}
				if (g != [3]string{w[1], w[2], w[3]}) && overlaps(fdes, fd, pc) == 0 {
					t.Errorf("Row(%#x) = %v, readelf %v", pc, g, w[1:])
				}
			}
		}
	}
	if mismatches > 0 {
		t.Errorf("%s: %d of %d FDEs differ from readelf's", path, mismatches, compared)
	}
	return compared
}

// overlaps counts the other FDEs covering pc (there the lookup may
// rightly pick another).
func overlaps(fdes []readelfFDE, self readelfFDE, pc uint64) int {
	n := 0
	for _, f := range fdes {
		if f.off != self.off && pc >= f.pcLo && pc < f.pcHi {
			n++
		}
	}
	return n
}

func TestRowsMatchReadelfLibc(t *testing.T) {
	n := compareWithReadelf(t, libcPath)
	if n < 1000 {
		t.Errorf("compared %d FDEs of libc, expected thousands", n)
	}
	t.Logf("%d FDEs of %s match readelf", n, libcPath)
}

// libstdc++'s CIEs are "zPLR" (a personality routine, LSDAs): C++ code,
// whose spawns (and Rust's, through the same unwinder conventions) pass
// through it; ld.so's are hand-written assembly's.
// i386's glibc and dynamic loader (gcc-multilib's libc6-i386): 32-bit
// programs' spawns run through them, under i386's register numbers (ebp 5,
// esp 4, eip 8) and 4-byte addresses.
func TestRowsMatchReadelfI386(t *testing.T) {
	for _, p := range []string{"/lib32/libc.so.6", "/lib32/ld-linux.so.2"} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%v (libc6-i386, of gcc-multilib: make deps)", err)
		}
		n := compareWithReadelf(t, p)
		if n < 100 {
			t.Errorf("%s: compared %d FDEs, expected hundreds", p, n)
		}
		t.Logf("%d FDEs of %s match readelf", n, p)
	}
}

func TestRowsMatchReadelfLibstdcxxAndLdSo(t *testing.T) {
	for _, p := range []string{"/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib64/ld-linux-x86-64.so.2"} {
		if n := compareWithReadelf(t, p); n < 100 {
			t.Errorf("%s: compared %d FDEs, expected hundreds", p, n)
		}
	}
}

// cSource has functions of every shape GCC gives CFI for: leaf, pushes of
// callee-saved registers, an rbp-based CFA (alloca), a realigned stack.
const cSource = `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <alloca.h>
__attribute__((noinline)) int vla(int n) { char *p = alloca(n); memset(p, 1, n); int s = 0; for (int i = 0; i < n; i++) s += p[i] * i; return s; }
__attribute__((noinline)) int aligned(int n) { char buf[256] __attribute__((aligned(64))); memset(buf, n, sizeof buf); return buf[n & 255] + vla(n); }
__attribute__((noinline)) long many(long a, long b, long c, long d) { long s = 0; for (long i = 0; i < a; i++) s += strlen(getenv("PATH") ? getenv("PATH") : "") * b + c * d; return s; }
int main(int argc, char **argv) { printf("%d %ld\n", aligned(argc + 10), many(argc, 2, 3, 4)); return 0; }
`

func buildC(t testing.TB, src string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Fatalf("gcc (installed by make deps) not found: %v", err)
	}
	dir := t.TempDir()
	c := filepath.Join(dir, "prog.c")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "prog")
	out, err := exec.Command("gcc", append(args, "-o", bin, c)...).CombinedOutput()
	if err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return bin
}

func TestRowsMatchReadelfCProgram(t *testing.T) {
	for _, flags := range [][]string{
		{"-O2", "-fomit-frame-pointer"},
		{"-O0", "-g"},
		// .debug_frame alone: no unwind tables in .eh_frame.
		{"-O2", "-g", "-fno-asynchronous-unwind-tables", "-fno-unwind-tables"},
		// i386 (gcc-multilib): 4-byte addresses in .debug_frame's
		// absolute pointers, ebp and esp by i386's numbers.
		{"-m32", "-O2", "-fomit-frame-pointer"},
		{"-m32", "-O0", "-g"},
		{"-m32", "-O2", "-g", "-fno-asynchronous-unwind-tables", "-fno-unwind-tables"},
	} {
		t.Run(strings.Join(flags, " "), func(t *testing.T) {
			bin := buildC(t, cSource, flags...)
			n := compareWithReadelf(t, bin)
			if n < 4 {
				t.Errorf("compared %d FDEs, expected at least main, vla, aligned and many", n)
			}
		})
	}
}

// Without section headers (sstrip), the CFI is found as the loader finds
// it, through PT_GNU_EH_FRAME, and gives the same rows.
func TestNoSectionHeaders(t *testing.T) {
	bin := buildC(t, cSource, "-O2", "-fomit-frame-pointer")
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	stripped := slices.Clone(data)
	clear(stripped[0x28:0x30]) // e_shoff
	clear(stripped[0x3c:0x40]) // e_shnum, e_shstrndx
	open := func(b []byte) *Table {
		f, err := elf.NewFile(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		tab, err := NewTable(f)
		if err != nil {
			t.Fatal(err)
		}
		return tab
	}
	full, bare := open(data), open(stripped)
	if len(bare.secs) != 1 || bare.secs[0].hdr == nil {
		t.Fatalf("no .eh_frame with its search table found through PT_GNU_EH_FRAME")
	}
	fdes, _ := readelfFrames(t, bin)
	rows := 0
	for _, fd := range fdes {
		for pc := fd.pcLo; pc < fd.pcHi; pc++ {
			a, errA := full.Row(pc)
			b, errB := bare.Row(pc)
			if errA != nil || errB != nil || fmt.Sprint(a) != fmt.Sprint(b) {
				t.Fatalf("pc %#x: %+v %v with sections, %+v %v without", pc, a, errA, b, errB)
			}
			rows++
		}
	}
	if rows == 0 {
		t.Fatal("no FDE compared")
	}
}
