package summary

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/spawntrace/spawntrace/analyze/internal/spill"
	"github.com/spawntrace/spawntrace/analyze/spawn"
)

// rowsInMemory is how many finished rows a summary keeps in memory (~1.2
// MiB) before it moves them to a spill file: a short run's summary, and a
// unit test's, makes no file.
const rowsInMemory = 1 << 12

// spawnRows holds a summary's finished rows: in memory while there are
// few, then in an unlinked temporary file (spillFile), ~60 bytes a row
// (row_codec.go). Rows are appended as they finish, which is not their
// time order (Spawn.Seq is).
type spawnRows struct {
	mem  []spawn.Spawn
	file *spill.File
	enc  rowEncoder
	buf  []byte
	n    int
	err  error // the first failure to write: rows from then on are lost
	// open makes the spill file (spill.CreateTemp); tests hand it a failing one.
	open func() (*os.File, error)
}

// add appends a finished row (copied).
func (r *spawnRows) add(sp *spawn.Spawn) {
	if r.err != nil {
		return
	}
	r.n++
	if r.file == nil {
		if len(r.mem) < rowsInMemory {
			r.mem = append(r.mem, *sp)
			return
		}
		if !r.spill() {
			return
		}
	}
	r.write(sp)
}

// spill moves the rows in memory to a new spill file.
func (r *spawnRows) spill() bool {
	open := r.open
	if open == nil {
		open = spill.CreateTemp
	}
	f, err := spill.NewFile(open)
	if err != nil {
		r.err = fmt.Errorf("spawn rows: %w", err)
		return false
	}
	r.file = f
	// A summary dropped without Close (a comparison's sides, a test's)
	// still gives its descriptor back, when it is collected.
	runtime.AddCleanup(r, func(f *spill.File) { f.Close() }, f)
	for i := range r.mem {
		r.write(&r.mem[i])
	}
	r.mem = nil
	return r.err == nil
}

func (r *spawnRows) write(sp *spawn.Spawn) {
	r.buf = r.enc.appendRow(r.buf[:0], sp)
	if err := r.file.Write(r.buf); err != nil {
		r.err = fmt.Errorf("spawn rows: %w", err)
	}
}

// finish ends writing: the rows can be read from then on.
func (r *spawnRows) finish() {
	if r.file != nil && r.err == nil {
		if err := r.file.Flush(); err != nil {
			r.err = fmt.Errorf("spawn rows: %w", err)
		}
	}
}

// each calls fn with every row, in the order they were added; sp is
// reused between calls (its strings and Parent may be kept).
func (r *spawnRows) each(fn func(sp *spawn.Spawn) error) error {
	if r == nil {
		return nil
	}
	if r.err != nil {
		return r.err
	}
	if r.file == nil {
		for i := range r.mem {
			sp := r.mem[i] // a copy: fn may not change the summary's rows
			if err := fn(&sp); err != nil {
				return err
			}
		}
		return nil
	}
	if r.file.Closed() {
		return errRowsClosed
	}
	br := r.file.Reader()
	var dec rowDecoder
	var sp spawn.Spawn
	var scratch []byte
	for i := 0; i < r.n; i++ {
		payload, err := spill.ReadRecord(br, &scratch)
		if err != nil {
			return fmt.Errorf("reading spawn rows: row %d of %d: %w", i, r.n, err)
		}
		if err := dec.decode(payload, &sp); err != nil {
			return fmt.Errorf("reading spawn rows: row %d of %d: %w", i, r.n, err)
		}
		if err := fn(&sp); err != nil {
			return err
		}
	}
	return nil
}

var errRowsClosed = errors.New("reading spawn rows: the summary was closed")

func (r *spawnRows) close() error {
	if r == nil || r.file == nil {
		return nil
	}
	return r.file.Close()
}

// EachSpawn calls fn with each spawn row and stops at fn's first error,
// which it returns, or returns the error that kept rows from being
// stored or read back. The rows come in the order they were finished (at
// their process's exit), not in time order: Seq is each one's place in
// time. fn must not keep sp past the call, since it is reused (its
// strings and Parent may be kept).
func (s *Summary) EachSpawn(fn func(sp *spawn.Spawn) error) error {
	return s.rows.each(fn)
}

// SpawnCount is the number of spawn rows.
func (s *Summary) SpawnCount() int {
	if s.rows == nil {
		return 0
	}
	return s.rows.n
}

// Close releases the spill file of a summary's rows, if it has one;
// EachSpawn fails after.
func (s *Summary) Close() error {
	return s.rows.close()
}
