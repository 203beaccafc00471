package analyze

import (
	"bufio"
	"fmt"
	"io"
	"os"
)

// spillBufBytes is the write buffer of a spill file and the read buffer of
// each pass over one.
const spillBufBytes = 64 << 10

// spillFile is an append-only temporary file. It is unlinked as soon as it
// is made: the open descriptor keeps it readable, and nothing is left in
// the temporary directory however spawntrace ends.
type spillFile struct {
	f     *os.File
	bw    *bufio.Writer
	bytes int64 // written, buffered bytes included
	err   error // the first write error: every later write fails with it
}

// createTemp makes an unlinked file in os.TempDir() ($TMPDIR): the
// events of a long run go there, a few hundred bytes per spawn.
func createTemp() (*os.File, error) {
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

func newSpillFile(open func() (*os.File, error)) (*spillFile, error) {
	f, err := open()
	if err != nil {
		return nil, fmt.Errorf("creating spill file in %s: %w", os.TempDir(), err)
	}
	return &spillFile{f: f, bw: bufio.NewWriterSize(f, spillBufBytes)}, nil
}

// write appends b; after a failure, nothing more is written and the first
// error is returned again, so that no event is dropped unnoticed.
func (s *spillFile) write(b []byte) error {
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

// flush ends writing; what was written can then be read.
func (s *spillFile) flush() error {
	if s.err != nil {
		return s.err
	}
	if err := s.bw.Flush(); err != nil {
		s.err = fmt.Errorf("writing spill file: %w", err)
	}
	return s.err
}

// reader reads the flushed file from the start; readers are independent
// (positioned reads), so passes may overlap.
func (s *spillFile) reader() *bufio.Reader {
	return bufio.NewReaderSize(io.NewSectionReader(s.f, 0, s.bytes), spillBufBytes)
}

func (s *spillFile) close() error {
	if s == nil || s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
