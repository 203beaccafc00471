package symbolize

import (
	"debug/elf"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/spawntrace/spawntrace/tracer"
)

// buildIDOf reads a file's GNU build ID as the kernel reports it.
func buildIDOf(t *testing.T, path string) tracer.BuildID {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	id, ok := kernelBuildID(gnuBuildID(f))
	if !ok {
		t.Fatalf("%s has no GNU build ID", path)
	}
	return id
}

// symOffset is the file offset of the byte delta into a function: where
// the kernel places a frame (BPF_F_USER_BUILD_ID).
func symOffset(t *testing.T, path, name string, delta uint64) uint64 {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, _ := f.Symbols()
	dyn, _ := f.DynamicSymbols()
	for _, s := range append(syms, dyn...) {
		if s.Name != name || s.Value == 0 {
			continue
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_LOAD && p.Flags&elf.PF_X != 0 && s.Value >= p.Vaddr && s.Value < p.Vaddr+p.Memsz {
				return s.Value - p.Vaddr + p.Off + delta
			}
		}
	}
	t.Fatalf("%s: no function %s", path, name)
	return 0
}

const spinLib = `int spin_in_library_xyz(int n) { volatile int x = 0; for (int i = 0; i < n; i++) x += i; return x; }
`

const spinProg = `int spin_in_library_xyz(int n);
int prog_main_caller_xyz(int n) { return spin_in_library_xyz(n) + 1; }
int main(void) { return prog_main_caller_xyz(10) == 0; }
`

// spinBuild compiles a program that needs a library found through its
// RUNPATH ($ORIGIN), as a build's private libraries are.
func spinBuild(t *testing.T) (prog, lib string) {
	t.Helper()
	cc := requireCC(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "spin.c"), []byte(spinLib), 0o644)
	os.WriteFile(filepath.Join(dir, "prog.c"), []byte(spinProg), 0o644)
	lib = filepath.Join(dir, "lib", "libspinxyz.so")
	prog = filepath.Join(dir, "prog")
	os.Mkdir(filepath.Join(dir, "lib"), 0o755)
	for _, args := range [][]string{
		{"-shared", "-fPIC", "-o", lib, filepath.Join(dir, "spin.c")},
		{"-o", prog, filepath.Join(dir, "prog.c"), "-L" + filepath.Dir(lib), "-lspinxyz", "-Wl,-rpath,$ORIGIN/lib"},
	} {
		if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
			t.Fatalf("cc %v: %v\n%s", args, err, out)
		}
	}
	return prog, lib
}

// TestIndexExec: an exec'd program's frames, its library's (found by
// RUNPATH), libc's (by ld.so.conf) and the dynamic loader's (PT_INTERP)
// are named from build ID and offset alone, the process long gone.
func TestIndexExec(t *testing.T) {
	prog, lib := spinBuild(t)
	const libc = "/lib/x86_64-linux-gnu/libc.so.6"
	s := NewSymbolizer()
	s.procRoot = t.TempDir() // no /proc/PID: the process has exited
	s.IndexExec(4242, prog, tracer.FileID{})

	var interp string
	if f, err := elf.Open(prog); err == nil {
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				b := make([]byte, p.Filesz)
				p.ReadAt(b, 0)
				interp = strings.TrimRight(string(b), "\x00")
			}
		}
		f.Close()
	}
	for _, path := range []string{prog, lib, libc, interp} {
		if s.byID[buildIDOf(t, path)] == nil {
			t.Errorf("%s not indexed by build ID", path)
		}
	}

	stack := []tracer.UserFrame{
		{BuildID: buildIDOf(t, lib), Offset: symOffset(t, lib, "spin_in_library_xyz", 4)},
		// Callers are return addresses: one byte past the call.
		{BuildID: buildIDOf(t, prog), Offset: symOffset(t, prog, "prog_main_caller_xyz", 9) + 1},
		{BuildID: buildIDOf(t, libc), Offset: symOffset(t, libc, "execve", 3) + 1},
		{Addr: 0}, // the end of a frame-pointer walk
	}
	frames, err := s.UserFrames(s.Image(4242), stack)
	if err != nil {
		t.Fatalf("needed the gone process: %v", err)
	}
	var got []string
	for _, f := range frames {
		got = append(got, f.Func)
	}
	if want := []string{"spin_in_library_xyz", "prog_main_caller_xyz", "execve", ""}; !reflect.DeepEqual(got, want) {
		t.Errorf("names %q, want %q", got, want)
	}
	if m := frames[0].Mapping; m == nil || m.File != lib || !m.Symbolized || frames[0].Addr < m.Start || frames[0].Addr >= m.Limit {
		t.Errorf("library frame %#x in mapping %+v", frames[0].Addr, m)
	}
	if frames[3].Mapping != nil {
		t.Errorf("address 0 in mapping %+v", frames[3].Mapping)
	}

	// A second exec of the same program reads nothing again: one entry.
	before := len(s.files)
	s.IndexExec(4243, prog, tracer.FileID{})
	if len(s.files) != before {
		t.Errorf("second exec indexed %d more files", len(s.files)-before)
	}
}

// A stack with a build ID needs no map, one of code addresses alone does;
// address 0 (the end of a frame-pointer walk) is no code. (Moved from
// tracer's TestConvertSampleUserFrames with NeedsMap.)
func TestNeedsMap(t *testing.T) {
	id := tracer.BuildID{0xde, 0xad, 0xbe, 0xef}
	for _, c := range []struct {
		stack []tracer.UserFrame
		want  bool
	}{
		{[]tracer.UserFrame{{BuildID: id, Offset: 0x1234}, {Addr: 0x7f0000001000}}, false},
		{[]tracer.UserFrame{{Addr: 0x7f0000001000}}, true},
		{[]tracer.UserFrame{{Addr: 0x401000}, {Addr: 0x402000}, {Addr: 0}}, true},
		{[]tracer.UserFrame{{Addr: 0}}, false},
	} {
		if got := NeedsMap(c.stack); got != c.want {
			t.Errorf("NeedsMap(%+v) = %v, want %v", c.stack, got, c.want)
		}
	}
}

// TestUserFramesUnknown: a build ID no file was found for, in a process
// that is gone, is an unnamed frame and ErrProcessGone; so is a code
// address whose map cannot be read, but not a word that is no address.
func TestUserFramesUnknown(t *testing.T) {
	s := NewSymbolizer()
	s.procRoot = t.TempDir()
	frames, err := s.UserFrames(s.Image(4242), []tracer.UserFrame{{BuildID: tracer.BuildID{1, 2, 3}, Offset: 0x1000}})
	if !errors.Is(err, ErrProcessGone) || len(frames) != 1 || frames[0].Mapping != nil || frames[0].Func != "" {
		t.Errorf("unknown build ID: %+v, %v", frames, err)
	}
	frames, err = s.UserFrames(s.Image(4242), []tracer.UserFrame{{Addr: 0x7f0000001234}})
	if !errors.Is(err, ErrProcessGone) || len(frames) != 1 {
		t.Errorf("code address: %+v, %v", frames, err)
	}
	frames, err = s.UserFrames(s.Image(4242), []tracer.UserFrame{{Addr: 0x3d4c4c4548530064}, {Addr: 0}})
	if err != nil || len(frames) != 2 {
		t.Errorf("not addresses: %+v, %v", frames, err)
	}
	// Beside a frame the index names, an address is in no file with a
	// build ID (the vDSO, anonymous memory): not a loss.
	exe, _ := os.Executable()
	s.IndexExec(4242, exe, tracer.FileID{})
	off := symOffsetOf(t, exe)
	frames, err = s.UserFrames(s.Image(4242), []tracer.UserFrame{{Addr: 0x7ffd12345678}, {BuildID: buildIDOf(t, exe), Offset: off}})
	if err != nil || len(frames) != 2 || frames[1].Func == "" {
		t.Errorf("vDSO leaf: %+v, %v", frames, err)
	}
}

// symOffsetOf is the file offset of a function of the test binary.
func symOffsetOf(t *testing.T, exe string) uint64 {
	t.Helper()
	fn := runtime.FuncForPC(pcOf(distinctivelyNamedCaller))
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if e := uint64(fn.Entry()); p.Type == elf.PT_LOAD && p.Flags&elf.PF_X != 0 && e >= p.Vaddr && e < p.Vaddr+p.Memsz {
			return e - p.Vaddr + p.Off + 1
		}
	}
	t.Fatal("test binary: no code segment")
	return 0
}

// TestUserFramesSelf: this test binary's own stack, given as build ID and
// offset, names the same functions at the same addresses in the same
// Mapping as the memory-map path does: one file, one address space.
func TestUserFramesSelf(t *testing.T) {
	pcs := make([]uintptr, 16)
	n := distinctivelyNamedCaller(pcs)
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Fatal(err)
	}
	maps, err := parseMaps(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	exe, _ := os.Executable()
	id := buildIDOf(t, exe)
	raw := make([]uint64, n)
	sampled := make([]tracer.UserFrame, n)
	for i := range n {
		raw[i] = uint64(pcs[i])
		m := findMapping(maps, raw[i])
		if m == nil {
			t.Fatalf("pc %#x in no mapping", raw[i])
		}
		sampled[i] = tracer.UserFrame{BuildID: id, Offset: raw[i] - m.Start + m.Offset}
	}
	s := NewSymbolizer()
	img := s.Image(uint32(os.Getpid()))
	byMap, err := s.User(img, raw)
	if err != nil {
		t.Fatal(err)
	}
	byID, err := s.UserFrames(img, sampled)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(byMap, byID) {
		t.Errorf("memory map:\n%+v\nbuild ID:\n%+v", byMap, byID)
	}
	if !strings.HasSuffix(byID[0].Func, "distinctivelyNamedCaller") {
		t.Errorf("leaf %q", byID[0].Func)
	}

	// Read by build ID first, then through the map: still one Mapping.
	s = NewSymbolizer()
	s.IndexExec(uint32(os.Getpid()), exe, tracer.FileID{})
	img = s.Image(uint32(os.Getpid()))
	byID, err = s.UserFrames(img, sampled[:1])
	if err != nil {
		t.Fatal(err)
	}
	byMap, err = s.User(img, raw[:1])
	if err != nil || byMap[0].Mapping != byID[0].Mapping || byMap[0].Addr != byID[0].Addr || byMap[0].Func != byID[0].Func {
		t.Errorf("build ID first: %+v; then map: %+v, %v", byID[0], byMap, err)
	}
}

// TestIndexScript: a script's frames are its interpreter's.
func TestIndexScript(t *testing.T) {
	script := filepath.Join(t.TempDir(), "s")
	os.WriteFile(script, []byte("#!/usr/bin/true -x\nexit 0\n"), 0o755)
	s := NewSymbolizer()
	s.procRoot = t.TempDir()
	s.IndexExec(1, script, tracer.FileID{})
	if s.byID[buildIDOf(t, "/usr/bin/true")] == nil {
		t.Error("the script's interpreter is not indexed")
	}
}

func TestReadLdSoConf(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "conf.d"), 0o755)
	os.WriteFile(filepath.Join(dir, "ld.so.conf"), []byte("# comment\ninclude conf.d/*.conf\n/opt/first\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "conf.d", "a.conf"), []byte("/usr/lib/a  # trailing\n\nrelative/ignored\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "conf.d", "b.conf"), []byte("include "+filepath.Join(dir, "nested.conf")+"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "nested.conf"), []byte("/usr/lib/nested\n"), 0o644)
	got := readLdSoConf(filepath.Join(dir, "ld.so.conf"), 0)
	want := []string{"/usr/lib/a", "/usr/lib/nested", "/opt/first"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestVaddr: a file offset maps into its code segment, and nowhere when
// outside it (the kernel places a stray word in the next mapping up).
func TestVaddr(t *testing.T) {
	o := &objFile{loads: []elf.ProgHeader{
		{Type: elf.PT_LOAD, Flags: elf.PF_R, Off: 0, Vaddr: 0, Filesz: 0x1290},
		{Type: elf.PT_LOAD, Flags: elf.PF_R | elf.PF_X, Off: 0x2000, Vaddr: 0x2000, Filesz: 0x3d59},
		{Type: elf.PT_LOAD, Flags: elf.PF_R | elf.PF_W, Off: 0x7d70, Vaddr: 0x8d70, Filesz: 0x470},
	}}
	for off, want := range map[uint64]uint64{0x2000: 0x2000, 0x5d58: 0x5d58} {
		if v, ok := o.vaddr(off); !ok || v != want {
			t.Errorf("offset %#x: %#x, %v; want %#x", off, v, ok, want)
		}
	}
	for _, off := range []uint64{0x100, 0x5d59, 0x7d80, 1 << 60} {
		if v, ok := o.vaddr(off); ok {
			t.Errorf("offset %#x: %#x, want none", off, v)
		}
	}
}

// TestIndexDeletedExec: a program removed while it runs (a test binary a
// build runs once) is read through the process while it lives, and its
// frames are named after it has exited.
func TestIndexDeletedExec(t *testing.T) {
	cc := requireCC(t)
	dir := t.TempDir()
	src, prog := filepath.Join(dir, "w.c"), filepath.Join(dir, "w")
	os.WriteFile(src, []byte("#include <unistd.h>\nint waiting_function_xyz(void) { pause(); return 0; }\nint main(void) { return waiting_function_xyz(); }\n"), 0o644)
	if out, err := exec.Command(cc, "-o", prog, src).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	frame := tracer.UserFrame{BuildID: buildIDOf(t, prog), Offset: symOffset(t, prog, "waiting_function_xyz", 4)}
	cmd := exec.Command(prog)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	os.Remove(prog)
	pid := uint32(cmd.Process.Pid)
	s := NewSymbolizer()
	s.IndexExec(pid, prog, tracer.FileID{})
	cmd.Process.Kill()
	cmd.Wait()
	frames, err := s.UserFrames(s.Image(pid), []tracer.UserFrame{frame})
	if err != nil || len(frames) != 1 || frames[0].Func != "waiting_function_xyz" || frames[0].Mapping == nil || frames[0].Mapping.File != prog {
		t.Errorf("got %+v, %v", frames, err)
	}
}

const dlopenProg = `#include <dlfcn.h>
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
	char c;
	if (read(0, &c, 1) != 1 || !dlopen(argv[1], RTLD_NOW))
		return 1;
	puts("loaded");
	fflush(stdout);
	pause();
	return 0;
}
`

// TestIndexDlopen: a library a running process loads after its files were
// indexed (dlopen) is found by reading its map again.
func TestIndexDlopen(t *testing.T) {
	_, lib := spinBuild(t)
	cc := requireCC(t)
	dir := t.TempDir()
	src, prog := filepath.Join(dir, "d.c"), filepath.Join(dir, "d")
	os.WriteFile(src, []byte(dlopenProg), 0o644)
	if out, err := exec.Command(cc, "-o", prog, src, "-ldl").CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	cmd := exec.Command(prog, lib)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	pid := uint32(cmd.Process.Pid)

	s := NewSymbolizer()
	img := s.Image(pid)
	// A frame in a file the index lacks (not the program: it was never
	// exec'd here) makes the symbolizer index what the process maps.
	frames, err := s.UserFrames(img, []tracer.UserFrame{{BuildID: buildIDOf(t, prog), Offset: symOffset(t, prog, "main", 4)}})
	if err != nil || frames[0].Func != "main" {
		t.Fatalf("before dlopen: %+v, %v", frames, err)
	}
	stdin.Write([]byte{'\n'})
	b := make([]byte, 6)
	if n, _ := io.ReadFull(stdout, b); string(b[:n]) != "loaded" {
		t.Fatal("the program did not load the library")
	}
	frames, err = s.UserFrames(img, []tracer.UserFrame{{BuildID: buildIDOf(t, lib), Offset: symOffset(t, lib, "spin_in_library_xyz", 4)}})
	if err != nil || frames[0].Func != "spin_in_library_xyz" || frames[0].Mapping == nil || frames[0].Mapping.File != lib {
		t.Errorf("after dlopen: %+v, %v", frames, err)
	}
}

// fileIDOf names a file as the kernel's exec events do.
func fileIDOf(t *testing.T, path string) tracer.FileID {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return tracer.FileIDOfStat(&st)
}

// TestIndexExecByKernelName: a program indexed once is known by the file
// the kernel says an exec runs, whatever the path (no stat per exec); a
// program replaced at the same path is another file, indexed anew; a name
// the indexed file does not have is not taken for it.
func TestIndexExecByKernelName(t *testing.T) {
	prog, _ := spinBuild(t)
	s := NewSymbolizer()
	s.procRoot = t.TempDir() // the processes have exited
	first := fileIDOf(t, prog)
	s.IndexExec(4242, prog, first)
	if s.byID[buildIDOf(t, prog)] == nil || !s.execsIndexed[first] {
		t.Fatalf("%s not indexed (by build ID: %v, by name: %v)", prog, s.byID[buildIDOf(t, prog)] != nil, s.execsIndexed[first])
	}

	// The same file under the kernel's name: the path is not looked at
	// (here another program, left unindexed).
	other := filepath.Join(t.TempDir(), "other")
	cc := requireCC(t)
	src := filepath.Join(filepath.Dir(other), "other.c")
	os.WriteFile(src, []byte("int main(void) { return 3; }\n"), 0o644)
	if out, err := exec.Command(cc, "-o", other, src).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	s.IndexExec(4243, other, first)
	if s.byID[buildIDOf(t, other)] != nil {
		t.Errorf("the path was indexed although the kernel named a file indexed before")
	}

	// Replaced on disk (a new file renamed over the old): indexed anew.
	moved := prog + ".new"
	src2 := filepath.Join(filepath.Dir(other), "new.c")
	os.WriteFile(src2, []byte("int main(void) { return 4; }\n"), 0o644)
	if out, err := exec.Command(cc, "-o", moved, src2).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	if err := os.Rename(moved, prog); err != nil {
		t.Fatal(err)
	}
	second := fileIDOf(t, prog)
	if second == first {
		t.Fatalf("rename kept the inode")
	}
	s.IndexExec(4244, prog, second)
	if s.byID[buildIDOf(t, prog)] == nil || !s.execsIndexed[second] {
		t.Errorf("the replaced program was not indexed")
	}

	// A kernel name the indexed file does not have (the process exec'd
	// again, or the path now shows another file): indexed by path, but
	// the name is not noted.
	wrong := tracer.FileID{Major: first.Major, Minor: first.Minor, Ino: first.Ino + 1<<40}
	s.IndexExec(4245, other, wrong)
	if s.byID[buildIDOf(t, other)] == nil {
		t.Errorf("%s not indexed by its path", other)
	}
	if s.execsIndexed[wrong] {
		t.Errorf("a name the indexed file does not have was noted")
	}
}
