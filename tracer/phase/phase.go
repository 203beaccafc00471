// Package phase notes when each step of a run's start-up and shut-down
// ends, for SPAWNTRACE_PHASES=1 (cmd/spawntrace prints them at exit):
// where the time of a short run goes, without a profiler. Off, a note
// costs one load.
package phase

import (
	"os"
	"sync"
	"time"
)

// Mark is one step's end, since the package's initialization (a
// millisecond or two after the process started).
type Mark struct {
	Since time.Duration
	Step  string
}

var (
	on    = os.Getenv("SPAWNTRACE_PHASES") != ""
	start = time.Now()
	mu    sync.Mutex
	marks []Mark
)

// Enabled says whether notes are kept.
func Enabled() bool { return on }

// Done notes that step has ended.
func Done(step string) {
	if !on {
		return
	}
	since := time.Since(start)
	mu.Lock()
	marks = append(marks, Mark{Since: since, Step: step})
	mu.Unlock()
}

// Marks are the notes so far, in the order they were made.
func Marks() []Mark {
	mu.Lock()
	defer mu.Unlock()
	return append([]Mark(nil), marks...)
}
