// Package summary computes what the reports show of a recording's spawns:
// counts, each mechanism's costs (Stats), the copy-cost fit against the
// parent's size (Fit), classes of like spawns, and the findings (what
// costs time and why, decided in findings*.go). The spawns themselves are
// built by package spawn; the summary keeps their rows (EachSpawn).
package summary

import (
	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/spawn"
	"github.com/spawntrace/spawntrace/tracer"
)

// Summarize assembles the spawns of a recording (spawn.Build) and counts
// them. Its memory is what is open at each moment, not the events nor the
// rows: a row, once finished, goes into the statistics, and then to the
// summary's rows (EachSpawn), in memory or on disk. It fails when the
// events could not be read back (a truncated or corrupt spill) or the
// rows could not be stored: a summary of part of a run would be wrong
// without a word. Close releases the rows.
func Summarize(rec *recording.Recording) (Summary, error) {
	s := Summary{rows: &spawnRows{}}
	if rec.EndMonoNs > rec.StartMonoNs {
		s.WallNs = rec.EndMonoNs - rec.StartMonoNs
	}
	b := newSummaryBuilder(rec, &s)
	counts, err := spawn.Build(rec, spawn.Hooks[classLink]{
		Spawned: func(o *spawn.Open[classLink], ev, _ *tracer.Event, _ uint64) {
			b.links.open(&o.Ext, ev.Tid, ev.TimeNs)
		},
		Finished:   func(o *spawn.Open[classLink]) { b.finish(&o.Spawn, &o.Ext) },
		ThreadExit: b.links.threadExit,
	})
	s.ByMechanism = counts.ByMechanism
	s.Threads = rec.Threads + counts.Threads
	s.ExecOK, s.ExecFailed, s.Processes = counts.ExecOK, counts.ExecFailed, counts.Processes
	b.done()
	if err == nil {
		err = s.rows.err
	}
	if err != nil {
		s.Close()
		return Summary{}, err
	}
	return s, nil
}
