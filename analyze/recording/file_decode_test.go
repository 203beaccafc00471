package recording

import (
	"bytes"
	"cmp"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/internal/spill"
	"github.com/spawntrace/spawntrace/tracer"
)

// savedSynth records n synthetic spawns as a recording run does and saves
// them with Save (-w): the events in the order they arrived.
// TestLoadMemoryDoesNotGrow is the bounded-memory requirement of report
// and compare: a loaded recording's events stay on disk, so the heap
// after Load is the same for 100k and 200k spawns.
// TestLoadOutOfOrder: a file whose events are out of time order, within
// the reorder window or far beyond it, reads back in exactly the order
// and with exactly the summary of the same events sorted.
// timeOrder reads a recording's events as the reports do.
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
	f, err := spill.NewFile(spill.CreateTemp)
	if err != nil {
		t.Fatal(err)
	}
	s := &eventSpill{events: f, window: ReorderWindow}
	defer f.Close()
	var want []tracer.Event
	rnd := rand.New(rand.NewPCG(3, 4))
	for i := range 2000 {
		ev := tracer.Event{Kind: tracer.KindExit, TimeNs: uint64(rnd.IntN(20)), Tid: uint32(i), Comm: "c" + strconv.Itoa(i)}
		b, err := appendEvent(nil, &ev)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(b)
		s.n++
		want = append(want, ev)
	}
	if err := f.Flush(); err != nil {
		t.Fatal(err)
	}
	slices.SortStableFunc(want, func(a, b tracer.Event) int { return cmp.Compare(a.TimeNs, b.TimeNs) })
	sorted, err := sortSpill(s)
	if err != nil {
		t.Fatal(err)
	}
	defer sorted.events.Close()
	var got []tracer.Event
	if err := sorted.each(func() *tracer.Event { return new(tracer.Event) }, func(ev *tracer.Event, _ int) error {
		got = append(got, *ev)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sorted spill differs from a stable sort (%d events, want %d)", len(got), len(want))
	}
}
