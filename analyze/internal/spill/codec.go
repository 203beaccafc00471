package spill

import (
	"encoding/binary"
	"errors"

	"github.com/spawntrace/spawntrace/analyze/internal/intern"
	"github.com/spawntrace/spawntrace/tracer"
)

// Both codecs (events: recording; spawn rows: summary) write integers as
// (u)varints, strings and slices with their length first (a slice's length
// plus one, so that nil and empty stay apart). These are their shared
// parts.

// ErrCorrupt is a record that does not decode.
var ErrCorrupt = errors.New("corrupt spill record")

// AppendString appends s, its length first.
func AppendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// AppendUints appends v, its length plus one first (0 for nil).
func AppendUints(b []byte, v []uint64) []byte {
	if v == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(v))+1)
	for _, x := range v {
		b = binary.AppendUvarint(b, x)
	}
	return b
}

// AppendParentSize encodes a spawning parent's size, the same in events
// and in a summary's rows.
func AppendParentSize(b []byte, p *tracer.ParentSize) []byte {
	for _, v := range [...]uint64{p.RSSAnonBytes, p.RSSFileBytes, p.RSSShmemBytes, p.PgtablesBytes} {
		b = binary.AppendUvarint(b, v)
	}
	return binary.AppendVarint(b, int64(p.MapCount))
}

// Decoder reads the fields of one record's payload in turn: B is what is
// left of it, Err the first failure (every read after it gives zero).
// Its strings are interned, so that the comm and file names of a million
// spawns share a few copies.
type Decoder struct {
	B      []byte
	Err    error
	Intern intern.Table
	// CheckOnly checks strings' lengths and gives "" for each: for a
	// reader that checks records and copies them as they are, keeping
	// nothing they hold.
	CheckOnly bool
}

// Reset starts reading payload.
func (d *Decoder) Reset(payload []byte) { d.B, d.Err = payload, nil }

// ParentSize decodes AppendParentSize's fields into a new ParentSize.
func (d *Decoder) ParentSize() *tracer.ParentSize {
	p := new(tracer.ParentSize)
	d.ParentSizeInto(p)
	return p
}

// ParentSizeInto decodes AppendParentSize's fields into p.
func (d *Decoder) ParentSizeInto(p *tracer.ParentSize) {
	*p = tracer.ParentSize{RSSAnonBytes: d.Uvarint(), RSSFileBytes: d.Uvarint(), RSSShmemBytes: d.Uvarint(),
		PgtablesBytes: d.Uvarint(), MapCount: int(d.Varint())}
}

// Uvarint reads a uvarint. Most fields of a record take one byte (zeros,
// small counts), read here without a loop; the rest take uvarintLong.
func (d *Decoder) Uvarint() uint64 {
	if len(d.B) > 0 && d.B[0] < 0x80 {
		v := uint64(d.B[0])
		d.B = d.B[1:]
		return v
	}
	return d.uvarintLong()
}

func (d *Decoder) uvarintLong() uint64 {
	var v uint64
	for i, c := range d.B {
		if i == binary.MaxVarintLen64 {
			break
		}
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				break // more than 64 bits
			}
			d.B = d.B[i+1:]
			return v | uint64(c)<<(7*i)
		}
		v |= uint64(c&0x7f) << (7 * i)
	}
	// Fail, by hand: only ErrCorrupt is ever set before a record ends.
	d.B, d.Err = nil, ErrCorrupt
	return 0
}

// Varint undoes binary.AppendVarint: zigzag (0, -1, 1, -2, ...) over uvarint.
func (d *Decoder) Varint() int64 {
	u := d.Uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

// Length reads a slice's length plus one, checked against what is left
// (every element takes at least a byte).
func (d *Decoder) Length() int {
	n := d.Uvarint()
	if n > uint64(len(d.B))+1 {
		d.Fail()
		return 0
	}
	return int(n)
}

// String reads AppendString's string, interned.
func (d *Decoder) String() string {
	n := d.Uvarint()
	if n > uint64(len(d.B)) {
		d.Fail()
		return ""
	}
	if d.CheckOnly {
		d.B = d.B[n:]
		return ""
	}
	s := d.Intern.Bytes(d.B[:n])
	d.B = d.B[n:]
	return s
}

// Uints reads a []uint64 into old's array when it is large enough.
func (d *Decoder) Uints(old []uint64) []uint64 {
	n := d.Length()
	if n == 0 {
		return nil
	}
	v := Reuse(old, n-1)
	for i := range v {
		v[i] = d.Uvarint()
	}
	return v
}

// Reuse returns a slice of length n, in old's array when it has room;
// never nil, since an empty slice is not a nil one.
func Reuse[T any](old []T, n int) []T {
	if cap(old) >= n && old != nil {
		return old[:n]
	}
	return make([]T, n)
}

// Fail marks the record corrupt and stops further reads of it.
func (d *Decoder) Fail() {
	if d.Err == nil {
		d.Err = ErrCorrupt
	}
	d.B = nil
}
