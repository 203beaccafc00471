package reports

import (
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"

	"github.com/google/pprof/profile"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/spawn"
	"github.com/spawntrace/spawntrace/analyze/summary"
	"github.com/spawntrace/spawntrace/tracer"
)

// Profile file names in the --pprof directory.
const (
	SpawnProfileName = "spawns.pb.gz"
	CPUProfileName   = "cpu.pb.gz"
)

// noStackFunc stands in for the stack of a spawn whose stack was not
// recorded, so the profile's totals still count it.
const noStackFunc = "[no stack recorded]"

// WriteSpawnProfile writes spawns.pb.gz: one sample per spawn at the
// spawning thread's user stack, valued by count and by what the spawn cost.
func WriteSpawnProfile(w io.Writer, rec *recording.Recording, sum summary.Summary) error {
	p, err := SpawnProfile(rec, &sum)
	if err != nil {
		return err
	}
	return writeProfile(w, p)
}

// WriteCPUProfile writes cpu.pb.gz: the on-CPU samples of the traced tree,
// kernel frames above user frames.
func WriteCPUProfile(w io.Writer, rec *recording.Recording) error {
	p, err := CPUProfile(rec)
	if err != nil {
		return err
	}
	return writeProfile(w, p)
}

func writeProfile(w io.Writer, p *profile.Profile) error {
	if err := p.CheckValid(); err != nil {
		return fmt.Errorf("invalid profile: %w", err)
	}
	return p.Write(w) // gzipped protobuf
}

// SpawnProfile builds the spawn profile. Sample values: spawns/count,
// clone/nanoseconds (the default), copy/nanoseconds and
// spawn_to_exec/nanoseconds, 0 where not measured. Labels: pid, comm (the
// parent's), mechanism, exe (the child's) and parent_rss in bytes; the
// workload's strings (comm, exe, symbols, files) escaped as TermSafe
// escapes them, since pprof prints them raw to a terminal. Samples
// are in time order. A profile holds every sample, so this takes memory
// in proportion to the spawns, as writing the file does.
func SpawnProfile(rec *recording.Recording, sum *summary.Summary) (*profile.Profile, error) {
	b := newProfileBuilder(rec)
	p := b.p
	p.SampleType = []*profile.ValueType{
		{Type: "spawns", Unit: "count"},
		{Type: "clone", Unit: "nanoseconds"},
		{Type: "copy", Unit: "nanoseconds"},
		{Type: "spawn_to_exec", Unit: "nanoseconds"},
	}
	p.DefaultSampleType = "clone"
	p.PeriodType = &profile.ValueType{Type: "spawns", Unit: "count"}
	p.Period = 1
	var seqs []int // each sample's Spawn.Seq: the rows come in another order
	err := sum.EachSpawn(func(sp *spawn.Spawn) error {
		s := &profile.Sample{
			Location: b.stack(sp.StackID),
			Value:    []int64{1, clampNs(sp.CloneDurNs), clampNs(sp.CopyNs), clampNs(sp.SpawnToExecNs)},
			Label: map[string][]string{
				"pid":       {strconv.FormatUint(uint64(sp.ParentPid), 10)},
				"comm":      {TermSafe(sp.Comm)},
				"mechanism": {string(sp.Mechanism)},
			},
		}
		if sp.Exe != "" {
			s.Label["exe"] = []string{TermSafe(sp.Exe)}
		}
		if sp.Parent != nil {
			s.NumLabel = map[string][]int64{"parent_rss": {clampNs(sp.Parent.RSSBytes())}}
			s.NumUnit = map[string][]string{"parent_rss": {"bytes"}}
		}
		p.Sample = append(p.Sample, s)
		seqs = append(seqs, sp.Seq)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Sort(bySeq{p.Sample, seqs})
	st, err := sum.SpawnStacks(rec)
	if err != nil {
		return nil, err
	}
	p.Comments = append(p.Comments, b.programNote()...)
	p.Comments = append(p.Comments, SpawnStackNote(st))
	if rec.BackendName() != tracer.BackendBPF {
		p.Comments = append(p.Comments, "recorded by the "+TermSafe(rec.BackendName())+
			" backend: no spawn stacks, and copy and blocked times not measured (0)")
	}
	return p, nil
}

// bySeq sorts samples by the Seq of their spawns.
type bySeq struct {
	samples []*profile.Sample
	seqs    []int
}

func (b bySeq) Len() int           { return len(b.seqs) }
func (b bySeq) Less(i, j int) bool { return b.seqs[i] < b.seqs[j] }
func (b bySeq) Swap(i, j int) {
	b.samples[i], b.samples[j] = b.samples[j], b.samples[i]
	b.seqs[i], b.seqs[j] = b.seqs[j], b.seqs[i]
}

// CPUProfile builds the CPU profile: samples/count and cpu/nanoseconds,
// one period (1e9/Hz ns) per sample; labels pid and comm.
func CPUProfile(rec *recording.Recording) (*profile.Profile, error) {
	if rec.SampleHz <= 0 {
		return nil, errors.New("the recording has no CPU samples (record with --pprof DIR to sample)")
	}
	b := newProfileBuilder(rec)
	p := b.p
	period := int64(1e9) / int64(rec.SampleHz)
	p.SampleType = []*profile.ValueType{
		{Type: "samples", Unit: "count"},
		{Type: "cpu", Unit: "nanoseconds"},
	}
	p.DefaultSampleType = "cpu"
	p.PeriodType = &profile.ValueType{Type: "cpu", Unit: "nanoseconds"}
	p.Period = period
	for _, c := range rec.CPUSamples {
		p.Sample = append(p.Sample, &profile.Sample{
			Location: b.stack(c.StackID),
			Value:    []int64{int64(c.Count), int64(c.Count) * period},
			Label: map[string][]string{
				"pid":  {strconv.FormatUint(uint64(c.Pid), 10)},
				"comm": {TermSafe(c.Comm)},
			},
		})
	}
	p.Comments = append(p.Comments, b.programNote()...)
	p.Comments = append(p.Comments, fmt.Sprintf("on-CPU samples of the traced tree at %d Hz per CPU (perf cpu-clock)", rec.SampleHz))
	if l := rec.StackLoss; l != nil && l.SampleStacks > 0 {
		p.Comments = append(p.Comments, fmt.Sprintf("%d samples' user stacks could not be symbolized", l.SampleStacks))
	}
	if l := rec.StackLoss; l != nil && l.SamplesDropped > 0 {
		p.Comments = append(p.Comments, fmt.Sprintf("%d samples dropped: the symbolizer fell behind", l.SamplesDropped))
	}
	return p, nil
}

// SpawnStackNote says how complete the spawn stacks are, in one line.
func SpawnStackNote(st summary.SpawnStackStats) string {
	if st.WithStack == 0 {
		return fmt.Sprintf("no spawn stacks in the recording (%d spawns)", st.Spawns)
	}
	s := fmt.Sprintf("%d of %d spawn stacks truncated (ended before main or a thread start: code without frame pointers)",
		st.Truncated, st.WithStack)
	if st.UnwoundCFI > 0 {
		s = fmt.Sprintf("%d of %d spawn stacks truncated (ended before main or a thread start); %d unwound by CFI (.eh_frame) past code without frame pointers",
			st.Truncated, st.WithStack, st.UnwoundCFI)
		if st.Cut > 0 {
			s += fmt.Sprintf(", %d of them cut where the copy of the stack ended", st.Cut)
		}
	}
	if st.MapGone > 0 {
		s += fmt.Sprintf("; %d truncated because the spawner exited or exec'd before its memory map was read, "+
			"too soon for the copy of its stack to be unwound", st.MapGone)
	}
	if n := st.Spawns - st.WithStack; n > 0 {
		s += fmt.Sprintf("; %d spawns without a stack", n)
	}
	if st.Unsymbolized > 0 {
		s += fmt.Sprintf("; %d stacks not symbolized (process gone or symbolizer behind)", st.Unsymbolized)
	}
	return s
}

func clampNs(v uint64) int64 {
	if v > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(v)
}

// profileBuilder makes a profile's mappings, locations and functions from
// a recording's stacks, each once.
type profileBuilder struct {
	rec      *recording.Recording
	p        *profile.Profile
	mappings []*profile.Mapping // by Recording.Mappings index; nil until used
	locs     map[locKey]*profile.Location
	funcs    map[funcKey]*profile.Function
	stacks   map[int][]*profile.Location
}

type locKey struct {
	mapping int
	addr    uint64
	kernel  bool
	fn      string // for frames in no mapping, whose addresses are ambiguous
}

type funcKey struct{ name, file string }

func newProfileBuilder(rec *recording.Recording) *profileBuilder {
	b := &profileBuilder{
		rec:      rec,
		p:        &profile.Profile{},
		mappings: make([]*profile.Mapping, len(rec.Mappings)),
		locs:     map[locKey]*profile.Location{},
		funcs:    map[funcKey]*profile.Function{},
		stacks:   map[int][]*profile.Location{},
	}
	if rec.EndMonoNs > rec.StartMonoNs {
		b.p.TimeNanos = rec.StartUnixNs
		b.p.DurationNanos = int64(rec.EndMonoNs - rec.StartMonoNs)
	}
	// pprof takes the first mapping for the main binary.
	for i, m := range rec.Mappings {
		if m.Main {
			b.mapping(i + 1)
		}
	}
	return b
}

// programNote names the script an interpreter ran as the workload's
// program, under pprof's "File:" line, which names the interpreter (the
// profile's first mapping must be an executable for pprof to symbolize).
func (b *profileBuilder) programNote() []string {
	script := b.rec.MainScript()
	if script == "" || len(b.p.Mapping) == 0 {
		return nil
	}
	return []string{"program: " + TermSafe(script) + ", run by " + path.Base(b.p.Mapping[0].File)}
}

func (b *profileBuilder) mapping(idx int) *profile.Mapping {
	if idx <= 0 || idx > len(b.mappings) {
		return nil
	}
	if m := b.mappings[idx-1]; m != nil {
		return m
	}
	rm := b.rec.Mappings[idx-1]
	m := &profile.Mapping{
		ID:    uint64(len(b.p.Mapping) + 1),
		Start: rm.Start, Limit: rm.Limit, Offset: rm.Offset,
		File: TermSafe(rm.File), BuildID: TermSafe(rm.BuildID),
		// Names were looked up while recording; pprof need not try again
		// (it still can, with -symbolize=force).
		HasFunctions: rm.Symbolized,
	}
	b.p.Mapping = append(b.p.Mapping, m)
	b.mappings[idx-1] = m
	return m
}

// stack returns the locations of a stack, leaf first: one per address,
// calls inlined there as its first lines.
func (b *profileBuilder) stack(id int) []*profile.Location {
	if locs, ok := b.stacks[id]; ok {
		return locs
	}
	var locs []*profile.Location
	if s := b.rec.StackOf(id); s != nil {
		start := 0
		for i, f := range s.Frames {
			if f.Inlined && i+1 < len(s.Frames) {
				continue
			}
			locs = append(locs, b.location(s.Frames[start:i+1]))
			start = i + 1
		}
	} else {
		locs = []*profile.Location{b.location([]recording.Frame{{Func: noStackFunc}})}
	}
	b.stacks[id] = locs
	return locs
}

// location makes the location of the frames at one address: the calls
// inlined there, innermost first, then the function holding it.
func (b *profileBuilder) location(frames []recording.Frame) *profile.Location {
	f := frames[len(frames)-1]
	k := locKey{mapping: f.Mapping, addr: f.Addr, kernel: f.Kernel}
	if f.Mapping == 0 {
		k.fn = f.Func
	}
	if l := b.locs[k]; l != nil {
		return l
	}
	l := &profile.Location{ID: uint64(len(b.p.Location) + 1), Address: f.Addr, Mapping: b.mapping(f.Mapping)}
	for _, fr := range frames {
		if fr.Func == "" {
			continue
		}
		l.Line = append(l.Line, profile.Line{Function: b.function(fr.Func, fr.File), Line: int64(fr.Line)})
		if m := l.Mapping; m != nil {
			m.HasFunctions = true
			m.HasFilenames = m.HasFilenames || fr.File != ""
			m.HasLineNumbers = m.HasLineNumbers || fr.Line != 0
			m.HasInlineFrames = m.HasInlineFrames || len(frames) > 1
		}
	}
	b.p.Location = append(b.p.Location, l)
	b.locs[k] = l
	return l
}

func (b *profileBuilder) function(name, file string) *profile.Function {
	k := funcKey{name, file}
	if fn := b.funcs[k]; fn != nil {
		return fn
	}
	// pprof prints names and files raw to the terminal, and a workload
	// names its own symbols and files: escaped as the text reports are,
	// which keeps every printable character (C++'s <>:&, Rust's {}#).
	n := TermSafe(name)
	fn := &profile.Function{ID: uint64(len(b.p.Function) + 1), Name: n, SystemName: n, Filename: TermSafe(file)}
	b.p.Function = append(b.p.Function, fn)
	b.funcs[k] = fn
	return fn
}
