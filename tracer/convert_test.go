package tracer

import (
	"reflect"
	"testing"
	"unsafe"
)

func putString(dst []int8, s string) {
	for i := 0; i < len(s) && i < len(dst); i++ {
		dst[i] = int8(s[i])
	}
}

func TestConvertExec(t *testing.T) {
	var raw spawntraceEvent
	raw.Kind = uint32(KindExec)
	raw.Tid, raw.Pid, raw.ChildTid = 12, 12, 14
	putString(raw.Comm[:], "true")
	putString(raw.Filename[:], "/usr/bin/true")
	args := "true\x00--version\x00"
	putString(raw.Argv[:], args)
	raw.ArgvLen = uint32(len(args))
	raw.Argc, raw.Envc, raw.EnvBytes = 2, 35, 1300
	var ev Event
	convert(&raw, &ev)
	want := Event{Kind: KindExec, Tid: 12, Pid: 12, OldTid: 14, Comm: "true", Filename: "/usr/bin/true",
		Argv: []string{"true", "--version"}, Argc: 2, EnvCount: 35, EnvBytes: 1300}
	if !reflect.DeepEqual(ev, want) {
		t.Errorf("got  %+v\nwant %+v", ev, want)
	}
}

func TestConvertArgvCutByBuffer(t *testing.T) {
	var raw spawntraceEvent
	raw.Kind = uint32(KindExec)
	// The buffer ends in the middle of the third argument: no final NUL.
	args := "sh\x00-c\x00echo hel"
	putString(raw.Argv[:], args)
	raw.ArgvLen = uint32(len(args))
	raw.Argc = 3
	var ev Event
	convert(&raw, &ev)
	if !ev.ArgvTruncated || !reflect.DeepEqual(ev.Argv, []string{"sh", "-c", "echo hel"}) {
		t.Errorf("argv = %q truncated=%v, want the cut argument kept and marked", ev.Argv, ev.ArgvTruncated)
	}
}

func TestConvertSocketpairAndClone3(t *testing.T) {
	var raw spawntraceEvent
	raw.Kind = uint32(KindSyscall)
	raw.Nr = nrSocketpair
	raw.Fds = [2]int32{3, 4}
	var ev Event
	convert(&raw, &ev)
	if !reflect.DeepEqual(ev.Fds, []int32{3, 4}) {
		t.Errorf("fds = %v", ev.Fds)
	}
	raw = spawntraceEvent{Kind: uint32(KindSyscall), Nr: nrClone3, Ret: 77}
	raw.C3.Flags, raw.C3.ExitSignal, raw.C3.StackSize = 0x4100, 17, 0x9000
	convert(&raw, &ev)
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
	raw.Kind, raw.Pid = uint32(kindSample), 7
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

	raw = spawntraceSample{Kind: uint32(kindSample), Flags: samplefUstackIPs, UstackLen: 3 * 8}
	ips := (*[3]uint64)(unsafe.Pointer(&raw.Ustack))
	ips[0], ips[1], ips[2] = 0x401000, 0x402000, 0
	convertSample(&raw, &s)
	want = []UserFrame{{Addr: 0x401000}, {Addr: 0x402000}, {Addr: 0}}
	if !reflect.DeepEqual(s.UserStack, want) {
		t.Errorf("bare addresses: got %+v, want %+v", s.UserStack, want)
	}

	raw = spawntraceSample{Kind: uint32(kindSample), UstackLen: -14}
	convertSample(&raw, &s)
	if s.UserStack != nil {
		t.Errorf("error length: got %+v", s.UserStack)
	}
}

func TestConvertSpawnUserFrames(t *testing.T) {
	var raw spawntraceEvent
	raw.Kind, raw.Nr, raw.Ret = uint32(KindSyscall), nrClone3, 42
	id := BuildID{0xca, 0xfe}
	raw.Ustack[0].Status, raw.Ustack[0].BuildId, raw.Ustack[0].Offset = buildIDValid, id, 0x99
	raw.Ustack[1].Status, raw.Ustack[1].Offset = buildIDIP, 0x401000
	raw.UstackLen = uint32(2 * unsafe.Sizeof(raw.Ustack[0]))
	var ev Event
	convert(&raw, &ev)
	want := []UserFrame{{BuildID: id, Offset: 0x99}, {Addr: 0x401000}}
	if !reflect.DeepEqual(ev.userFrames, want) || ev.UserStack != nil {
		t.Errorf("build-ID frames: got %+v / %v, want %+v / none", ev.userFrames, ev.UserStack, want)
	}

	raw = spawntraceEvent{Kind: uint32(KindSyscall), Nr: nrClone3, Ret: 42, Flags: evfUstackIPs, UstackLen: 2 * 8}
	ips := (*[2]uint64)(unsafe.Pointer(&raw.Ustack))
	ips[0], ips[1] = 0x401000, 0x402000
	convert(&raw, &ev)
	if want := []uint64{0x401000, 0x402000}; !reflect.DeepEqual(ev.UserStack, want) || ev.userFrames != nil {
		t.Errorf("bare addresses: got %v / %+v, want %v / none", ev.UserStack, ev.userFrames, want)
	}
}
