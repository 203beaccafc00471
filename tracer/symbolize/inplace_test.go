package symbolize

import (
	"debug/elf"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/spawntrace/spawntrace/tracer"
)

// versionSrc is one program in two versions, which differ in the name of
// one function: built alike, their code sits at the same addresses, so the
// first's symbols name the second's addresses, wrongly.
const versionSrc = `__attribute__((noinline)) int SITE(int n) { volatile int x = n; return x * 3; }
int main(void) { return SITE(1) - 3; }
`

// buildVersion compiles versionSrc with SITE named site into dir.
func buildVersion(t *testing.T, dir, site string) string {
	t.Helper()
	cc := requireCC(t)
	src := filepath.Join(dir, "version.c")
	if err := os.WriteFile(src, []byte(versionSrc), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, site)
	if b, err := exec.Command(cc, "-O2", "-Wl,--build-id", "-DSITE="+site, "-o", out, src).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, b)
	}
	return out
}

// rewriteInPlace writes the contents of from over path, opened O_TRUNC as
// cp and a build's linker do: the inode stays. It returns path's FileID,
// which must have changed; a change time of the same clock tick as the
// last write is written again a tick later (a change of size alone would
// tell the versions apart too, but this is about the change time).
func rewriteInPlace(t *testing.T, path, from string) tracer.FileID {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	var before, after unix.Stat_t
	if err := unix.Stat(path, &before); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if err := os.WriteFile(path, b, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Stat(path, &after); err != nil {
			t.Fatal(err)
		}
		if after.Dev != before.Dev || after.Ino != before.Ino {
			t.Fatalf("%s: inode %d:%d, then %d:%d: not rewritten in place", path, before.Dev, before.Ino, after.Dev, after.Ino)
		}
		if after.Ctim != before.Ctim {
			return tracer.FileIDOfStat(&after)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: change time unchanged by a second of rewrites", path)
	return tracer.FileID{}
}

// funcAddr is the virtual address of a function of an ELF file, and the
// maps line of its executable segment as a process that loaded the file
// at bias shows it.
func funcAddr(t *testing.T, path, name string, bias uint64) (addr uint64, mapsLine string) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	for _, s := range syms {
		if s.Name != name {
			continue
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_LOAD && p.Flags&elf.PF_X != 0 && s.Value >= p.Vaddr && s.Value < p.Vaddr+p.Memsz {
				lo, hi := p.Vaddr&^pageMask, (p.Vaddr+p.Memsz+pageMask)&^pageMask
				return s.Value + bias, fmt.Sprintf("%x-%x r-xp %08x %02x:%02x %d %s\n", lo+bias, hi+bias, p.Off&^pageMask,
					unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino, path)
			}
		}
	}
	t.Fatalf("%s: no function %s", path, name)
	return 0, ""
}

// TestUserProgramRewrittenInPlace: a program read for one process's stack
// and then rewritten in place (same device and inode, another change time)
// is read again for the next process that maps it: its frames are named
// after the new version's symbols, with a Mapping of its own, not from the
// cache of the old one. The processes are gone (a /proc of maps alone):
// the file is found by its path.
func TestUserProgramRewrittenInPlace(t *testing.T) {
	_, b, prog := twoVersions(t)
	const bias = 0x555555554000
	root := t.TempDir()
	writeMaps := func(pid, line string) {
		if err := os.MkdirAll(filepath.Join(root, pid), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, pid, "maps"), []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := NewSymbolizer()
	s.procRoot = root

	addrA, line := funcAddr(t, prog, "site_of_version_a", bias)
	writeMaps("100", line)
	before, err := s.User(s.Image(100), []uint64{addrA})
	if err != nil || before[0].Func != "site_of_version_a" {
		t.Fatalf("version a: %+v, %v", before, err)
	}

	rewriteInPlace(t, prog, b)
	addrB, line := funcAddr(t, prog, "site_of_version_bb", bias)
	writeMaps("200", line)
	after, err := s.User(s.Image(200), []uint64{addrB})
	if err != nil {
		t.Fatal(err)
	}
	if after[0].Func != "site_of_version_bb" {
		t.Errorf("version b's frame at %#x named %q, want site_of_version_bb", addrB, after[0].Func)
	}
	idB := buildIDOf(t, b)
	if m := after[0].Mapping; m == nil || m == before[0].Mapping || m.BuildID != hex.EncodeToString(idB[:]) {
		t.Errorf("version b's frame in mapping %+v, want one of its own with b's build ID %x (a's: %+v)", m, idB, before[0].Mapping)
	}
}

// TestIndexExecRewrittenInPlace: a program the kernel names by device,
// inode and change time is indexed again when an exec runs it rewritten in
// place (its new build ID is known); an exec of the unchanged file reads
// nothing. A kernel that gave no change time names the file by its inode,
// as before change times were read: the file is known without a stat.
func TestIndexExecRewrittenInPlace(t *testing.T) {
	a, b, prog := twoVersions(t)
	s := NewSymbolizer()
	s.procRoot = t.TempDir() // the processes have exited
	first := fileIDOf(t, prog)
	s.IndexExec(4242, prog, first)
	if s.byID[buildIDOf(t, a)] == nil || !s.execsIndexed[first] {
		t.Fatalf("version a not indexed (by build ID: %v, by the kernel's name: %v)", s.byID[buildIDOf(t, a)] != nil, s.execsIndexed[first])
	}
	files := len(s.files)
	s.IndexExec(4243, prog, first)
	if len(s.files) != files {
		t.Errorf("an exec of the unchanged program read %d more files", len(s.files)-files)
	}

	second := rewriteInPlace(t, prog, b)
	s.IndexExec(4244, prog, second)
	if s.byID[buildIDOf(t, b)] == nil || !s.execsIndexed[second] {
		t.Errorf("version b, rewritten in place, not indexed (by build ID: %v, by the kernel's name: %v)",
			s.byID[buildIDOf(t, b)] != nil, s.execsIndexed[second])
	}

	// No change time from the kernel: known by its inode once indexed.
	s = NewSymbolizer()
	s.procRoot = t.TempDir()
	inode := second
	inode.CtimeNs = 0
	s.IndexExec(4245, prog, inode)
	if s.byID[buildIDOf(t, b)] == nil || !s.execsIndexed[inode] {
		t.Errorf("without a change time: not indexed (by build ID: %v, by the kernel's name: %v)",
			s.byID[buildIDOf(t, b)] != nil, s.execsIndexed[inode])
	}
}

// TestIndexedFileRewrittenBeforeRead: a program indexed by build ID but not
// yet read (no frame fell in it) and then rewritten in place is not read
// for its old build ID's frames: they stay unnamed, rather than be named
// from the new version's symbols.
func TestIndexedFileRewrittenBeforeRead(t *testing.T) {
	a, b, prog := twoVersions(t)
	s := NewSymbolizer()
	s.procRoot = t.TempDir()
	s.IndexExec(4242, prog, fileIDOf(t, prog))
	rewriteInPlace(t, prog, b)
	frames, _ := s.UserFrames(s.Image(4242), []tracer.UserFrame{{BuildID: buildIDOf(t, a), Offset: symOffset(t, a, "site_of_version_a", 2)}})
	if len(frames) != 1 || frames[0].Func != "" {
		t.Errorf("version a's frame, its file rewritten since it was indexed: %+v, want it unnamed", frames)
	}
}

// twoVersions builds two versions of one program, a and b (their spawn
// sites named site_of_version_a and site_of_version_bb), and installs a as
// prog.
func twoVersions(t *testing.T) (a, b, prog string) {
	t.Helper()
	dir := t.TempDir()
	a = buildVersion(t, dir, "site_of_version_a")
	b = buildVersion(t, dir, "site_of_version_bb")
	prog = filepath.Join(dir, "prog")
	if err := os.WriteFile(prog, mustReadFile(t, a), 0o755); err != nil {
		t.Fatal(err)
	}
	return a, b, prog
}

func mustReadFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
