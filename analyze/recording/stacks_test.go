package recording

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/symbolize"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

func TestStackTable(t *testing.T) {
	exe := &symbolize.Mapping{File: "/bin/runner", Start: 0x401000, Limit: 0x402000, Offset: 0x1000, Symbolized: true}
	libc := &symbolize.Mapping{File: "/lib/libc.so.6", BuildID: "93ac", Start: 0x7f0000026000, Limit: 0x7f000017c000, Offset: 0x26000, Symbolized: true}
	kern := &symbolize.Mapping{File: symbolize.KernelMappingName, Kernel: true, Symbolized: true}
	tab := NewStackTable()
	spawn := []symbolize.Frame{{Addr: 0x7f0000030000, Func: "__clone3", Mapping: libc}, {Addr: 0x401100, Func: "main", Mapping: exe}}
	a := tab.Add(spawn)
	b := tab.Add(append([]symbolize.Frame(nil), spawn...))
	if a != 1 || b != 1 {
		t.Errorf("same stack twice: ids %d, %d", a, b)
	}
	if tab.Add(nil) != 0 {
		t.Error("empty stack: id not 0")
	}
	// The same frames found by CFI, or cut, are other stacks: the report
	// counts each kind.
	cfi := tab.AddUnwound(spawn, Unwinding{Unwound: UnwoundCFI})
	cut := tab.AddUnwound(spawn, Unwinding{Unwound: UnwoundCFI, Cut: true})
	if cfi == a || cut == a || cut == cfi || tab.AddUnwound(spawn, Unwinding{Unwound: UnwoundCFI, Cut: true}) != cut {
		t.Errorf("unwound stacks: ids %d (fp), %d (cfi), %d (cfi, cut)", a, cfi, cut)
	}
	cpu := tab.Add([]symbolize.Frame{{Addr: 0xffffffff81001010, Func: "copy_page_range", Kernel: true, Mapping: kern}, spawn[0]})
	if cpu != 4 {
		t.Errorf("fourth stack: id %d", cpu)
	}
	tab.AddSample(100, "runner", cpu)
	tab.AddSample(100, "runner", cpu)
	tab.AddSample(50, "sh", cpu)
	tab.AddSample(50, "sh", 0) // no stack: not counted
	// The workload exec'd env, then python3: the program it ends up
	// running is the main one.
	tab.SetMain(&symbolize.Mapping{File: "/usr/bin/env"}, []string{"/usr/bin/env", "python3", "t.py"})
	other := &symbolize.Mapping{File: "/bin/other"}
	tab.SetMain(other, []string{"python3", "t.py"})
	tab.LoseSpawnStack()

	var rec Recording
	tab.Fill(&rec)
	if len(rec.Stacks) != 4 || len(rec.Mappings) != 5 {
		t.Fatalf("%d stacks, %d mappings", len(rec.Stacks), len(rec.Mappings))
	}
	if s := rec.MainScript(); s != "t.py" {
		t.Errorf("main script %q", s)
	}
	wantMaps := []string{"/lib/libc.so.6", "/bin/runner", symbolize.KernelMappingName, "/usr/bin/env", "/bin/other"}
	for i, m := range rec.Mappings {
		if m.File != wantMaps[i] || m.Main != (m.File == "/bin/other") {
			t.Errorf("mapping %d: %+v", i, m)
		}
	}
	if s := rec.Stacks[2]; s.Unwound != UnwoundCFI || !s.Cut || rec.Stacks[1].Cut || rec.Stacks[0].Unwound != "" {
		t.Errorf("stacks' unwinding: %+v", rec.Stacks[:3])
	}
	if f := rec.Stacks[3].Frames[0]; f.Mapping != 3 || !f.Kernel || f.Func != "copy_page_range" {
		t.Errorf("kernel frame %+v", f)
	}
	want := []CPUSample{{Pid: 50, Comm: "sh", StackID: 4, Count: 1}, {Pid: 100, Comm: "runner", StackID: 4, Count: 2}}
	if !reflect.DeepEqual(rec.CPUSamples, want) {
		t.Errorf("samples %+v", rec.CPUSamples)
	}
	if rec.StackLoss == nil || rec.StackLoss.SpawnStacks != 1 {
		t.Errorf("loss %+v", rec.StackLoss)
	}
	if err := rec.validateStacks(); err != nil {
		t.Error(err)
	}
}

func TestTruncated(t *testing.T) {
	for _, tc := range []struct {
		funcs []string
		want  bool
	}{
		{[]string{"__clone3"}, true},
		{[]string{"_Fork", "fork"}, true},
		{[]string{"__clone3", "posix_spawn", "run", "main", "__libc_start_call_main"}, false},
		{[]string{"fork", "main", ""}, false}, // a stray word read past main
		{[]string{"syscall.rawVforkSyscall", "os.StartProcess", "main.main", "runtime.main", "runtime.goexit"}, false},
		{[]string{"worker", "start_thread"}, false},
		{nil, true},
	} {
		var s Stack
		s.Frames = append(s.Frames, Frame{Func: "copy_page_range", Kernel: true}) // kernel frames do not count
		for _, f := range tc.funcs {
			s.Frames = append(s.Frames, Frame{Func: f})
		}
		if got := s.Truncated(); got != tc.want {
			t.Errorf("%v: truncated %v, want %v", tc.funcs, got, tc.want)
		}
	}
}

// TestStacksRoundTrip: a recording with stacks survives Save/Load; one with
// a dangling reference is refused.
func TestStacksRoundTrip(t *testing.T) {
	rec := &Recording{
		StartMonoNs: 1, EndMonoNs: 2,
		Events: []tracer.Event{{Kind: tracer.KindSyscall, Nr: sysno.Clone, Ret: 5, StackID: 1}},
		Stacks: []Stack{{Frames: []Frame{{Addr: 0x401000, Func: "main", File: "m.go", Line: 3, Mapping: 1}},
			Unwound: UnwoundCFI, Cut: true}},
		Mappings:   []Mapping{{File: "/bin/x", BuildID: "ab", Start: 0x400000, Limit: 0x500000, Main: true, Symbolized: true}},
		SampleHz:   999,
		CPUSamples: []CPUSample{{Pid: 5, Comm: "x", StackID: 1, Count: 3}},
	}
	var b bytes.Buffer
	if err := Encode(&b, rec); err != nil {
		t.Fatal(err)
	}
	got, err := Decode(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	held(t, got)
	if !reflect.DeepEqual(got.Stacks, rec.Stacks) || !reflect.DeepEqual(got.Mappings, rec.Mappings) ||
		!reflect.DeepEqual(got.CPUSamples, rec.CPUSamples) || got.SampleHz != 999 || got.Events[0].StackID != 1 {
		t.Errorf("round trip changed the stacks:\n%s", b.String())
	}

	for name, breakIt := range map[string]func(r *Recording){
		"event stack":   func(r *Recording) { r.Events[0].StackID = 2 },
		"frame mapping": func(r *Recording) { r.Stacks[0].Frames[0].Mapping = 2 },
		"sample stack":  func(r *Recording) { r.CPUSamples[0].StackID = 0 },
		"sample count":  func(r *Recording) { r.CPUSamples[0].Count = 0 },
	} {
		bad, _ := Decode(bytes.NewReader(b.Bytes()))
		breakIt(held(t, bad))
		var bb bytes.Buffer
		Encode(&bb, bad)
		if _, err := Decode(&bb); err == nil || !strings.Contains(err.Error(), "corrupt") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestStackTableMapGone: the same frames left as the kernel walked them
// because the spawner was gone are another stack, which says so.
func TestStackTableMapGone(t *testing.T) {
	tab := NewStackTable()
	frames := []symbolize.Frame{{Addr: 0x1000, Func: "_Fork"}}
	fp := tab.Add(frames)
	gone := tab.AddUnwound(frames, Unwinding{MapGone: true})
	var rec Recording
	tab.Fill(&rec)
	if fp == gone || rec.StackOf(fp).MapGone || !rec.StackOf(gone).MapGone {
		t.Errorf("ids %d and %d, stacks %+v", fp, gone, rec.Stacks)
	}
}
