package reports

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// anatomyRecording: a parent at 64 MiB, then 1 GiB, forks 3 times each
// (copy ~18 ms per GiB, as measured here), then posix_spawns 3 times
// through a 4-directory PATH.
func anatomyRecording() *recording.Recording {
	return anatomyRecordingOf([]uint64{64, 64, 64, 1024, 1024, 1024}, func(mib uint64, i int) uint64 {
		return mib*17_578 + uint64(i)*10_000 // ~18 ms per GiB
	})
}

// anatomyRecordingOf forks from parents of these sizes, each copy taking
// copyNs(mib, i), then posix_spawns as anatomyRecording does.
func anatomyRecordingOf(parentMiB []uint64, copyNs func(mib uint64, i int) uint64) *recording.Recording {
	rec := &recording.Recording{
		StartMonoNs: 1_000_000_000, EndMonoNs: 1_500_000_000,
		Host:     recording.Host{THPMode: "madvise"},
		Spawners: []recording.ProcessInfo{{Pid: 100, RSSBytes: 1 << 30}},
		Probes: []tracer.Probe{{Name: tracer.CopyProbe, Available: true}, {Name: tracer.BlockedProbe, Available: true},
			{Name: "syscalls:execveat", Reason: "disabled by --disable-probe"}},
	}
	t := uint64(1_000_000_000)
	child := int64(200)
	add := func(ev tracer.Event) {
		t += 1_000_000
		ev.TimeNs = t
		if ev.Pid == 0 {
			ev.Pid, ev.Tid, ev.Comm = 100, 100, "runner"
		}
		rec.Events = append(rec.Events, ev)
		t += ev.DurNs // the next event comes after this one returned
	}
	for i, mib := range parentMiB {
		copyNs := copyNs(mib, i)
		add(tracer.Event{Kind: tracer.KindSyscall, Nr: sysno.Clone, Ret: child, Args: []uint64{0x01200011, 0, 0, 0x7f00, 0, 0},
			DurNs: copyNs + 80_000, CopyNs: copyNs, BlockedNs: 10_000,
			Parent: &tracer.ParentSize{RSSAnonBytes: mib << 20, RSSFileBytes: 2 << 20, PgtablesBytes: mib << 11, MapCount: 30}})
		add(tracer.Event{Kind: tracer.KindSyscall, Nr: sysno.Execve, Pid: uint32(child), Tid: uint32(child),
			DurNs: 300_000 + copyNs/2, TeardownNs: copyNs / 2, Filename: "/bin/true", Argv: []string{"true"}, EnvCount: 20})
		child++
	}
	for i := 0; i < 3; i++ {
		add(tracer.Event{Kind: tracer.KindSyscall, Nr: sysno.Clone3, Ret: child, Args: []uint64{0x7ffc00, 88},
			Clone3: &tracer.Clone3Args{Flags: 0x4100, ExitSignal: 17, Stack: 0x7f0000, StackSize: 0x9000},
			DurNs:  900_000, BlockedNs: 850_000})
		for j := 0; j < 4; j++ {
			add(tracer.Event{Kind: tracer.KindSyscall, Nr: sysno.Execve, Pid: uint32(child), Tid: uint32(child),
				Ret: -2, DurNs: 1_500_000, Filename: "/usr/local/bin/sleep"})
		}
		add(tracer.Event{Kind: tracer.KindSyscall, Nr: sysno.Execve, Pid: uint32(child), Tid: uint32(child),
			DurNs: 400_000, Filename: "/usr/bin/sleep", EnvCount: 20})
		child++
	}
	return rec
}

func TestAnatomyGolden(t *testing.T) {
	rec := anatomyRecording()
	var b bytes.Buffer
	if err := WriteAnatomy(&b, rec, summarized(rec)); err != nil {
		t.Fatal(err)
	}
	golden(t, "anatomy.golden", b.Bytes())
}

func TestAnatomyUnmeasured(t *testing.T) {
	rec := anatomyRecording()
	rec.Probes = []tracer.Probe{{Name: tracer.CopyProbe, Reason: "tracepoint mmap_lock:mmap_lock_released not in kernel BTF"}}
	var b bytes.Buffer
	if err := WriteAnatomy(&b, rec, summarized(rec)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Address-space copy: not measured (tracepoint mmap_lock:mmap_lock_released not in kernel BTF)",
		"Blocked time: not measured"} {
		if !bytes.Contains(b.Bytes(), []byte(want)) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
	if bytes.Contains(b.Bytes(), []byte("address-space copy (dup_mmap)")) {
		t.Errorf("copy row shown although not measured:\n%s", b.String())
	}
}

func TestAnatomyWriteError(t *testing.T) {
	rec := anatomyRecording()
	if err := WriteAnatomy(failWriter{}, rec, summarized(rec)); err == nil {
		t.Error("no error writing to a full device")
	}
}

// Parents of 258 to 272 MiB (one workload, give or take its heap) whose
// copies take 4.5 to 5.5 ms in no order: a line through them (-28 ms per
// GiB, R² near 0) means nothing. The report says what was measured and
// predicts nothing, in text and in the page's scatter.
func TestAnatomySameSizeParents(t *testing.T) {
	rec := anatomyRecordingOf([]uint64{256, 270, 262, 258, 266, 260}, func(_ uint64, i int) uint64 {
		return []uint64{5_000_000, 4_500_000, 5_500_000, 4_800_000, 5_200_000, 5_000_000}[i]
	})
	sum := summarized(rec)
	if ok, _ := sum.Fit.Usable(); ok {
		t.Fatalf("fit %+v usable", sum.Fit)
	}
	var b bytes.Buffer
	if err := WriteAnatomy(&b, rec, sum); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	if want := "copy 5.00 ms per fork at 264 MiB (mean of 6 forks); no per-GiB fit: parents all about the same size"; !strings.Contains(text, want) {
		t.Errorf("output lacks %q:\n%s", want, text)
	}
	page := string(writtenHTML(t, rec, HTMLHeading{}))
	for what, out := range map[string]string{"text": text, "page": page} {
		for _, bad := range []string{"ms per GiB", "R²", "would copy", "GiB parent: ~"} {
			if strings.Contains(out, bad) {
				t.Errorf("%s holds %q", what, bad)
			}
		}
	}
	sc := svgParts(t, []byte(page))[scatterTitle]
	if sc == nil {
		t.Fatalf("no scatter titled %q", scatterTitle)
	}
	if n, m := len(sc.all("line", "fit")), len(sc.all("circle", "pred")); n != 0 || m != 0 {
		t.Errorf("scatter: %d fit lines and %d predictions, want none", n, m)
	}
}

// TestWrapCountsColumnsNotBytes: a line of prose with "µs" (two bytes, one
// column) in every word fills the terminal's width, not less.
func TestWrapCountsColumnsNotBytes(t *testing.T) {
	var b strings.Builder
	w := newTermWriter(&b)
	wrap(w, "  ", strings.Repeat("9µs ", 60))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	for i, l := range lines {
		n := utf8.RuneCountInString(l)
		if n > lineWidth {
			t.Errorf("line %d is %d columns, over %d: %q", i, n, lineWidth, l)
		}
		if i < len(lines)-1 && n < lineWidth-4 {
			t.Errorf("line %d is %d columns, where %d fit: %q", i, n, lineWidth, l)
		}
	}
}
