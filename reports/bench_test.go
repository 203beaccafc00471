package reports

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/spawn"
	"github.com/spawntrace/spawntrace/analyze/summary"
	"github.com/spawntrace/spawntrace/tracer"
)

func benchDist(p50Ns uint64, n int) summary.Dist {
	return summary.Dist{N: n, SumNs: p50Ns * uint64(n), P50Ns: p50Ns, P90Ns: p50Ns, P99Ns: p50Ns, MaxNs: p50Ns}
}

// benchClasses are classes as a default bench run makes them, with the odd
// ones a recording of any workload can hold.
func benchClasses() []summary.Class {
	class := func(sig string, m spawn.Mechanism, rss uint64, env int, exe string, failed, n int,
		clone, cp, s2e, teardown, total uint64) summary.Class {
		c := summary.Class{
			ClassKey: summary.ClassKey{Signature: sig, Mechanism: m, RSSBucketBytes: summary.RSSBucket(rss),
				RSSKnown: true, EnvCount: env, Exe: exe, PathSearch: failed > 0},
			Count: n, RSSMedianBytes: rss, FailedExecs: failed,
			Clone: benchDist(clone, n), SpawnToExec: benchDist(s2e, n), Blocked: benchDist(clone/2, n),
		}
		if exe == "" {
			c.SpawnToExec = summary.Dist{}
		}
		if cp > 0 {
			c.Copy, c.Teardown = benchDist(cp, n), benchDist(teardown, n)
		}
		if total > 0 {
			c.Total = benchDist(total, n-1)
		}
		return c
	}
	const mib = 1 << 20
	unknown := class("", spawn.MechCloneVM, 0, 0, "", 0, 1, 90_000, 0, 0, 0, 0)
	unknown.RSSKnown = false
	return []summary.Class{
		class(spawn.SigGoExec, spawn.MechVfork, 4_800_000, 20, "/bin/true", 0, 200, 559_000, 0, 418_000, 0, 1_714_000),
		class(spawn.SigGoExec, spawn.MechVfork, 4_900_000, 20, "/usr/bin/true", 0, 200, 679_000, 0, 576_000, 0, 2_486_000),
		class(spawn.SigFork, spawn.MechFork, 5_000_000, 20, "/usr/bin/true", 600, 200, 155_000, 96_000, 552_000, 90_000, 1_804_000),
		class(spawn.SigFork, spawn.MechFork, 69*mib, 200, "/bin/true", 0, 200, 3_538_000, 3_452_000, 8_114_000, 4_049_000, 9_881_000),
		class(spawn.SigFork, spawn.MechFork, 1029*mib, 20, "/bin/true", 0, 200, 35_440_000, 35_310_000, 68_000_000, 36_310_000, 71_020_000),
		class(spawn.SigFork, spawn.MechFork, 12*1024*mib, 20, "/bin/true", 0, 3, 435_440_000, 425_310_000, 1_168_000_000, 436_310_000, 1_271_020_000),
		class(spawn.SigShellVfork, spawn.MechVfork, 1_600_000, 21, "/bin/true", 0, 200, 384_000, 0, 315_000, 0, 1_806_000),
		class(spawn.SigGlibcFork, spawn.MechFork, 900_000, 21, "/usr/bin/true", 600, 200, 149_000, 72_000, 643_000, 47_000, 1_981_000),
		class(spawn.SigPython+" (vfork)", spawn.MechVfork, 12*mib, 30, "/opt/a/very/long/prefix/bin/tool", 0, 7, 600_000, 0, 900_000, 0, 0),
		unknown,
	}
}

func benchRecording(copyTimed bool) *recording.Recording {
	p := tracer.Probe{Name: tracer.CopyProbe, Available: copyTimed}
	if !copyTimed {
		p.Reason = "mmap_lock tracepoints missing"
	}
	return &recording.Recording{Probes: []tracer.Probe{p, {Name: tracer.BlockedProbe, Available: true}}}
}

func TestClassTable(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteClassTable(&buf, benchRecording(true), benchClasses()); err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if len(line) > lineWidth {
			t.Errorf("line %d is %d columns wide, more than %d:\n%s", i+1, len(line), lineWidth, line)
		}
	}
	golden(t, "classes.golden", buf.Bytes())
}

// TestClassTableWholeNames: the longest spawner names are written whole,
// the exe column giving up the room, and every line still fits.
func TestClassTableWholeNames(t *testing.T) {
	classes := benchClasses()
	rust := classes[3]
	rust.Signature = spawn.SigRustFallback
	classes = append(classes, rust)
	var buf bytes.Buffer
	if err := WriteClassTable(&buf, benchRecording(true), classes); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"Rust std fork fallback ", "Python subprocess ", "...in/tool"} {
		if !strings.Contains(out, want) {
			t.Errorf("the table lacks %q:\n%s", want, out)
		}
	}
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if len(line) > lineWidth {
			t.Errorf("line %d is %d columns wide, more than %d:\n%s", i+1, len(line), lineWidth, line)
		}
		if strings.Contains(line, "~ ") {
			t.Errorf("line %d has a cut name:\n%s", i+1, line)
		}
	}
}

func TestClassTableCopyNotTimed(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteClassTable(&buf, benchRecording(false), benchClasses()[2:3]); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "copy and tear: not measured (mmap_lock tracepoints missing)") {
		t.Errorf("no reason given for the missing copy times:\n%s", buf.String())
	}
}

func TestClassTableEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteClassTable(&buf, benchRecording(true), nil); err != nil {
		t.Fatal(err)
	}
	golden(t, "classes_empty.golden", buf.Bytes())
}

func TestClassTableWriteError(t *testing.T) {
	err := WriteClassTable(failWriter{}, benchRecording(true), benchClasses())
	if !errors.Is(err, errFull) {
		t.Errorf("error = %v, want the writer's", err)
	}
}

func TestShortMs(t *testing.T) {
	for _, c := range []struct {
		ns   uint64
		want string
	}{
		{0, "0.000"}, {47_000, "0.047"}, {9_999_400, "9.999"}, {35_310_000, "35.31"},
		{435_310_000, "435.3"}, {1_271_020_000, "1271"}, {999_999_000_000, "999999"},
	} {
		if got := shortMs(benchDist(c.ns, 1)); got != c.want || len(got) > 6 {
			t.Errorf("shortMs(%d ns) = %q, want %q", c.ns, got, c.want)
		}
	}
	if got := shortMs(summary.Dist{}); got != "-" {
		t.Errorf("shortMs(no samples) = %q, want -", got)
	}
}

// TestClassTableWideNames: an exe of East Asian wide characters (two
// columns each) or with combining accents (none) is cut and padded by the
// columns a terminal gives it, so the columns after it stay aligned; they
// were counted a character each, and the rows of such classes came out 11
// columns too wide and 3 too narrow.
func TestClassTableWideNames(t *testing.T) {
	classes := benchClasses()[:3]
	classes[0].Exe = "/tmp/rt/wide/真真真真真真真真真真真真"
	classes[1].Exe = "/tmp/rt/wide/e\u0301e\u0301e\u0301"
	classes[2].Exe = "/x/真"
	var buf bytes.Buffer
	if err := WriteClassTable(&buf, benchRecording(true), classes); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(buf.String(), "\n")
	var rows []string
	for _, l := range lines {
		if strings.HasPrefix(l, "spawner ") || strings.HasPrefix(l, "Go os/exec ") || strings.HasPrefix(l, "fork() ") {
			rows = append(rows, l)
		}
	}
	if len(rows) != 4 {
		t.Fatalf("want the header and 3 rows:\n%s", buf.String())
	}
	// The RSS column ends at the same column in every row.
	want := displayWidth(rows[0][:strings.Index(rows[0], "RSS")+3])
	for _, r := range rows[1:] {
		f := strings.Fields(r)
		rss := f[len(f)-9] // RSS env PATH n clone copy exec tear total
		end := displayWidth(r[:strings.Index(r, " "+rss+" ")+1+len(rss)])
		if end != want {
			t.Errorf("RSS ends at column %d, the header's at %d:\n%s\n%s", end, want, rows[0], r)
		}
		if w := displayWidth(r); w > lineWidth {
			t.Errorf("row %d columns wide, more than %d:\n%s", w, lineWidth, r)
		}
	}
}

func TestDisplayWidth(t *testing.T) {
	for s, want := range map[string]int{"abc": 3, "真真": 4, "e\u0301": 1, "\\x1b[2J": 7, "한국어": 6, "": 0} {
		if got := displayWidth(s); got != want {
			t.Errorf("displayWidth(%q) = %d, want %d", s, got, want)
		}
	}
}
