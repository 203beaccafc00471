// Package spill holds the append-only temporary files that a recording's
// events and a summary's spawn rows go to, so that memory does not grow
// with a run, and the varint primitives both of their codecs are made of.
package spill

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// bufBytes is the write buffer of a spill file and the read buffer of
// each pass over one.
const bufBytes = 64 << 10

// File is an append-only temporary file. It is unlinked as soon as it
// is made: the open descriptor keeps it readable, and nothing is left in
// the temporary directory however spawntrace ends.
type File struct {
	f     *os.File
	bw    *bufio.Writer // nil for a View
	off   int64         // where the records start in f
	bytes int64         // written, buffered bytes included
	err   error         // the first write error: every later write fails with it
}

// CreateTemp makes an unlinked file in os.TempDir() ($TMPDIR): the
// events of a long run go there, a few hundred bytes per spawn.
func CreateTemp() (*os.File, error) {
	f, err := os.CreateTemp("", "spawntrace-events-*")
	if err != nil {
		return nil, err
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// NewFile makes a spill file with open (CreateTemp; tests hand it a
// failing one).
func NewFile(open func() (*os.File, error)) (*File, error) {
	f, err := open()
	if err != nil {
		return nil, fmt.Errorf("creating spill file in %s: %w", os.TempDir(), err)
	}
	return &File{f: f, bw: bufio.NewWriterSize(f, bufBytes)}, nil
}

// View is a File of records already on disk: n bytes of f from off,
// read in place (a saved recording's events, which have a spill file's
// form). It takes f, closed by Close; it cannot be written.
func View(f *os.File, off, n int64) *File {
	return &File{f: f, off: off, bytes: n, err: errView}
}

var errView = errors.New("a spill view is read-only")

// Write appends b; after a failure, nothing more is written and the first
// error is returned again, so that no event is dropped unnoticed.
func (s *File) Write(b []byte) error {
	if s.err != nil {
		return s.err
	}
	if _, err := s.bw.Write(b); err != nil {
		s.err = fmt.Errorf("writing spill file: %w", err) // err names the file
		return s.err
	}
	s.bytes += int64(len(b))
	return nil
}

// Err is the error that stopped writing, nil while it goes on.
func (s *File) Err() error { return s.err }

// Fail stops writing with err (a record that could not be encoded):
// every later Write and Flush returns it.
func (s *File) Fail(err error) { s.err = err }

// Bytes is how much was written, buffered bytes included.
func (s *File) Bytes() int64 { return s.bytes }

// Flush ends writing; what was written can then be read.
func (s *File) Flush() error {
	if s.bw == nil { // a View: nothing to write
		return nil
	}
	if s.err != nil {
		return s.err
	}
	if err := s.bw.Flush(); err != nil {
		s.err = fmt.Errorf("writing spill file: %w", err)
	}
	return s.err
}

// Reader reads the flushed file from the start; readers are independent
// (positioned reads), so passes may overlap.
func (s *File) Reader() *bufio.Reader {
	return bufio.NewReaderSize(io.NewSectionReader(s.f, s.off, s.bytes), bufBytes)
}

// File is the file s reads, nil once closed.
func (s *File) File() *os.File { return s.f }

// Closed reports whether Close was called.
func (s *File) Closed() bool { return s.f == nil }

// Close releases the file; nil-safe, and a second call does nothing.
func (s *File) Close() error {
	if s == nil || s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// ReadRecord reads one length-prefixed record of a spill file: a uvarint
// length, then the payload, which is r's own buffer when it fits there
// (valid until r is read again) and *scratch, grown as needed, when not.
// A file that ends inside a record is truncated (io.ErrUnexpectedEOF).
func ReadRecord(r *bufio.Reader, scratch *[]byte) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, NoEOF(err)
	}
	if n <= uint64(r.Size()) {
		payload, err := r.Peek(int(n))
		if err == nil {
			_, err = r.Discard(int(n))
		}
		return payload, NoEOF(err)
	}
	if uint64(cap(*scratch)) < n {
		*scratch = make([]byte, n)
	}
	payload := (*scratch)[:n]
	_, err = io.ReadFull(r, payload)
	return payload, NoEOF(err)
}

// NoEOF: a spill file shorter than what was written to it is truncated.
func NoEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
