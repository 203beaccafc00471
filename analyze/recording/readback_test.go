package recording_test

// These tests read recordings back (spilled, loaded, out of order) and
// check what a summary of them shows: the same as of the events in memory.

import (
	"bytes"
	"cmp"
	"errors"
	"flag"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spawntrace/spawntrace/analyze/compare"
	"github.com/spawntrace/spawntrace/analyze/internal/spill"
	"github.com/spawntrace/spawntrace/analyze/internal/synth"
	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/spawn"
	"github.com/spawntrace/spawntrace/analyze/summary"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

func savedSynth(t testing.TB, n int, name string) string {
	t.Helper()
	return savedSynthIn(t, t.TempDir(), n, name)
}

func savedSynthIn(t testing.TB, dir string, n int, name string) string {
	t.Helper()
	r := recording.NewTestRecorder(t)
	synth.Spawns(n, func(ev *tracer.Event) {
		if err := r.Add(ev); err != nil {
			t.Fatal(err)
		}
	})
	rec := recording.Filled(t, r)
	rec.StartMonoNs, rec.EndMonoNs = 1e12, 1e12+uint64(n)*1e6
	path := filepath.Join(dir, name)
	if err := recording.SaveFile(path, rec); err != nil {
		t.Fatal(err)
	}
	rec.Close()
	return path
}

func TestLoadMemoryDoesNotGrow(t *testing.T) {
	if testing.Short() {
		t.Skip("300k spawns saved and loaded")
	}
	const maxLoadedBytes = 1 << 20 // the spill's write buffer and the order check's window, whatever n
	held := map[int]int64{}
	for _, n := range []int{100_000, 200_000} {
		path := savedSynth(t, n, "run.json") // not gzipped: the test is slow enough
		before := synth.HeapInUse()
		start := time.Now()
		rec, err := recording.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		held[n] = int64(synth.HeapInUse()) - int64(before)
		if rec.SortedLate() != 0 || !recording.Spilled(rec) {
			t.Fatalf("%d spawns as -w writes them: %d late events, sorted", n, rec.SortedLate())
		}
		sum, err := summary.Summarize(rec)
		if err != nil || sum.SpawnCount() != n || rec.LateEvents() != 0 {
			t.Fatalf("%d spawns: summary of %d (%v), %d late", n, sum.SpawnCount(), err, rec.LateEvents())
		}
		t.Logf("%d spawns: %d events; the loaded recording holds %d bytes; Load %v", n, recording.SpilledEvents(rec), held[n], took)
		if held[n] > maxLoadedBytes {
			t.Errorf("%d spawns: the loaded recording holds %d bytes, want at most %d", n, held[n], maxLoadedBytes)
		}
		runtime.KeepAlive(rec)
		sum.Close()
		rec.Close()
	}
	if grown := held[200_000] - held[100_000]; grown > 256<<10 {
		t.Errorf("twice the spawns: the loaded recording holds %d bytes more, want it the same", grown)
	}
}

func TestLoadOutOfOrder(t *testing.T) {
	const n = 6_000 // 36k events: more than recording.ReorderWindow
	var evs []tracer.Event
	synth.Spawns(n, func(ev *tracer.Event) { evs = append(evs, *recording.KeptCopy(ev)) })
	slices.SortStableFunc(evs, func(a, b tracer.Event) int { return cmp.Compare(a.TimeNs, b.TimeNs) })
	if len(evs) <= recording.ReorderWindow {
		t.Fatalf("%d events: not more than the window", len(evs))
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	near := slices.Clone(evs) // shuffled in blocks of 1000: within the window
	for i := 0; i < len(near); i += 1000 {
		b := near[i:min(i+1000, len(near))]
		rnd.Shuffle(len(b), func(i, j int) { b[i], b[j] = b[j], b[i] })
	}
	far := slices.Clone(evs) // the whole file shuffled
	rnd.Shuffle(len(far), func(i, j int) { far[i], far[j] = far[j], far[i] })
	slices.Reverse(far[:100]) // and some of the earliest last
	far = append(far[100:], far[:100]...)

	load := func(name string, evs []tracer.Event) *recording.Recording {
		rec := &recording.Recording{StartMonoNs: 1e12, EndMonoNs: 1e12 + n*1e6, Events: evs}
		path := filepath.Join(t.TempDir(), name)
		if err := recording.SaveFile(path, rec); err != nil {
			t.Fatal(err)
		}
		got, err := recording.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { got.Close() })
		return got
	}
	sorted := load("sorted.json", evs)
	want := timeOrder(t, sorted)
	wantSum := summarized(t, sorted)
	wantRows := rowsOf(t, &wantSum)
	for _, c := range []struct {
		name       string
		evs        []tracer.Event
		sortedLate bool
		runBytes   int // sortRunBytes: small for many runs to merge
	}{{"sorted", evs, false, 0}, {"near", near, false, 0}, {"far", far, true, 0}, {"far in 64 KiB runs", far, true, 64 << 10}} {
		// JSON, and binary, whose events are read in place (sorted into a
		// spill when far out of order).
		for _, ext := range []string{".json", ".strec"} {
			t.Run(c.name+ext, func(t *testing.T) {
				if c.runBytes > 0 {
					defer recording.SetSortRunBytes(c.runBytes)()
				}
				rec := load(c.name+ext, c.evs)
				if (rec.SortedLate() > 0) != c.sortedLate {
					t.Errorf("%d late events sorted first, want sorted: %v", rec.SortedLate(), c.sortedLate)
				}
				if got := timeOrder(t, rec); !reflect.DeepEqual(got, want) {
					t.Errorf("events read back in another order than sorted")
				}
				sum := summarized(t, rec)
				rows := rowsOf(t, &sum)
				if !sameSummary(&sum, &wantSum) || !reflect.DeepEqual(rows, wantRows) || rec.LateEvents() != 0 {
					t.Errorf("summary differs from the sorted file's (%d late)", rec.LateEvents())
				}
			})
		}
	}
}

func timeOrder(t *testing.T, rec *recording.Recording) []tracer.Event {
	t.Helper()
	var out []tracer.Event
	if err := rec.EachEvent(func(ev *tracer.Event) error { out = append(out, *recording.KeptCopy(ev)); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSpillMemoryPerSpawn(t *testing.T) {
	if testing.Short() {
		t.Skip("200k spawns")
	}
	const n = 200_000
	// What a row in memory took: 232 bytes of Spawn + 48 of its
	// ParentSize. The recorder itself holds two 64 KiB write buffers,
	// whatever n.
	const maxRecorderBytes = 1 << 20
	const maxBytesPerSpawn = 300

	before := synth.HeapInUse()
	r := recording.NewTestRecorder(t)
	synth.Spawns(n, func(ev *tracer.Event) {
		if err := r.Add(ev); err != nil {
			t.Fatal(err)
		}
	})
	whileRecording := synth.HeapInUse()
	rec := recording.Filled(t, r)
	start := time.Now()
	sum, err := summary.Summarize(rec)
	took := time.Since(start)
	after := synth.HeapInUse()
	if err != nil {
		t.Fatal(err)
	}
	if sum.SpawnCount() != n {
		t.Fatalf("%d spawns, want %d", sum.SpawnCount(), n)
	}
	recBytes := int64(whileRecording) - int64(before)
	perSpawn := float64(int64(after)-int64(before)) / n
	t.Logf("%d spawns: recorder %d bytes while recording; %.0f bytes/spawn with the summary; Summarize %v; spill %d bytes (%.0f/spawn)",
		n, recBytes, perSpawn, took, recording.SpillBytes(rec), float64(recording.SpillBytes(rec))/n)
	if recBytes > maxRecorderBytes {
		t.Errorf("the recorder holds %d bytes after %d spawns, want at most %d", recBytes, n, maxRecorderBytes)
	}
	if perSpawn > maxBytesPerSpawn {
		t.Errorf("%.0f bytes per spawn with the summary, want at most %d", perSpawn, maxBytesPerSpawn)
	}
	runtime.KeepAlive(sum)
}

func TestSpilledSummaryMatchesMemory(t *testing.T) {
	const n = 50_000
	r := recording.NewTestRecorder(t)
	synth.Spawns(n, func(ev *tracer.Event) { r.Add(ev) })
	spilled := recording.Filled(t, r)
	spilled.StartMonoNs, spilled.EndMonoNs = 1e12, 1e12+n*1e6
	inMemory := &recording.Recording{StartMonoNs: spilled.StartMonoNs, EndMonoNs: spilled.EndMonoNs, Events: recording.Arrived(t, spilled)}

	got, want := summarized(t, spilled), summarized(t, inMemory)
	gotRows, wantRows := rowsOf(t, &got), rowsOf(t, &want)
	if !sameSummary(&got, &want) || !reflect.DeepEqual(gotRows, wantRows) {
		t.Errorf("summaries differ: spilled %d spawns %+v, in memory %d %+v", len(gotRows), got.Stats, len(wantRows), want.Stats)
	}
	if sp := gotRows[0]; sp.Exe != "/usr/bin/true" || !sp.ExecOK || sp.FailedExecs != 1 || sp.Signature != spawn.SigPython+" (vfork)" {
		t.Errorf("first spawn = %+v, want a Python vfork of /usr/bin/true after a failed exec", sp)
	}
	if got.Processes != n+1 || spilled.LateEvents() != 0 {
		t.Errorf("processes = %d, late = %d; want %d and 0", got.Processes, spilled.LateEvents(), n+1)
	}
}

func TestVforkCallAfterItsChildsExec(t *testing.T) {
	build := func(between int) *recording.Recording {
		r := recording.NewTestRecorder(t)
		// The child's PATH search and exec, at 110-130 µs.
		r.Add(&tracer.Event{Kind: tracer.KindSyscall, Nr: sysno.Execve, TimeNs: 110_000, DurNs: 5_000, Tid: 11, Pid: 11, Ret: -2})
		r.Add(&tracer.Event{Kind: tracer.KindExec, TimeNs: 125_000, Tid: 11, Pid: 11, Filename: "/usr/bin/true"})
		r.Add(&tracer.Event{Kind: tracer.KindSyscall, Nr: sysno.Execve, TimeNs: 120_000, DurNs: 10_000, Tid: 11, Pid: 11})
		// Other processes' spawns, sent before the vfork returns.
		for i := 0; i < between; i++ {
			r.Add(&tracer.Event{Kind: tracer.KindSyscall, Nr: sysno.Execve, TimeNs: 121_000 + uint64(i), DurNs: 100,
				Tid: 5000 + uint32(i), Pid: 5000 + uint32(i), Ret: -2})
		}
		// The parent's clone3, entered at 100 µs, returning at 131 µs.
		r.Add(&tracer.Event{Kind: tracer.KindSyscall, Nr: sysno.Clone3, TimeNs: 100_000, DurNs: 31_000, Tid: 10, Pid: 10, Ret: 11,
			Clone3: &tracer.Clone3Args{Flags: 0x4100, ExitSignal: 17, Stack: 0x7000}})
		return recording.Filled(t, r)
	}

	rec := build(1000)
	sum := summarized(t, rec)
	rows := rowsOf(t, &sum)
	if len(rows) != 1 {
		t.Fatalf("%d spawns, want 1", len(rows))
	}
	if sp := rows[0]; !sp.ExecOK || sp.Exe != "/usr/bin/true" || sp.FailedExecs != 1 || sp.SpawnToExecNs != 30_000 {
		t.Errorf("spawn = %+v, want its child's exec of /usr/bin/true after one failure, 30 µs after the call", sp)
	}
	if rec.LateEvents() != 0 {
		t.Errorf("%d late events, want 0", rec.LateEvents())
	}

	// With a window smaller than what came between, the call is late.
	rec = build(1000)
	recording.SetReorderWindow(rec, 100)
	late := summarized(t, rec)
	if sp := rowsOf(t, &late)[0]; sp.ExecOK || rec.LateEvents() == 0 {
		t.Errorf("past the window: spawn %+v with %d late events; want no exec charged and the lateness counted", sp, rec.LateEvents())
	}
}

func BenchmarkSummarize200k(b *testing.B) {
	const n = 200_000
	r, err := recording.NewRecorder()
	if err != nil {
		b.Fatal(err)
	}
	synth.Spawns(n, func(ev *tracer.Event) { r.Add(ev) })
	spilled := &recording.Recording{}
	if err := r.Fill(spilled); err != nil {
		b.Fatal(err)
	}
	defer spilled.Close()
	b.Run("spilled", func(b *testing.B) {
		for b.Loop() {
			s := summarized(b, spilled)
			if s.SpawnCount() != n {
				b.Fatal(s.SpawnCount())
			}
			s.Close()
		}
	})
	b.Run("memory", func(b *testing.B) {
		var evs []tracer.Event
		recording.EachArrived(spilled, func(ev *tracer.Event) error { evs = append(evs, *recording.KeptCopy(ev)); return nil })
		inMemory := &recording.Recording{Events: evs}
		for b.Loop() {
			s := summarized(b, inMemory)
			if s.SpawnCount() != n {
				b.Fatal(s.SpawnCount())
			}
			s.Close()
		}
	})
}

// benchSpawns is BenchmarkLoad's recording size: small by default, so
// that -bench . stays quick; make bench passes -spawns 200000.
var benchSpawns = flag.Int("spawns", 20_000, "spawns in BenchmarkLoad's recording")

// BenchmarkLoad times what report does with a saved recording of
// synthetic spawns (binary, the default of -w; and the JSON export): Load
// alone is report -c's work, Load and Summarize the full report's.
func BenchmarkLoad(b *testing.B) {
	n := *benchSpawns
	dir := b.TempDir()
	for _, ext := range []string{".strec", ".json"} {
		path := ""
		saved := func(b *testing.B) string { // only for the benchmarks -bench picks
			if path == "" {
				path = savedSynthIn(b, dir, n, "rec"+ext)
			}
			return path
		}
		b.Run(strconv.Itoa(n)+ext+"/load", func(b *testing.B) {
			path := saved(b)
			for b.Loop() {
				rec, err := recording.Load(path)
				if err != nil {
					b.Fatal(err)
				}
				rec.Close()
			}
		})
		b.Run(strconv.Itoa(n)+ext+"/summarize", func(b *testing.B) {
			path := saved(b)
			for b.Loop() {
				rec, err := recording.Load(path)
				if err != nil {
					b.Fatal(err)
				}
				s := summarized(b, rec)
				if s.SpawnCount() != n {
					b.Fatalf("%d spawns, want %d", s.SpawnCount(), n)
				}
				s.Close()
				rec.Close()
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	var good bytes.Buffer
	if err := recording.Encode(&good, recording.SampleRecording()); err != nil {
		f.Fatal(err)
	}
	f.Add(good.Bytes())
	f.Add([]byte(`{"format":"spawntrace-recording","schema":1}`))
	f.Add([]byte(`{"format":"spawntrace-recording","schema":1,"events":[{"kind":"syscall","nr":56,"ret":5,"args":[17]}]}`))
	f.Add([]byte(`{"format":"spawntrace-recording","schema":1,"start_mono_ns":5,"end_mono_ns":1}`))
	f.Add([]byte("\x1f\x8b\x08\x00"))
	f.Add([]byte(""))
	f.Fuzz(fuzzDecoded)
}

// FuzzDecodeBinary is FuzzDecode from binary recordings: a spawn run's,
// the sample's, gzipped.
func FuzzDecodeBinary(f *testing.F) {
	var sample bytes.Buffer
	if err := recording.EncodeBinary(&sample, recording.SampleRecording()); err != nil {
		f.Fatal(err)
	}
	f.Add(sample.Bytes())
	var gz bytes.Buffer
	if err := recording.Save(&gz, recording.Binary, true, recording.SampleRecording()); err != nil {
		f.Fatal(err)
	}
	f.Add(gz.Bytes())
	r := recording.NewTestRecorder(f)
	synth.Spawns(3, func(ev *tracer.Event) { r.Add(ev) })
	rec := recording.Filled(f, r)
	var spawns bytes.Buffer
	if err := recording.EncodeBinary(&spawns, rec); err != nil {
		f.Fatal(err)
	}
	rec.Close()
	f.Add(spawns.Bytes())
	f.Fuzz(fuzzDecoded)
}

// fuzzDecoded: whatever the bytes, Decode returns a recording or a
// one-line error, and what it accepts can be summarized and saved again,
// in both encodings. Loaded from a file (a binary recording's events read
// in place), the same bytes give the same error or the same recording.
func fuzzDecoded(t *testing.T, data []byte) {
	rec, err := recording.Decode(bytes.NewReader(data))
	// Only an uncompressed binary recording is read otherwise from a file
	// (in place); loading every input from one made fuzzing 4 times slower.
	if len(data) > 0 && data[0] == 0x89 { // binaryMagic
		checkLoadedAsDecoded(t, data, rec, err)
	}
	if err != nil {
		if strings.Contains(err.Error(), "\n") {
			t.Fatalf("multi-line error: %q", err)
		}
		return
	}
	defer rec.Close()
	if sum, err := summary.Summarize(rec); err == nil {
		sum.Close()
	}
	if err := recording.Encode(&bytes.Buffer{}, rec); err != nil {
		t.Fatalf("accepted recording does not encode: %v", err)
	}
	if err := recording.EncodeBinary(&bytes.Buffer{}, rec); err != nil {
		t.Fatalf("accepted recording does not encode as binary: %v", err)
	}
}

// checkLoadedAsDecoded: data loaded from a file gives the error Decode
// gave (decodeErr), or a recording that encodes to the same bytes as rec.
func checkLoadedAsDecoded(t *testing.T, data []byte, rec *recording.Recording, decodeErr error) {
	// A file of its own, not t.TempDir's (a directory made and removed
	// per input made fuzzing ten times slower).
	f, err := os.CreateTemp("", "fuzz-recording-*")
	if err != nil {
		t.Fatal(err)
	}
	path := f.Name()
	defer os.Remove(path)
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := recording.Load(path)
	if (err == nil) != (decodeErr == nil) || err != nil && err.Error() != path+": "+decodeErr.Error() {
		t.Fatalf("decoded: %v; loaded from a file: %v", decodeErr, err)
	}
	if err != nil {
		return
	}
	defer loaded.Close()
	var fromBytes, fromFile bytes.Buffer
	if err := recording.EncodeBinary(&fromBytes, rec); err != nil {
		t.Fatalf("accepted recording does not encode as binary: %v", err)
	}
	if err := recording.EncodeBinary(&fromFile, loaded); err != nil {
		t.Fatalf("recording loaded from a file does not encode as binary: %v", err)
	}
	if !bytes.Equal(fromBytes.Bytes(), fromFile.Bytes()) {
		t.Fatalf("the recording loaded from a file differs from the one decoded")
	}
}

// rowsOf reads a summary's rows, in the order they finished.
func rowsOf(t testing.TB, s *summary.Summary) []spawn.Spawn {
	t.Helper()
	var rows []spawn.Spawn
	if err := s.EachSpawn(func(sp *spawn.Spawn) error { rows = append(rows, *sp); return nil }); err != nil {
		t.Fatal(err)
	}
	return rows
}

// sameSummary compares what two summaries show, not where their rows are
// kept (rowsOf compares those).
func sameSummary(a, b *summary.Summary) bool {
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for i := range va.NumField() {
		if va.Type().Field(i).IsExported() && !reflect.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			return false
		}
	}
	return true
}

// summarized is Summarize for a test, which it fails on an error.
func summarized(t testing.TB, rec *recording.Recording) summary.Summary {
	t.Helper()
	s, err := summary.Summarize(rec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTruncatedSpillFails: a spill that cannot be read back to its end
// fails the summary and the comparison, rather than giving numbers of
// part of the run; the same holds for a corrupt record.
func TestTruncatedSpillFails(t *testing.T) {
	record := func() *recording.Recording {
		r := recording.NewTestRecorder(t)
		synth.Spawns(200, func(ev *tracer.Event) { r.Add(ev) })
		return recording.Filled(t, r)
	}
	good := record()
	truncated := record()
	recording.TruncateSpill(truncated)
	if s, err := summary.Summarize(truncated); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Summarize of a truncated spill: %d spawns, error %v; want unexpected EOF", s.SpawnCount(), err)
	}
	for _, pair := range [][2]*recording.Recording{{good, truncated}, {truncated, good}} {
		if c, err := compare.Compare(pair[0], pair[1], "A", "B"); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("Compare with a truncated side: %v, error %v; want unexpected EOF", c, err)
		}
	}
	if _, err := compare.Compare(good, good, "A", "B"); err != nil {
		t.Errorf("Compare of whole recordings: %v", err)
	}

	corrupt := record()
	if err := recording.CorruptSpill(corrupt); err != nil {
		t.Fatal(err)
	}
	if _, err := summary.Summarize(corrupt); !errors.Is(err, spill.ErrCorrupt) {
		t.Errorf("Summarize of a corrupt spill: %v, want a corrupt record", err)
	}
}

// TestPassOfLargeEventsBounded: events of a megabyte each (a hostile
// recording's may be) are held back by the pass within
// ReorderWindowBytes, not a window of 16 384 of them (16 GiB).
func TestPassOfLargeEventsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("300 MB of events written and read back")
	}
	r := recording.NewTestRecorder(t)
	long := strings.Repeat("a", 1<<20)
	const n = 300
	for i := range n {
		if err := r.Add(&tracer.Event{Kind: tracer.KindExit, TimeNs: uint64(i), Tid: 5, Pid: 5, Filename: long + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	rec := recording.Filled(t, r)
	before := synth.HeapInUse()
	var peak uint64
	seen := 0
	err := rec.EachEvent(func(ev *tracer.Event) error {
		if seen++; seen%10 == 0 {
			peak = max(peak, synth.HeapInUse())
		}
		return nil
	})
	if err != nil || seen != n {
		t.Fatalf("%d events read, error %v", seen, err)
	}
	held := int64(peak) - int64(before)
	t.Logf("heap held during the pass: %d MiB", held>>20)
	if limit := int64(48 << 20); held > limit { // ReorderWindowBytes (32 MiB) and a few events
		t.Errorf("the pass held %d MiB of %d MiB of events, want at most %d MiB", held>>20, n, limit>>20)
	}
}
