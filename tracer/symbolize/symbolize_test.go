package symbolize

import (
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseMapsLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		want procMapping
	}{
		{"55a54c14c000-55a54c151000 r-xp 00002000 fe:00 247026                     /usr/bin/cat",
			procMapping{Start: 0x55a54c14c000, End: 0x55a54c151000, Offset: 0x2000, Exec: true, Dev: 0xfe << 32 /* fe:00 */, Inode: 247026, Path: "/usr/bin/cat"}},
		{"7fac9bf4e000-7fac9bf70000 rw-p 00000000 00:00 0 ",
			procMapping{Start: 0x7fac9bf4e000, End: 0x7fac9bf70000}},
		{"7fac9bf4e000-7fac9bf70000 rw-p 00000000 00:00 0",
			procMapping{Start: 0x7fac9bf4e000, End: 0x7fac9bf70000}},
		{"7ffd1a9f0000-7ffd1a9f2000 r-xp 00000000 00:00 0                          [vdso]",
			procMapping{Start: 0x7ffd1a9f0000, End: 0x7ffd1a9f2000, Exec: true, Path: "[vdso]"}},
		{"7f0000001000-7f0000002000 r-xp 00001000 08:01 42   /opt/my app/lib x.so (deleted)",
			procMapping{Start: 0x7f0000001000, End: 0x7f0000002000, Offset: 0x1000, Exec: true, Dev: 8<<32 | 1, Inode: 42,
				Path: "/opt/my app/lib x.so", Deleted: true}},
	} {
		got, err := parseMapsLine(tc.line)
		if err != nil {
			t.Errorf("%q: %v", tc.line, err)
			continue
		}
		if got != tc.want {
			t.Errorf("%q:\n got %+v\nwant %+v", tc.line, got, tc.want)
		}
	}
	for _, bad := range []string{"", "zzz-1 r-xp 0 00:00 0", "2000-1000 r-xp 0 00:00 0", "1000-2000 r 0 00:00 0", "1000-2000 r-xp 0 0000 0"} {
		if _, err := parseMapsLine(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestFindMapping(t *testing.T) {
	maps := []procMapping{{Start: 0x1000, End: 0x2000}, {Start: 0x2000, End: 0x3000, Path: "b"}, {Start: 0x5000, End: 0x6000, Path: "c"}}
	for addr, want := range map[uint64]string{0xfff: "none", 0x1000: "", 0x2fff: "b", 0x3000: "none", 0x5800: "c", 0x6000: "none"} {
		m := findMapping(maps, addr)
		got := "none"
		if m != nil {
			got = m.Path
		}
		if got != want {
			t.Errorf("%#x: got %q, want %q", addr, got, want)
		}
	}
}

const kallsymsText = `ffffffff81000000 T srso_alias_untrain_ret
ffffffff81000000 T _stext
ffffffff81000000 T _text
ffffffff81001000 t __pfx_copy_page_range
ffffffff81001010 T copy_page_range
ffffffff81001400 T dup_mmap
ffffffff81001800 D some_data
ffffffff81002000 T _etext
ffffffffc0001000 t mod_func	[mymod]
ffffffffc0002000 t bpf_prog_6deef7357e7b4530_on_sample	[bpf]
`

func TestKallsyms(t *testing.T) {
	k, err := parseKallsyms(strings.NewReader(kallsymsText))
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[uint64]string{
		0xffffffff81000005: "srso_alias_untrain_ret", // a function, not the _stext marker
		0xffffffff81001010: "copy_page_range",
		0xffffffff810013ff: "copy_page_range",
		0xffffffff81001401: "dup_mmap",
		0xffffffff81001900: "dup_mmap", // data symbols are not kept
		0xffffffffc0001010: "mod_func",
		0xffffffffc0002010: "bpf_prog_6deef7357e7b4530_on_sample",
		0xffffffffc8000000: "", // far past the last symbol, outside the image
		0xffffffff80000000: "",
	} {
		s, _ := k.lookup(addr)
		if s.Name != want {
			t.Errorf("%#x: got %q, want %q", addr, s.Name, want)
		}
	}
	if s, _ := k.lookup(0xffffffffc0001010); s.Module != "mymod" {
		t.Errorf("module: got %q", s.Module)
	}
	restricted, err := parseKallsyms(strings.NewReader("0000000000000000 T _stext\n0000000000000000 T foo\n"))
	if err != nil || len(restricted.syms) != 0 {
		t.Errorf("kptr_restrict table: %v, %d symbols", err, len(restricted.syms))
	}
}

func TestKernelFrames(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "kallsyms"), []byte(kallsymsText), 0o644); err != nil {
		t.Fatal(err)
	}
	s := NewSymbolizer()
	s.procRoot = root
	// The leaf is the interrupted address; callers are return addresses,
	// looked up one byte back: the return address 0xffffffff81001400 is
	// the end of a call in copy_page_range, not dup_mmap's first byte.
	frames, err := s.Kernel([]uint64{0xffffffff81001020, 0xffffffff81001400})
	if err != nil {
		t.Fatal(err)
	}
	got := []string{frames[0].Func, frames[1].Func}
	if got[0] != "copy_page_range" || got[1] != "copy_page_range" || frames[1].Addr != 0xffffffff810013ff {
		t.Errorf("got %q, %+v", got, frames)
	}
	if !frames[0].Kernel || frames[0].Mapping == nil || frames[0].Mapping.File != KernelMappingName ||
		frames[0].Mapping.Start != 0xffffffff81000000 || frames[0].Mapping.Limit != 0xffffffff81002000 {
		t.Errorf("kernel mapping: %+v", frames[0].Mapping)
	}
}

//go:noinline
func distinctivelyNamedCaller(pcs []uintptr) int {
	return runtime.Callers(1, pcs)
}

// TestSymbolizeSelf resolves this test binary's own stack: a Go binary
// read through /proc/self/maps, named by its pclntab.
func TestSymbolizeSelf(t *testing.T) {
	pcs := make([]uintptr, 16)
	n := distinctivelyNamedCaller(pcs)
	stack := make([]uint64, n)
	for i := range stack {
		stack[i] = uint64(pcs[i])
	}
	s := NewSymbolizer()
	frames, err := s.User(s.Image(uint32(os.Getpid())), stack)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"distinctivelyNamedCaller", "TestSymbolizeSelf", "testing.tRunner"}
	for i, w := range want {
		if !strings.HasSuffix(frames[i].Func, w) {
			t.Errorf("frame %d: got %q, want ...%s (frames %+v)", i, frames[i].Func, w, frames)
		}
	}
	if !strings.HasSuffix(frames[1].File, "symbolize_test.go") || frames[1].Line == 0 {
		t.Errorf("frame 1: file %q line %d", frames[1].File, frames[1].Line)
	}
	exe, _ := os.Executable()
	m := frames[0].Mapping
	if m == nil || m.File != exe || !m.Symbolized || m.BuildID == "" || frames[0].Addr < m.Start || frames[0].Addr >= m.Limit {
		t.Errorf("mapping %+v for %#x (exe %s)", m, frames[0].Addr, exe)
	}
	main, err := s.MainMapping(s.Image(uint32(os.Getpid())))
	if err != nil || main != m {
		t.Errorf("main mapping: %+v, %v; want %+v", main, err, m)
	}
}

// TestRebase: the same file mapped at two addresses in two processes
// gives one Mapping and the same addresses, named alike.
func TestRebase(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	var text *elf.Prog
	for _, p := range f.Progs {
		if p.Type == elf.PT_LOAD && p.Flags&elf.PF_X != 0 {
			text = p
			break
		}
	}
	f.Close()
	var st unix.Stat_t
	if err := unix.Stat(exe, &st); err != nil {
		t.Fatal(err)
	}
	fn := runtime.FuncForPC(pcOf(distinctivelyNamedCaller))
	entry := uint64(fn.Entry())

	root := t.TempDir()
	seg := func(bias uint64) string {
		lo := text.Vaddr&^pageMask + bias
		hi := (text.Vaddr + text.Memsz + pageMask) &^ pageMask
		return fmt.Sprintf("%x-%x r-xp %08x %02x:%02x %d %s\n", lo, hi+bias, text.Off&^pageMask,
			unix.Major(st.Dev), unix.Minor(st.Dev), st.Ino, exe)
	}
	// The test binary is not PIE, so the real bias is 0; pretend two
	// processes loaded it elsewhere (the addresses are all that matter).
	for pid, bias := range map[string]uint64{"100": 0x10000000, "200": 0x30000000} {
		if err := os.MkdirAll(filepath.Join(root, pid), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, pid, "maps"), []byte(seg(bias)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := NewSymbolizer()
	s.procRoot = root
	a, errA := s.User(s.Image(100), []uint64{entry + 0x10000000 + 1})
	b, errB := s.User(s.Image(200), []uint64{entry + 0x30000000 + 1})
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	if a[0].Mapping != b[0].Mapping || a[0].Addr != b[0].Addr || a[0].Func != fn.Name() || b[0].Func != fn.Name() {
		t.Errorf("got %+v and %+v, want both %s at one address", a[0], b[0], fn.Name())
	}
	if a[0].Addr != entry+0x10000000+1 {
		t.Errorf("canonical address %#x, want the first process's %#x", a[0].Addr, entry+0x10000000+1)
	}

	// A forked child shares its parent's image until it execs.
	s.Fork(100, 300, 1000)
	if s.Image(300) != s.Image(100) {
		t.Error("fork: child does not share the parent's image")
	}
	s.Exec(300, 2000)
	if s.Image(300) == s.Image(100) {
		t.Error("exec: child still has the parent's image")
	}
	// An image made for a process after its exec (say by the launcher,
	// once the workload started) is not replaced by the late exec event.
	s.Exit(400)
	made := s.Image(400)
	s.Exec(400, 2000)
	if s.Image(400) != made {
		t.Error("exec older than the image: image replaced")
	}
	if _, err := s.User(s.Image(300), []uint64{entry}); err == nil {
		t.Error("exec'd process with no maps: no error")
	}
}

func pcOf(fn func([]uintptr) int) uintptr {
	return reflect.ValueOf(fn).Pointer()
}

// TestCProgram names the functions of a C program from its .symtab, and
// those of a stripped one from .dynsym or not at all.
func TestCProgram(t *testing.T) {
	cc := requireCC(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "p.c")
	os.WriteFile(src, []byte("int helper_function_xyz(int x) { return x * 3; }\nint main(void) { return helper_function_xyz(1) - 3; }\n"), 0o644)
	bin := filepath.Join(dir, "p")
	if out, err := exec.Command(cc, "-O0", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	f, err := os.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	o, err := openObject(bin, f)
	if err != nil {
		t.Fatal(err)
	}
	ef, _ := elf.NewFile(f)
	syms, _ := ef.Symbols()
	var helper elf.Symbol
	for _, s := range syms {
		if s.Name == "helper_function_xyz" {
			helper = s
		}
	}
	if fn := o.symbol(helper.Value + 2); fn != "helper_function_xyz" {
		t.Errorf("got %q", fn)
	}
	if fn := o.symbol(helper.Value + helper.Size + 0x100000); fn != "" {
		t.Errorf("far address: got %q", fn)
	}
	if len(o.buildID) != 40 {
		t.Errorf("build ID %q", o.buildID)
	}
}

// TestLibcDebugFile: Debian's glibc is stripped to .dynsym; with
// libc6-dbg installed, its internal functions are named from the debug
// file found by build ID, as perf names them.
func TestLibcDebugFile(t *testing.T) {
	const libc = "/lib/x86_64-linux-gnu/libc.so.6"
	f, err := os.Open(libc)
	if err != nil {
		t.Skip(err)
	}
	defer f.Close()
	o, err := openObject(libc, f)
	if err != nil {
		t.Fatal(err)
	}
	var names = map[string]bool{}
	for _, s := range o.syms {
		names[s.Name] = true
	}
	if !names["fork"] && !names["_Fork"] {
		t.Errorf("no fork among %d symbols", len(o.syms))
	}
	ef, _ := elf.NewFile(f)
	if findDebugFile(ef, libc, o.buildID) == "" {
		t.Skip("no debug file for libc (install libc6-dbg)")
	}
	if !names["__libc_start_call_main"] {
		t.Error("debug file found but __libc_start_call_main not named")
	}
}

func TestBetterSymbol(t *testing.T) {
	sym := func(name string, bind elf.SymBind, size uint64) elf.Symbol {
		return elf.Symbol{Name: name, Info: elf.ST_INFO(bind, elf.STT_FUNC), Size: size, Value: 0x1000, Section: 1}
	}
	got := funcSymbols([]elf.Symbol{
		sym("__GI__Fork", elf.STB_LOCAL, 10), sym("_Fork", elf.STB_GLOBAL, 10), sym("__fork_alias", elf.STB_GLOBAL, 10),
	})
	if len(got) != 1 || got[0].Name != "_Fork" {
		t.Errorf("got %+v", got)
	}
}

// inlinedHelper is small enough to be inlined into outerCaller.
func inlinedHelper(pcs []uintptr) int { return distinctivelyNamedCaller(pcs) }

//go:noinline
func outerCaller(pcs []uintptr) int { return inlinedHelper(pcs) + 0 }

// TestInlinedFrames: the symbolizer expands inlined calls as the runtime's
// own traceback (runtime.CallersFrames) does, names, files and lines.
func TestInlinedFrames(t *testing.T) {
	pcs := make([]uintptr, 16)
	if n := outerCaller(pcs); n < 3 {
		t.Fatalf("%d pcs", n)
	}
	// pcs[0] returns into distinctivelyNamedCaller, pcs[1] into
	// outerCaller, in the code of inlinedHelper; pcs[2] is made up by
	// runtime.Callers for the inlined call (a frame-pointer walk never
	// sees it), so CallersFrames needs it to name outerCaller.
	var want []string
	frames := runtime.CallersFrames(pcs[1:3])
	for {
		f, more := frames.Next()
		want = append(want, fmt.Sprintf("%s %s:%d", f.Function, filepath.Base(f.File), f.Line))
		if !more {
			break
		}
	}
	s := NewSymbolizer()
	got, err := s.User(s.Image(uint32(os.Getpid())), []uint64{uint64(pcs[0]), uint64(pcs[1])})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range got[1:] {
		names = append(names, fmt.Sprintf("%s %s:%d", f.Func, filepath.Base(f.File), f.Line))
	}
	if strings.Join(names, "\n") != strings.Join(want, "\n") || len(want) != 2 {
		t.Errorf("got\n%s\nwant (runtime.CallersFrames)\n%s", strings.Join(names, "\n"), strings.Join(want, "\n"))
	}
	if !strings.HasSuffix(got[1].Func, ".inlinedHelper") || !got[1].Inlined || got[2].Inlined || got[1].Addr != got[2].Addr {
		t.Errorf("inlined frame: %+v then %+v", got[1], got[2])
	}
}

// TestStrippedGo: a Go binary built with -ldflags=-s (no .symtab) is read
// as the same binary with its symbols: names and inlined calls from the
// pclntab, the inline trees found through the runtime's moduledata.
func TestStrippedGo(t *testing.T) {
	// go test puts its own GOROOT/bin first in PATH.
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module p\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nimport (\"fmt\"; \"strings\")\n\n"+
		"func main() { fmt.Println(strings.ToUpper(\"x\"), strings.Repeat(\"y\", 3)) }\n"), 0o644)
	build := func(name string, flags ...string) *objFile {
		out := filepath.Join(dir, name)
		cmd := exec.Command(gobin, append(append([]string{"build", "-o", out}, flags...), ".")...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Skipf("go build: %v\n%s", err, b)
		}
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		o, err := openObject(out, f)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	full, stripped := build("full"), build("stripped", "-ldflags=-s")
	if len(stripped.syms) != 0 || full.gopcln == nil || stripped.gopcln == nil {
		t.Fatalf("symbols: %d in the stripped binary; pclntab %v, %v", len(stripped.syms), full.gopcln != nil, stripped.gopcln != nil)
	}
	if full.gopcln.gofunc == nil || stripped.gopcln.gofunc == nil {
		t.Fatalf("go:func.* not found (full %v, stripped %v)", full.gopcln.gofunc != nil, stripped.gopcln.gofunc != nil)
	}
	checked, inlined := 0, 0
	for _, s := range full.syms {
		if !strings.HasPrefix(s.Name, "main.") && !strings.HasPrefix(s.Name, "fmt.") && !strings.HasPrefix(s.Name, "strings.") {
			continue
		}
		for v := s.Addr; v < s.Addr+s.Size; v += 3 {
			a, b := full.symbols(v), stripped.symbols(v)
			if fmt.Sprint(a) != fmt.Sprint(b) {
				t.Fatalf("%#x: full binary %v, stripped %v", v, a, b)
			}
			if len(a) == 0 || a[len(a)-1].fn != s.Name {
				t.Fatalf("%#x in %s: %v", v, s.Name, a)
			}
			checked++
			if len(a) > 1 {
				inlined++
			}
		}
	}
	if checked == 0 || inlined == 0 {
		t.Errorf("%d addresses checked, %d in inlined code", checked, inlined)
	}
}

// requireCC finds the C compiler the ELF tests build with: a skip without
// one, but a failure in CI, which installs it (make deps).
func requireCC(t *testing.T) string {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("cc not found; CI must install it")
		}
		t.Skip("no C compiler")
	}
	return cc
}

// LoadSince reads a map again, once, when it was read before the moment a
// stack was taken: libraries the dynamic loader mapped since are found.
func TestLoadSince(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "500")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lines := []string{
		"555555554000-555555556000 r-xp 00001000 08:01 11 /usr/bin/prog\n",
		"7ffff7dd0000-7ffff7f50000 r-xp 00026000 08:01 12 /usr/lib/libc.so.6\n",
		"7ffff7fc0000-7ffff7fc2000 r-xp 00000000 08:01 13 /usr/lib/libextra.so\n",
	}
	writeMaps := func(n int) {
		if err := os.WriteFile(filepath.Join(dir, "maps"), []byte(strings.Join(lines[:n], "")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := NewSymbolizer()
	s.procRoot = root
	img := s.Image(500)
	writeMaps(1)
	before := monoNow()
	s.Load(img)
	writeMaps(2) // libc mapped after the first read
	s.LoadSince(img, 500, before)
	if len(img.maps) != 1 {
		t.Errorf("stack older than the map: map read again (%d mappings)", len(img.maps))
	}
	s.LoadSince(img, 500, monoNow())
	if len(img.maps) != 2 {
		t.Errorf("stack newer than the map: %d mappings, want 2", len(img.maps))
	}
	writeMaps(3)
	s.LoadSince(img, 500, monoNow())
	if len(img.maps) != 2 {
		t.Errorf("map read again twice: %d mappings, want the 2 of the second read", len(img.maps))
	}
}

// A spawn stack's map is read from the spawner itself: a child sharing its
// parent's image since a fork, once the parent is gone, and only while it
// runs the program of its spawn (SetProgramCheck); a read that failed
// leaves the map read before, and says so for each later stack of that
// process, without reading it again.
func TestLoadSinceFromSpawner(t *testing.T) {
	root := t.TempDir()
	writeMaps := func(pid int, lines ...string) {
		dir := filepath.Join(root, strconv.Itoa(pid))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "maps"), []byte(strings.Join(lines, "")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	prog := "555555554000-555555556000 r-xp 00001000 08:01 11 /usr/bin/prog\n"
	libc := "7ffff7dd0000-7ffff7f50000 r-xp 00026000 08:01 12 /usr/lib/libc.so.6\n"
	other := "555555554000-555555558000 r-xp 00001000 08:01 21 /usr/bin/other\n"
	s := NewSymbolizer()
	s.procRoot = root
	execdSince := map[uint32]bool{}
	reads := map[uint32]int{}
	s.SetProgramCheck(func(pid uint32, sinceNs uint64) (bool, bool) {
		reads[pid]++
		return !execdSince[pid], true
	})

	// 600 forked 601 and exited: 601's spawn reads 601.
	s.Image(600)
	s.Fork(600, 601, 1)
	img := s.Image(601)
	writeMaps(601, prog, libc)
	if err := s.LoadSince(img, 601, monoNow()); err != nil || len(img.maps) != 2 {
		t.Fatalf("the child's own map: %v, %d mappings, want 2", err, len(img.maps))
	}

	// 602 exec'd other after its spawn: its map is not the spawn's, and
	// is not read lazily later either.
	s.Exec(602, 1)
	img = s.Image(602)
	writeMaps(602, other)
	execdSince[602] = true
	if err := s.LoadSince(img, 602, monoNow()); !errors.Is(err, ErrProcessGone) {
		t.Errorf("map of a program exec'd since the spawn: %v, want ErrProcessGone", err)
	}
	if maps, err := s.load(img); err == nil || len(maps) != 0 {
		t.Errorf("a later lazy read gave %d mappings, %v: want none", len(maps), err)
	}

	// 603's map read at its start lacked libc; it exits before its
	// spawn's map is read: each of its stacks says so, the first read
	// kept, 603 read once.
	s.Exec(603, 1)
	img = s.Image(603)
	writeMaps(603, prog)
	s.Load(img)
	os.RemoveAll(filepath.Join(root, "603"))
	for i := range 2 {
		if err := s.LoadSince(img, 603, monoNow()); !errors.Is(err, ErrProcessGone) {
			t.Errorf("stack %d of a spawner gone: %v, want ErrProcessGone", i, err)
		}
		if len(img.maps) != 1 {
			t.Errorf("stack %d: %d mappings, want the first read's 1", i, len(img.maps))
		}
	}
	if reads[603] != 0 {
		t.Errorf("603 checked %d times: it could not be read", reads[603])
	}
}

// ReadMapsWhen reads the map again until it holds what ready wants, and
// LoadRead gives that read to an image that has none.
func TestReadMapsWhen(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "700")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lines := []string{
		"555555554000-555555556000 r-xp 00001000 08:01 11 /usr/bin/prog\n",
		"7ffff7dd0000-7ffff7dd1000 r--p 00000000 08:01 12 /usr/lib/libc.so.6\n",
		"7ffff7dd1000-7ffff7f50000 r-xp 00026000 08:01 12 /usr/lib/libc.so.6\n",
	}
	shown := 1
	write := func() {
		if err := os.WriteFile(filepath.Join(dir, "maps"), []byte(strings.Join(lines[:shown], "")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write()
	s := NewSymbolizer()
	s.procRoot = root
	var seen [][]string
	r := s.ReadMapsWhen(700, func(files []string) bool {
		seen = append(seen, files)
		if slices.Contains(files, "libc.so.6") {
			return true
		}
		shown++ // the loader maps a bit more before the next read
		write()
		return false
	}, 10, 0)
	want := [][]string{{"prog"}, {"prog"}, {"prog", "libc.so.6"}}
	if !reflect.DeepEqual(seen, want) {
		t.Errorf("reads saw %v, want %v (libc mapped executable on the third)", seen, want)
	}
	img := s.Image(700)
	s.LoadRead(img, r)
	if len(img.maps) != 3 {
		t.Errorf("the image has %d mappings, want the last read's 3", len(img.maps))
	}
	s.LoadRead(img, &MapRead{})
	if len(img.maps) != 3 {
		t.Errorf("a second LoadRead replaced the map")
	}
	if r := s.ReadMapsWhen(700, func([]string) bool { return false }, 3, 0); r.err != nil || len(r.maps) != 3 {
		t.Errorf("never ready: %d mappings, %v; want the last of 3 reads", len(r.maps), r.err)
	}
}

// TestFramesInDataNamedNoMapping: a stack's address in memory that is not
// code (a locale file, the heap: what a frame-pointer walk reads through
// code without frame pointers) keeps its address but names no mapping,
// while one in [vdso] (code) names it.
func TestFramesInDataNamedNoMapping(t *testing.T) {
	root := t.TempDir()
	maps := "7f0000000000-7f0000100000 r--p 00000000 08:01 1234 /usr/lib/locale/C.utf8/LC_CTYPE\n" +
		"7f0000200000-7f0000300000 rw-p 00000000 00:00 0 [heap]\n" +
		"7ffff7fc1000-7ffff7fc3000 r-xp 00000000 00:00 0 [vdso]\n"
	if err := os.MkdirAll(filepath.Join(root, "100"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "100", "maps"), []byte(maps), 0o644); err != nil {
		t.Fatal(err)
	}
	s := NewSymbolizer()
	s.procRoot = root
	frames, err := s.User(s.Image(100), []uint64{0x7ffff7fc1100, 0x7f0000000101, 0x7f0000200101})
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) != 3 {
		t.Fatalf("frames %+v, want 3", frames)
	}
	if m := frames[0].Mapping; m == nil || m.File != "[vdso]" {
		t.Errorf("frame in [vdso]: mapping %+v, want [vdso]", m)
	}
	for i, want := range []uint64{0x7f0000000100, 0x7f0000200100} {
		if f := frames[i+1]; f.Mapping != nil || f.Addr != want {
			t.Errorf("frame %d: mapping %+v at %#x, want none at %#x", i+1, f.Mapping, f.Addr, want)
		}
	}
}
