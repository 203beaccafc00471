package analyze

import (
	"bytes"
	"cmp"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spawntrace/spawntrace/tracer"
)

// savedSynth records n synthetic spawns as a recording run does and saves
// them with Save (-w): the events in the order they arrived.
func savedSynth(t *testing.T, n int, name string) string {
	t.Helper()
	r := newTestRecorder(t)
	synthSpawns(n, func(ev *tracer.Event) {
		if err := r.Add(ev); err != nil {
			t.Fatal(err)
		}
	})
	rec := filled(t, r)
	rec.StartMonoNs, rec.EndMonoNs = 1e12, 1e12+uint64(n)*1e6
	path := filepath.Join(t.TempDir(), name)
	if err := saveFile(path, rec); err != nil {
		t.Fatal(err)
	}
	rec.Close()
	return path
}

// TestLoadMemoryDoesNotGrow is the bounded-memory requirement of report
// and compare: a loaded recording's events stay on disk, so the heap
// after Load is the same for 100k and 200k spawns.
func TestLoadMemoryDoesNotGrow(t *testing.T) {
	if testing.Short() {
		t.Skip("300k spawns saved and loaded")
	}
	const maxLoadedBytes = 1 << 20 // the spill's write buffer and the order check's window, whatever n
	held := map[int]int64{}
	for _, n := range []int{100_000, 200_000} {
		path := savedSynth(t, n, "run.json") // not gzipped: the test is slow enough
		before := heapInUse()
		start := time.Now()
		rec, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		took := time.Since(start)
		held[n] = int64(heapInUse()) - int64(before)
		if rec.SortedLate() != 0 || rec.spill == nil {
			t.Fatalf("%d spawns as -w writes them: %d late events, sorted", n, rec.SortedLate())
		}
		sum := Summarize(rec)
		if err := rec.ReadErr(); err != nil || sum.SpawnCount() != n || rec.LateEvents() != 0 {
			t.Fatalf("%d spawns: summary of %d (%v), %d late", n, sum.SpawnCount(), err, rec.LateEvents())
		}
		t.Logf("%d spawns: %d events; the loaded recording holds %d bytes; Load %v", n, rec.spill.n, held[n], took)
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

// TestLoadOutOfOrder: a file whose events are out of time order, within
// the reorder window or far beyond it, reads back in exactly the order
// and with exactly the summary of the same events sorted.
func TestLoadOutOfOrder(t *testing.T) {
	const n = 6_000 // 36k events: more than ReorderWindow
	var evs []tracer.Event
	synthSpawns(n, func(ev *tracer.Event) { evs = append(evs, *keptCopy(ev)) })
	slices.SortStableFunc(evs, func(a, b tracer.Event) int { return cmp.Compare(a.TimeNs, b.TimeNs) })
	if len(evs) <= ReorderWindow {
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

	load := func(name string, evs []tracer.Event) *Recording {
		rec := &Recording{StartMonoNs: 1e12, EndMonoNs: 1e12 + n*1e6, Events: evs}
		path := filepath.Join(t.TempDir(), name)
		if err := saveFile(path, rec); err != nil {
			t.Fatal(err)
		}
		got, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { got.Close() })
		return got
	}
	sorted := load("sorted.json", evs)
	want := timeOrder(t, sorted)
	wantSum := Summarize(sorted)
	wantRows := rowsOf(t, &wantSum)
	wantSum.rows = nil
	for _, c := range []struct {
		name       string
		evs        []tracer.Event
		sortedLate bool
		runBytes   int // sortRunBytes: small for many runs to merge
	}{{"sorted", evs, false, 0}, {"near", near, false, 0}, {"far", far, true, 0}, {"far in 64 KiB runs", far, true, 64 << 10}} {
		t.Run(c.name, func(t *testing.T) {
			if c.runBytes > 0 {
				defer func(was int) { sortRunBytes = was }(sortRunBytes)
				sortRunBytes = c.runBytes
			}
			rec := load(c.name+".json", c.evs)
			if (rec.SortedLate() > 0) != c.sortedLate {
				t.Errorf("%d late events sorted first, want sorted: %v", rec.SortedLate(), c.sortedLate)
			}
			if got := timeOrder(t, rec); !reflect.DeepEqual(got, want) {
				t.Errorf("events read back in another order than sorted")
			}
			sum := Summarize(rec)
			rows := rowsOf(t, &sum)
			sum.rows = nil
			if !reflect.DeepEqual(sum, wantSum) || !reflect.DeepEqual(rows, wantRows) || rec.LateEvents() != 0 {
				t.Errorf("summary differs from the sorted file's (%d late)", rec.LateEvents())
			}
		})
	}
}

// timeOrder reads a recording's events as the reports do.
func timeOrder(t *testing.T, rec *Recording) []tracer.Event {
	t.Helper()
	var out []tracer.Event
	if err := rec.EachEvent(func(ev *tracer.Event) error { out = append(out, *keptCopy(ev)); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDecodeKeyOrder: nothing depends on the order of the object's keys,
// which spawntrace writes header first.
func TestDecodeKeyOrder(t *testing.T) {
	const ev = `{"kind":"syscall","nr":56,"ret":5,"stack_id":1}`
	cases := map[string]struct {
		data string
		want string // "" when it loads
	}{
		"events first": {`{"events":[` + ev + `],"format":"spawntrace-recording","schema":1,"stacks":[{"frames":[]}]}`, ""},
		"Events":       {`{"format":"spawntrace-recording","schema":1,"Events":[` + ev + `],"stacks":[{"frames":[]}]}`, ""},
		"newer schema after events it cannot read": {
			`{"events":[{"kind":"teleport"}],"format":"spawntrace-recording","schema":2}`, "newer than this spawntrace reads"},
		"newer schema after bad events": {`{"events":[{"kind":"syscall","nr":9999}],"schema":2,"format":"spawntrace-recording"}`, "newer"},
		"stacks after events":           {`{"format":"spawntrace-recording","schema":1,"events":[` + ev + `]}`, "event 0: stack 1 of 0"},
		"first stack out of range": {`{"format":"spawntrace-recording","schema":1,"events":[{"kind":"exit","stack_id":2},` +
			`{"kind":"exit","stack_id":-1},{"kind":"exit","stack_id":3}],"stacks":[{"frames":[]}]}`, "event 0: stack 2 of 1"},
		"events not an array":   {`{"format":"spawntrace-recording","schema":1,"events":{"a":[1,{}]}}`, "events: an object where an array belongs"},
		"truncated in an event": {`{"format":"spawntrace-recording","schema":1,"events":[{"kind":"sysc`, "truncated"},
		"bad json in an event":  {`{"format":"spawntrace-recording","schema":1,"events":[{"kind" "x"}]}`, "corrupt"},
		"bad events, then good": {`{"format":"spawntrace-recording","schema":1,"events":[{"kind":"teleport"}],"events":[]}`, "unknown event kind"},
		"events twice":          {`{"format":"spawntrace-recording","schema":1,"events":[{"kind":"exit"}],"events":[` + ev + `],"stacks":[{"frames":[]}]}`, ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			rec, err := Decode(strings.NewReader(c.data))
			if c.want != "" {
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("error %v, want one saying %q", err, c.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer rec.Close()
			var b bytes.Buffer
			if err := Encode(&b, rec); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), `"events":[{"kind":"syscall","t_ns":0`) || strings.Count(b.String(), `"kind"`) != 1 {
				t.Errorf("re-encoded: %s", b.String())
			}
		})
	}
}

// TestSortSpillIsStable: the external sort gives the order of one stable
// sort by time, equal times in arrival order, across the runs it merges.
func TestSortSpillIsStable(t *testing.T) {
	defer func(was int) { sortRunBytes = was }(sortRunBytes)
	sortRunBytes = 1 << 10
	f, err := newSpillFile(createTemp)
	if err != nil {
		t.Fatal(err)
	}
	s := &eventSpill{events: f, window: ReorderWindow}
	defer f.close()
	var want []tracer.Event
	rnd := rand.New(rand.NewPCG(3, 4))
	for i := range 2000 {
		ev := tracer.Event{Kind: tracer.KindExit, TimeNs: uint64(rnd.IntN(20)), Tid: uint32(i), Comm: "c" + itoa(i)}
		b, err := appendEvent(nil, &ev)
		if err != nil {
			t.Fatal(err)
		}
		f.write(b)
		s.n++
		want = append(want, ev)
	}
	if err := f.flush(); err != nil {
		t.Fatal(err)
	}
	slices.SortStableFunc(want, func(a, b tracer.Event) int { return cmp.Compare(a.TimeNs, b.TimeNs) })
	sorted, err := sortSpill(s)
	if err != nil {
		t.Fatal(err)
	}
	defer sorted.events.close()
	var got []tracer.Event
	if err := sorted.each(func() *tracer.Event { return new(tracer.Event) }, func(ev *tracer.Event) error {
		got = append(got, *ev)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sorted spill differs from a stable sort (%d events, want %d)", len(got), len(want))
	}
}
