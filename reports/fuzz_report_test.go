package reports

// Fuzz tests of what `spawntrace report` and `spawntrace compare` do with a
// recording file: decode it, then run every writer. Whatever the bytes, no
// writer may panic or hang, every error is one line, a write error is
// returned (never swallowed), no number prints as NaN or Inf, event lines
// are escaped as strace escapes them, and a profile that is written
// parses. FuzzReportEvent and FuzzCompareEvent change the values of a
// real-looking recording instead of its bytes, which random bytes rarely
// get past the JSON decoder to do. The seeds are the hand-built recordings
// of this package's tests and real recordings in testdata/fuzz/Fuzz*/
// (mixed spawns with CPU samples, a lossy storm, gzipped, hostile names,
// probes disabled, a huge argv).
//
//	go test ./reports -run '^$' -fuzz '^FuzzReport$' -fuzztime 60s -fuzzminimizetime 5s
//	go test ./reports -run '^$' -fuzz '^FuzzCompare$' -fuzztime 60s -fuzzminimizetime 5s
//
// (minimizing each new input takes up to a minute by default, during which
// the fuzzer reports 0 execs/sec; -fuzzminimizetime keeps the time for
// fuzzing.)

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"github.com/spawntrace/spawntrace/analyze/fixture"
	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/syscalls"
	"github.com/spawntrace/spawntrace/tracer"
)

// fuzzRecordings are the hand-built recordings of this package's tests.
func fuzzRecordings() []*recording.Recording {
	laptop := fixture.Spawns{Host: recording.Host{Hostname: "laptop", CPUs: 8}, N: 5, CloneNs: 40_000, BlockedNs: 30_000,
		ExecNs: 30_000, S2ENs: 64_000, RSSBytes: 1 << 30, Env: 20, IntervalNs: 64_000}
	cluster := fixture.Spawns{Host: recording.Host{Hostname: "node", CPUs: 128}, Fork: true, Rust: true, N: 4, Failed: 2,
		CloneNs: 490_000, CopyNs: 400_000, TeardownNs: 60_000, ExecNs: 80_000, FailedNs: 5_000, S2ENs: 580_000,
		RSSBytes: 1 << 30, Env: 200, IntervalNs: 580_000, Lost: tracer.Lost{Events: 12, SpawnSlots: 1}}
	recs := []*recording.Recording{
		anatomyRecording(), stackRecording(), countRecording(), benchRecording(true), benchRecording(false),
		fixture.Recording(laptop), fixture.Recording(cluster),
	}
	for _, r := range recs {
		if r.EndMonoNs < r.StartMonoNs {
			r.EndMonoNs = r.StartMonoNs
		}
	}
	return recs
}

func fuzzEncode(tb testing.TB, rec *recording.Recording) []byte {
	tb.Helper()
	var b bytes.Buffer
	if err := recording.Encode(&b, rec); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// fuzzWithin runs fn, failing the test if it has not returned after d (a
// hang). A panic in fn crashes the test binary, which the fuzzer records
// as a failing input.
func fuzzWithin(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s: still running after %v (a hang)", what, d)
	}
}

// fuzzOneLine fails when err spans more than one line.
func fuzzOneLine(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil && strings.ContainsAny(err.Error(), "\n\r") {
		t.Errorf("%s: error is not one line: %q", what, err)
	}
}

// errBudget is the error of budgetWriter.
var errBudget = errors.New("budget writer: no space left")

// budgetWriter accepts n bytes, then fails every write.
type budgetWriter struct{ n int }

func (w *budgetWriter) Write(p []byte) (int, error) {
	if len(p) <= w.n {
		w.n -= len(p)
		return len(p), nil
	}
	k := w.n
	w.n = 0
	return k, errBudget
}

// fuzzWriter is one writer of a recording, as report, compare or bench use it.
type fuzzWriter struct {
	name  string
	write func(io.Writer) error
	// check looks at a complete output (the write returned nil).
	check func(t *testing.T, out []byte)
}

// nonFiniteRe finds a NaN or infinity printed as a number.
var nonFiniteRe = regexp.MustCompile(`\b(NaN|[+-]?Inf)\b`)

// printedText is what an output prints: itself, or a gzipped profile's
// strings one a line (its compressed bytes are no text: they may hold
// "NaN" by chance).
func printedText(t *testing.T, name string, out []byte) []byte {
	if !bytes.HasPrefix(out, []byte{0x1f, 0x8b}) {
		return out
	}
	p, err := profile.ParseData(out)
	if err != nil {
		t.Errorf("%s: a gzipped output that is no profile: %v", name, err)
		return nil
	}
	lines := append([]string{p.DefaultSampleType}, p.Comments...)
	for _, st := range p.SampleType {
		lines = append(lines, st.Type, st.Unit)
	}
	for _, s := range p.Sample {
		for k, vs := range s.Label {
			lines = append(append(lines, k), vs...)
		}
		for k, units := range s.NumUnit {
			lines = append(append(lines, k), units...)
		}
	}
	for _, f := range p.Function {
		lines = append(lines, f.Name, f.SystemName, f.Filename)
	}
	for _, m := range p.Mapping {
		lines = append(lines, m.File, m.BuildID)
	}
	return []byte(strings.Join(lines, "\n"))
}

// checkWriters runs each writer into a buffer (its output must hold no
// NaN or infinity), then again into a writer that fails partway (at a
// point that depends on the input): an output that did not fit must be
// reported as an error.
func checkWriters(t *testing.T, seed int, ws []fuzzWriter) {
	t.Helper()
	for _, w := range ws {
		var buf bytes.Buffer
		var err error
		fuzzWithin(t, 20*time.Second, w.name, func() { err = w.write(&buf) })
		fuzzOneLine(t, w.name, err)
		if err != nil {
			continue
		}
		text := printedText(t, w.name, buf.Bytes())
		if m := nonFiniteRe.Find(text); m != nil {
			i := bytes.Index(text, m)
			lo := bytes.LastIndexByte(text[:i], '\n') + 1
			t.Errorf("%s: prints a non-finite number %q: %q", w.name, m, text[lo:min(len(text), i+40)])
		}
		if w.check != nil {
			w.check(t, buf.Bytes())
		}
		if buf.Len() == 0 {
			continue
		}
		budget := seed % buf.Len()
		var ferr error
		fuzzWithin(t, 20*time.Second, w.name+" (failing writer)", func() { ferr = w.write(&budgetWriter{n: budget}) })
		fuzzOneLine(t, w.name+" (failing writer)", ferr)
		if ferr == nil {
			t.Errorf("%s: writes %d bytes, but returned no error when the writer failed after %d", w.name, buf.Len(), budget)
		}
	}
}

// checkProfile parses a written profile back, as go tool pprof would.
func checkProfile(t *testing.T, out []byte) {
	t.Helper()
	p, err := profile.ParseData(out)
	if err != nil {
		t.Errorf("written profile does not parse: %v", err)
		return
	}
	if err := p.CheckValid(); err != nil {
		t.Errorf("written profile is not valid: %v", err)
	}
}

// checkEventLines: strace-form lines are printable ASCII, each ending in a
// newline (every other byte is escaped, as strace does).
func checkEventLines(t *testing.T, out []byte) {
	t.Helper()
	for i, c := range out {
		if (c < ' ' && c != '\n') || c >= 0x7f {
			lo := bytes.LastIndexByte(out[:i], '\n') + 1
			t.Errorf("event lines: raw byte %#x at %d: %q", c, i, out[lo:min(len(out), i+20)])
			return
		}
	}
	if len(out) > 0 && out[len(out)-1] != '\n' {
		t.Errorf("event lines: the last line has no newline")
	}
}

// reportWriters are the writers of `spawntrace report` (and record), of
// the bench class table, and of --pprof, for one recording.
func reportWriters(rec *recording.Recording) []fuzzWriter {
	sum := summarized(rec)
	return []fuzzWriter{
		{"WriteLostWarning", func(w io.Writer) error { return WriteLostWarning(w, rec.Lost) }, nil},
		{"WriteCountReport", func(w io.Writer) error { return WriteCountReport(w, rec) }, nil},
		{"WriteSyscallTable", func(w io.Writer) error { return WriteSyscallTable(w, rec.Syscalls) }, nil},
		{"WriteEventLines", func(w io.Writer) error { return WriteEventLines(w, rec) }, checkEventLines},
		{"WriteSpawnSection", func(w io.Writer) error { return WriteSpawnSection(w, sum, 10) }, nil},
		{"WriteSpawnSection(0)", func(w io.Writer) error { return WriteSpawnSection(w, sum, 0) }, nil},
		{"WriteAnatomy", func(w io.Writer) error { return WriteAnatomy(w, rec, sum) }, nil},
		{"WriteClassTable", func(w io.Writer) error { return WriteClassTable(w, rec, sum.Classes) }, nil},
		{"WriteHTML", func(w io.Writer) error { return WriteHTML(w, rec, sum, HTMLHeading{}) }, checkHTML},
		{"WriteSpawnProfile", func(w io.Writer) error { return WriteSpawnProfile(w, rec, sum) }, checkProfile},
		{"WriteCPUProfile", func(w io.Writer) error { return WriteCPUProfile(w, rec) }, checkProfile},
		{"SpawnStackNote", func(w io.Writer) error {
			st, err := sum.SpawnStacks(rec)
			if err != nil {
				return err
			}
			_, err = io.WriteString(w, SpawnStackNote(st))
			return err
		}, nil},
	}
}

// fuzzDecode decodes data as report does; nil with a one-line error when
// it is not a recording.
func fuzzDecode(t *testing.T, data []byte) *recording.Recording {
	t.Helper()
	var rec *recording.Recording
	var err error
	fuzzWithin(t, 20*time.Second, "Decode", func() { rec, err = recording.Decode(bytes.NewReader(data)) })
	if err != nil {
		fuzzOneLine(t, "Decode", err)
		return nil
	}
	return rec
}

// FuzzReport: a recording file through every report writer.
func FuzzReport(f *testing.F) {
	for _, rec := range fuzzRecordings() {
		f.Add(fuzzEncode(f, rec))
	}
	f.Add([]byte(`{"format":"spawntrace-recording","schema":1}`))
	f.Add([]byte(`{"format":"spawntrace-recording","schema":1,"start_mono_ns":1,"end_mono_ns":2,` +
		`"events":[{"kind":"syscall","nr":56,"ret":7,"args":[17]},{"kind":"syscall","nr":59,"tid":7,"pid":7,"filename":"\u00ff\n"},` +
		`{"kind":"exit","tid":7,"pid":7,"exit_code":9,"group_dead":true}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rec := fuzzDecode(t, data)
		if rec == nil {
			return
		}
		var ws []fuzzWriter
		fuzzWithin(t, 20*time.Second, "Summarize", func() { ws = reportWriters(rec) })
		checkWriters(t, len(data)*7919, ws)
	})
}

// fuzzEdit is one change to a seed recording, for the structure-aware fuzz
// targets: random bytes rarely get past the JSON decoder, so these change
// the values a real recording holds (an event, a syscall row, the stacks)
// and go through Encode and Decode as a file would.
type fuzzEdit struct {
	seed, at, kind uint8
	nr             int16
	ret            int64
	timeNs, durNs  uint64
	pid, tid       uint32
	copyNs, rss    uint64
	flags          uint64
	name           string
	argc           int16
	calls, errs    uint64
	stackID        int16
	sampleHz       int32
}

// apply builds the seed recording and makes the change.
func (e fuzzEdit) apply(recs []*recording.Recording) *recording.Recording {
	rec := recs[int(e.seed)%len(recs)]
	ev := tracer.Event{
		Kind: tracer.Kind(e.kind % 6), Nr: int(e.nr), Ret: e.ret, TimeNs: e.timeNs, DurNs: e.durNs,
		Pid: e.pid, Tid: e.tid, PPid: e.pid / 2, Comm: e.name,
		Args:   []uint64{e.flags, e.copyNs, e.rss, 0, e.flags >> 3, 0},
		CopyNs: e.copyNs, CopyOffCPUNs: e.copyNs / 3, LockStallNs: e.durNs / 5, BlockedNs: e.durNs / 2, TeardownNs: e.copyNs / 2,
		StackID:  int(e.stackID),
		ChildTid: uint32(e.ret), ChildPid: uint32(e.ret), Thread: e.flags&1 != 0, OldTid: e.tid / 2,
		ExitCode: int32(e.ret), GroupDead: e.flags&2 != 0,
		Filename: e.name, NameUnread: e.flags&4 != 0, ArgvTruncated: e.flags&8 != 0, Argc: int(e.argc),
		EnvCount: int(e.argc) * 3, EnvBytes: int(e.argc) * 40,
	}
	if e.flags&16 == 0 {
		ev.Parent = &tracer.ParentSize{RSSAnonBytes: e.rss, RSSFileBytes: e.rss / 7, PgtablesBytes: e.rss >> 9, MapCount: int(e.argc)}
	}
	if e.flags&32 == 0 {
		ev.Clone3 = &tracer.Clone3Args{Flags: e.flags, ExitSignal: e.flags >> 32, Stack: e.copyNs, StackSize: e.rss}
	}
	if e.flags&64 == 0 {
		ev.Argv = []string{e.name, strings.Repeat(e.name, int(e.argc)&7)}
	}
	if e.flags&128 != 0 {
		ev.Fds = []int32{int32(e.ret), int32(e.nr)}
	}
	at := int(e.at) % (len(rec.Events) + 1)
	abi := tracer.ABI(e.flags >> 8 & 1) // a 32-bit call, or row, now and then
	ev.ABI = abi
	rec.Events = append(rec.Events[:at], append([]tracer.Event{ev}, rec.Events[at:]...)...)
	rec.Syscalls = append(rec.Syscalls, recording.SyscallStat{ABI: abi, Nr: int(e.nr), Name: syscalls.SyscallName(abi, int(e.nr)),
		Calls: e.calls, Errors: e.errs, TimeNs: e.durNs})
	rec.Lost.Events += e.calls >> 40
	if e.sampleHz != 0 {
		rec.SampleHz = int(e.sampleHz)
		rec.CPUSamples = append(rec.CPUSamples, recording.CPUSample{Pid: e.pid, Comm: e.name, StackID: int(e.stackID), Count: int(e.argc)})
	}
	if e.flags&256 != 0 {
		rec.Spawners = append(rec.Spawners, recording.ProcessInfo{Pid: e.pid, Comm: e.name, RSSBytes: e.rss, AnonHugeBytes: e.copyNs})
	}
	if e.flags&512 != 0 {
		rec.StartMonoNs, rec.EndMonoNs = e.timeNs, e.timeNs+e.durNs
	}
	return rec
}

// fuzzEdited encodes the edited recording and decodes it as report does:
// nil when Decode rejects it (with a one-line error).
func fuzzEdited(t *testing.T, e fuzzEdit) *recording.Recording {
	t.Helper()
	rec := e.apply(fuzzRecordings())
	var b bytes.Buffer
	if err := recording.Encode(&b, rec); err != nil {
		fuzzOneLine(t, "Encode", err)
		return nil
	}
	return fuzzDecode(t, b.Bytes())
}

func fuzzAddEdits(f *testing.F, add func(e fuzzEdit)) {
	add(fuzzEdit{seed: 0, at: 3, kind: 1, nr: 56, ret: 9000, timeNs: 1_200_000_000, durNs: 5_000_000, pid: 100, tid: 100,
		copyNs: 4_000_000, rss: 2 << 30, flags: 0x01200011, name: "/bin/true", argc: 1, calls: 4, errs: 1})
	add(fuzzEdit{seed: 1, at: 1, kind: 1, nr: 435, ret: 301, timeNs: 1_100_000_000, durNs: 900_000, pid: 100, tid: 100,
		flags: 0x4100 | 17<<32, name: "runner", calls: 1, stackID: 2, sampleHz: 999})
	add(fuzzEdit{seed: 2, kind: 4, ret: 9, pid: 12, tid: 12, flags: 2, name: "x\xff\n"})
	add(fuzzEdit{seed: 3, kind: 1, nr: 59, ret: -2, pid: 5, tid: 5, name: "/usr/local/bin/sleep", argc: 40, flags: 8})
	add(fuzzEdit{seed: 5, at: 200, kind: 1, nr: 53, ret: 0, pid: 100, tid: 100, flags: 128 | 1, calls: 1 << 41})
	add(fuzzEdit{seed: 6, at: 2, kind: 3, nr: 59, pid: 1001, tid: 1001, name: "/opt/bin/true", flags: 512, timeNs: 1 << 62, durNs: 1 << 62})
}

// FuzzReportEvent: a seed recording with one event and one syscall row
// changed, through every report writer.
func FuzzReportEvent(f *testing.F) {
	fuzzAddEdits(f, func(e fuzzEdit) {
		f.Add(e.seed, e.at, e.kind, e.nr, e.ret, e.timeNs, e.durNs, e.pid, e.tid, e.copyNs, e.rss, e.flags, e.name, e.argc,
			e.calls, e.errs, e.stackID, e.sampleHz)
	})
	f.Fuzz(func(t *testing.T, seed, at, kind uint8, nr int16, ret int64, timeNs, durNs uint64, pid, tid uint32,
		copyNs, rss, flags uint64, name string, argc int16, calls, errs uint64, stackID int16, sampleHz int32) {
		rec := fuzzEdited(t, fuzzEdit{seed, at, kind, nr, ret, timeNs, durNs, pid, tid, copyNs, rss, flags, name, argc,
			calls, errs, stackID, sampleHz})
		if rec == nil {
			return
		}
		var ws []fuzzWriter
		fuzzWithin(t, 20*time.Second, "Summarize", func() { ws = reportWriters(rec) })
		checkWriters(t, int(seed)*131+int(at)*7+len(name), ws)
	})
}
