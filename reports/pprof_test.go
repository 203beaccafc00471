package reports

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/pprof/profile"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/symbolize"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// stackRecording: a runner posix_spawns once from a full stack, forks
// twice from a 1 GiB parent (one stack of 1 frame, one lost), and was
// sampled at 999 Hz while copying page tables and zeroing memory.
func stackRecording() *recording.Recording {
	rec := &recording.Recording{
		StartUnixNs: 1_700_000_000_000_000_000, StartMonoNs: 1_000_000_000, EndMonoNs: 1_500_000_000,
		Mappings: []recording.Mapping{
			{File: "/lib/x86_64-linux-gnu/libc.so.6", BuildID: "93ac61ec5a8eb1396f9fbd350e3169a558528a40",
				Start: 0x7f0000026000, Limit: 0x7f000017c000, Offset: 0x26000, Symbolized: true},
			{File: "/opt/runner/bin/runner", BuildID: "4b30b8a27161cef731fdaa7803c0c932c8e5f744",
				Start: 0x401000, Limit: 0x4a0000, Offset: 0x1000, Main: true, Symbolized: true},
			{File: symbolize.KernelMappingName, Start: 0xffffffff81000000, Limit: 0xffffffff82200000, Kernel: true, Symbolized: true},
			{File: "[vdso]", Start: 0x7ffd00000000, Limit: 0x7ffd00002000},
		},
		Stacks: []recording.Stack{
			{Frames: []recording.Frame{ // 1: posix_spawn, complete
				{Addr: 0x7f00000fa123, Func: "__clone3", Mapping: 1},
				{Addr: 0x7f00000f9000, Func: "__spawni", Mapping: 1},
				{Addr: 0x7f00000f8fff, Func: "posix_spawn", Mapping: 1},
				{Addr: 0x401234, Func: "start_child", File: "runner.c", Line: 30, Mapping: 2, Inlined: true},
				{Addr: 0x401234, Func: "spawn_worker", File: "runner.c", Line: 42, Mapping: 2},
				{Addr: 0x401100, Func: "main", File: "runner.c", Line: 90, Mapping: 2},
				{Addr: 0x7f0000029d8f, Func: "__libc_start_call_main", Mapping: 1},
			}},
			{Frames: []recording.Frame{ // 2: fork, truncated
				{Addr: 0x7f00000ea353, Func: "_Fork", Mapping: 1},
			}},
			{Frames: []recording.Frame{ // 3: CPU in the fork's page-table copy
				{Addr: 0xffffffff81301234, Func: "copy_page_range", Kernel: true, Mapping: 3},
				{Addr: 0xffffffff81300fff, Func: "dup_mmap", Kernel: true, Mapping: 3},
				{Addr: 0xffffffff81200aaa, Func: "copy_process", Kernel: true, Mapping: 3},
				{Addr: 0x7f00000ea353, Func: "_Fork", Mapping: 1},
			}},
			{Frames: []recording.Frame{ // 4: CPU zeroing pages under memset
				{Addr: 0xffffffff81500000, Func: "clear_page_erms", Kernel: true, Mapping: 3},
				{Addr: 0xffffffff81000bbb, Func: "asm_exc_page_fault", Kernel: true, Mapping: 3},
				{Addr: 0x7f0000150000, Func: "__memset_avx2_unaligned_erms", Mapping: 1},
				{Addr: 0x0101010101010100}, // a stray word: memset keeps its pattern in rbp
			}},
			{Frames: []recording.Frame{ // 5: a child sampled in the vDSO and an unnamed libc address
				{Addr: 0x7ffd00000a00, Mapping: 4},
				{Addr: 0x7f0000100000, Mapping: 1},
			}},
		},
		SampleHz: 999,
		CPUSamples: []recording.CPUSample{
			{Pid: 100, Comm: "runner", StackID: 3, Count: 90},
			{Pid: 100, Comm: "runner", StackID: 4, Count: 700},
			{Pid: 201, Comm: "true", StackID: 5, Count: 2},
		},
		StackLoss: &recording.StackLoss{SpawnStacks: 1, SampleStacks: 2},
	}
	t := uint64(1_000_000_000)
	add := func(ev tracer.Event) {
		t += 10_000_000
		ev.TimeNs = t
		if ev.Pid == 0 {
			ev.Pid, ev.Tid, ev.Comm = 100, 100, "runner"
		}
		rec.Events = append(rec.Events, ev)
	}
	giB := &tracer.ParentSize{RSSAnonBytes: 1 << 30, RSSFileBytes: 4 << 20}
	add(tracer.Event{Kind: tracer.KindSyscall, Nr: sysno.Clone3, Ret: 200, StackID: 1,
		Clone3: &tracer.Clone3Args{Flags: 0x4100, ExitSignal: 17}, DurNs: 900_000, BlockedNs: 850_000})
	add(tracer.Event{Kind: tracer.KindSyscall, Nr: sysno.Execve, Pid: 200, Tid: 200, DurNs: 400_000, Filename: "/usr/bin/sleep"})
	add(tracer.Event{Kind: tracer.KindSyscall, Nr: sysno.Clone, Ret: 201, StackID: 2, Args: []uint64{0x01200011, 0, 0, 0x7f00, 0, 0},
		DurNs: 36_000_000, CopyNs: 18_000_000, Parent: giB})
	add(tracer.Event{Kind: tracer.KindSyscall, Nr: sysno.Execve, Pid: 201, Tid: 201, DurNs: 9_000_000, Filename: "/bin/true"})
	add(tracer.Event{Kind: tracer.KindSyscall, Nr: sysno.Clone, Ret: 202, Args: []uint64{0x01200011, 0, 0, 0x7f00, 0, 0},
		DurNs: 35_000_000, CopyNs: 17_500_000, Parent: giB})
	return rec
}

// roundTrip writes a profile as the CLI does and parses it back.
func roundTrip(t *testing.T, write func(*bytes.Buffer) error) *profile.Profile {
	t.Helper()
	var b bytes.Buffer
	if err := write(&b); err != nil {
		t.Fatal(err)
	}
	p, err := profile.Parse(&b)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckValid(); err != nil {
		t.Fatal(err)
	}
	if p.TimeNanos != 1_700_000_000_000_000_000 || p.DurationNanos != 500_000_000 {
		t.Errorf("time %d, duration %d", p.TimeNanos, p.DurationNanos)
	}
	p.TimeNanos = 0 // String() prints it in the local time zone
	return p
}

func TestSpawnProfileGolden(t *testing.T) {
	rec := stackRecording()
	p := roundTrip(t, func(b *bytes.Buffer) error { return WriteSpawnProfile(b, rec, summarized(rec)) })
	if p.Mapping[0].File != "/opt/runner/bin/runner" {
		t.Errorf("mapping 0 is %s, want the workload's executable", p.Mapping[0].File)
	}
	golden(t, "pprof_spawns.golden", []byte(p.String()))
}

func TestCPUProfileGolden(t *testing.T) {
	rec := stackRecording()
	p := roundTrip(t, func(b *bytes.Buffer) error { return WriteCPUProfile(b, rec) })
	if p.Period != 1_001_001 || p.PeriodType.Type != "cpu" {
		t.Errorf("period %d %v", p.Period, p.PeriodType)
	}
	golden(t, "pprof_cpu.golden", []byte(p.String()))

	rec.SampleHz = 0
	if err := WriteCPUProfile(&bytes.Buffer{}, rec); err == nil || !strings.Contains(err.Error(), "no CPU samples") {
		t.Errorf("unsampled recording: %v", err)
	}
}

func TestSpawnStackNote(t *testing.T) {
	rec := stackRecording()
	sum := summarized(rec)
	st, err := sum.SpawnStacks(rec)
	if err != nil {
		t.Fatal(err)
	}
	got := SpawnStackNote(st)
	want := "1 of 2 spawn stacks truncated (ended before main or a thread start: code without frame pointers); " +
		"1 spawns without a stack; 1 stacks not symbolized (process gone or symbolizer behind)"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}

	// The complete stack found by CFI, the truncated one cut by the copy's end.
	rec.Stacks[0].Unwound = recording.UnwoundCFI
	rec.Stacks[1].Unwound, rec.Stacks[1].Cut = recording.UnwoundCFI, true
	sum = summarized(rec)
	if st, err = sum.SpawnStacks(rec); err != nil {
		t.Fatal(err)
	}
	got = SpawnStackNote(st)
	want = "1 of 2 spawn stacks truncated (ended before main or a thread start); 2 unwound by CFI (.eh_frame) past code " +
		"without frame pointers, 1 of them cut where the copy of the stack ended; " +
		"1 spawns without a stack; 1 stacks not symbolized (process gone or symbolizer behind)"
	if got != want {
		t.Errorf("unwound by CFI: got  %s\nwant %s", got, want)
	}
}

// TestGoToolPprof opens both profiles with `go tool pprof`, as a user
// would: no warnings, kernel frames named, the workload's binary as File.
func TestGoToolPprof(t *testing.T) {
	// go test puts its own GOROOT/bin first in PATH.
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	dir := t.TempDir()
	rec := stackRecording()
	files := map[string]func(*os.File) error{
		"spawns.pb.gz": func(f *os.File) error { return WriteSpawnProfile(f, rec, summarized(rec)) },
		"cpu.pb.gz":    func(f *os.File) error { return WriteCPUProfile(f, rec) },
	}
	for name, write := range files {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := write(f); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	pprof := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(gobin, append([]string{"tool", "pprof"}, args...)...)
		cmd.Env = append(os.Environ(), "PPROF_BINARY_PATH="+dir) // nothing to find there
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("go tool pprof %v: %v\n%s", args, err, stderr.String())
		}
		if stderr.Len() > 0 {
			t.Errorf("go tool pprof %v warned:\n%s", args, stderr.String())
		}
		return stdout.String()
	}
	spawnsFile, cpuFile := filepath.Join(dir, "spawns.pb.gz"), filepath.Join(dir, "cpu.pb.gz")

	top := pprof("-top", spawnsFile)
	for _, want := range []string{"File: runner", "Type: clone", "_Fork", "__clone3"} {
		if !strings.Contains(top, want) {
			t.Errorf("spawns -top lacks %q:\n%s", want, top)
		}
	}
	traces := pprof("-traces", "-sample_index=copy", spawnsFile)
	for _, want := range []string{"mechanism:  fork", "parent_rss:  1GB", "[no stack recorded]", "exe:  /bin/true"} {
		if !strings.Contains(traces, want) {
			t.Errorf("spawns -traces lacks %q:\n%s", want, traces)
		}
	}
	if !regexp.MustCompile(`start_child \(inline\)\n +spawn_worker\n`).MatchString(traces) {
		t.Errorf("spawns -traces: no inlined frame above its caller:\n%s", traces)
	}
	tagged := pprof("-top", "-sample_index=spawns", "-tagfocus=mechanism=vfork", spawnsFile)
	if !strings.Contains(tagged, "posix_spawn") || strings.Contains(tagged, "_Fork") {
		t.Errorf("-tagfocus=mechanism=vfork:\n%s", tagged)
	}

	cpuTop := pprof("-top", "-cum", cpuFile)
	for _, want := range []string{"File: runner", "Type: cpu", "copy_page_range", "dup_mmap", "clear_page_erms", "Total samples = 792.79ms"} {
		if !strings.Contains(cpuTop, want) {
			t.Errorf("cpu -top lacks %q:\n%s", want, cpuTop)
		}
	}
	cpuTraces := pprof("-traces", cpuFile)
	// Kernel frames sit above the user frames they were called from.
	if !strings.Contains(cpuTraces, "copy_page_range\n             dup_mmap\n             copy_process\n             _Fork\n") {
		t.Errorf("cpu -traces: kernel frames not joined above user frames:\n%s", cpuTraces)
	}
}

// TestPprofHostileNames: a workload names its comm, its executables, its
// symbols and their files; pprof prints them raw to the terminal, so the
// profiles hold them escaped as the text reports do (ESC, CR and U+202E
// as \x1b, \r and \u202e), and C++ and Rust symbols as they are.
func TestPprofHostileNames(t *testing.T) {
	const evil = "ev\x1b[2J\ril\u202eexe"
	const cpp = "std::vector<int, std::allocator<int> >::push_back(int const&)"
	const rust = "<alloc::vec::Vec<T,A> as core::ops::drop::Drop>::drop::h1f2e{{closure}}#0"
	rec := stackRecording()
	for i := range rec.Events {
		ev := &rec.Events[i]
		if ev.Comm == "runner" {
			ev.Comm = evil
		}
		if ev.Filename == "/bin/true" {
			ev.Filename = "/tmp/" + evil
		}
	}
	rec.CPUSamples[0].Comm = evil
	rec.Mappings[1].File = "/opt/" + evil
	rec.Stacks[0].Frames[4].Func, rec.Stacks[0].Frames[4].File = evil, "/src/"+evil+".c"
	rec.Stacks[0].Frames[5].Func = cpp
	rec.Stacks[1].Frames[0].Func = rust
	safe := TermSafe(evil)
	if safe != `ev\x1b[2J\ril\u202eexe` {
		t.Fatalf("TermSafe(evil) = %q", safe)
	}
	for name, write := range map[string]func(*bytes.Buffer) error{
		"spawns": func(b *bytes.Buffer) error { return WriteSpawnProfile(b, rec, summarized(rec)) },
		"cpu":    func(b *bytes.Buffer) error { return WriteCPUProfile(b, rec) },
	} {
		p := roundTrip(t, write)
		text := p.String()
		for i, r := range text {
			if r != '\n' && (r < ' ' || r == 0x7f || r == '\u202e') {
				t.Fatalf("%s profile holds %q at %d: %q", name, r, i, text[max(0, i-40):min(len(text), i+40)])
			}
		}
		var labels, funcs, files []string
		for _, s := range p.Sample {
			labels = append(labels, s.Label["comm"]...)
			labels = append(labels, s.Label["exe"]...)
		}
		for _, f := range p.Function {
			funcs = append(funcs, f.Name, f.SystemName)
			files = append(files, f.Filename)
		}
		for _, m := range p.Mapping {
			files = append(files, m.File)
		}
		has := func(what string, in []string, want string) {
			for _, v := range in {
				if v == want {
					return
				}
			}
			t.Errorf("%s profile: no %s %q in %q", name, what, want, in)
		}
		has("comm", labels, safe)
		has("mapping", files, "/opt/"+safe)
		if name == "spawns" {
			has("exe", labels, "/tmp/"+safe)
			has("function", funcs, safe)
			has("function", funcs, cpp)
			has("function", funcs, rust)
			has("file", files, "/src/"+safe+".c")
		}
	}
}
