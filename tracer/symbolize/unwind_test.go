package symbolize

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/spawntrace/spawntrace/tracer/unwind"
)

// capture is one stack testdata/capture.c wrote, and a symbolizer that
// sees its process through a /proc of the saved maps (the process has
// exited, as a traced one often has by the time its stack is unwound).
type capture struct {
	s     *Symbolizer
	img   *Image
	regs  unwind.Regs
	stack []byte
}

const capturePid = 4242

// buildCapture compiles testdata/capture.c without frame pointers.
func buildCapture(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Fatalf("gcc (installed by make deps) not found: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "capture")
	out, err := exec.Command("gcc", "-O2", "-fomit-frame-pointer", "-o", bin, "testdata/capture.c").CombinedOutput()
	if err != nil {
		t.Fatalf("gcc: %v\n%s", err, out)
	}
	return bin
}

func runCapture(t testing.TB, bin, mode string) *capture {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command(bin, mode, dir).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", bin, mode, err, out)
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	regs := read("regs")
	if len(regs) != 24 {
		t.Fatalf("regs: %d bytes", len(regs))
	}
	proc := filepath.Join(dir, "proc")
	pidDir := filepath.Join(proc, strconv.Itoa(capturePid))
	if err := os.MkdirAll(pidDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pidDir, "maps"), read("maps"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := NewSymbolizer()
	s.procRoot = proc
	return &capture{
		s:   s,
		img: s.Image(capturePid),
		regs: unwind.Regs{
			IP: binary.LittleEndian.Uint64(regs),
			SP: binary.LittleEndian.Uint64(regs[8:]),
			BP: binary.LittleEndian.Uint64(regs[16:]),
		},
		stack: read("stack"),
	}
}

// names unwinds the capture and names its frames.
func (c *capture) names(t *testing.T, stack []byte) (unwind.Result, []string, []Frame) {
	t.Helper()
	res := c.s.Unwind(c.img, c.regs, stack, nil)
	frames, err := c.s.User(c.img, res.PCs)
	if err != nil {
		t.Fatalf("symbolizing: %v", err)
	}
	var names []string
	for _, f := range frames {
		names = append(names, f.Func)
	}
	return res, names, frames
}

func TestUnwindCProgramWithoutFramePointers(t *testing.T) {
	bin := buildCapture(t)
	c := runCapture(t, bin, "direct")
	res, names, frames := c.names(t, c.stack)
	t.Logf("stop %v, %d frames: %s", res.Stop, len(names), strings.Join(names, " <- "))
	want := []string{"f3", "f2", "f1", "main", "__libc_start_call_main"}
	if len(names) < len(want) || !slices.Equal(names[:len(want)], want) {
		t.Fatalf("frames %v, want them to start %v", names, want)
	}
	for i := range 4 {
		if frames[i].Mapping == nil || filepath.Base(frames[i].Mapping.File) != "capture" {
			t.Errorf("frame %d (%s) not in the program: %+v", i, names[i], frames[i].Mapping)
		}
	}
	// glibc's _start-side frames end the walk: _start's CFI says its
	// return address is undefined.
	if res.Stop != unwind.StopOutermost || names[len(names)-1] != "_start" {
		t.Errorf("stop %v (%v) at %q, want outermost at _start", res.Stop, res.Err, names[len(names)-1])
	}
	if res.FramePointerFrames != 0 {
		t.Errorf("%d frames through rbp, want every one through CFI", res.FramePointerFrames)
	}

	// The same stack copied short: cut, and how much more was needed.
	short := c.stack[:64]
	res, names, _ = c.names(t, short)
	if res.Stop != unwind.StopCut || res.NeedBytes == 0 || len(names) == 0 || names[0] != "f3" {
		t.Errorf("64-byte copy: stop %v, need %d, frames %v; want cut after f3 with a byte count", res.Stop, res.NeedBytes, names)
	}
	// Enough for exactly the frames found: the bytes it asked for complete
	// the next read.
	longer := c.stack[:64+res.NeedBytes]
	res2, names2, _ := c.names(t, longer)
	if len(names2) <= len(names) {
		t.Errorf("copy of %d bytes (64 + the %d asked for) found %d frames, no more than %d", len(longer), res.NeedBytes, len(names2), len(names))
	}
	_ = res2
}

func TestUnwindThroughGlibcQsort(t *testing.T) {
	bin := buildCapture(t)
	c := runCapture(t, bin, "qsort")
	res, names, frames := c.names(t, c.stack)
	t.Logf("stop %v, %d frames: %s", res.Stop, len(names), strings.Join(names, " <- "))
	if len(names) == 0 || names[0] != "cmp" {
		t.Fatalf("frames %v, want cmp first", names)
	}
	g1 := slices.Index(names, "g1")
	if g1 < 0 || g1+1 >= len(names) || names[g1+1] != "main" {
		t.Fatalf("frames %v: want ... g1 <- main after glibc's", names)
	}
	// Between cmp and g1, glibc's own frames (built without frame
	// pointers): qsort's and its merge sort's.
	var libc []string
	for i := 1; i < g1; i++ {
		if frames[i].Mapping == nil || !strings.Contains(filepath.Base(frames[i].Mapping.File), "libc.so") {
			t.Errorf("frame %d (%s) between cmp and g1 is not glibc's: %+v", i, names[i], frames[i].Mapping)
		}
		libc = append(libc, names[i])
	}
	if !slices.ContainsFunc(libc, func(n string) bool { return strings.Contains(n, "qsort") }) {
		t.Errorf("glibc frames %v name no qsort", libc)
	}
	if res.Stop != unwind.StopOutermost || res.FramePointerFrames != 0 {
		t.Errorf("stop %v (%v), %d frames through rbp; want outermost, all through CFI", res.Stop, res.Err, res.FramePointerFrames)
	}
}

// BenchmarkUnwindQsortStack is the cost of one spawn stack's unwind once
// the files' CFI is cached: the 17 frames of cmp <- glibc's merge sort <-
// qsort_r <- g1 <- main <- _start.
func BenchmarkUnwindQsortStack(b *testing.B) {
	bin := buildCapture(b)
	c := runCapture(b, bin, "qsort")
	dst := make([]uint64, 0, unwind.MaxFrames)
	res := c.s.Unwind(c.img, c.regs, c.stack, dst)
	if res.Stop != unwind.StopOutermost {
		b.Fatalf("stop %v: %v", res.Stop, res.Err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res = c.s.Unwind(c.img, c.regs, c.stack, dst)
	}
	b.ReportMetric(float64(len(res.PCs)), "frames")
}

// A handler's stack: glibc's __restore_rt has the "S" augmentation and
// recovers rip, rsp and rbp from the signal frame by DWARF expressions.
func TestUnwindThroughSignalFrame(t *testing.T) {
	bin := buildCapture(t)
	c := runCapture(t, bin, "signal")
	res, names, frames := c.names(t, c.stack)
	t.Logf("stop %v, %d frames: %s", res.Stop, len(names), strings.Join(names, " <- "))
	// The handler returns to __restore_rt, whose address minus one (where
	// User looks a return address up) is the nop glibc puts before it.
	if len(names) < 2 || names[0] != "handler" || frames[1].Mapping == nil || !strings.Contains(frames[1].Mapping.File, "libc.so") {
		t.Fatalf("frames %v, want handler <- glibc's __restore_rt first", names)
	}
	raise, h1 := slices.Index(names, "raise"), slices.Index(names, "h1")
	if raise < 2 || h1 != raise+1 || h1+1 >= len(names) || names[h1+1] != "main" {
		t.Fatalf("frames %v: want ... the interrupted raise <- h1 <- main", names)
	}
	if res.Stop != unwind.StopOutermost || res.FramePointerFrames != 0 {
		t.Errorf("stop %v (%v), %d frames through rbp; want outermost, all through CFI", res.Stop, res.Err, res.FramePointerFrames)
	}
}

// spawnCapture is one spawn call stopped at its exit, as the BPF side
// copies it: the stack unwound and named while the process is alive.
type spawnCapture struct {
	syscall int
	res     unwind.Result
	names   []string
}

// The spawns of testdata/spawn.c, stopped with ptrace at each clone,
// clone3, fork or vfork exit in the parent (where spawntrace's BPF side
// copies registers and stack), reach their call site and main: through
// _Fork, vfork (its return address in rdi), and clone3 (whose FDE ends at
// its syscall) under posix_spawn, system and popen.
func TestUnwindSpawnCallsUnderPtrace(t *testing.T) {
	checkSpawnSites(t, traceSpawns(t, buildSpawn(t)), "", "rbp")
}

// The same call sites in a 32-bit program (gcc -m32): its fork enters the
// kernel from the vDSO's __kernel_vsyscall (CFI read from its memory), its
// vfork keeps its return address in ecx, posix_spawn's clone3 is an int
// $0x80 whose FDE ends there; its stack's words are 4 bytes and its CFI
// numbers i386's registers.
func TestUnwindSpawnCallsUnderPtraceI386(t *testing.T) {
	bin := buildSpawn(t, "-m32")
	t.Run("at each stop", func(t *testing.T) { checkI386Spawns(t, traceSpawnsAt(t, false, bin)) })
	// As a short spawner's are: unwound after it exited, its memory map
	// (and with it the vDSO's image) read while it lived.
	t.Run("after exit", func(t *testing.T) { checkI386Spawns(t, traceSpawnsAt(t, true, bin)) })
}

func checkI386Spawns(t *testing.T, caps []spawnCapture) {
	checkSpawnSites(t, caps, "_start", "ebp")
	// gdb's backtrace at the same stop: __kernel_vsyscall, _Fork, fork,
	// site_fork, main.
	if fork := caps[0].names; len(fork) < 3 || fork[0] != "__kernel_vsyscall" || fork[1] != "_Fork" {
		t.Errorf("fork's frames %v, want __kernel_vsyscall (the vDSO's symbols) <- _Fork ...", fork)
	}
}

// checkSpawnSites: testdata/spawn.c's five spawns, each unwound through
// glibc to its call site and main (and on to outermost, when it is named),
// all by CFI: no frame through the frame pointer fpReg.
func checkSpawnSites(t *testing.T, caps []spawnCapture, outermost, fpReg string) {
	t.Helper()
	sites := []string{"site_fork", "site_vfork", "site_posix_spawn", "site_system", "site_popen"}
	if len(caps) != len(sites) {
		for _, c := range caps {
			t.Logf("syscall %d: %s", c.syscall, strings.Join(c.names, " <- "))
		}
		t.Fatalf("%d spawn calls stopped, want %d", len(caps), len(sites))
	}
	for i, c := range caps {
		t.Logf("syscall %d, stop %v, %d bytes of stack read: %s", c.syscall, c.res.Stop, c.res.ReadBytes, strings.Join(c.names, " <- "))
		at := slices.Index(c.names, sites[i])
		if at < 1 || at+1 >= len(c.names) || c.names[at+1] != "main" || outermost != "" && c.names[len(c.names)-1] != outermost {
			t.Errorf("spawn %d: frames %v, want glibc's <- %s <- main ... %s", i, c.names, sites[i], outermost)
		}
		if c.res.Stop != unwind.StopOutermost || c.res.FramePointerFrames != 0 {
			t.Errorf("spawn %d: stop %v (%v), %d frames through %s; want outermost, all through CFI", i, c.res.Stop, c.res.Err,
				c.res.FramePointerFrames, fpReg)
		}
	}
}

// buildSpawn compiles testdata/spawn.c without frame pointers, with
// gcc's extra flags (-m32: gcc-multilib, in the Makefile's DEB_PKGS).
func buildSpawn(t testing.TB, flags ...string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "spawn")
	out, err := exec.Command("gcc", append(flags, "-O2", "-fomit-frame-pointer", "-o", bin, "testdata/spawn.c")...).CombinedOutput()
	if err != nil {
		t.Fatalf("gcc %s: %v\n%s", strings.Join(flags, " "), err, out)
	}
	return bin
}

// traceSpawns runs bin under ptrace and unwinds the stack of each spawn
// call at its exit in the parent.
func traceSpawns(t *testing.T, bin string, args ...string) []spawnCapture {
	return traceSpawnsAt(t, false, bin, args...)
}

// traceSpawnsAt is traceSpawns, unwinding each stack after the process
// exited if late is set (its memory map read at the stop).
func traceSpawnsAt(t *testing.T, late bool, bin string, args ...string) []spawnCapture {
	runtime.LockOSThread() // every ptrace request from the tracing thread
	defer runtime.UnlockOSThread()
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Ptrace: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	var ws unix.WaitStatus
	if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil || !ws.Stopped() {
		t.Fatalf("first stop: %v %v", ws, err)
	}
	if err := unix.PtraceSetOptions(pid, unix.PTRACE_O_TRACESYSGOOD|unix.PTRACE_O_EXITKILL); err != nil {
		t.Fatal(err)
	}
	s := NewSymbolizer()
	img := s.Image(uint32(pid))
	var caps []spawnCapture
	var pending []pendingSpawn
	inCall, sig := false, 0
	for {
		if err := unix.PtraceSyscall(pid, sig); err != nil {
			t.Fatal(err)
		}
		sig = 0
		if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
			t.Fatal(err)
		}
		if ws.Exited() || ws.Signaled() {
			for _, p := range pending {
				caps = append(caps, unwindCapture(t, s, img, p.syscall, p.regs, p.stack))
			}
			return caps
		}
		if !ws.Stopped() {
			continue
		}
		if ws.StopSignal() != unix.SIGTRAP|0x80 {
			if ws.StopSignal() != unix.SIGTRAP { // the one after an execve is ptrace's own
				sig = int(ws.StopSignal()) // SIGCHLD and the like: deliver it
			}
			continue
		}
		inCall = !inCall
		if inCall {
			continue
		}
		regs, err := ptraceRegs64(pid)
		if err != nil {
			t.Fatal(err)
		}
		// A 32-bit tracee (cs __USER32_CS) has eip, esp... in the low
		// halves and calls by i386's numbers.
		code32 := regs.Cs == i386UserCS
		spawnCalls := []uint64{unix.SYS_CLONE, unix.SYS_CLONE3, unix.SYS_FORK, unix.SYS_VFORK}
		if code32 {
			spawnCalls = []uint64{i386Clone, i386Clone3, i386Fork, i386Vfork}
		}
		if !slices.Contains(spawnCalls, regs.Orig_rax) || int32(regs.Rax) <= 0 {
			continue
		}
		stack := readStack(t, pid, regs.Rsp)
		r := unwind.Regs{IP: regs.Rip, SP: regs.Rsp, BP: regs.Rbp}
		r.Other[5], r.OtherValid = regs.Rdi, 1<<5
		if code32 {
			r.Arch = unwind.ArchI386
			r.Other = [16]uint64{unwind.RegI386ECX: regs.Rcx, unwind.RegI386EDI: regs.Rdi}
			r.OtherValid = 1<<unwind.RegI386ECX | 1<<unwind.RegI386EDI
		}
		if late {
			if err := s.Load(img); err != nil {
				t.Fatal(err)
			}
			pending = append(pending, pendingSpawn{int(regs.Orig_rax), r, stack})
			continue
		}
		caps = append(caps, unwindCapture(t, s, img, int(regs.Orig_rax), r, stack))
	}
}

type pendingSpawn struct {
	syscall int
	regs    unwind.Regs
	stack   []byte
}

// unwindCapture unwinds and names one spawn call's stack.
func unwindCapture(t *testing.T, s *Symbolizer, img *Image, nr int, r unwind.Regs, stack []byte) spawnCapture {
	t.Helper()
	res := s.Unwind(img, r, stack, nil)
	frames, err := s.User(img, res.PCs)
	if err != nil {
		t.Fatal(err)
	}
	c := spawnCapture{syscall: nr, res: res}
	for _, f := range frames {
		c.names = append(c.names, f.Func)
	}
	return c
}

// ptraceRegs64 reads pid's registers as x86-64's user_regs_struct, a
// 32-bit tracee's too: PTRACE_GETREGS gives the tracer's view, where
// unix.PtraceGetRegs (PTRACE_GETREGSET) gives the tracee's, i386's
// 68-byte struct for a 32-bit one.
func ptraceRegs64(pid int) (unix.PtraceRegs, error) {
	var regs unix.PtraceRegs
	_, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_GETREGS, uintptr(pid), 0, uintptr(unsafe.Pointer(&regs)), 0, 0)
	if errno != 0 {
		return regs, errno
	}
	return regs, nil
}

// i386's code segment selector and spawn calls' numbers (asm/unistd_32.h).
const (
	i386UserCS = 0x23
	i386Fork   = 2
	i386Clone  = 120
	i386Vfork  = 190
	i386Clone3 = 435
)

// readStack copies the stack of pid from sp up to the stack's top, at most
// 64 KiB, as the BPF side does.
func readStack(t *testing.T, pid int, sp uint64) []byte {
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatal(err)
	}
	ms, err := parseMaps(bytes.NewReader(maps))
	if err != nil {
		t.Fatal(err)
	}
	m := findMapping(ms, sp)
	if m == nil {
		t.Fatalf("sp %#x in no mapping", sp)
	}
	buf := make([]byte, min(m.End-sp, 64<<10))
	f, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := f.ReadAt(buf, int64(sp))
	if n == 0 {
		t.Fatalf("reading the stack at %#x: %v", sp, err)
	}
	return buf[:n]
}

// A Rust program's Command::spawn, stopped at its clone3 exit, names its
// call site (sp::run) and main.
func TestUnwindRustCommandSpawn(t *testing.T) {
	if _, err := exec.LookPath("rustc"); err != nil {
		t.Fatalf("rustc (installed by make deps) not found: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "sp")
	if out, err := exec.Command("rustc", "-O", "--crate-name", "sp", "-o", bin, "testdata/spawn.rs").CombinedOutput(); err != nil {
		t.Fatalf("rustc: %v\n%s", err, out)
	}
	caps := traceSpawns(t, bin)
	if len(caps) != 1 {
		t.Fatalf("%d spawn calls stopped, want 1", len(caps))
	}
	c := caps[0]
	t.Logf("syscall %d, stop %v: %s", c.syscall, c.res.Stop, strings.Join(c.names, " <- "))
	spawn := slices.IndexFunc(c.names, func(n string) bool { return strings.Contains(n, "Command") && strings.Contains(n, "spawn") })
	run := slices.IndexFunc(c.names, func(n string) bool { return strings.Contains(n, "2sp3run") })
	main := slices.Index(c.names, "main")
	if spawn < 1 || run <= spawn || main <= run {
		t.Errorf("frames %v: want glibc's <- Command::spawn ... <- sp::run ... <- main", c.names)
	}
	if c.res.Stop != unwind.StopOutermost || c.res.FramePointerFrames != 0 {
		t.Errorf("stop %v (%v), %d frames through rbp; want outermost, all through CFI", c.res.Stop, c.res.Err, c.res.FramePointerFrames)
	}
}

// A Go program's spawn (os/exec, syscall.rawVforkSyscall) is walked by
// frame pointers, which Go code keeps, to main.main and runtime.goexit.
func TestUnwindGoSpawnByFramePointers(t *testing.T) {
	gobin, err := exec.LookPath("go") // go test puts its own GOROOT/bin first in PATH
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src, err := os.ReadFile("testdata/gospawn.go.txt")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module gospawn\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), src, 0o644)
	bin := filepath.Join(dir, "gospawn")
	cmd := exec.Command(gobin, "build", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	found := false
	for _, c := range traceSpawns(t, bin) {
		if len(c.names) == 0 || c.names[0] != "syscall.rawVforkSyscall" {
			continue // the runtime's own clones of threads
		}
		t.Logf("syscall %d, stop %v: %s", c.syscall, c.res.Stop, strings.Join(c.names, " <- "))
		run, main := slices.Index(c.names, "main.run"), slices.Index(c.names, "main.main")
		if !slices.Contains(c.names, "os/exec.(*Cmd).Start") || run < 0 || main != run+1 {
			continue // the os package's pidfd probe spawns too
		}
		found = true
		if c.res.Stop != unwind.StopOutermost || c.names[len(c.names)-1] != "runtime.goexit" {
			t.Errorf("stop %v (%v) at %q, want outermost at runtime.goexit", c.res.Stop, c.res.Err, c.names[len(c.names)-1])
		}
	}
	if !found {
		t.Error("no spawn stack reached os/exec.(*Cmd).Start <- main.run <- main.main")
	}
}
