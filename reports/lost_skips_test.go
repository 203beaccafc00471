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
	wantEv := "B lost 8 events (5 events dropped on a full ring buffer, up to 2 page-table copies or exec teardowns not " +
		"timed: the kernel skipped its program on mmap_lock:mmap_lock_released, up to 1 exec not recorded: the kernel " +
		"skipped its program on sched:sched_process_exec): its spawns and per-spawn numbers are incomplete, so this " +
		"comparison is weaker; record again with a larger --ring-bytes"
	if ev != wantEv {
		t.Errorf("compare finding\n got %q\nwant %q", ev, wantEv)
	}
}

// TestCompareLostSaysWhatReportSays: for each kind of loss, compare's
// finding on a side that lost events words them as report's "lost events"
// line of the same recording does, the 32-bit calls --spawns-only missed
// included.
func TestCompareLostSaysWhatReportSays(t *testing.T) {
	for name, l := range map[string]tracer.Lost{
		"ring buffer":    {Events: 7},
		"syscall slots":  {SyscallSlots: 2},
		"spawn slots":    {SpawnSlots: 1},
		"tracked limits": {TrackedLimits: 4},
		"32-bit calls":   {CompatCalls: 3},
		"skips":          skipsLost(),
		"all":            {Events: 1, SyscallSlots: 2, SpawnSlots: 3, TrackedLimits: 4, CompatCalls: 5, Skipped: skipsLost().Skipped},
	} {
		rec := countRecording()
		rec.Lost = l
		var buf bytes.Buffer
		if err := WriteCountReport(&buf, rec); err != nil {
			t.Fatal(err)
		}
		_, line, ok := strings.Cut(buf.String(), "spawntrace: lost events: ")
		line, _, _ = strings.Cut(line, "\n")
		if !ok || !strings.HasSuffix(line, ")") {
			t.Fatalf("%s: report has no lost events line with its kinds:\n%s", name, buf.String())
		}
		_, ev := FindingText(&compare.Comparison{}, &compare.CompareFinding{ID: compare.IDLostEvents, Subject: "B", Lost: &l})
		total, kinds, _ := strings.Cut(line, " ")
		if want := "B lost " + total + " events " + kinds + ": "; !strings.HasPrefix(ev, want) {
			t.Errorf("%s: compare says\n%s\nreport says\n%s", name, ev, line)
		}
	}
	l := tracer.Lost{CompatCalls: 2}
	_, ev := FindingText(&compare.Comparison{}, &compare.CompareFinding{ID: compare.IDLostEvents, Subject: "B", Lost: &l})
	if !strings.Contains(ev, "2 32-bit spawn calls made before spawntrace attached its 32-bit path") {
		t.Errorf("compare's finding does not name the 32-bit calls: %s", ev)
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
