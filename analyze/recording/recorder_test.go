package recording

import (
	"testing"

	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// newTestRecorder makes a Recorder spilling to t's temporary directory.
func newTestRecorder(t testing.TB) *Recorder {
	t.Helper()
	r, err := NewRecorder()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// filled hands r's events to a new recording, closed at the test's end.
func filled(t testing.TB, r *Recorder) *Recording {
	t.Helper()
	rec := &Recording{}
	if err := r.Fill(rec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rec.Close() })
	return rec
}

// arrived reads a recording's events back in the order they arrived.
func arrived(t *testing.T, rec *Recording) []tracer.Event {
	t.Helper()
	var evs []tracer.Event
	if err := rec.eachArrived(func(ev *tracer.Event) error { evs = append(evs, *KeptCopy(ev)); return nil }); err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestRecorderKeepsSpawnCallsNotForksOrExecs(t *testing.T) {
	r := newTestRecorder(t)
	r.Add(&tracer.Event{Kind: tracer.KindFork, Pid: 10, ChildPid: 10, ChildTid: 12, Thread: true})
	clone := &tracer.Event{Kind: tracer.KindSyscall, Nr: sysno.Clone, Pid: 10, Tid: 10, Ret: 11, UserStack: []uint64{1, 2}, TimeNs: 5}
	r.Add(clone)
	if len(clone.UserStack) != 2 {
		t.Errorf("Add took the caller's stack away: %v", clone.UserStack)
	}
	r.SetSpawnStack(10, 5, 3)
	r.Add(&tracer.Event{Kind: tracer.KindFork, Pid: 10, ChildPid: 11, ChildTid: 11})
	r.Add(&tracer.Event{Kind: tracer.KindExec, Pid: 11, Tid: 11, Filename: "/bin/true", Argv: []string{"true"}, EnvCount: 7, EnvBytes: 99, PathEntries: -1})
	r.Add(&tracer.Event{Kind: tracer.KindSyscall, Nr: sysno.Execve, Pid: 11, Tid: 11})
	r.Add(&tracer.Event{Kind: tracer.KindExit, Pid: 11, Tid: 11, GroupDead: true})
	// An exec whose execve exit was lost is kept, to tell of its process.
	r.Add(&tracer.Event{Kind: tracer.KindExec, Pid: 13, Tid: 13, Filename: "/bin/sh"})

	if r.Threads() != 1 {
		t.Errorf("threads = %d, want 1", r.Threads())
	}
	evs := arrived(t, filled(t, r))
	if len(evs) != 4 {
		t.Fatalf("kept %d events, want clone, execve, exit and the lone exec: %+v", len(evs), evs)
	}
	if evs[0].UserStack != nil || evs[0].StackID != 3 {
		t.Errorf("clone kept raw stack %v / stack id %d, want none / 3", evs[0].UserStack, evs[0].StackID)
	}
	if e := evs[1]; e.Filename != "/bin/true" || e.EnvCount != 7 || e.EnvBytes != 99 || e.PathEntries != -1 || len(e.Argv) != 1 {
		t.Errorf("execve not merged with its exec details: %+v", e)
	}
	if evs[3].Kind != tracer.KindExec || evs[3].Filename != "/bin/sh" {
		t.Errorf("lone exec = %+v", evs[3])
	}
}

// A -c run's recorder counts what the table's last lines say (exits of
// processes and of other threads, thread creations) as the full recorder
// does, and keeps no event.
func TestRecorderCountOnlyCountsAsTheFullOne(t *testing.T) {
	events := []tracer.Event{
		{Kind: tracer.KindFork, Pid: 10, ChildPid: 10, ChildTid: 12, Thread: true},
		{Kind: tracer.KindSyscall, Nr: sysno.Clone, Pid: 10, Tid: 10, Ret: 11, TimeNs: 5},
		{Kind: tracer.KindFork, Pid: 10, ChildPid: 11, ChildTid: 11},
		{Kind: tracer.KindExec, Pid: 11, Tid: 11, Filename: "/bin/true"},
		{Kind: tracer.KindSyscall, Nr: sysno.Execve, Pid: 11, Tid: 11},
		{Kind: tracer.KindExit, Pid: 10, Tid: 12},
		{Kind: tracer.KindExit, Pid: 11, Tid: 11, GroupDead: true},
		{Kind: tracer.KindExit, Pid: 10, Tid: 10, GroupDead: true},
	}
	full, counting := newTestRecorder(t), newTestRecorder(t)
	counting.CountOnly()
	for _, r := range []*Recorder{full, counting} {
		for i := range events {
			ev := events[i]
			if err := r.Add(&ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	if full.Threads() != 1 || counting.Threads() != full.Threads() {
		t.Errorf("threads = %d counting, %d in full, want 1", counting.Threads(), full.Threads())
	}
	fullRec, countRec := filled(t, full), filled(t, counting)
	fp, ft := fullRec.Exits()
	cp, ct := countRec.Exits()
	if fp != 2 || ft != 1 || cp != fp || ct != ft {
		t.Errorf("exits = %d processes, %d threads counting; %d, %d in full; want 2, 1", cp, ct, fp, ft)
	}
	if evs := arrived(t, countRec); len(evs) != 0 {
		t.Errorf("counting recorder kept %d events: %+v", len(evs), evs)
	}
}
