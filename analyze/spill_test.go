package analyze

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/spawntrace/spawntrace/tracer"
)

// fillAll sets every field of v, recursively, to a value no other field
// has: a field the spill codec does not carry then comes back different.
func fillAll(v reflect.Value, next *uint64) {
	*next++
	n := *next
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(n % 100))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(n % 100)
	case reflect.String:
		v.SetString("s" + itoa(int(n)) + "\xff") // not UTF-8: kept as bytes
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := 0; i < 2; i++ {
			fillAll(s.Index(i), next)
		}
		v.Set(s)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fillAll(p.Elem(), next)
		v.Set(p)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fillAll(v.Field(i), next)
			}
		}
	default:
		panic("fillAll: no value for a " + v.Kind().String())
	}
}

// TestSpillCodecCarriesEveryField fails when tracer.Event gains a field
// that analyze/spill_codec.go does not write and read back.
func TestSpillCodecCarriesEveryField(t *testing.T) {
	var ev tracer.Event
	var n uint64
	fillAll(reflect.ValueOf(&ev).Elem(), &n)
	ev.Kind = tracer.KindSyscall
	ev.Ret, ev.Nr, ev.ExitCode = -2, 59, -9             // negative numbers too
	ev.ABI, ev.ExecABI = tracer.ABII386, tracer.ABII386 // the only ABI besides the zero value
	for _, e := range []tracer.Event{ev, {Kind: tracer.KindExit}, {Kind: tracer.KindSyscall, Args: []uint64{}, Argv: []string{}}} {
		b, err := appendEvent(nil, &e)
		if err != nil {
			t.Fatal(err)
		}
		var dec eventDecoder
		var got tracer.Event
		if err := dec.decode(b[3:], &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, e) {
			gv, wv := reflect.ValueOf(got), reflect.ValueOf(e)
			for i := 0; i < wv.NumField(); i++ {
				if !reflect.DeepEqual(gv.Field(i).Interface(), wv.Field(i).Interface()) {
					t.Errorf("field %s: spilled %#v, read back %#v: add it to appendEvent and decode",
						wv.Type().Field(i).Name, wv.Field(i).Interface(), gv.Field(i).Interface())
				}
			}
		}
		// Every truncation is caught, never read as a shorter event.
		for cut := 0; cut < len(b)-3; cut++ {
			if err := dec.decode(b[3:3+cut], &got); err == nil {
				t.Errorf("a record cut to %d of %d bytes decoded without error", cut, len(b)-3)
			}
		}
	}
}

// TestSpillMemoryPerSpawn is the bounded-memory requirement: what the
// recorder keeps while recording does not grow with events, and after
// Summarize the heap holds no more than a row per spawn (since the rows
// went to disk, far less: TestSummaryMemoryDoesNotGrow).
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

	before := heapInUse()
	r := newTestRecorder(t)
	synthSpawns(n, func(ev *tracer.Event) {
		if err := r.Add(ev); err != nil {
			t.Fatal(err)
		}
	})
	recording := heapInUse()
	rec := filled(t, r)
	start := time.Now()
	sum := Summarize(rec)
	took := time.Since(start)
	after := heapInUse()
	if err := rec.ReadErr(); err != nil {
		t.Fatal(err)
	}
	if sum.SpawnCount() != n {
		t.Fatalf("%d spawns, want %d", sum.SpawnCount(), n)
	}
	recBytes := int64(recording) - int64(before)
	perSpawn := float64(int64(after)-int64(before)) / n
	t.Logf("%d spawns: recorder %d bytes while recording; %.0f bytes/spawn with the summary; Summarize %v; spill %d bytes (%.0f/spawn)",
		n, recBytes, perSpawn, took, rec.spill.events.bytes, float64(rec.spill.events.bytes)/n)
	if recBytes > maxRecorderBytes {
		t.Errorf("the recorder holds %d bytes after %d spawns, want at most %d", recBytes, n, maxRecorderBytes)
	}
	if perSpawn > maxBytesPerSpawn {
		t.Errorf("%.0f bytes per spawn with the summary, want at most %d", perSpawn, maxBytesPerSpawn)
	}
	runtime.KeepAlive(sum)
}

// TestSpilledSummaryMatchesMemory: the same events give the same summary
// read back from the spill file as held in memory (Events).
func TestSpilledSummaryMatchesMemory(t *testing.T) {
	const n = 50_000
	r := newTestRecorder(t)
	synthSpawns(n, func(ev *tracer.Event) { r.Add(ev) })
	spilled := filled(t, r)
	spilled.StartMonoNs, spilled.EndMonoNs = 1e12, 1e12+n*1e6
	inMemory := &Recording{StartMonoNs: spilled.StartMonoNs, EndMonoNs: spilled.EndMonoNs, Events: arrived(t, spilled)}

	got, want := Summarize(spilled), Summarize(inMemory)
	if err := spilled.ReadErr(); err != nil {
		t.Fatal(err)
	}
	gotRows, wantRows := rowsOf(t, &got), rowsOf(t, &want)
	got.rows, want.rows = nil, nil
	if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotRows, wantRows) {
		t.Errorf("summaries differ: spilled %d spawns %+v, in memory %d %+v", len(gotRows), got.Stats, len(wantRows), want.Stats)
	}
	if sp := gotRows[0]; sp.Exe != "/usr/bin/true" || !sp.ExecOK || sp.FailedExecs != 1 || sp.Signature != SigPython+" (vfork)" {
		t.Errorf("first spawn = %+v, want a Python vfork of /usr/bin/true after a failed exec", sp)
	}
	if got.Processes != n+1 || spilled.LateEvents() != 0 {
		t.Errorf("processes = %d, late = %d; want %d and 0", got.Processes, spilled.LateEvents(), n+1)
	}
}

func TestReorderWindow(t *testing.T) {
	times := []uint64{5, 3, 4, 1, 2, 9, 8, 7, 6, 10}
	run := func(window int) (out []uint64, late int) {
		ro := reorder{window: window}
		emit := func(ev *tracer.Event) error { out = append(out, ev.TimeNs); return nil }
		for _, tm := range times {
			ro.push(&tracer.Event{TimeNs: tm}, emit)
		}
		ro.drain(emit)
		return out, ro.late
	}
	// 1 arrives 3 events after later ones: a window of 3 sorts it all.
	if out, late := run(3); !reflect.DeepEqual(out, []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}) || late != 0 {
		t.Errorf("window 3: %v, %d late; want sorted, none late", out, late)
	}
	// Beyond the window, the late events come out late, and are counted.
	if out, late := run(1); late == 0 || len(out) != len(times) {
		t.Errorf("window 1: %v, %d late; want all events, some counted late", out, late)
	}
	// Equal times keep their arrival order.
	ro := reorder{window: 4}
	var tids []uint32
	for tid := uint32(1); tid <= 6; tid++ {
		ro.push(&tracer.Event{TimeNs: 7, Tid: tid}, func(ev *tracer.Event) error { tids = append(tids, ev.Tid); return nil })
	}
	ro.drain(func(ev *tracer.Event) error { tids = append(tids, ev.Tid); return nil })
	if !reflect.DeepEqual(tids, []uint32{1, 2, 3, 4, 5, 6}) {
		t.Errorf("equal times came out as %v, want arrival order", tids)
	}
}

// TestReorderMatchesOneHeap: the run-and-heap buffer releases what a
// plain buffer of the window's size releases, the earliest waiting event,
// on nearly sorted input with ties, at any window.
func TestReorderMatchesOneHeap(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 200; trial++ {
		window := 1 + rnd.IntN(20)
		var evs []*tracer.Event
		for i := 0; i < 300; i++ {
			tm := uint64(i * 10)
			if rnd.IntN(4) == 0 { // sent late, or tied
				tm -= uint64(rnd.IntN(min(i*10+1, 200)))
			}
			evs = append(evs, &tracer.Event{TimeNs: tm, Tid: uint32(i)})
		}
		var got, want []uint32
		ro := reorder{window: window}
		keep := func(ev *tracer.Event) error { got = append(got, ev.Tid); return nil }
		for _, ev := range evs {
			ro.push(ev, keep)
		}
		ro.drain(keep)

		var waiting []*tracer.Event // arrival order
		var lastNs uint64
		late := 0
		release := func() {
			m := 0
			for i, ev := range waiting {
				if ev.TimeNs < waiting[m].TimeNs {
					m = i
				}
			}
			if waiting[m].TimeNs < lastNs {
				late++
			} else {
				lastNs = waiting[m].TimeNs
			}
			want = append(want, waiting[m].Tid)
			waiting = append(waiting[:m], waiting[m+1:]...)
		}
		for _, ev := range evs {
			if waiting = append(waiting, ev); len(waiting) > window {
				release()
			}
		}
		for len(waiting) > 0 {
			release()
		}
		if !reflect.DeepEqual(got, want) || ro.late != late {
			t.Fatalf("window %d: released %v (%d late), want %v (%d late)", window, got, ro.late, want, late)
		}
	}
}

// TestVforkCallAfterItsChildsExec: a vfork parent's clone3 is sent at its
// exit, after the child's execs and after whatever other processes did
// meanwhile; read back in time order it still comes first, and the exec
// is charged to it. Past the window it would not be, and that is counted.
func TestVforkCallAfterItsChildsExec(t *testing.T) {
	build := func(between int) *Recording {
		r := newTestRecorder(t)
		// The child's PATH search and exec, at 110-130 µs.
		r.Add(&tracer.Event{Kind: tracer.KindSyscall, Nr: NrExecve, TimeNs: 110_000, DurNs: 5_000, Tid: 11, Pid: 11, Ret: -2})
		r.Add(&tracer.Event{Kind: tracer.KindExec, TimeNs: 125_000, Tid: 11, Pid: 11, Filename: "/usr/bin/true"})
		r.Add(&tracer.Event{Kind: tracer.KindSyscall, Nr: NrExecve, TimeNs: 120_000, DurNs: 10_000, Tid: 11, Pid: 11})
		// Other processes' spawns, sent before the vfork returns.
		for i := 0; i < between; i++ {
			r.Add(&tracer.Event{Kind: tracer.KindSyscall, Nr: NrExecve, TimeNs: 121_000 + uint64(i), DurNs: 100,
				Tid: 5000 + uint32(i), Pid: 5000 + uint32(i), Ret: -2})
		}
		// The parent's clone3, entered at 100 µs, returning at 131 µs.
		r.Add(&tracer.Event{Kind: tracer.KindSyscall, Nr: NrClone3, TimeNs: 100_000, DurNs: 31_000, Tid: 10, Pid: 10, Ret: 11,
			Clone3: &tracer.Clone3Args{Flags: 0x4100, ExitSignal: 17, Stack: 0x7000}})
		return filled(t, r)
	}

	rec := build(1000)
	sum := Summarize(rec)
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
	rec.spill.window = 100
	late := Summarize(rec)
	if sp := rowsOf(t, &late)[0]; sp.ExecOK || rec.LateEvents() == 0 {
		t.Errorf("past the window: spawn %+v with %d late events; want no exec charged and the lateness counted", sp, rec.LateEvents())
	}
}

// TestSpillWriteErrorIsReported: a full disk under the spill file fails
// the recording with the error, rather than leaving events out.
func TestSpillWriteErrorIsReported(t *testing.T) {
	full := func() (*os.File, error) { return os.OpenFile("/dev/full", os.O_RDWR, 0) }
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full:", err)
	}
	r, err := newRecorder(full)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var addErr error
	synthSpawns(1000, func(ev *tracer.Event) {
		if err := r.Add(ev); err != nil && addErr == nil {
			addErr = err
		}
	})
	if !errors.Is(addErr, syscall.ENOSPC) {
		t.Errorf("Add: %v, want ENOSPC once the write buffer filled", addErr)
	}
	// Even when it is the last flush that fails, Fill says so.
	r2, err := newRecorder(full)
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	r2.Add(&tracer.Event{Kind: tracer.KindExit, Pid: 1, Tid: 1, GroupDead: true})
	for _, rr := range []*Recorder{r, r2} {
		rec := &Recording{}
		if err := rr.Fill(rec); !errors.Is(err, syscall.ENOSPC) {
			t.Errorf("Fill: %v, want ENOSPC", err)
		}
		if rec.spill != nil {
			t.Errorf("Fill failed but gave the recording its events")
		}
	}
}

// TestEncodeStreamedMatchesMemory: -w of a recording run writes the bytes
// Encode writes for the same events in memory, and Load accepts them.
func TestEncodeStreamedMatchesMemory(t *testing.T) {
	r := newTestRecorder(t)
	synthSpawns(300, func(ev *tracer.Event) { r.Add(ev) })
	r.Add(&tracer.Event{Kind: tracer.KindSyscall, Nr: NrExecve, TimeNs: 9, Tid: 7, Pid: 7, Comm: "<b>&\xff", Filename: "/x\xfe"})
	r.SetSpawnStack(100, 1e12, 1)
	rec := filled(t, r)
	rec.Command = []string{"sh", "-c", `echo "events":[]`}
	rec.Stacks = []Stack{{Frames: []Frame{{Addr: 1, Func: "main"}}}}
	rec.Tracer = &TracerUsage{CPUNs: 12, MaxRSSBytes: 34}
	rec.EndMonoNs = 2e12

	var streamed bytes.Buffer
	if err := Encode(&streamed, rec); err != nil {
		t.Fatal(err)
	}
	mem := *rec
	mem.spill = nil
	mem.Events = arrived(t, rec)
	for i, ev := range mem.Events {
		want := 0
		if ev.Nr == NrClone3 && ev.TimeNs == 1e12 {
			want = 1
		}
		if ev.StackID != want {
			t.Errorf("event %d (%+v): stack %d, want %d", i, ev, ev.StackID, want)
		}
	}
	var whole bytes.Buffer
	if err := Encode(&whole, &mem); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(streamed.Bytes(), whole.Bytes()) {
		t.Fatalf("streamed encoding differs:\n%.600s\nwant\n%.600s", streamed.String(), whole.String())
	}

	path := filepath.Join(t.TempDir(), "run.json.gz")
	if err := saveFile(path, rec); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	held(t, got)
	if !reflect.DeepEqual(got.Events, mem.Events) || got.Tracer == nil || *got.Tracer != *rec.Tracer {
		t.Errorf("loaded %d events (tracer %+v), want %d (%+v)", len(got.Events), got.Tracer, len(mem.Events), rec.Tracer)
	}
}

// BenchmarkSummarize200k times Summarize over 200k spawns (1.2M events
// arrived, 1.05M kept), read back from the spill file and held in memory.
func BenchmarkSummarize200k(b *testing.B) {
	const n = 200_000
	r, err := NewRecorder()
	if err != nil {
		b.Fatal(err)
	}
	synthSpawns(n, func(ev *tracer.Event) { r.Add(ev) })
	spilled := &Recording{}
	if err := r.Fill(spilled); err != nil {
		b.Fatal(err)
	}
	defer spilled.Close()
	b.Run("spilled", func(b *testing.B) {
		for b.Loop() {
			s := Summarize(spilled)
			if s.SpawnCount() != n {
				b.Fatal(s.SpawnCount())
			}
			s.Close()
		}
	})
	b.Run("memory", func(b *testing.B) {
		var evs []tracer.Event
		spilled.eachArrived(func(ev *tracer.Event) error { evs = append(evs, *keptCopy(ev)); return nil })
		inMemory := &Recording{Events: evs}
		for b.Loop() {
			s := Summarize(inMemory)
			if s.SpawnCount() != n {
				b.Fatal(s.SpawnCount())
			}
			s.Close()
		}
	})
}

// BenchmarkRecorderAdd is the reader goroutine's cost per spawn (six
// events delivered, four kept): the exec merge, encoding, the spill write.
func BenchmarkRecorderAdd(b *testing.B) {
	r, err := NewRecorder()
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	var evs []tracer.Event
	synthSpawns(1, func(ev *tracer.Event) { evs = append(evs, *ev) })
	for b.Loop() {
		for i := range evs {
			ev := evs[i]
			r.Add(&ev)
		}
	}
}

func TestPidSetCountsReusedPids(t *testing.T) {
	var s pidSet
	s.add(300)
	s.add(300) // the same process again
	s.add(70000)
	s.remove(300) // it exited
	s.add(300)    // a new process with the old pid
	s.remove(12345)
	if got := s.len(); got != 3 {
		t.Errorf("pidSet.len() = %d, want 3 processes", got)
	}
}
