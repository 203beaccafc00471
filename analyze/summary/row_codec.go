package summary

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/spawntrace/spawntrace/analyze/internal/intern"
	"github.com/spawntrace/spawntrace/analyze/internal/spill"
	"github.com/spawntrace/spawntrace/analyze/spawn"
)

// A finished spawn row on disk (spawnRows), in the spill codec's manner
// (spill_codec.go): a uvarint payload length, then the payload, the
// fields in declaration order, integers as (u)varints, ExecOK and the
// presence of Parent as bits of one flags byte. Strings go through a table
// both sides build alike: the first time a string is written it is written
// out and numbered, later times by number, so a million spawns of a few
// programs cost a byte or two per name. ~60 bytes a row, against ~300 in
// memory. TestRowCodecCarriesEveryField fails when Spawn gains a field
// this codec does not carry.

// Bits of a row's flags byte.
const (
	rowExecOK = 1 << iota
	rowParent
)

// rowEncoder writes rows; its string table must meet a rowDecoder's
// reading the same rows from the start.
type rowEncoder struct {
	ids     map[string]uint64
	payload []byte
}

// appendRow appends sp's record to b.
func (e *rowEncoder) appendRow(b []byte, sp *spawn.Spawn) []byte {
	p := e.payload[:0]
	var flags byte
	if sp.ExecOK {
		flags |= rowExecOK
	}
	if sp.Parent != nil {
		flags |= rowParent
	}
	p = append(p, flags)
	p = binary.AppendVarint(p, int64(sp.Seq))
	p = binary.AppendUvarint(p, sp.TimeNs)
	p = binary.AppendUvarint(p, uint64(sp.ParentPid))
	p = binary.AppendUvarint(p, uint64(sp.ParentTid))
	p = e.appendString(p, sp.Comm)
	p = e.appendString(p, sp.Syscall)
	p = binary.AppendUvarint(p, sp.Flags)
	p = e.appendString(p, string(sp.Mechanism))
	p = binary.AppendUvarint(p, uint64(sp.ChildPid))
	p = binary.AppendVarint(p, int64(sp.StackID))
	p = binary.AppendUvarint(p, sp.CloneDurNs)
	p = e.appendString(p, sp.Signature)
	for _, v := range [...]uint64{sp.CopyNs, sp.CopyOffCPUNs, sp.LockStallNs, sp.BlockedNs, sp.TeardownNs} {
		p = binary.AppendUvarint(p, v)
	}
	if sp.Parent != nil {
		p = spill.AppendParentSize(p, sp.Parent)
	}
	p = binary.AppendUvarint(p, sp.GapNs)
	p = e.appendString(p, sp.Exe)
	p = binary.AppendVarint(p, int64(sp.FailedExecs))
	p = binary.AppendUvarint(p, sp.FailedExecNs)
	p = binary.AppendVarint(p, int64(sp.NotFoundExecs))
	p = binary.AppendUvarint(p, sp.NotFoundExecNs)
	p = e.appendString(p, sp.NotFound)
	p = binary.AppendUvarint(p, sp.SpawnToExecNs)
	p = binary.AppendVarint(p, int64(sp.EnvCount))
	p = binary.AppendVarint(p, int64(sp.EnvBytes))
	p = binary.AppendVarint(p, int64(sp.PathEntries))
	e.payload = p
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

// appendString writes 0 for "", 2·id+1 for a string numbered before, or
// 2·(len+1) and the bytes of a new one, numbered while the table has room
// (intern.MaxStrings, as the decoder's).
func (e *rowEncoder) appendString(b []byte, s string) []byte {
	if s == "" {
		return append(b, 0)
	}
	if id, ok := e.ids[s]; ok {
		return binary.AppendUvarint(b, 2*id+1)
	}
	if e.ids == nil {
		e.ids = map[string]uint64{}
	}
	if len(e.ids) < intern.MaxStrings {
		e.ids[s] = uint64(len(e.ids))
	}
	b = binary.AppendUvarint(b, 2*(uint64(len(s))+1))
	return append(b, s...)
}

// rowDecoder reads rows back, from the first: its string table is built
// as the encoder's was.
type rowDecoder struct {
	d       spill.Decoder // its varint readers, strings not interned (the table here numbers them)
	strings []string
}

// decode fills sp from one record's payload (length already stripped).
// Parent is made anew, so that a row kept past its pass keeps its own.
func (r *rowDecoder) decode(payload []byte, sp *spawn.Spawn) error {
	d := &r.d
	d.Reset(payload)
	if len(d.B) < 1 {
		return errCorruptRow
	}
	flags := d.B[0]
	d.B = d.B[1:]
	sp.ExecOK = flags&rowExecOK != 0
	sp.Seq = int(d.Varint())
	sp.TimeNs = d.Uvarint()
	sp.ParentPid = uint32(d.Uvarint())
	sp.ParentTid = uint32(d.Uvarint())
	sp.Comm = r.string()
	sp.Syscall = r.string()
	sp.Flags = d.Uvarint()
	sp.Mechanism = spawn.Mechanism(r.string())
	sp.ChildPid = uint32(d.Uvarint())
	sp.StackID = int(d.Varint())
	sp.CloneDurNs = d.Uvarint()
	sp.Signature = r.string()
	sp.CopyNs = d.Uvarint()
	sp.CopyOffCPUNs = d.Uvarint()
	sp.LockStallNs = d.Uvarint()
	sp.BlockedNs = d.Uvarint()
	sp.TeardownNs = d.Uvarint()
	sp.Parent = nil
	if flags&rowParent != 0 {
		sp.Parent = d.ParentSize()
	}
	sp.GapNs = d.Uvarint()
	sp.Exe = r.string()
	sp.FailedExecs = int(d.Varint())
	sp.FailedExecNs = d.Uvarint()
	sp.NotFoundExecs = int(d.Varint())
	sp.NotFoundExecNs = d.Uvarint()
	sp.NotFound = r.string()
	sp.SpawnToExecNs = d.Uvarint()
	sp.EnvCount = int(d.Varint())
	sp.EnvBytes = int(d.Varint())
	sp.PathEntries = int(d.Varint())
	if d.Err == nil && len(d.B) != 0 {
		d.Err = fmt.Errorf("%w: %d bytes left over", errCorruptRow, len(d.B))
	}
	if d.Err == spill.ErrCorrupt {
		d.Err = errCorruptRow
	}
	return d.Err
}

var errCorruptRow = errors.New("corrupt spawn row")

func (r *rowDecoder) string() string {
	d := &r.d
	k := d.Uvarint()
	switch {
	case k == 0:
		return ""
	case k%2 == 1:
		if id := k / 2; id < uint64(len(r.strings)) {
			return r.strings[id]
		}
		d.Fail()
		return ""
	}
	n := k/2 - 1
	if n > uint64(len(d.B)) {
		d.Fail()
		return ""
	}
	s := string(d.B[:n]) // the table shares it from now on
	d.B = d.B[n:]
	if len(r.strings) < intern.MaxStrings {
		r.strings = append(r.strings, s)
	}
	return s
}
