package summary

import (
	"testing"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/spawn"
)

func TestSpawnStacksCount(t *testing.T) {
	rec := &recording.Recording{
		Stacks: []recording.Stack{
			{Frames: []recording.Frame{{Func: "__clone3"}}},
			{Frames: []recording.Frame{{Func: "fork"}, {Func: "main"}}},
		},
		StackLoss: &recording.StackLoss{SpawnStacks: 1},
	}
	spawns := []spawn.Spawn{{StackID: 1}, {StackID: 1}, {StackID: 2}, {StackID: 0}}
	got := SpawnStacks(rec, spawns)
	want := SpawnStackStats{Spawns: 4, WithStack: 3, Truncated: 2, Unsymbolized: 1}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}
