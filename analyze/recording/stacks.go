package recording

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/spawntrace/spawntrace/tracer/symbolize"
)

// Frame is one frame of a stack, symbolized while recording.
type Frame struct {
	// Addr is the address looked up (a caller's return address minus one);
	// user addresses are rebased to their Mapping's Start.
	Addr uint64 `json:"addr"`
	Func string `json:"func,omitempty"` // "" when no symbol covered Addr
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// Mapping is 1 + the index of the frame's file in Recording.Mappings;
	// 0 when the address was in no known file.
	Mapping int  `json:"mapping,omitempty"`
	Kernel  bool `json:"kernel,omitempty"`
	// Inlined marks a call the compiler inlined into the next frame, at
	// the same Addr (Go binaries).
	Inlined bool `json:"inlined,omitempty"`
}

// Stack is a call stack, leaf first: kernel frames (CPU samples) above
// user frames.
type Stack struct {
	Frames []Frame `json:"frames"`
	// Unwound says how a spawn stack's user frames were found when not by
	// the kernel's frame-pointer walk alone: UnwoundCFI.
	Unwound string `json:"unwound,omitempty"`
	// Cut: the CFI unwind ran out of the stack bytes the kernel copied
	// (bpf STACK_COPY_MAX) before it reached an entry point.
	Cut bool `json:"cut,omitempty"`
	// MapGone: the spawner exited (or exec'd another program) before its
	// memory map could be read (a process that spawns and exits within a
	// millisecond, or a reader far behind), so the copy of
	// its stack could not be unwound by CFI: the frames are the kernel's
	// frame-pointer walk's, which ends in code without frame pointers.
	MapGone bool `json:"map_gone,omitempty"`
}

// Unwinding says how a spawn stack was unwound (StackTable.AddUnwound):
// Stack's Unwound, Cut and MapGone.
type Unwinding struct {
	Unwound      string
	Cut, MapGone bool
}

// UnwoundCFI marks a spawn stack unwound in user space from a copy of the
// spawner's stack with each file's call frame information (.eh_frame),
// past code without frame pointers that ended the kernel's walk.
const UnwoundCFI = "cfi"

// Mapping is a file whose code appears in Stacks: a program, a shared
// library, or the kernel ("[kernel.kallsyms]").
type Mapping struct {
	File    string `json:"file"`
	BuildID string `json:"build_id,omitempty"`
	// Start..Limit and Offset: the file's executable segments as mapped in
	// the first process seen; frames of other processes are rebased.
	Start  uint64 `json:"start"`
	Limit  uint64 `json:"limit"`
	Offset uint64 `json:"offset"`
	Kernel bool   `json:"kernel,omitempty"`
	// Main marks the workload's own executable: the program its process
	// last exec'd (the interpreter of "/usr/bin/env python3", not env).
	Main bool `json:"main,omitempty"`
	// Symbolized: the file was read while recording, so a frame in it
	// without a name had no symbol to find.
	Symbolized bool `json:"symbolized,omitempty"`
}

// CPUSample counts the on-CPU samples that share a process and a stack.
type CPUSample struct {
	Pid     uint32 `json:"pid"`
	Comm    string `json:"comm,omitempty"`
	StackID int    `json:"stack_id"` // 1 + index in Recording.Stacks
	Count   int    `json:"count"`
}

// StackLoss counts stacks that could not be symbolized while recording:
// the symbolizer fell behind, or the process was gone before its memory
// map could be read.
type StackLoss struct {
	SpawnStacks  int `json:"spawn_stacks,omitempty"`  // spawns with no stack, or one of bare addresses
	SampleStacks int `json:"sample_stacks,omitempty"` // CPU samples whose user part is bare addresses
	// SamplesDropped were not kept at all: the symbolizer fell too far behind.
	SamplesDropped int `json:"samples_dropped,omitempty"`
}

// StackOf returns the stack a StackID names, nil for 0 or one out of range.
func (rec *Recording) StackOf(id int) *Stack {
	if id <= 0 || id > len(rec.Stacks) {
		return nil
	}
	return &rec.Stacks[id-1]
}

// stackRoots are the functions a complete stack reaches: a program's
// entry, a thread's start, a goroutine's base.
var stackRoots = map[string]bool{
	"_start": true, "main": true, "__libc_start_main": true, "__libc_start_call_main": true,
	"start_thread":   true,
	"runtime.goexit": true, "runtime.mstart": true, "runtime.rt0_go": true, "runtime.main": true,
}

// IsStackRoot says whether a user frame's function is where a complete
// stack ends: a program's entry, a thread's start, a goroutine's base.
func IsStackRoot(fn string) bool { return stackRoots[fn] }

// Truncated reports whether a user stack ends before reaching a program
// or thread entry: the frame-pointer walk stopped early, typically in code
// built without frame pointers (glibc here), leaving 1-2 frames. A walk
// that reached main and then read a stray word past it is not truncated.
func (s *Stack) Truncated() bool {
	for _, f := range s.Frames {
		if !f.Kernel && stackRoots[f.Func] {
			return false
		}
	}
	return true
}

// validateStacks checks the references between events, samples, stacks
// and mappings, so the profile writers never index out of range.
func (rec *Recording) validateStacks() error {
	for i, ev := range rec.Events {
		if ev.StackID < 0 || ev.StackID > len(rec.Stacks) {
			return fmt.Errorf("event %d: stack %d of %d", i, ev.StackID, len(rec.Stacks))
		}
	}
	for i, s := range rec.Stacks {
		for _, f := range s.Frames {
			if f.Mapping < 0 || f.Mapping > len(rec.Mappings) {
				return fmt.Errorf("stack %d: mapping %d of %d", i+1, f.Mapping, len(rec.Mappings))
			}
		}
	}
	for i, c := range rec.CPUSamples {
		if c.StackID < 1 || c.StackID > len(rec.Stacks) || c.Count < 1 {
			return fmt.Errorf("cpu sample %d: stack %d of %d, count %d", i, c.StackID, len(rec.Stacks), c.Count)
		}
	}
	if rec.SampleHz < 0 {
		return fmt.Errorf("sample rate %d Hz", rec.SampleHz)
	}
	return nil
}

// StackTable collects symbolized stacks as they arrive, each distinct one
// once, with the files they run in. One goroutine at a time.
type StackTable struct {
	stacks   []Stack
	byKey    map[string]int
	mappings []Mapping
	mapIndex map[*symbolize.Mapping]int
	samples  map[sampleKey]int // index in cpu
	cpu      []CPUSample
	loss     StackLoss
	mainArgv []string
}

type sampleKey struct {
	pid   uint32
	comm  string
	stack int
}

// NewStackTable makes an empty table.
func NewStackTable() *StackTable {
	return &StackTable{byKey: map[string]int{}, mapIndex: map[*symbolize.Mapping]int{}, samples: map[sampleKey]int{}}
}

// Add interns a stack and returns its StackID (0 for an empty stack).
func (t *StackTable) Add(frames []symbolize.Frame) int {
	return t.AddUnwound(frames, Unwinding{})
}

// AddUnwound interns a stack found as how says, and returns its StackID.
func (t *StackTable) AddUnwound(frames []symbolize.Frame, how Unwinding) int {
	if len(frames) == 0 {
		return 0
	}
	out := make([]Frame, len(frames))
	key := make([]byte, 0, len(frames)*13+len(how.Unwound)+2)
	key = append(key, how.Unwound...)
	var kind byte
	if how.Cut {
		kind |= 1
	}
	if how.MapGone {
		kind |= 2
	}
	key = append(key, 0, kind)
	for i, f := range frames {
		out[i] = Frame{Addr: f.Addr, Func: f.Func, File: f.File, Line: f.Line, Kernel: f.Kernel, Inlined: f.Inlined,
			Mapping: t.mapping(f.Mapping)}
		key = binary.LittleEndian.AppendUint64(key, f.Addr)
		key = binary.LittleEndian.AppendUint32(key, uint32(out[i].Mapping))
		var bits byte
		if f.Kernel {
			bits |= 1
		}
		if f.Inlined {
			bits |= 2
		}
		key = append(key, bits)
	}
	if id, ok := t.byKey[string(key)]; ok {
		return id
	}
	t.stacks = append(t.stacks, Stack{Frames: out, Unwound: how.Unwound, Cut: how.Cut, MapGone: how.MapGone})
	id := len(t.stacks)
	t.byKey[string(key)] = id
	return id
}

func (t *StackTable) mapping(m *symbolize.Mapping) int {
	if m == nil {
		return 0
	}
	if i, ok := t.mapIndex[m]; ok {
		return i
	}
	t.mappings = append(t.mappings, Mapping{File: m.File, BuildID: m.BuildID, Start: m.Start, Limit: m.Limit,
		Offset: m.Offset, Kernel: m.Kernel, Symbolized: m.Symbolized})
	t.mapIndex[m] = len(t.mappings)
	return len(t.mappings)
}

// SetMain marks the workload's executable, adding it if no stack has,
// and argv, its command line as exec'd (nil: not read); a later call
// names the program the workload exec'd since.
func (t *StackTable) SetMain(m *symbolize.Mapping, argv []string) {
	if m == nil {
		return
	}
	for i := range t.mappings {
		t.mappings[i].Main = false
	}
	t.mappings[t.mapping(m)-1].Main = true
	t.mainArgv = argv
}

// AddSample counts one CPU sample of a process at a stack.
func (t *StackTable) AddSample(pid uint32, comm string, stackID int) {
	if stackID == 0 {
		return
	}
	k := sampleKey{pid, comm, stackID}
	if i, ok := t.samples[k]; ok {
		t.cpu[i].Count++
		return
	}
	t.samples[k] = len(t.cpu)
	t.cpu = append(t.cpu, CPUSample{Pid: pid, Comm: comm, StackID: stackID, Count: 1})
}

// LoseSpawnStack counts a spawn stack that could not be symbolized.
func (t *StackTable) LoseSpawnStack() { t.loss.SpawnStacks++ }

// LoseSampleStack counts a CPU sample whose user stack could not be.
func (t *StackTable) LoseSampleStack() { t.loss.SampleStacks++ }

// DropSamples counts CPU samples not kept at all.
func (t *StackTable) DropSamples(n int) { t.loss.SamplesDropped += n }

// Fill hands the table over to a recording.
func (t *StackTable) Fill(rec *Recording) {
	rec.Stacks = t.stacks
	rec.Mappings = t.mappings
	rec.MainArgv = t.mainArgv
	sort.SliceStable(t.cpu, func(i, j int) bool {
		a, b := t.cpu[i], t.cpu[j]
		if a.Pid != b.Pid {
			return a.Pid < b.Pid
		}
		return a.StackID < b.StackID
	})
	rec.CPUSamples = t.cpu
	if t.loss != (StackLoss{}) {
		loss := t.loss
		rec.StackLoss = &loss
	}
}
