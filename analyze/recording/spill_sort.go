package recording

import (
	"bufio"
	"container/heap"
	"encoding/binary"
	"fmt"
	"io"
	"slices"

	"github.com/spawntrace/spawntrace/analyze/internal/spill"
)

// sortRunBytes is how much of a spill file is sorted in memory at a time
// (its records, raw) when a loaded recording is too far out of time order
// for the reorder window: ~60k spawns' events per run.
var sortRunBytes = 16 << 20

// sortSpill returns the events of s in (TimeNs, arrival) order, as one
// stable sort of them all gives, in a new spill: an external merge sort,
// so memory holds one run of records and a read buffer per run, whatever
// the number of events. Records are moved as they are, never decoded:
// the time is read from each record's head. s is left as it was.
func sortSpill(s *eventSpill) (*eventSpill, error) {
	var runs []*spill.File
	defer func() {
		for _, r := range runs {
			r.Close()
		}
	}()
	r := s.events.Reader()
	var buf []byte
	var idx []sortRec
	for i := 0; i < s.n; {
		buf, idx = buf[:0], idx[:0]
		for ; i < s.n && len(buf) < sortRunBytes; i++ {
			rec, t, err := readRawRecord(r, buf)
			if err != nil {
				return nil, errRead{fmt.Errorf("sorting events: event %d of %d: %w", i, s.n, err)}
			}
			idx = append(idx, sortRec{t, len(buf), len(rec) - len(buf)})
			buf = rec
		}
		// Stable: equal times keep their arrival order.
		slices.SortStableFunc(idx, func(a, b sortRec) int {
			switch {
			case a.timeNs < b.timeNs:
				return -1
			case a.timeNs > b.timeNs:
				return 1
			}
			return 0
		})
		run, err := spill.NewFile(spill.CreateTemp)
		if err != nil {
			return nil, fmt.Errorf("sorting events: %w", err)
		}
		runs = append(runs, run)
		for _, x := range idx {
			run.Write(buf[x.off : x.off+x.n])
		}
		if err := run.Flush(); err != nil {
			return nil, fmt.Errorf("sorting events: %w", err)
		}
	}
	out, err := spill.NewFile(spill.CreateTemp)
	if err != nil {
		return nil, fmt.Errorf("sorting events: %w", err)
	}
	if err := mergeRuns(runs, out); err != nil {
		out.Close()
		return nil, err
	}
	return &eventSpill{events: out, n: s.n, window: s.window, windowBytes: s.windowBytes, exits: s.exits}, nil
}

type sortRec struct {
	timeNs uint64
	off, n int
}

// readRawRecord appends one record, length included, to buf and returns
// it with the record's TimeNs (after the kind and flags bytes: appendEvent).
func readRawRecord(r *bufio.Reader, buf []byte) ([]byte, uint64, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, 0, spill.NoEOF(err)
	}
	if n < 3 || n > maxRecordBytes {
		return nil, 0, spill.ErrCorrupt
	}
	// The 3-byte length appendEvent writes, whatever n's shortest form.
	buf = appendRecordLength(buf, int(n))
	payloadAt := len(buf)
	buf = slices.Grow(buf, int(n))[:payloadAt+int(n)]
	if _, err := io.ReadFull(r, buf[payloadAt:]); err != nil {
		return nil, 0, spill.NoEOF(err)
	}
	t, k := binary.Uvarint(buf[payloadAt+2:])
	if k <= 0 {
		return nil, 0, spill.ErrCorrupt
	}
	return buf, t, nil
}

// mergeRuns writes the records of sorted runs to out in order; equal
// times come from the earlier run first, so the merge stays stable.
func mergeRuns(runs []*spill.File, out *spill.File) error {
	h := &runHeap{}
	for i, run := range runs {
		h.items = append(h.items, runHead{r: run.Reader(), run: i})
	}
	live := h.items[:0]
	for _, it := range h.items {
		if err := it.next(); err != nil {
			return err
		}
		if it.rec != nil {
			live = append(live, it)
		}
	}
	h.items = live
	heap.Init(h)
	for h.Len() > 0 {
		top := &h.items[0]
		if err := out.Write(top.rec); err != nil {
			return fmt.Errorf("sorting events: %w", err)
		}
		if err := top.next(); err != nil {
			return err
		}
		if top.rec == nil {
			heap.Pop(h)
		} else {
			heap.Fix(h, 0)
		}
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("sorting events: %w", err)
	}
	return nil
}

// runHead is a run's next record (nil at its end).
type runHead struct {
	r      *bufio.Reader
	run    int
	buf    []byte
	rec    []byte
	timeNs uint64
}

func (h *runHead) next() error {
	if _, err := h.r.Peek(1); err == io.EOF {
		h.rec = nil
		return nil
	}
	rec, t, err := readRawRecord(h.r, h.buf[:0])
	if err != nil {
		return errRead{fmt.Errorf("sorting events: run %d: %w", h.run, err)}
	}
	h.buf, h.rec, h.timeNs = rec, rec, t
	return nil
}

type runHeap struct{ items []runHead }

func (h *runHeap) Len() int { return len(h.items) }
func (h *runHeap) Less(i, j int) bool {
	a, b := &h.items[i], &h.items[j]
	if a.timeNs != b.timeNs {
		return a.timeNs < b.timeNs
	}
	return a.run < b.run
}
func (h *runHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *runHeap) Push(x any)    { h.items = append(h.items, x.(runHead)) }
func (h *runHeap) Pop() any {
	it := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return it
}
