package recording

import "github.com/spawntrace/spawntrace/tracer"

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
