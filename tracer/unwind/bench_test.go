package unwind

import (
	"debug/elf"
	"testing"
)

// BenchmarkParseLibc is the first use of glibc's CFI: opening the file and
// reading .eh_frame and .eh_frame_hdr (no index to build).
func BenchmarkParseLibc(b *testing.B) {
	b.ReportAllocs()
	var t *Table
	for b.Loop() {
		f, err := elf.Open(libcPath)
		if err != nil {
			b.Fatal(err)
		}
		if t, err = NewTable(f); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	b.ReportMetric(float64(t.SizeBytes()), "table-bytes")
}

// BenchmarkRowLibc is one lookup: the search table, the FDE and its CIE
// decoded, the CFA program run to the address.
func BenchmarkRowLibc(b *testing.B) {
	f, err := elf.Open(libcPath)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	t, err := NewTable(f)
	if err != nil {
		b.Fatal(err)
	}
	var pcs []uint64
	for off := uint64(0); len(pcs) < 512; {
		e, ok, err := t.secs[0].entryAt(off)
		if err != nil || !ok {
			break
		}
		if !e.isCIE {
			if fd, err := t.secs[0].fdeAt(off); err == nil {
				pcs = append(pcs, fd.pcBegin+(fd.pcEnd-fd.pcBegin)/2)
			}
		}
		off = e.end
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		if _, err := t.Row(pcs[i%len(pcs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
