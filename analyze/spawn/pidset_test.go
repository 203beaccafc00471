package spawn

import "testing"

func TestPidSetCountsReusedPids(t *testing.T) {
	var s pidSet
	s.add(300)
	s.add(300) // the same process again
	s.add(70000)
	s.remove(300) // it exited
	s.add(300)    // a new process with the old pid
	s.remove(12345)
	if got := s.len(); got != 3 {
		t.Errorf("pidSet.len() = %d, want 3 processes", got)
	}
}
