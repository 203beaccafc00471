package tracer

import (
	"math"
	"testing"
)

// The time of a syscall row: exact while every call was timed in full,
// else the timed calls' own time plus the rest at the sample's mean.
func TestTimeSampleEstimate(t *testing.T) {
	for _, c := range []struct {
		name  string
		s     timeSample
		calls uint64
		want  uint64
	}{
		{"every call timed", timeSample{timedNs: 6400, timed: 64}, 64, 6400},
		{"spawn calls past the first 64", timeSample{timedNs: 1000 * 100, timed: 1000}, 1000, 100000},
		// 64 of 100 ns timed in full, then 1000 more calls of 1 µs, 125 of them sampled.
		{"sampled", timeSample{timedNs: 6400, timed: 64, sampledNs: 125 * 1000, sampled: 125}, 1064, 6400 + 1000*1000},
		{"no sample yet", timeSample{timedNs: 6400, timed: 64}, 70, 7000},
		{"nothing timed", timeSample{}, 5, 0},
		{"saturates", timeSample{timedNs: 10, timed: 1, sampledNs: math.MaxUint64 / 2, sampled: 1}, 10, math.MaxUint64},
	} {
		if got := c.s.estimate(c.calls); got != c.want {
			t.Errorf("%s: estimate(%d) = %d, want %d", c.name, c.calls, got, c.want)
		}
	}
}
