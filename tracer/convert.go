package tracer

import (
	"bytes"
	"fmt"
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
	evfCompat        = 256
)

// pageBytes converts the kernel's page counts.
var pageBytes = uint64(os.Getpagesize())

func pagesToBytes(n int64) uint64 {
	if n < 0 { // percpu_counter drift can dip below zero
		return 0
	}
	return uint64(n) * pageBytes
}

// x86_64 numbers of the calls whose extra fields convert keeps (Nr64).
const (
	nrSocketpair = 53
	nrClone3     = 435
)

// Record kinds beyond the Event kinds (bpf/spawntrace.h, enum event_kind):
// a syscall record with a tail, its kind saying which.
const (
	kindSample       = 5 // struct sample; never an Event
	kindSyscallExec  = 6 // struct syscall_exec_event: a failed exec, with its strings
	kindSyscallSpawn = 7 // struct syscall_spawn_event: a new process, with the caller's stack
)

// recordAs is the record b as a T, or nil when b is shorter than a T.
func recordAs[T any](b []byte) *T {
	if len(b) < int(unsafe.Sizeof(*new(T))) {
		return nil
	}
	return (*T)(unsafe.Pointer(&b[0]))
}

// convert copies the ring-buffer record b, of any kind but a sample, into
// ev, reusing nothing from b: the record is overwritten by the next read.
// Each kind has its own struct and size (bpf/spawntrace.h); a record
// shorter than its kind's struct, or of no known kind, is an error.
func convert(b []byte, ev *Event) error {
	if len(b) < 4 {
		return fmt.Errorf("short ring buffer record: %d bytes", len(b))
	}
	var ok bool
	switch kind := *(*uint32)(unsafe.Pointer(&b[0])); kind {
	case uint32(KindSyscall):
		ok = convertRecord(b, ev, func(r *spawntraceSyscallEvent) { convertSyscall(r, ev) })
	case kindSyscallExec:
		ok = convertRecord(b, ev, func(r *spawntraceSyscallExecEvent) {
			convertSyscall(&r.Sc, ev)
			execDetails(&r.X, r.Sc.H.Flags, ev)
		})
	case kindSyscallSpawn:
		ok = convertRecord(b, ev, func(r *spawntraceSyscallSpawnEvent) {
			convertSyscall(&r.Sc, ev)
			if r.Sc.H.Flags&evfUstackIPs != 0 {
				ev.UserStack = bareAddrs(r.Ustack[:], int(r.UstackLen))
			} else {
				ev.userFrames = userFrames(r.Ustack[:], int(r.UstackLen))
			}
		})
	case uint32(KindFork):
		ok = convertRecord(b, ev, func(r *spawntraceForkEvent) {
			convertHeader(&r.H, ev)
			ev.ChildTid = r.ChildTid
			ev.ChildPid = r.ChildPid
			ev.HostChildPid = r.HostChildPid
			ev.Thread = r.H.Flags&evfThread != 0
		})
	case uint32(KindExec):
		ok = convertRecord(b, ev, func(r *spawntraceExecEvent) {
			convertHeader(&r.H, ev)
			ev.OldTid = r.OldTid
			if r.H.Flags&evfCompat != 0 {
				ev.ExecABI = ABII386
			}
			execDetails(&r.X, r.H.Flags, ev)
			ev.EnvBytes = int(r.X.EnvBytes)
		})
	case uint32(KindExit):
		ok = convertRecord(b, ev, func(r *spawntraceExitEvent) {
			convertHeader(&r.H, ev)
			ev.ExitCode = r.ExitCode
			ev.GroupDead = r.H.Flags&evfGroupDead != 0
			if r.H.Flags&evfSuperseded != 0 {
				ev.SupersededBy = r.ExecTid
			}
		})
	default:
		return fmt.Errorf("ring buffer record of unknown kind %d (%d bytes)", kind, len(b))
	}
	if !ok {
		return fmt.Errorf("short ring buffer record of kind %d: %d bytes", *(*uint32)(unsafe.Pointer(&b[0])), len(b))
	}
	return nil
}

// convertRecord calls fn with b as a T, unless b is too short for one.
func convertRecord[T any](b []byte, ev *Event, fn func(*T)) bool {
	r := recordAs[T](b)
	if r == nil {
		return false
	}
	fn(r)
	return true
}

// convertHeader starts ev from a record's header; the header's kind is
// the Event's (the syscall records' tails are told apart by the caller).
func convertHeader(h *spawntraceEventHdr, ev *Event) {
	*ev = Event{
		Kind:   Kind(h.Kind),
		TimeNs: h.TsNs,
		Tid:    h.Tid,
		Pid:    h.Pid,
		PPid:   h.Ppid,
		Comm:   cString(h.Comm[:]),

		HostPid: h.HostPid,
	}
}

// convertSyscall converts the part every syscall record has.
func convertSyscall(raw *spawntraceSyscallEvent, ev *Event) {
	convertHeader(&raw.H, ev)
	ev.Kind = KindSyscall
	ev.DurNs = raw.DurNs
	ev.ChildPid = raw.ChildPid
	ev.HostChildPid = raw.HostChildPid
	ev.Nr = int(raw.Nr)
	if raw.H.Flags&evfCompat != 0 {
		ev.ABI = ABII386
	}
	ev.Ret = raw.Ret
	ev.Args = append([]uint64(nil), raw.Args[:]...)
	ev.CopyNs, ev.CopyOffCPUNs = raw.CopyNs, raw.CopyOffcpuNs
	ev.LockStallNs, ev.BlockedNs, ev.TeardownNs = raw.LockStallNs, raw.BlockedNs, raw.TeardownNs
	if raw.H.Flags&evfParentMM != 0 {
		ev.Parent = &ParentSize{
			RSSAnonBytes:  pagesToBytes(raw.RssAnonPages),
			RSSFileBytes:  pagesToBytes(raw.RssFilePages),
			RSSShmemBytes: pagesToBytes(raw.RssShmemPages),
			PgtablesBytes: uint64(max(raw.PgtablesBytes, 0)),
			MapCount:      int(raw.MapCount),
		}
	}
	switch ev.Nr64() {
	case nrClone3:
		c := raw.C3
		ev.Clone3 = &Clone3Args{Flags: c.Flags, ExitSignal: c.ExitSignal, Stack: c.Stack,
			StackSize: c.StackSize, Pidfd: c.Pidfd, ChildTid: c.ChildTid, ParentTid: c.ParentTid, TLS: c.Tls}
	case nrSocketpair:
		if ev.Ret == 0 {
			ev.Fds = []int32{raw.Fds[0], raw.Fds[1]}
		}
	}
}

// execDetails converts an exec's strings; flags are its record's.
func execDetails(x *spawntraceExecStrings, flags uint32, ev *Event) {
	ev.Filename = cString(x.Filename[:])
	ev.NameUnread = flags&evfNameUnread != 0
	ev.Argc = int(x.Argc)
	ev.EnvCount = int(x.Envc)
	ev.ArgvTruncated = flags&evfArgvTruncated != 0
	ev.ArgvUnread = flags&evfArgvUnread != 0
	n := int(x.ArgvLen)
	if n > len(x.Argv) {
		n = len(x.Argv)
	}
	buf := int8Bytes(x.Argv[:n])
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
