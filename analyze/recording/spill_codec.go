package recording

import (
	"encoding/binary"
	"fmt"

	"github.com/spawntrace/spawntrace/analyze/internal/spill"
	"github.com/spawntrace/spawntrace/tracer"
)

// The spill file holds events in a compact binary form of their own, not
// JSON or gob, which cost one and two orders of magnitude more per event:
// encoding runs on the ring-buffer reader for every event, and every report
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
	b = spill.AppendString(b, ev.Comm)
	b = binary.AppendUvarint(b, uint64(ev.ABI)|uint64(ev.ExecABI)<<8)
	b = binary.AppendUvarint(b, uint64(ev.HostPid))
	b = binary.AppendUvarint(b, uint64(ev.HostChildPid))
	b = binary.AppendVarint(b, int64(ev.Nr))
	b = binary.AppendVarint(b, ev.Ret)
	b = spill.AppendUints(b, ev.Args)
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
		b = spill.AppendParentSize(b, ev.Parent)
	}
	b = spill.AppendUints(b, ev.UserStack)
	b = binary.AppendVarint(b, int64(ev.StackID))
	b = binary.AppendUvarint(b, uint64(ev.ChildTid))
	b = binary.AppendUvarint(b, uint64(ev.ChildPid))
	b = binary.AppendUvarint(b, uint64(ev.OldTid))
	b = binary.AppendVarint(b, int64(ev.ExitCode))
	b = binary.AppendUvarint(b, uint64(ev.SupersededBy))
	b = spill.AppendString(b, ev.Filename)
	if ev.Argv == nil {
		b = append(b, 0)
	} else {
		b = binary.AppendUvarint(b, uint64(len(ev.Argv))+1)
		for _, a := range ev.Argv {
			b = spill.AppendString(b, a)
		}
	}
	b = binary.AppendVarint(b, int64(ev.Argc))
	b = binary.AppendVarint(b, int64(ev.EnvCount))
	b = binary.AppendVarint(b, int64(ev.EnvBytes))
	b = binary.AppendVarint(b, int64(ev.PathEntries))

	n := len(b) - start - 3
	if n > maxRecordBytes {
		return b[:start], fmt.Errorf("event of %d bytes: more than a spill record holds", n)
	}
	appendRecordLength(b[:start], n)
	return b, nil
}

// appendRecordLength appends a record's payload length n (at most
// maxRecordBytes) as a 3-byte uvarint (continuation bits on the first
// two), which holds up to 2 MiB: an event's argv is capped far below that.
func appendRecordLength(b []byte, n int) []byte {
	return append(b, byte(n)|0x80, byte(n>>7)|0x80, byte(n>>14))
}

// maxRecordBytes is what appendEvent's 3-byte length can hold.
const maxRecordBytes = 1<<21 - 1

// eventDecoder reads records back; its strings are interned so that the
// comm and file names of a million spawns share a few copies.
type eventDecoder struct {
	spill.Decoder
}

// decode fills ev from one record's payload (length already stripped),
// reusing the arrays of its slices and its Clone3: ev may be one a pass
// released earlier.
func (dec *eventDecoder) decode(payload []byte, ev *tracer.Event) error {
	// Decoded in a copy on the stack, whose every field read needs no GC
	// write barrier (measured: loading 200k spawns, 0.07 s less).
	d := dec.Decoder
	defer func() { dec.Intern = d.Intern }()
	d.Reset(payload)
	if len(d.B) < 2 {
		return spill.ErrCorrupt
	}
	ev.Kind = tracer.Kind(d.B[0])
	flags := d.B[1]
	d.B = d.B[2:]
	ev.Thread = flags&flagThread != 0
	ev.GroupDead = flags&flagGroupDead != 0
	ev.NameUnread = flags&flagNameUnread != 0
	ev.ArgvTruncated = flags&flagArgvTruncated != 0
	ev.ArgvUnread = flags&flagArgvUnread != 0
	ev.TimeNs = d.Uvarint()
	ev.DurNs = d.Uvarint()
	ev.Tid = uint32(d.Uvarint())
	ev.Pid = uint32(d.Uvarint())
	ev.PPid = uint32(d.Uvarint())
	ev.Comm = d.String()
	abis := d.Uvarint()
	ev.ABI, ev.ExecABI = tracer.ABI(abis), tracer.ABI(abis>>8)
	if abis>>16 != 0 || !ev.ABI.Known() || !ev.ExecABI.Known() {
		return spill.ErrCorrupt
	}
	ev.HostPid = uint32(d.Uvarint())
	ev.HostChildPid = uint32(d.Uvarint())
	ev.Nr = int(d.Varint())
	ev.Ret = d.Varint()
	ev.Args = d.Uints(ev.Args)
	if flags&flagClone3 != 0 {
		c := ev.Clone3
		if c == nil {
			c = new(tracer.Clone3Args)
		}
		*c = tracer.Clone3Args{Flags: d.Uvarint(), ExitSignal: d.Uvarint(), Stack: d.Uvarint(), StackSize: d.Uvarint(),
			Pidfd: d.Uvarint(), ChildTid: d.Uvarint(), ParentTid: d.Uvarint(), TLS: d.Uvarint()}
		ev.Clone3 = c
	} else {
		ev.Clone3 = nil
	}
	fds := ev.Fds
	ev.Fds = nil
	if n := d.Length(); n > 0 {
		ev.Fds = spill.Reuse(fds, n-1)
		for i := range ev.Fds {
			ev.Fds[i] = int32(d.Varint())
		}
	}
	ev.CopyNs = d.Uvarint()
	ev.CopyOffCPUNs = d.Uvarint()
	ev.LockStallNs = d.Uvarint()
	ev.BlockedNs = d.Uvarint()
	ev.TeardownNs = d.Uvarint()
	parent := ev.Parent
	ev.Parent = nil
	if flags&flagParent != 0 {
		if d.CheckOnly && parent != nil {
			d.ParentSizeInto(parent)
			ev.Parent = parent
		} else {
			// Not reused: a summary's rows keep it (Spawn.Parent).
			ev.Parent = d.ParentSize()
		}
	}
	ev.UserStack = d.Uints(ev.UserStack)
	ev.StackID = int(d.Varint())
	ev.ChildTid = uint32(d.Uvarint())
	ev.ChildPid = uint32(d.Uvarint())
	ev.OldTid = uint32(d.Uvarint())
	ev.ExitCode = int32(d.Varint())
	ev.SupersededBy = uint32(d.Uvarint())
	ev.Filename = d.String()
	argv := ev.Argv
	ev.Argv = nil
	if n := d.Length(); n > 0 {
		ev.Argv = spill.Reuse(argv, n-1)
		for i := range ev.Argv {
			ev.Argv[i] = d.String()
		}
	}
	ev.Argc = int(d.Varint())
	ev.EnvCount = int(d.Varint())
	ev.EnvBytes = int(d.Varint())
	ev.PathEntries = int(d.Varint()) // binary version 2 on
	if d.Err == nil && len(d.B) != 0 {
		d.Err = fmt.Errorf("%w: %d bytes left over", spill.ErrCorrupt, len(d.B))
	}
	return d.Err
}
