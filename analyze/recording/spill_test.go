package recording

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/internal/synth"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// fillAll sets every field of v, recursively, to a value no other field
// has: a field the spill codec does not carry then comes back different.
// TestSpillCodecCarriesEveryField fails when tracer.Event gains a field
// that spill_codec.go does not write and read back.
func TestSpillCodecCarriesEveryField(t *testing.T) {
	var ev tracer.Event
	var n uint64
	synth.FillAll(reflect.ValueOf(&ev).Elem(), &n)
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
// TestSpilledSummaryMatchesMemory: the same events give the same summary
// read back from the spill file as held in memory (Events).
func TestReorderWindow(t *testing.T) {
	times := []uint64{5, 3, 4, 1, 2, 9, 8, 7, 6, 10}
	run := func(window int) (out []uint64, late int) {
		ro := reorder{window: window, maxBytes: ReorderWindowBytes}
		emit := func(ev *tracer.Event) error { out = append(out, ev.TimeNs); return nil }
		for _, tm := range times {
			ro.push(&tracer.Event{TimeNs: tm}, 1, emit)
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
	ro := reorder{window: 4, maxBytes: ReorderWindowBytes}
	var tids []uint32
	for tid := uint32(1); tid <= 6; tid++ {
		ro.push(&tracer.Event{TimeNs: 7, Tid: tid}, 1, func(ev *tracer.Event) error { tids = append(tids, ev.Tid); return nil })
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
		ro := reorder{window: window, maxBytes: ReorderWindowBytes}
		keep := func(ev *tracer.Event) error { got = append(got, ev.Tid); return nil }
		for _, ev := range evs {
			ro.push(ev, 1, keep)
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
	synth.Spawns(1000, func(ev *tracer.Event) {
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
	synth.Spawns(300, func(ev *tracer.Event) { r.Add(ev) })
	r.Add(&tracer.Event{Kind: tracer.KindSyscall, Nr: sysno.Execve, TimeNs: 9, Tid: 7, Pid: 7, Comm: "<b>&\xff", Filename: "/x\xfe"})
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
		if ev.Nr == sysno.Clone3 && ev.TimeNs == 1e12 {
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
// BenchmarkRecorderAdd is the reader goroutine's cost per spawn (six
// events delivered, four kept): the exec merge, encoding, the spill write.
func BenchmarkRecorderAdd(b *testing.B) {
	r, err := NewRecorder()
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	var evs []tracer.Event
	synth.Spawns(1, func(ev *tracer.Event) { evs = append(evs, *ev) })
	for b.Loop() {
		for i := range evs {
			ev := evs[i]
			r.Add(&ev)
		}
	}
}
