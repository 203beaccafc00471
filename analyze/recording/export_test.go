package recording

import (
	"fmt"

	"github.com/spawntrace/spawntrace/analyze/internal/spill"
	"github.com/spawntrace/spawntrace/tracer"
)

// Hooks for the external tests (readback_test.go), which summarize
// recordings and so cannot be in this package.

var (
	NewTestRecorder = newTestRecorder
	Filled          = filled
	Arrived         = arrived
	SaveFile        = saveFile
	SampleRecording = sampleRecording
)

// EachArrived calls fn with rec's events in the order they arrived.
func EachArrived(rec *Recording, fn func(ev *tracer.Event) error) error { return rec.eachArrived(fn) }

// Spilled says whether rec's events are on disk.
func Spilled(rec *Recording) bool { return rec.spill != nil }

// SpilledEvents is the number of events on disk.
func SpilledEvents(rec *Recording) int { return rec.spill.n }

// SpillBytes is the size of rec's events on disk.
func SpillBytes(rec *Recording) int64 { return rec.spill.events.Bytes() }

// SetReorderWindow makes rec's time-ordered passes use a window of n.
func SetReorderWindow(rec *Recording, n int) { rec.spill.window = n }

// SetSortRunBytes sorts out-of-order files in runs of n bytes until the
// returned function is called.
func SetSortRunBytes(n int) (restore func()) {
	was := sortRunBytes
	sortRunBytes = n
	return func() { sortRunBytes = was }
}

// HoldEvents reads a spilled recording's events into Events, in the order
// they arrived (sorted, for SortedLate), and releases the spill file: for
// tests that index the events. Memory then grows with the events. Nothing
// to do for a recording in memory already.
func (rec *Recording) HoldEvents() error {
	if rec.spill == nil {
		return nil
	}
	evs := make([]tracer.Event, 0, rec.spill.n)
	// A new event each time: the decoder reuses the arrays of the one it
	// is given, and these are kept.
	err := rec.spill.each(func() *tracer.Event { return new(tracer.Event) }, func(ev *tracer.Event, _ int) error {
		evs = append(evs, *ev)
		return nil
	})
	if err != nil {
		return err
	}
	if err := rec.Close(); err != nil {
		return fmt.Errorf("reading recorded events: %w", err)
	}
	rec.Events = evs
	return nil
}

// TruncateSpill makes rec's spill claim one event more than its file
// holds, as a spill file cut short would.
func TruncateSpill(rec *Recording) { rec.spill.n++ }

// CorruptSpill replaces rec's spilled events with as many records that
// do not decode.
func CorruptSpill(rec *Recording) error {
	f, err := spill.NewFile(spill.CreateTemp)
	if err != nil {
		return err
	}
	for range rec.spill.n {
		f.Write([]byte{3, 0xff, 0xff, 0xff}) // kind and flags, then a varint that never ends
	}
	if err := f.Flush(); err != nil {
		return err
	}
	rec.spill.events.Close()
	rec.spill.events = f
	return nil
}
