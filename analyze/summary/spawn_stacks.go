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
	Unsymbolized int // stacks lost or left as bare addresses (Recording.StackLoss)
}

// SpawnStacks counts the spawns' stacks and how many were truncated.
func SpawnStacks(rec *recording.Recording, spawns []spawn.Spawn) SpawnStackStats {
	st := SpawnStackStats{Spawns: len(spawns)}
	for i := range spawns {
		s := rec.StackOf(spawns[i].StackID)
		if s == nil {
			continue
		}
		st.WithStack++
		if s.Truncated() {
			st.Truncated++
		}
	}
	if rec.StackLoss != nil {
		st.Unsymbolized = rec.StackLoss.SpawnStacks
	}
	return st
}

// SpawnStacks counts the stacks of the summary's spawns (those of rec) and
// how many were truncated; rows that could not be read are not counted
// (Summary.Err, EachSpawn say why).
func (s *Summary) SpawnStacks(rec *recording.Recording) SpawnStackStats {
	var st SpawnStackStats
	s.EachSpawn(func(sp *spawn.Spawn) error {
		st.Spawns++
		if stack := rec.StackOf(sp.StackID); stack != nil {
			st.WithStack++
			if stack.Truncated() {
				st.Truncated++
			}
		}
		return nil
	})
	if rec.StackLoss != nil {
		st.Unsymbolized = rec.StackLoss.SpawnStacks
	}
	return st
}
