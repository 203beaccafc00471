package spill

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// TestReadRecord: records that fit the reader's buffer and one that does
// not come back whole; a file that ends inside a record is truncated.
func TestReadRecord(t *testing.T) {
	var file []byte
	records := [][]byte{[]byte("a"), {}, bytes.Repeat([]byte("x"), 100), []byte("after")}
	for _, r := range records {
		file = binary.AppendUvarint(file, uint64(len(r)))
		file = append(file, r...)
	}
	r := bufio.NewReaderSize(bytes.NewReader(file), 16) // 100 bytes do not fit
	var scratch []byte
	for i, want := range records {
		got, err := ReadRecord(r, &scratch)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("record %d: %q, %v; want %q", i, got, err, want)
		}
	}
	if _, err := ReadRecord(r, &scratch); err != io.ErrUnexpectedEOF {
		t.Errorf("past the end: %v, want io.ErrUnexpectedEOF", err)
	}
	for _, cut := range []int{len(file) - 2, 5} { // inside "after", inside the long one
		r := bufio.NewReaderSize(bytes.NewReader(file[:cut]), 16)
		var err error
		for err == nil {
			_, err = ReadRecord(r, &scratch)
		}
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("file cut at %d: %v, want io.ErrUnexpectedEOF", cut, err)
		}
	}
}
