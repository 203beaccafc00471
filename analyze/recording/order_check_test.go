package recording

import (
	"math/rand/v2"
	"testing"

	"github.com/spawntrace/spawntrace/tracer"
)

// TestOrderCheckCountsAsReorder: on times in order, a little late, or far
// out of order, orderCheck counts the late events a pass through reorder
// with the same window releases late.
func TestOrderCheckCountsAsReorder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, spread := range []int{0, 3, 50, 500, 100_000} {
		for _, window := range []int{1, 16, 256} {
			times := make([]uint64, 5000)
			for i := range times {
				times[i] = uint64(i*10 + rng.IntN(spread*10+1))
			}
			check := orderCheck{window: window}
			ro := reorder{window: window}
			for _, tm := range times {
				check.push(tm)
				if err := ro.push(&tracer.Event{TimeNs: tm}, func(*tracer.Event) error { return nil }); err != nil {
					t.Fatal(err)
				}
			}
			ro.drain(func(*tracer.Event) error { return nil })
			if check.late != ro.late {
				t.Errorf("spread %d, window %d: orderCheck counts %d late, the pass %d", spread, window, check.late, ro.late)
			}
		}
	}
}
