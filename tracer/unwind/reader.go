package unwind

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// errTruncated is what every read past the end of a CFI record gives: the
// callers wrap it with the record's offset.
var errTruncated = errors.New("truncated")

// reader decodes the little-endian DWARF fields of one CFI section. A read
// past the end sets err and returns zeros, so a decoder checks err once per
// record rather than after every field.
type reader struct {
	data []byte
	pos  int
	err  error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.pos = len(r.data)
}

func (r *reader) need(n int) bool {
	if r.err != nil || n < 0 || n > len(r.data)-r.pos {
		r.fail(errTruncated)
		return false
	}
	return true
}

func (r *reader) u8() uint8 {
	if !r.need(1) {
		return 0
	}
	v := r.data[r.pos]
	r.pos++
	return v
}

func (r *reader) u16() uint16 {
	if !r.need(2) {
		return 0
	}
	v := binary.LittleEndian.Uint16(r.data[r.pos:])
	r.pos += 2
	return v
}

func (r *reader) u32() uint32 {
	if !r.need(4) {
		return 0
	}
	v := binary.LittleEndian.Uint32(r.data[r.pos:])
	r.pos += 4
	return v
}

func (r *reader) u64() uint64 {
	if !r.need(8) {
		return 0
	}
	v := binary.LittleEndian.Uint64(r.data[r.pos:])
	r.pos += 8
	return v
}

func (r *reader) bytes(n int) []byte {
	if !r.need(n) {
		return nil
	}
	b := r.data[r.pos : r.pos+n : r.pos+n]
	r.pos += n
	return b
}

// uleb reads an unsigned LEB128 number; more than ten bytes (or bits
// beyond 64) is malformed.
func (r *reader) uleb() uint64 {
	var v uint64
	for shift := uint(0); ; shift += 7 {
		if shift >= 70 {
			r.fail(errors.New("LEB128 number longer than 10 bytes"))
			return 0
		}
		b := r.u8()
		if r.err != nil {
			return 0
		}
		if shift < 64 {
			v |= uint64(b&0x7f) << shift
		}
		if b&0x80 == 0 {
			return v
		}
	}
}

// sleb reads a signed LEB128 number.
func (r *reader) sleb() int64 {
	var v int64
	var shift uint
	for {
		if shift >= 70 {
			r.fail(errors.New("LEB128 number longer than 10 bytes"))
			return 0
		}
		b := r.u8()
		if r.err != nil {
			return 0
		}
		if shift < 64 {
			v |= int64(b&0x7f) << shift
		}
		shift += 7
		if b&0x80 == 0 {
			if shift < 64 && b&0x40 != 0 {
				v |= -1 << shift
			}
			return v
		}
	}
}

// Pointer encodings of .eh_frame (DW_EH_PE_*, LSB's "DWARF Extensions").
const (
	peAbsptr  = 0x00
	peUleb128 = 0x01
	peUdata2  = 0x02
	peUdata4  = 0x03
	peUdata8  = 0x04
	peSigned  = 0x08
	peSleb128 = 0x09
	peSdata2  = 0x0a
	peSdata4  = 0x0b
	peSdata8  = 0x0c

	pePcrel   = 0x10
	peTextrel = 0x20
	peDatarel = 0x30
	peFuncrel = 0x40
	peAligned = 0x50

	peIndirect = 0x80
	peOmit     = 0xff
)

// ptrBases are the addresses an encoded pointer may be relative to, and
// the object's address size (an absptr's).
type ptrBases struct {
	sectionAddr uint64 // virtual address of data[0]: pcrel adds sectionAddr+pos
	dataAddr    uint64 // datarel (.eh_frame_hdr's own address); 0 when unknown
	hasData     bool
	addr4       bool // a 4-byte address (ELFCLASS32), else 8
}

// addr reads an address of the object: 4 bytes or 8.
func (r *reader) addr(addr4 bool) uint64 {
	if addr4 {
		return uint64(r.u32())
	}
	return r.u64()
}

// pointer reads a pointer in encoding enc. Indirect pointers (to be read
// from memory) and text-, function- or alignment-relative ones are refused:
// no x86 toolchain emits them for code addresses. A 4-byte address wraps
// at 4 GiB, as the i386 code that computes it does.
func (r *reader) pointer(enc uint8, b ptrBases) uint64 {
	if enc == peOmit {
		return 0
	}
	fieldAddr := b.sectionAddr + uint64(r.pos)
	var v uint64
	switch enc & 0x0f {
	case peAbsptr:
		v = r.addr(b.addr4)
	case peSigned: // an address-sized signed number
		if b.addr4 {
			v = uint64(int64(int32(r.u32())))
		} else {
			v = r.u64()
		}
	case peUdata8, peSdata8:
		v = r.u64()
	case peUleb128:
		v = r.uleb()
	case peSleb128:
		v = uint64(r.sleb())
	case peUdata2:
		v = uint64(r.u16())
	case peSdata2:
		v = uint64(int64(int16(r.u16())))
	case peUdata4:
		v = uint64(r.u32())
	case peSdata4:
		v = uint64(int64(int32(r.u32())))
	default:
		r.fail(fmt.Errorf("unknown pointer encoding %#x", enc))
		return 0
	}
	switch enc & 0x70 {
	case peAbsptr:
	case pePcrel:
		v += fieldAddr
	case peDatarel:
		if !b.hasData {
			r.fail(fmt.Errorf("data-relative pointer (encoding %#x) outside .eh_frame_hdr", enc))
			return 0
		}
		v += b.dataAddr
	default:
		r.fail(fmt.Errorf("unsupported pointer encoding %#x", enc))
		return 0
	}
	if enc&peIndirect != 0 {
		r.fail(fmt.Errorf("indirect pointer encoding %#x", enc))
		return 0
	}
	if b.addr4 {
		v = uint64(uint32(v))
	}
	return v
}

// skipPointer steps over a pointer in encoding enc without applying it
// (the personality routine, which may be indirect).
func (r *reader) skipPointer(enc uint8, addr4 bool) {
	if enc == peOmit {
		return
	}
	switch enc & 0x0f {
	case peAbsptr, peSigned:
		r.addr(addr4)
	case peUdata8, peSdata8:
		r.bytes(8)
	case peUleb128:
		r.uleb()
	case peSleb128:
		r.sleb()
	case peUdata2, peSdata2:
		r.bytes(2)
	case peUdata4, peSdata4:
		r.bytes(4)
	default:
		r.fail(fmt.Errorf("unknown pointer encoding %#x", enc))
	}
}
