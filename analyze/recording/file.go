package recording

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spawntrace/spawntrace/tracer"
)

// Save writes the recording to w in enc, gzipped when asked. The caller
// opens w (spawntrace opens its outputs before the workload starts, so
// that the workload cannot redirect them).
func Save(w io.Writer, enc Encoding, gzipped bool, rec *Recording) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	var out io.Writer = bw
	var zw *gzip.Writer
	if gzipped {
		zw = gzip.NewWriter(bw)
		out = zw
	}
	encode := EncodeBinary
	if enc == JSON {
		encode = Encode
	}
	if err := encode(out, rec); err != nil {
		return err
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// Encode writes rec as JSON, stamping the format and schema. A recording
// run's events are streamed from its spill file, one at a time, into the
// same bytes that encoding them from memory gives.
func Encode(w io.Writer, rec *Recording) error {
	rec.Format = FormatName
	rec.Schema = SchemaVersion
	if rec.spill == nil {
		return json.NewEncoder(w).Encode(rec)
	}
	return encodeStreamed(w, rec)
}

// Load reads a recording written by Save (either encoding, gzipped or not).
func Load(path string) (*Recording, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading recording: %w", err)
	}
	rec, err := DecodeFile(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rec, nil
}

// Decode reads a recording and rejects what is not one, is truncated or
// corrupt, or was written by a newer spawntrace. Its events go to a spill
// file, read back in time order through the reorder window as a recording
// run's are (EachEvent): memory does not grow with them (decodeObject).
// The recording must be closed (Close) to release the file.
func Decode(r io.Reader) (*Recording, error) {
	return decode(r, nil)
}

// DecodeFile is Decode of an open file, which it takes: the events of an
// uncompressed binary recording in a regular file are checked and then
// read in place, where a copy to a spill file would double the bytes
// written and read (measured: report of 1M spawns, 0.8 s of 7 s CPU
// writing the copy). The recording then holds f until Close; otherwise f
// is closed before DecodeFile returns.
func DecodeFile(f *os.File) (*Recording, error) {
	in := f
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		in = nil
	}
	rec, err := decode(f, in)
	if rec == nil || rec.spill == nil || rec.spill.events.File() != f {
		f.Close()
	}
	return rec, err
}

// decode reads a recording from r; in, when not nil, is r itself, a
// regular file whose binary events may be read in place.
func decode(r io.Reader, in *os.File) (*Recording, error) {
	br := bufio.NewReader(r)
	if magic, err := br.Peek(2); err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("corrupt gzip recording: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReader(zr)
		in = nil
	}
	if magic, err := br.Peek(1); err == nil && magic[0] == binaryMagic[0] {
		return decodeBinary(br, in)
	}
	if first, err := peekNonSpace(br); err == nil && first != '{' {
		return nil, errors.New("not a spawntrace recording (neither a binary recording nor a JSON object)")
	}
	// White space runs squashed, so that decoding is linear in the file;
	// each part's reading bounded, so that memory is (file_limits.go).
	lim := &budget{r: &squashSpace{r: br}}
	src := &errTracker{r: lim}
	return decodeObject(json.NewDecoder(src), src, lim)
}

// peekNonSpace returns the first byte that is not JSON white space,
// without consuming anything else.
func peekNonSpace(br *bufio.Reader) (byte, error) {
	for n := 1; ; n++ {
		b, err := br.Peek(n)
		if len(b) < n {
			return 0, err
		}
		switch c := b[n-1]; c {
		case ' ', '\t', '\n', '\r':
			continue
		default:
			return c, nil
		}
	}
}

// validate catches values no tracer writes, so reports never see them.
func (rec *Recording) validate() error {
	if rec.EndMonoNs < rec.StartMonoNs {
		return fmt.Errorf("end time %d before start time %d", rec.EndMonoNs, rec.StartMonoNs)
	}
	for i := range rec.Events {
		if err := validateEvent(i, &rec.Events[i]); err != nil {
			return err
		}
	}
	for i, s := range rec.Syscalls {
		if s.Errors > s.Calls {
			return fmt.Errorf("syscall row %d (%s): %d errors out of %d calls", i, s.Name, s.Errors, s.Calls)
		}
		if s.TimedCalls > s.Calls {
			return fmt.Errorf("syscall row %d (%s): %d timed calls out of %d", i, s.Name, s.TimedCalls, s.Calls)
		}
	}
	return rec.validateStacks()
}

// validateEvent checks event i of a recording, in memory or as it is
// streamed (decodeObject).
func validateEvent(i int, ev *tracer.Event) error {
	if ev.Kind == 0 {
		return fmt.Errorf("event %d: no kind", i)
	}
	if ev.Kind == tracer.KindSyscall && (ev.Nr < 0 || ev.Nr >= 1024) {
		return fmt.Errorf("event %d: syscall number %d out of range", i, ev.Nr)
	}
	return nil
}
