package tracer

import (
	"bytes"
	"os"
	"structs"
	"unsafe"
)

// Flag bits of event.flags, as in bpf/spawntrace.h.
const (
	evfThread        = 1
	evfArgvTruncated = 2
	evfGroupDead     = 4
	evfNameUnread    = 8
	evfArgvUnread    = 16
	evfParentMM      = 32
	evfSuperseded    = 64
	evfUstackIPs     = 128
)

// pageBytes converts the kernel's page counts.
var pageBytes = uint64(os.Getpagesize())

func pagesToBytes(n int64) uint64 {
	if n < 0 { // percpu_counter drift can dip below zero
		return 0
	}
	return uint64(n) * pageBytes
}

// x86_64 numbers of the calls whose extra fields convert keeps.
const (
	nrSocketpair = 53
	nrExecve     = 59
	nrExecveat   = 322
	nrClone3     = 435
)

// convert copies a kernel event into ev, reusing nothing from raw: the ring
// buffer record is overwritten by the next read.
func convert(raw *spawntraceEvent, ev *Event) {
	*ev = Event{
		Kind:   Kind(raw.Kind),
		TimeNs: raw.TsNs,
		DurNs:  raw.DurNs,
		Tid:    raw.Tid,
		Pid:    raw.Pid,
		PPid:   raw.Ppid,
		Comm:   cString(raw.Comm[:]),
	}
	switch ev.Kind {
	case KindSyscall:
		ev.Nr = int(raw.Nr)
		ev.Ret = raw.Ret
		ev.Args = append([]uint64(nil), raw.Args[:]...)
		if raw.Flags&evfUstackIPs != 0 {
			ev.UserStack = bareAddrs(raw.Ustack[:], int(raw.UstackLen))
		} else {
			ev.userFrames = userFrames(raw.Ustack[:], int(raw.UstackLen))
		}
		ev.CopyNs, ev.CopyOffCPUNs = raw.CopyNs, raw.CopyOffcpuNs
		ev.LockStallNs, ev.BlockedNs, ev.TeardownNs = raw.LockStallNs, raw.BlockedNs, raw.TeardownNs
		if raw.Flags&evfParentMM != 0 {
			ev.Parent = &ParentSize{
				RSSAnonBytes:  pagesToBytes(raw.RssAnonPages),
				RSSFileBytes:  pagesToBytes(raw.RssFilePages),
				RSSShmemBytes: pagesToBytes(raw.RssShmemPages),
				PgtablesBytes: uint64(max(raw.PgtablesBytes, 0)),
				MapCount:      int(raw.MapCount),
			}
		}
		switch ev.Nr {
		case nrClone3:
			c := raw.C3
			ev.Clone3 = &Clone3Args{Flags: c.Flags, ExitSignal: c.ExitSignal, Stack: c.Stack,
				StackSize: c.StackSize, Pidfd: c.Pidfd, ChildTid: c.ChildTid, ParentTid: c.ParentTid, TLS: c.Tls}
		case nrSocketpair:
			if ev.Ret == 0 {
				ev.Fds = []int32{raw.Fds[0], raw.Fds[1]}
			}
		case nrExecve, nrExecveat:
			if ev.Ret != 0 {
				execDetails(raw, ev)
			}
		}
	case KindFork:
		ev.ChildTid = raw.ChildTid
		ev.ChildPid = raw.ChildPid
		ev.Thread = raw.Flags&evfThread != 0
	case KindExec:
		ev.OldTid = raw.ChildTid
		execDetails(raw, ev)
		ev.EnvBytes = int(raw.EnvBytes)
	case KindExit:
		ev.ExitCode = raw.ExitCode
		ev.GroupDead = raw.Flags&evfGroupDead != 0
		if raw.Flags&evfSuperseded != 0 {
			ev.SupersededBy = raw.ChildTid
		}
	}
}

func execDetails(raw *spawntraceEvent, ev *Event) {
	ev.Filename = cString(raw.Filename[:])
	ev.NameUnread = raw.Flags&evfNameUnread != 0
	ev.Argc = int(raw.Argc)
	ev.EnvCount = int(raw.Envc)
	ev.ArgvTruncated = raw.Flags&evfArgvTruncated != 0
	ev.ArgvUnread = raw.Flags&evfArgvUnread != 0
	n := int(raw.ArgvLen)
	if n > len(raw.Argv) {
		n = len(raw.Argv)
	}
	buf := int8Bytes(raw.Argv[:n])
	// A NUL-separated list; a string cut by the buffer's end has no NUL.
	if len(buf) > 0 && buf[len(buf)-1] == 0 {
		buf = buf[:len(buf)-1]
	} else if len(buf) > 0 {
		ev.ArgvTruncated = true
	}
	if len(buf) > 0 || ev.Argc > 0 {
		for _, a := range bytes.Split(buf, []byte{0}) {
			ev.Argv = append(ev.Argv, string(a))
		}
	}
	if ev.Argc > len(ev.Argv) {
		ev.ArgvTruncated = true
	}
}

func int8Bytes(s []int8) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s))
}

func cString(s []int8) string {
	b := int8Bytes(s)
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// Flag bits of sample.flags, as in bpf/spawntrace.h.
const samplefUstackIPs = 1

// Status of a struct bpf_stack_build_id (linux/bpf.h).
const (
	buildIDValid = 1 // build_id and offset
	buildIDIP    = 2 // ip only
)

// convertSample copies a kernel sample; a negative stack length is the
// error bpf_get_stack returned, and leaves that stack nil.
func convertSample(raw *spawntraceSample, s *Sample) {
	*s = Sample{TimeNs: raw.TsNs, Pid: raw.Pid, Tid: raw.Tid, CPU: raw.Cpu, Comm: cString(raw.Comm[:])}
	if n := int(raw.KstackLen) / 8; n > 0 {
		s.KernelStack = append([]uint64(nil), raw.Kstack[:min(n, len(raw.Kstack))]...)
	}
	if raw.Flags&samplefUstackIPs != 0 {
		// The kernel gave no build IDs: the array holds bare addresses.
		addrs := bareAddrs(raw.Ustack[:], int(raw.UstackLen))
		if len(addrs) > 0 {
			s.UserStack = make([]UserFrame, len(addrs))
			for i, a := range addrs {
				s.UserStack[i].Addr = a
			}
		}
		return
	}
	s.UserStack = userFrames(raw.Ustack[:], int(raw.UstackLen))
}

// rawBuildIDFrame is the Go form of struct bpf_stack_build_id.
type rawBuildIDFrame = struct {
	_       structs.HostLayout
	Status  int32
	BuildId [20]uint8
	Offset  uint64
}

// userFrames converts the first lenBytes of a stack of build-ID frames: a
// frame the kernel could not place in a file with a build ID keeps its
// address. nil when empty or when bpf_get_stack failed (a negative length).
func userFrames(raw []rawBuildIDFrame, lenBytes int) []UserFrame {
	n := min(lenBytes/int(unsafe.Sizeof(rawBuildIDFrame{})), len(raw))
	if n <= 0 {
		return nil
	}
	frames := make([]UserFrame, 0, n)
	for _, f := range raw[:n] {
		switch f.Status {
		case buildIDValid:
			frames = append(frames, UserFrame{BuildID: f.BuildId, Offset: f.Offset})
		case buildIDIP:
			frames = append(frames, UserFrame{Addr: f.Offset}) // the union's ip
		}
	}
	return frames
}

// bareAddrs reads an array of build-ID frames the kernel filled with bare
// addresses instead (__u64 each), lenBytes of them.
func bareAddrs(raw []rawBuildIDFrame, lenBytes int) []uint64 {
	n := min(lenBytes/8, len(raw)*int(unsafe.Sizeof(rawBuildIDFrame{}))/8)
	if n <= 0 {
		return nil
	}
	ips := unsafe.Slice((*uint64)(unsafe.Pointer(&raw[0])), n)
	return append([]uint64(nil), ips[:n]...)
}
