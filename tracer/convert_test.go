package tracer

import (
	"reflect"
	"testing"
	"unsafe"

	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// recordBytes is a raw record as the ring buffer hands it over.
func recordBytes[T any](raw *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(raw)), unsafe.Sizeof(*raw))
}

// mustConvert converts a record that must convert.
func mustConvert[T any](t *testing.T, raw *T, ev *Event) {
	t.Helper()
	if err := convert(recordBytes(raw), ev); err != nil {
		t.Fatal(err)
	}
}

func putString(dst []int8, s string) {
	for i := 0; i < len(s) && i < len(dst); i++ {
		dst[i] = int8(s[i])
	}
}

func TestConvertExec(t *testing.T) {
	var raw spawntraceExecEvent
	raw.H.Kind = uint32(KindExec)
	raw.H.Tid, raw.H.Pid, raw.OldTid = 12, 12, 14
	putString(raw.H.Comm[:], "true")
	putString(raw.X.Filename[:], "/usr/bin/true")
	args := "true\x00--version\x00"
	putString(raw.X.Argv[:], args)
	raw.X.ArgvLen = uint32(len(args))
	raw.X.Argc, raw.X.Envc, raw.X.EnvBytes, raw.X.PathEntries = 2, 35, 1300, 14
	raw.ExeDev, raw.ExeIno, raw.ExeCtimeNs, raw.ExeSizeBytes = 254<<20|3, 247849, 1796293438191194819, 35664
	var ev Event
	mustConvert(t, &raw, &ev)
	want := Event{Kind: KindExec, Tid: 12, Pid: 12, OldTid: 14, Comm: "true", Filename: "/usr/bin/true",
		Argv: []string{"true", "--version"}, Argc: 2, EnvCount: 35, EnvBytes: 1300, PathEntries: 14,
		execFile: FileID{Major: 254, Minor: 3, Ino: 247849, CtimeNs: 1796293438191194819, SizeBytes: 35664}}
	if !reflect.DeepEqual(ev, want) {
		t.Errorf("got  %+v\nwant %+v", ev, want)
	}
}

func TestConvertArgvCutByBuffer(t *testing.T) {
	var raw spawntraceExecEvent
	raw.H.Kind = uint32(KindExec)
	// The buffer ends in the middle of the third argument: no final NUL.
	args := "sh\x00-c\x00echo hel"
	putString(raw.X.Argv[:], args)
	raw.X.ArgvLen = uint32(len(args))
	raw.X.Argc = 3
	var ev Event
	mustConvert(t, &raw, &ev)
	if !ev.ArgvTruncated || !reflect.DeepEqual(ev.Argv, []string{"sh", "-c", "echo hel"}) {
		t.Errorf("argv = %q truncated=%v, want the cut argument kept and marked", ev.Argv, ev.ArgvTruncated)
	}
}

func TestConvertSocketpairAndClone3(t *testing.T) {
	var raw spawntraceSyscallEvent
	raw.H.Kind = uint32(KindSyscall)
	raw.Nr = sysno.Socketpair
	raw.Fds = [2]int32{3, 4}
	var ev Event
	mustConvert(t, &raw, &ev)
	if !reflect.DeepEqual(ev.Fds, []int32{3, 4}) {
		t.Errorf("fds = %v", ev.Fds)
	}
	raw = spawntraceSyscallEvent{Nr: sysno.Clone3, Ret: 77}
	raw.H.Kind = uint32(KindSyscall)
	raw.C3.Flags, raw.C3.ExitSignal, raw.C3.StackSize = 0x4100, 17, 0x9000
	mustConvert(t, &raw, &ev)
	if ev.Clone3 == nil || ev.Clone3.Flags != 0x4100 || ev.Clone3.ExitSignal != 17 || ev.Clone3.StackSize != 0x9000 || ev.Ret != 77 {
		t.Errorf("clone3 = %+v ret %d", ev.Clone3, ev.Ret)
	}
}

// A sampled user stack keeps the kernel's build ID and offset where it
// gave them, the address where it did not, and bare addresses when the
// kernel gave no build IDs at all (symbolize.TestNeedsMap tells which of
// them need the process's map).
func TestConvertSampleUserFrames(t *testing.T) {
	var raw spawntraceSample
	raw.Kind, raw.Pid = uint32(spawntraceEventKindEV_SAMPLE), 7
	id := BuildID{0xde, 0xad, 0xbe, 0xef}
	raw.Ustack[0].Status, raw.Ustack[0].BuildId, raw.Ustack[0].Offset = buildIDValid, id, 0x1234
	raw.Ustack[1].Status, raw.Ustack[1].Offset = buildIDIP, 0x7f0000001000
	raw.Ustack[2].Status = buildIDValid // beyond ustack_len: not read
	raw.UstackLen = int32(2 * unsafe.Sizeof(raw.Ustack[0]))
	var s Sample
	convertSample(&raw, &s)
	want := []UserFrame{{BuildID: id, Offset: 0x1234}, {Addr: 0x7f0000001000}}
	if !reflect.DeepEqual(s.UserStack, want) {
		t.Errorf("build-ID frames: got %+v, want %+v", s.UserStack, want)
	}

	raw = spawntraceSample{Kind: uint32(spawntraceEventKindEV_SAMPLE), Flags: uint32(spawntraceSampleFlagSAMPLEF_USTACK_IPS), UstackLen: 3 * 8}
	ips := (*[3]uint64)(unsafe.Pointer(&raw.Ustack))
	ips[0], ips[1], ips[2] = 0x401000, 0x402000, 0
	convertSample(&raw, &s)
	want = []UserFrame{{Addr: 0x401000}, {Addr: 0x402000}, {Addr: 0}}
	if !reflect.DeepEqual(s.UserStack, want) {
		t.Errorf("bare addresses: got %+v, want %+v", s.UserStack, want)
	}

	raw = spawntraceSample{Kind: uint32(spawntraceEventKindEV_SAMPLE), UstackLen: -14}
	convertSample(&raw, &s)
	if s.UserStack != nil {
		t.Errorf("error length: got %+v", s.UserStack)
	}
}

func TestConvertSpawnUserFrames(t *testing.T) {
	var raw spawntraceSyscallSpawnEvent
	raw.Sc.H.Kind, raw.Sc.Nr, raw.Sc.Ret = uint32(spawntraceEventKindEV_SYSCALL_SPAWN), sysno.Clone3, 42
	id := BuildID{0xca, 0xfe}
	raw.Ustack[0].Status, raw.Ustack[0].BuildId, raw.Ustack[0].Offset = buildIDValid, id, 0x99
	raw.Ustack[1].Status, raw.Ustack[1].Offset = buildIDIP, 0x401000
	raw.UstackLen = uint32(2 * unsafe.Sizeof(raw.Ustack[0]))
	var ev Event
	mustConvert(t, &raw, &ev)
	want := []UserFrame{{BuildID: id, Offset: 0x99}, {Addr: 0x401000}}
	if !reflect.DeepEqual(ev.userFrames, want) || ev.UserStack != nil || ev.Kind != KindSyscall || ev.Ret != 42 {
		t.Errorf("build-ID frames: got %+v / %v, want %+v / none", ev.userFrames, ev.UserStack, want)
	}

	raw = spawntraceSyscallSpawnEvent{UstackLen: 2 * 8}
	raw.Sc.H.Kind, raw.Sc.H.Flags, raw.Sc.Nr, raw.Sc.Ret = uint32(spawntraceEventKindEV_SYSCALL_SPAWN), uint32(spawntraceEventFlagEVF_USTACK_IPS), sysno.Clone3, 42
	ips := (*[2]uint64)(unsafe.Pointer(&raw.Ustack))
	ips[0], ips[1] = 0x401000, 0x402000
	mustConvert(t, &raw, &ev)
	if want := []uint64{0x401000, 0x402000}; !reflect.DeepEqual(ev.UserStack, want) || ev.userFrames != nil {
		t.Errorf("bare addresses: got %v / %+v, want %v / none", ev.UserStack, ev.userFrames, want)
	}
}

// A failed exec's record carries its strings after the syscall's fields;
// fork and exit records are the header and two fields.
func TestConvertFailedExecForkExit(t *testing.T) {
	var x spawntraceSyscallExecEvent
	x.Sc.H.Kind, x.Sc.H.Flags, x.Sc.Nr, x.Sc.Ret = uint32(spawntraceEventKindEV_SYSCALL_EXEC), uint32(spawntraceEventFlagEVF_ARGV_TRUNCATED), 59, -2
	x.Sc.H.Tid, x.Sc.H.Pid = 30, 30
	putString(x.X.Filename[:], "/usr/local/bin/sleep")
	args := "sleep\x001\x00"
	putString(x.X.Argv[:], args)
	x.X.ArgvLen, x.X.Argc, x.X.Envc = uint32(len(args)), 2, 7
	var ev Event
	mustConvert(t, &x, &ev)
	if ev.Kind != KindSyscall || ev.Nr != 59 || ev.Ret != -2 || ev.Filename != "/usr/local/bin/sleep" ||
		!reflect.DeepEqual(ev.Argv, []string{"sleep", "1"}) || ev.EnvCount != 7 || !ev.ArgvTruncated || ev.Tid != 30 {
		t.Errorf("failed exec: %+v", ev)
	}

	var f spawntraceForkEvent
	f.H.Kind, f.H.Flags, f.H.Pid, f.ChildTid, f.ChildPid = uint32(KindFork), uint32(spawntraceEventFlagEVF_THREAD), 5, 9, 5
	mustConvert(t, &f, &ev)
	if want := (Event{Kind: KindFork, Pid: 5, ChildTid: 9, ChildPid: 5, Thread: true}); !reflect.DeepEqual(ev, want) {
		t.Errorf("fork: got %+v, want %+v", ev, want)
	}

	var e spawntraceExitEvent
	e.H.Kind, e.H.Flags, e.H.Tid, e.H.Pid, e.ExitCode, e.ExecTid = uint32(KindExit), uint32(spawntraceEventFlagEVF_SUPERSEDED), 5, 5, 9, 6
	mustConvert(t, &e, &ev)
	if want := (Event{Kind: KindExit, Tid: 5, Pid: 5, ExitCode: 9, SupersededBy: 6}); !reflect.DeepEqual(ev, want) {
		t.Errorf("exit: got %+v, want %+v", ev, want)
	}

	// A record shorter than its kind's struct, or of no known kind, is an
	// error, not a read past its end.
	if err := convert(recordBytes(&f)[:20], &ev); err == nil {
		t.Error("a short fork record converted")
	}
	if err := convert(recordBytes(&f)[:4+0], &ev); err == nil {
		t.Error("a 4-byte record converted")
	}
	f.H.Kind = 99
	if err := convert(recordBytes(&f), &ev); err == nil {
		t.Error("a record of kind 99 converted")
	}
}

// A compat call keeps its i386 number and is told apart by its ABI: i386's
// 360 is socketpair (x86_64's 360 is no spawn call), and i386's 11, execve,
// is not x86_64's munmap.
func TestConvertCompat(t *testing.T) {
	var raw spawntraceSyscallEvent
	raw.H.Kind, raw.H.Flags, raw.Nr, raw.Fds = uint32(KindSyscall), uint32(spawntraceEventFlagEVF_COMPAT), 360, [2]int32{5, 6}
	var ev Event
	mustConvert(t, &raw, &ev)
	if ev.ABI != ABII386 || ev.Nr != 360 || ev.Nr64() != sysno.Socketpair || !reflect.DeepEqual(ev.Fds, []int32{5, 6}) {
		t.Errorf("compat socketpair: abi %v nr %d nr64 %d fds %v", ev.ABI, ev.Nr, ev.Nr64(), ev.Fds)
	}
	raw.Nr = 435
	raw.C3.Flags = 0x4100
	mustConvert(t, &raw, &ev)
	if ev.Clone3 == nil || ev.Clone3.Flags != 0x4100 {
		t.Errorf("compat clone3: %+v", ev.Clone3)
	}
	// x86_64's 360 is no spawn call: no descriptors.
	raw.H.Flags, raw.Nr = 0, 360
	mustConvert(t, &raw, &ev)
	if ev.ABI != ABIX8664 || ev.Nr64() != 360 || ev.Fds != nil {
		t.Errorf("x86_64 360: abi %v nr64 %d fds %v", ev.ABI, ev.Nr64(), ev.Fds)
	}
	var x spawntraceExecEvent
	x.H.Kind, x.H.Flags = uint32(KindExec), uint32(spawntraceEventFlagEVF_COMPAT)
	mustConvert(t, &x, &ev)
	if ev.ExecABI != ABII386 || ev.ABI != ABIX8664 {
		t.Errorf("exec of a 32-bit program: exec_abi %v abi %v", ev.ExecABI, ev.ABI)
	}
}

func TestABIText(t *testing.T) {
	for _, a := range []ABI{ABIX8664, ABII386} {
		b, err := a.MarshalText()
		var back ABI
		if err != nil || back.UnmarshalText(b) != nil || back != a {
			t.Errorf("%v: %q %v -> %v", a, b, err, back)
		}
	}
	if ABII386.Nr64(2) != 57 || ABII386.Nr64(3) != -1 || ABIX8664.Nr64(2) != 2 {
		t.Error("Nr64: i386 fork is x86_64's 57, i386 read has no twin, x86_64 numbers are their own")
	}
}
