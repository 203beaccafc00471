package summary

import (
	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/spawn"
)

// SpawnStackStats says how complete the spawn stacks of a recording are.
type SpawnStackStats struct {
	Spawns       int // spawns in the summary
	WithStack    int // with a recorded stack
	Truncated    int // of those, stacks that end before an entry point
	UnwoundCFI   int // of those with a stack, unwound by CFI past code without frame pointers
	Cut          int // of those, cut where the copy of the spawner's stack ended
	MapGone      int // truncated stacks whose spawner exited or exec'd before its memory map was read (not unwound by CFI)
	Unsymbolized int // stacks lost or left as bare addresses (Recording.StackLoss)
}

// SpawnStacks counts the stacks of the summary's spawns (those of rec) and
// how many were truncated. It fails when the rows cannot be read back.
func (s *Summary) SpawnStacks(rec *recording.Recording) (SpawnStackStats, error) {
	var st SpawnStackStats
	err := s.EachSpawn(func(sp *spawn.Spawn) error {
		st.Spawns++
		if stack := rec.StackOf(sp.StackID); stack != nil {
			st.WithStack++
			if stack.Truncated() {
				st.Truncated++
				if stack.MapGone {
					st.MapGone++
				}
			}
			if stack.Unwound == recording.UnwoundCFI {
				st.UnwoundCFI++
				if stack.Cut {
					st.Cut++
				}
			}
		}
		return nil
	})
	if err != nil {
		return SpawnStackStats{}, err
	}
	if rec.StackLoss != nil {
		st.Unsymbolized = rec.StackLoss.SpawnStacks
	}
	return st, nil
}
