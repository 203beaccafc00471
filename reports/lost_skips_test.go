package reports

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/compare"
	"github.com/spawntrace/spawntrace/tracer"
)

// skipsLost is what a 7.x run may lose to the kernel's skips: two copies'
// times (the kernel skipped on_lock_released and its second alike) and
// one exec.
func skipsLost() tracer.Lost {
	return tracer.Lost{Skipped: []tracer.Skip{
		{Prog: "on_lock_released", Point: "mmap_lock:mmap_lock_released", Measure: tracer.SkipCopies, Runs: 2},
		{Prog: "on_exec", Point: "sched:sched_process_exec", Measure: tracer.SkipExecs, Runs: 1},
	}}
}

// TestLostSkipsWorded: runs the kernel skipped, with no second program to
// make up for them, are lost events of the summary, its warning and the
// comparison, worded as the measurement each leaves out.
func TestLostSkipsWorded(t *testing.T) {
	rec := countRecording()
	rec.Lost = skipsLost()
	var buf bytes.Buffer
	if err := WriteCountReport(&buf, rec); err != nil {
		t.Fatal(err)
	}
	const line = "spawntrace: lost events: 3 (up to 2 page-table copies or exec teardowns not timed: the kernel skipped its " +
		"program on mmap_lock:mmap_lock_released, up to 1 exec not recorded: the kernel skipped its program on " +
		"sched:sched_process_exec)\n"
	if !strings.Contains(buf.String(), line) {
		t.Errorf("summary lacks\n%s\ngot\n%s", line, buf.String())
	}

	buf.Reset()
	if err := WriteLostWarning(&buf, rec.Lost); err != nil {
		t.Fatal(err)
	}
	want := "spawntrace: warning: " + strings.TrimPrefix(strings.TrimSuffix(line, "\n"), "spawntrace: ") +
		"; counts and spawns are incomplete\n"
	if buf.String() != want {
		t.Errorf("warning\n got %q\nwant %q", buf.String(), want)
	}

	// Times alone: the counts and spawns are whole, and the line says so.
	buf.Reset()
	times := tracer.Lost{Events: 0, Skipped: rec.Lost.Skipped[:1]}
	if err := WriteLostWarning(&buf, times); err != nil {
		t.Fatal(err)
	}
	want = "spawntrace: warning: lost events: 2 (up to 2 page-table copies or exec teardowns not timed: the kernel " +
		"skipped its program on mmap_lock:mmap_lock_released); counts and spawns are whole, those times are not\n"
	if buf.String() != want {
		t.Errorf("warning of times alone\n got %q\nwant %q", buf.String(), want)
	}

	l := skipsLost()
	l.Events = 5
	_, ev := FindingText(&compare.Comparison{}, &compare.CompareFinding{ID: compare.IDLostEvents, Subject: "B", Lost: &l})
	wantEv := "B lost 8 events (5 dropped on a full ring buffer, 0 syscalls not timed, 0 spawn calls not paired, " +
		"0 processes not followed, up to 2 page-table copies or exec teardowns not timed: the kernel skipped its " +
		"program on mmap_lock:mmap_lock_released, up to 1 exec not recorded: the kernel skipped its program on " +
		"sched:sched_process_exec): its spawns and per-spawn numbers are incomplete, so this comparison is weaker; " +
		"record again with a larger --ring-bytes"
	if ev != wantEv {
		t.Errorf("compare finding\n got %q\nwant %q", ev, wantEv)
	}
}

// TestLostSkipsEscaped: a recording's tracepoint names reach a terminal
// escaped, and a measurement this build does not know is still counted.
func TestLostSkipsEscaped(t *testing.T) {
	l := tracer.Lost{Skipped: []tracer.Skip{{Prog: "x", Point: "evil\x1b[2Jpoint", Measure: "from-the-future", Runs: 1}}}
	var buf bytes.Buffer
	if err := WriteLostWarning(&buf, l); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "\x1b") || !strings.Contains(buf.String(), "lost events: 1 (up to 1 run of a program not made") {
		t.Errorf("warning %q", buf.String())
	}
}
