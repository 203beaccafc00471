package recording

import (
	"math/rand/v2"
	"testing"

	"github.com/spawntrace/spawntrace/tracer"
)

// TestOrderCheckCountsAsReorder: on times in order, a little late, or far
// out of order, of events of any size, orderCheck counts the late events a
// pass through reorder with the same window (of events and of bytes)
// releases late.
func TestOrderCheckCountsAsReorder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, spread := range []int{0, 3, 50, 500, 100_000} {
		for _, window := range []int{1, 16, 256} {
			for _, maxBytes := range []int{1 << 30, 5000, 100} {
				times := make([]uint64, 5000)
				for i := range times {
					times[i] = uint64(i*10 + rng.IntN(spread*10+1))
				}
				check := orderCheck{window: window, maxBytes: maxBytes}
				ro := reorder{window: window, maxBytes: maxBytes}
				for _, tm := range times {
					size := 1 + rng.IntN(300)
					if rng.IntN(50) == 0 {
						size *= 100
					}
					check.push(tm, size)
					if err := ro.push(&tracer.Event{TimeNs: tm}, size, func(*tracer.Event) error { return nil }); err != nil {
						t.Fatal(err)
					}
				}
				ro.drain(func(*tracer.Event) error { return nil })
				if check.late != ro.late {
					t.Errorf("spread %d, window %d events, %d bytes: orderCheck counts %d late, the pass %d",
						spread, window, maxBytes, check.late, ro.late)
				}
				if spread == 500 && window == 16 && ro.late == 0 {
					t.Errorf("spread %d, window %d: no late event to count", spread, window)
				}
			}
		}
	}
}
