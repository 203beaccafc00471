package analyze

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/spawntrace/spawntrace/tracer"
)

// The spill file holds events in a compact binary form of their own, not
// JSON or gob: measured on a realistic clone3 + execve + exit, JSON costs
// 12 µs to encode and 21 µs to decode an event (756 bytes a spawn), gob 2 µs
// each way (248 bytes), this codec about 0.15 µs each way (~200 bytes).
// Encoding runs on the ring-buffer reader for every event, and every report
// decodes the whole file again. The file lives only as long as the process,
// so the form carries no version. TestSpillCodecCarriesEveryField fails when
// tracer.Event gains a field this codec does not carry.
//
// A record is a uvarint payload length, then the payload: the fields in
// declaration order, integers as (u)varints, strings and slices as a length
// (a slice's length plus one, so that nil and empty stay apart), bools and
// the presence of the pointer fields as bits of one byte.

// Bits of the flags byte.
const (
	flagThread = 1 << iota
	flagGroupDead
	flagNameUnread
	flagArgvTruncated
	flagClone3
	flagParent
	flagArgvUnread
)

// appendEvent appends ev's record to b.
func appendEvent(b []byte, ev *tracer.Event) ([]byte, error) {
	start := len(b)
	// Reserve a fixed-width length, filled in below: most records fit in 2
	// bytes of uvarint, and rewriting is cheaper than encoding twice.
	b = append(b, 0, 0, 0)
	b = append(b, byte(ev.Kind))
	var flags byte
	if ev.Thread {
		flags |= flagThread
	}
	if ev.GroupDead {
		flags |= flagGroupDead
	}
	if ev.NameUnread {
		flags |= flagNameUnread
	}
	if ev.ArgvTruncated {
		flags |= flagArgvTruncated
	}
	if ev.Clone3 != nil {
		flags |= flagClone3
	}
	if ev.Parent != nil {
		flags |= flagParent
	}
	if ev.ArgvUnread {
		flags |= flagArgvUnread
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, ev.TimeNs)
	b = binary.AppendUvarint(b, ev.DurNs)
	b = binary.AppendUvarint(b, uint64(ev.Tid))
	b = binary.AppendUvarint(b, uint64(ev.Pid))
	b = binary.AppendUvarint(b, uint64(ev.PPid))
	b = appendString(b, ev.Comm)
	b = binary.AppendUvarint(b, uint64(ev.ABI)|uint64(ev.ExecABI)<<8)
	b = binary.AppendUvarint(b, uint64(ev.HostPid))
	b = binary.AppendUvarint(b, uint64(ev.HostChildPid))
	b = binary.AppendVarint(b, int64(ev.Nr))
	b = binary.AppendVarint(b, ev.Ret)
	b = appendUints(b, ev.Args)
	if c := ev.Clone3; c != nil {
		for _, v := range [...]uint64{c.Flags, c.ExitSignal, c.Stack, c.StackSize, c.Pidfd, c.ChildTid, c.ParentTid, c.TLS} {
			b = binary.AppendUvarint(b, v)
		}
	}
	if ev.Fds == nil {
		b = append(b, 0)
	} else {
		b = binary.AppendUvarint(b, uint64(len(ev.Fds))+1)
		for _, fd := range ev.Fds {
			b = binary.AppendVarint(b, int64(fd))
		}
	}
	for _, v := range [...]uint64{ev.CopyNs, ev.CopyOffCPUNs, ev.LockStallNs, ev.BlockedNs, ev.TeardownNs} {
		b = binary.AppendUvarint(b, v)
	}
	if ev.Parent != nil {
		b = appendParentSize(b, ev.Parent)
	}
	b = appendUints(b, ev.UserStack)
	b = binary.AppendVarint(b, int64(ev.StackID))
	b = binary.AppendUvarint(b, uint64(ev.ChildTid))
	b = binary.AppendUvarint(b, uint64(ev.ChildPid))
	b = binary.AppendUvarint(b, uint64(ev.OldTid))
	b = binary.AppendVarint(b, int64(ev.ExitCode))
	b = binary.AppendUvarint(b, uint64(ev.SupersededBy))
	b = appendString(b, ev.Filename)
	if ev.Argv == nil {
		b = append(b, 0)
	} else {
		b = binary.AppendUvarint(b, uint64(len(ev.Argv))+1)
		for _, a := range ev.Argv {
			b = appendString(b, a)
		}
	}
	b = binary.AppendVarint(b, int64(ev.Argc))
	b = binary.AppendVarint(b, int64(ev.EnvCount))
	b = binary.AppendVarint(b, int64(ev.EnvBytes))

	// The length as a 3-byte uvarint (continuation bits on the first two),
	// which holds up to 2 MiB: an event's argv is capped far below that.
	n := len(b) - start - 3
	if n > maxRecordBytes {
		return b[:start], fmt.Errorf("event of %d bytes: more than a spill record holds", n)
	}
	b[start] = byte(n) | 0x80
	b[start+1] = byte(n>>7) | 0x80
	b[start+2] = byte(n >> 14)
	return b, nil
}

// maxRecordBytes is what appendEvent's 3-byte length can hold.
const maxRecordBytes = 1<<21 - 1

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendUints(b []byte, v []uint64) []byte {
	if v == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(v))+1)
	for _, x := range v {
		b = binary.AppendUvarint(b, x)
	}
	return b
}

var errCorrupt = errors.New("corrupt spill record")

// eventDecoder reads records back; its strings are interned so that the
// comm and file names of a million spawns share a few copies.
type eventDecoder struct {
	b      []byte
	err    error
	intern interner
}

// decode fills ev from one record's payload (length already stripped),
// reusing the arrays of its slices and its Clone3: ev may be one a pass
// released earlier.
func (d *eventDecoder) decode(payload []byte, ev *tracer.Event) error {
	d.b, d.err = payload, nil
	if len(d.b) < 2 {
		return errCorrupt
	}
	ev.Kind = tracer.Kind(d.b[0])
	flags := d.b[1]
	d.b = d.b[2:]
	ev.Thread = flags&flagThread != 0
	ev.GroupDead = flags&flagGroupDead != 0
	ev.NameUnread = flags&flagNameUnread != 0
	ev.ArgvTruncated = flags&flagArgvTruncated != 0
	ev.ArgvUnread = flags&flagArgvUnread != 0
	ev.TimeNs = d.uvarint()
	ev.DurNs = d.uvarint()
	ev.Tid = uint32(d.uvarint())
	ev.Pid = uint32(d.uvarint())
	ev.PPid = uint32(d.uvarint())
	ev.Comm = d.string()
	abis := d.uvarint()
	ev.ABI, ev.ExecABI = tracer.ABI(abis), tracer.ABI(abis>>8)
	ev.HostPid = uint32(d.uvarint())
	ev.HostChildPid = uint32(d.uvarint())
	ev.Nr = int(d.varint())
	ev.Ret = d.varint()
	ev.Args = d.uints(ev.Args)
	if flags&flagClone3 != 0 {
		c := ev.Clone3
		if c == nil {
			c = new(tracer.Clone3Args)
		}
		*c = tracer.Clone3Args{Flags: d.uvarint(), ExitSignal: d.uvarint(), Stack: d.uvarint(), StackSize: d.uvarint(),
			Pidfd: d.uvarint(), ChildTid: d.uvarint(), ParentTid: d.uvarint(), TLS: d.uvarint()}
		ev.Clone3 = c
	} else {
		ev.Clone3 = nil
	}
	fds := ev.Fds
	ev.Fds = nil
	if n := d.length(); n > 0 {
		ev.Fds = reuse(fds, n-1)
		for i := range ev.Fds {
			ev.Fds[i] = int32(d.varint())
		}
	}
	ev.CopyNs = d.uvarint()
	ev.CopyOffCPUNs = d.uvarint()
	ev.LockStallNs = d.uvarint()
	ev.BlockedNs = d.uvarint()
	ev.TeardownNs = d.uvarint()
	ev.Parent = nil
	if flags&flagParent != 0 {
		// Never reused: a summary's rows keep it (Spawn.Parent).
		ev.Parent = d.parentSize()
	}
	ev.UserStack = d.uints(ev.UserStack)
	ev.StackID = int(d.varint())
	ev.ChildTid = uint32(d.uvarint())
	ev.ChildPid = uint32(d.uvarint())
	ev.OldTid = uint32(d.uvarint())
	ev.ExitCode = int32(d.varint())
	ev.SupersededBy = uint32(d.uvarint())
	ev.Filename = d.string()
	argv := ev.Argv
	ev.Argv = nil
	if n := d.length(); n > 0 {
		ev.Argv = reuse(argv, n-1)
		for i := range ev.Argv {
			ev.Argv[i] = d.string()
		}
	}
	ev.Argc = int(d.varint())
	ev.EnvCount = int(d.varint())
	ev.EnvBytes = int(d.varint())
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%w: %d bytes left over", errCorrupt, len(d.b))
	}
	return d.err
}

// appendParentSize encodes a spawning parent's size, the same in events
// and in a summary's rows.
func appendParentSize(b []byte, p *tracer.ParentSize) []byte {
	for _, v := range [...]uint64{p.RSSAnonBytes, p.RSSFileBytes, p.RSSShmemBytes, p.PgtablesBytes} {
		b = binary.AppendUvarint(b, v)
	}
	return binary.AppendVarint(b, int64(p.MapCount))
}

// parentSize decodes appendParentSize's fields into a new ParentSize.
func (d *eventDecoder) parentSize() *tracer.ParentSize {
	return &tracer.ParentSize{RSSAnonBytes: d.uvarint(), RSSFileBytes: d.uvarint(), RSSShmemBytes: d.uvarint(),
		PgtablesBytes: d.uvarint(), MapCount: int(d.varint())}
}

func (d *eventDecoder) uvarint() uint64 {
	// Most fields are zero or small: one byte, read without a call.
	if len(d.b) > 0 && d.b[0] < 0x80 {
		v := d.b[0]
		d.b = d.b[1:]
		return uint64(v)
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

// varint undoes binary.AppendVarint: zigzag (0, -1, 1, -2, ...) over uvarint.
func (d *eventDecoder) varint() int64 {
	u := d.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

// length reads a slice's length plus one, checked against what is left
// (every element takes at least a byte).
func (d *eventDecoder) length() int {
	n := d.uvarint()
	if n > uint64(len(d.b))+1 {
		d.fail()
		return 0
	}
	return int(n)
}

func (d *eventDecoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return ""
	}
	s := d.intern.bytes(d.b[:n])
	d.b = d.b[n:]
	return s
}

// uints reads a []uint64 into old's array when it is large enough.
func (d *eventDecoder) uints(old []uint64) []uint64 {
	n := d.length()
	if n == 0 {
		return nil
	}
	v := reuse(old, n-1)
	for i := range v {
		v[i] = d.uvarint()
	}
	return v
}

// reuse returns a slice of length n, in old's array when it has room;
// never nil, since an empty slice is not a nil one.
func reuse[T any](old []T, n int) []T {
	if cap(old) >= n && old != nil {
		return old[:n]
	}
	return make([]T, n)
}

// fail marks the record corrupt and stops further reads of it.
func (d *eventDecoder) fail() {
	if d.err == nil {
		d.err = errCorrupt
	}
	d.b = nil
}
