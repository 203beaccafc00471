// Package tracer loads spawntrace's BPF programs, attaches them, and turns
// what they send into plain Go values. It is the only package that imports
// cilium/ebpf.
package tracer

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"

	"github.com/spawntrace/spawntrace/tracer/phase"
)

// DefaultRingBytes is the ring buffer size: 16 MiB holds ~19k spawn events
// between two reads.
const DefaultRingBytes = 16 << 20

// Config is set before the programs load.
type Config struct {
	// LauncherPid is the process that will start the workload (spawntrace
	// itself, os.Getpid(): its pid in its own pid namespace); its next child
	// process is tracked from birth after ArmLaunch.
	LauncherPid int
	// RingBytes sizes the ring buffer: a power of two, a multiple of the page size.
	RingBytes int
	// Disable names probe groups (see ProbeNames) to leave unattached, as if
	// the kernel lacked them.
	Disable []string
	// ForceFallback names fallback features (see FallbackNames) to do
	// without even where the kernel has them: how the tests run, on a new
	// kernel, what an old one runs.
	ForceFallback []string
	// SpawnsOnly counts and times only the spawn-related calls (clone,
	// clone3, fork, vfork, execve, execveat, socketpair, pipe2), not every
	// syscall: on those calls' own syscall tracepoints where the kernel has
	// what they need (spawnTracepointsMissing), so that no other syscall
	// runs a program; else the raw pair's programs return at once for the
	// others.
	SpawnsOnly bool
	// Compat32 says the workload starts as a 32-bit program: under
	// SpawnsOnly the raw pair that sees its calls is attached from the
	// start, rather than at its exec.
	Compat32 bool
	// SampleHz > 0 samples the tree on CPU at that frequency per CPU, with
	// kernel and user stacks.
	SampleHz int
	// StackCopy sends, with each spawn, the caller's registers and the
	// bytes of its user stack (Event.StackCopy), for an unwinder that
	// reaches past code without frame pointers. Only where stacks are
	// kept (--pprof, -w): the default mode does not pay for the copy.
	StackCopy bool
	// TableOnly leaves out the probes that only the spawns' anatomy needs
	// (the copy timing, blocked time), unless Disable or ForceFallback
	// names them: nothing shown needs them (-c alone), and each costs
	// a load, an attach and a detach, and every run of its program.
	TableOnly bool
}

// Tracer is loaded and attached BPF state. Close undoes it.
type Tracer struct {
	coll    *ebpf.Collection
	links   []link.Link
	perfFDs []int // cpu-clock events the sampling program is attached to
	// --spawns-only on the spawn calls' tracepoints: their perf events and
	// links, each link also pinned in pins (see spawnPins), as are the
	// others where the instance could be made.
	calls       *spawnCallPoints
	spawnEvents []int
	spawnLinks  []*link.RawLink
	pins        *spawnPins
	// compatMu guards compatPending: the raw pair for the tree's 32-bit
	// calls, still to attach once it makes one (under spawn tracepoints).
	compatMu      sync.Mutex
	compatPending *probeGroup
	// compatSpec holds compatPending's programs, loaded with it: most
	// trees make no 32-bit call, and each load is a verification.
	compatSpec *ebpf.CollectionSpec
	compatOn   bool // the raw pair was attached for them
	reader     *ring
	ringMap    *ebpf.Map // the ring buffer the reader was opened on, closed after it
	probes     []Probe
	ncpu       int
	pidns      pidNamespace
}

// Open checks what the kernel offers, loads and attaches. An unavailable
// optional probe is recorded in Probes, not an error.
func Open(cfg Config) (t *Tracer, err error) {
	phase.Done("tracer opening")
	defer phase.Done("tracer open")
	if cfg.RingBytes == 0 {
		cfg.RingBytes = DefaultRingBytes
	}
	if err := CheckRingBytes(cfg.RingBytes); err != nil {
		return nil, err
	}
	disabled := map[string]bool{}
	known := map[string]bool{}
	for _, n := range ProbeNames() {
		known[n] = true
	}
	for _, n := range cfg.Disable {
		if !known[n] {
			return nil, fmt.Errorf("unknown probe %q (known: %v)", n, ProbeNames())
		}
		disabled[n] = true
	}
	forced := map[string]bool{}
	for _, n := range cfg.ForceFallback {
		if !slices.Contains(FallbackNames(), n) {
			return nil, fmt.Errorf("unknown fallback %q (known: %v)", n, FallbackNames())
		}
		forced[n] = true
	}

	// --spawns-only's events are opened meanwhile too (spawnCallPoints).
	var calls *spawnCallPoints
	if cfg.SpawnsOnly && !disabled[SyscallsProbe] {
		calls = startSpawnCalls(kernelRelease())
	}
	defer func() { calls.drop() }() // nil once the tracer has them

	// The kernel's BTF (~6 MB) is indexed by name meanwhile, on the other
	// CPU: the probe checks and the load need it. cilium/ebpf decodes a
	// type only when it is looked up, but with every type it reaches: the
	// first tracepoint checked below whose arguments reach task_struct
	// decodes most of the kernel's types, which every program's
	// relocations and attach target need before its load.
	kernelReady := make(chan struct{})
	go func() {
		defer close(kernelReady)
		defer phase.Done("kernel BTF indexed")
		if k, err := kernelTypes.Kernel(); err == nil {
			var typedef *btf.Typedef
			k.TypeByName("btf_trace_sys_enter", &typedef)
		}
	}()
	defer func() { <-kernelReady }()
	if err := rlimit.RemoveMemlock(); err != nil {
		return nil, fmt.Errorf("removing memlock rlimit: %w", err)
	}
	// The ring buffer, the largest map (3-9 ms to make here), needs
	// nothing from the object: made meanwhile too.
	ring := makeMaps(map[string]*ebpf.MapSpec{"events": {Name: "events", Type: ebpf.RingBuf, MaxEntries: uint32(cfg.RingBytes)}})
	defer ring.close()
	reader := openReader(ring)
	defer reader.discard()
	spec, err := loadSpawntrace()
	phase.Done("bpf object read")
	if err != nil {
		return nil, fmt.Errorf("reading bpf objects: %w", err)
	}
	if err := spec.Variables["launcher_tgid"].Set(uint32(cfg.LauncherPid)); err != nil {
		return nil, fmt.Errorf("setting launcher pid: %w", err)
	}
	pidns, err := ownPidNamespace()
	if err != nil {
		return nil, err
	}
	if err := pidns.configure(spec); err != nil {
		return nil, err
	}
	if cfg.SpawnsOnly {
		if err := spec.Variables["spawns_only"].Set(uint32(1)); err != nil {
			return nil, fmt.Errorf("setting spawns-only: %w", err)
		}
	}
	if cfg.StackCopy {
		if err := spec.Variables["stack_copy_on"].Set(uint32(1)); err != nil {
			return nil, fmt.Errorf("setting stack copy: %w", err)
		}
	}
	if cfg.TableOnly {
		if err := spec.Variables["table_only"].Set(uint32(1)); err != nil {
			return nil, fmt.Errorf("setting table-only: %w", err)
		}
	}
	again := preemptibleTracepoints(kernelRelease())
	if err := spec.Variables["again_programs"].Set(boolU32(again)); err != nil {
		return nil, fmt.Errorf("setting again_programs: %w", err)
	}
	spec.Maps["events"].MaxEntries = uint32(cfg.RingBytes)
	early := earlyMaps(spec)
	delete(early, "events")
	premade := makeMaps(early)
	defer premade.close()

	t = &Tracer{ncpu: runtime.NumCPU(), pidns: pidns}
	if n, err := ebpf.PossibleCPU(); err == nil {
		t.ncpu = n
	}
	defer func() {
		if err != nil {
			t.Close()
			t = nil
		}
	}()

	// Drop the programs of unavailable probes before loading: a tp_btf
	// program whose tracepoint is missing would fail the whole load.
	<-kernelReady
	phase.Done("kernel BTF awaited")
	kernelBTF, btfErr := kernelTypes.Kernel()
	groups := probeGroups
	var spawnPathWhy string // why --spawns-only keeps the raw pair
	if cfg.SpawnsOnly && !disabled[SyscallsProbe] {
		c, why := spawnTracepoints(calls, again, kernelBTF, btfErr)
		calls = nil
		spawnPathWhy = why
		if why == "" {
			t.calls, t.pins = c, c.pins
			if err := spec.Variables["spawn_tracepoints"].Set(uint32(1)); err != nil {
				return nil, fmt.Errorf("setting spawn_tracepoints: %w", err)
			}
			groups = slices.Clone(probeGroups)
			for i, g := range groups {
				if g.name == SyscallsProbe {
					raw := g
					t.compatPending = &raw
					groups[i] = c.group
				}
			}
		}
	}
	if t.calls == nil {
		for _, p := range []string{"spawn_call_enter", "spawn_call_exit"} {
			delete(spec.Programs, p)
		}
	}
	var usable, kprobed []probeGroup
	kprobedWhy := map[string]string{}
	for _, g := range groups {
		if cfg.TableOnly && g.anatomy && !disabled[g.name] && !forced[g.name] {
			for _, p := range g.points {
				delete(spec.Programs, p.prog)
			}
			for _, kp := range g.kprobes {
				delete(spec.Programs, kp.prog)
			}
			continue
		}
		reason := ""
		if disabled[g.name] {
			reason = "disabled by --disable-probe"
		}
		for _, p := range g.points {
			if reason == "" {
				reason = pointMissing(p, kernelBTF, btfErr)
			}
		}
		if reason == "" && forced[g.name] {
			reason = "forced by --force-fallback"
		}
		useKprobes := reason != "" && !disabled[g.name] && g.kprobes != nil
		if !useKprobes {
			for _, kp := range g.kprobes {
				delete(spec.Programs, kp.prog)
			}
		}
		if reason != "" {
			if g.required {
				return nil, fmt.Errorf("%s is required to follow the process tree: %s", g.name, reason)
			}
			for _, p := range g.points {
				delete(spec.Programs, p.prog)
			}
			if useKprobes {
				kprobed = append(kprobed, g)
				kprobedWhy[g.name] = reason
				continue
			}
			t.probes = append(t.probes, Probe{Name: g.name, Reason: reason})
			continue
		}
		usable = append(usable, g)
	}

	phase.Done("attach points checked, kernel types decoded")

	if err := keepSecondPrograms(spec, again); err != nil {
		return nil, err
	}

	// Helpers: a missing one takes the programs' variants without it.
	var helperProbes []Probe
	for _, h := range helperFeatures {
		reason := helperMissing(h, kernelBTF, btfErr)
		if disabled[h.name] {
			reason = "disabled by --disable-probe"
		}
		pickVariants(spec, h.without, reason == "")
		if reason == "" {
			helperProbes = append(helperProbes, Probe{Name: h.name, Available: true})
			continue
		}
		helperProbes = append(helperProbes, Probe{Name: h.name, Reason: reason})
	}

	fallbackProbes, err := applyFallbacks(spec, forced, kernelBTF, btfErr)
	if err != nil {
		return nil, err
	}
	helperProbes = append(helperProbes, fallbackProbes...)

	if cfg.SampleHz <= 0 {
		delete(spec.Programs, "on_sample")
	}
	if t.compatPending != nil && !cfg.Compat32 {
		t.compatSpec = setAside(spec, t.compatPending.points)
	}
	phase.Done("programs chosen")
	made := maps.Clone(premade.wait())
	maps.Copy(made, ring.wait())
	if t.ringMap, t.reader, err = reader.take(); err != nil {
		return nil, err
	}
	phase.Done("maps made")
	t.coll, err = loadCollection(spec, made)
	phase.Done("programs loaded")
	if err != nil {
		// Said only now: probing for them costs every run ~20 ms (the
		// kernel frees a task storage map after an RCU grace period).
		if rerr := checkRequiredMaps(); rerr != nil {
			return nil, rerr
		}
		var ve *ebpf.VerifierError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("loading bpf objects: %w (verifier log: %+v)", err, ve)
		}
		return nil, fmt.Errorf("loading bpf objects: %w", err)
	}
	if t.pins == nil {
		// Without it (no CAP_SYS_ADMIN) Close detaches them itself.
		t.pins, _ = newSpawnPins()
	}
	// Before anything is attached, so that every event has its ids in
	// spawntrace's namespace.
	if err := t.findPidnsLevel(); err != nil {
		return nil, err
	}
	for _, g := range usable {
		if err := t.attach(g); err != nil {
			if g.required {
				return nil, err
			}
			t.probes = append(t.probes, Probe{Name: g.name, Reason: err.Error()})
			continue
		}
		p := Probe{Name: g.name, Available: true, Attached: g.attached}
		if g.name == SyscallsProbe && cfg.SpawnsOnly && spawnPathWhy != "" {
			p.Reason = "the spawn calls' own syscall tracepoints: " + spawnPathWhy
			p.Fallback = "raw_syscalls' programs return at once for any other call, which still costs the kernel's traced path and a program run"
		}
		t.probes = append(t.probes, p)
	}
	if cfg.Compat32 {
		if err := t.attachCompatPath(); err != nil {
			return nil, err
		}
	}
	for _, g := range kprobed {
		why := kprobedWhy[g.name]
		if err := t.attachKprobes(g); err != nil {
			t.probes = append(t.probes, Probe{Name: g.name, Reason: why + "; and by kprobes: " + err.Error()})
			continue
		}
		t.probes = append(t.probes, Probe{Name: g.name, Available: true, Reason: why, Fallback: g.kprobesInstead})
	}
	t.probes = append(t.probes, helperProbes...)
	if cfg.SampleHz > 0 {
		if err := t.attachSampling(cfg.SampleHz); err != nil {
			t.probes = append(t.probes, Probe{Name: SamplingProbe, Reason: err.Error()})
		} else {
			t.probes = append(t.probes, Probe{Name: SamplingProbe, Available: true})
		}
	}
	phase.Done("programs attached")
	if t.reader == nil { // the ring was not made beforehand: the load made it
		if t.reader, err = newRing(t.coll.Maps["events"]); err != nil {
			return nil, fmt.Errorf("opening ring buffer: %w", err)
		}
	}
	return t, nil
}

// CheckRingBytes says why a ring buffer size is not usable, or nil.
func CheckRingBytes(n int) error {
	page := os.Getpagesize()
	if n < page || n&(n-1) != 0 || n > 1<<30 {
		return fmt.Errorf("ring buffer size %d: must be a power of two between %d and %d bytes", n, page, 1<<30)
	}
	return nil
}

// attach links every program of a group, or none of them.
func (t *Tracer) attach(g probeGroup) error {
	var events map[uint64]int
	if slices.ContainsFunc(g.points, func(p attachPoint) bool { return p.perfID != 0 }) {
		var err error
		if events, err = t.spawnEventsOpened(); err != nil {
			return err
		}
	}
	var made []link.Link
	for _, p := range g.points {
		prog := t.coll.Programs[p.prog]
		if prog == nil && p.again {
			continue // not needed on this kernel
		}
		if p.perfID != 0 {
			// Kept on failure too: Close releases them, without waiting.
			if err := t.attachPerf(p, prog, events[p.perfID]); err != nil {
				return err
			}
			continue
		}
		l, err := link.AttachTracing(link.TracingOptions{Program: prog})
		if err != nil {
			for _, m := range made {
				m.Close()
			}
			return fmt.Errorf("attaching %s to %s:%s: %w", p.prog, p.group, p.name, err)
		}
		t.pinLink(l)
		made = append(made, l)
	}
	t.links = append(t.links, made...)
	return nil
}

// attachKprobes links every kprobe program of a group, or none of them.
func (t *Tracer) attachKprobes(g probeGroup) error {
	var made []link.Link
	for _, kp := range g.kprobes {
		attach, what := link.Kprobe, "kprobe"
		if kp.ret {
			attach, what = link.Kretprobe, "kretprobe"
		}
		l, err := attach(kp.symbol, t.coll.Programs[kp.prog], nil)
		if err != nil {
			for _, m := range made {
				m.Close()
			}
			return fmt.Errorf("attaching %s to %s %s: %w", kp.prog, what, kp.symbol, err)
		}
		t.pinLink(l)
		made = append(made, l)
	}
	t.links = append(t.links, made...)
	return nil
}

// Probes says which attachment points are in use and why others are not.
func (t *Tracer) Probes() []Probe {
	probes := append([]Probe(nil), t.probes...)
	t.compatMu.Lock()
	defer t.compatMu.Unlock()
	for i, p := range probes {
		if p.Name == SyscallsProbe && p.Attached != "" && t.compatOn {
			probes[i].Attached += ", and " + SyscallsProbe + " for the tree's 32-bit calls"
		}
	}
	return probes
}

// ProbeAvailable reports whether the named probe group is attached.
func (t *Tracer) ProbeAvailable(name string) bool {
	for _, p := range t.probes {
		if p.Name == name {
			return p.Available
		}
	}
	return false
}

// ArmLaunch makes the launcher's child processes tracked from their birth
// until DisarmLaunch, in the pending state: nothing of one is counted until
// its first execve, and one that exits without exec is forgotten.
func (t *Tracer) ArmLaunch() error {
	return t.setArmed(1)
}

// DisarmLaunch ends ArmLaunch, once the workload has started.
func (t *Tracer) DisarmLaunch() error {
	return t.setArmed(0)
}

func (t *Tracer) setArmed(v uint32) error {
	if err := t.setSwitch("launch_armed", v); err != nil {
		return fmt.Errorf("setting launch switch: %w", err)
	}
	return nil
}

// setSwitch sets one of the BPF side's switches (a .bss global) through
// the map's memory, never by a bpf() map update: while one runs, the
// kernel skips every perf-event program on that CPU (see the BPF side).
func (t *Tracer) setSwitch(name string, v uint32) error {
	sw := t.coll.Variables[name]
	if sw == nil {
		return fmt.Errorf("no switch %s in the BPF objects", name)
	}
	return sw.Set(v)
}

// trackActive is TRACK_ACTIVE (bpf/spawntrace.bpf.c).
const trackActive = 1

// Track adds running processes to the traced tree, as with -p: pids as
// spawntrace's pid namespace numbers them (its /proc). Inside a container
// each is resolved to the process the kernel knows, never taken for the
// host's process of that number; one that cannot be is an error.
func (t *Tracer) Track(pids ...int) error {
	host, err := t.hostPids(pids)
	if err != nil {
		return err
	}
	// These processes' tasks have no syscall slot from their fork: the
	// programs must look each task without one up in tracked.
	if err := t.setSwitch("tree_unmarked", 1); err != nil {
		return fmt.Errorf("tracking running processes: %w", err)
	}
	for i, pid := range pids {
		if host[i] == 0 {
			continue // exited meanwhile
		}
		v := spawntraceTrackedProc{NsPid: uint32(pid), State: trackActive}
		if err := t.coll.Maps["tracked"].Put(host[i], v); err != nil {
			return fmt.Errorf("tracking pid %d: %w", pid, err)
		}
	}
	return nil
}

// Tracked lists the processes the kernel follows right now, by their pids
// in spawntrace's pid namespace: the tree's live processes, up to date
// with every fork and exit, where events about them may still wait in the
// ring buffer.
func (t *Tracer) Tracked() ([]uint32, error) {
	var out []uint32
	var key uint32
	var v spawntraceTrackedProc
	iter := t.coll.Maps["tracked"].Iterate()
	for iter.Next(&key, &v) {
		out = append(out, v.NsPid)
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("reading tracked processes: %w", err)
	}
	return out, nil
}

// Untrack stops following pid (as Tracked gives it), for one found gone
// whose exit the kernel did not see (it cannot happen but for a bug; a
// stale entry must not make spawntrace wait forever).
func (t *Tracer) Untrack(pid uint32) error {
	m := t.coll.Maps["tracked"]
	var keys []uint32
	var key uint32
	var v spawntraceTrackedProc
	iter := m.Iterate()
	for iter.Next(&key, &v) {
		if v.NsPid == pid {
			keys = append(keys, key)
		}
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("untracking pid %d: %w", pid, err)
	}
	for _, k := range keys {
		if err := m.Delete(k); err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			return fmt.Errorf("untracking pid %d: %w", pid, err)
		}
	}
	return nil
}

// SameProgram says whether process pid still runs the program it ran at
// sinceNs (CLOCK_MONOTONIC, an event's time), from a spawn record of it
// at sinceNs whose stack needs the memory map: that record, or an earlier
// one of the same program, left its time in the kernel's announced map,
// which an exec or the exit clears. So a memory map read before this call
// is of that program when same is true; false when the process exec'd or
// exited since (or its pid went to another process). known is false where
// the kernel's key cannot be had: in a nested pid namespace (the map is
// keyed by host pids), or on a read error.
func (t *Tracer) SameProgram(pid uint32, sinceNs uint64) (same, known bool) {
	if t.pidns.nested() {
		return false, false
	}
	var firstNs uint64
	switch err := t.coll.Maps["announced"].Lookup(pid, &firstNs); {
	case errors.Is(err, ebpf.ErrKeyNotExist):
		return false, true
	case err != nil:
		return false, false
	}
	return firstNs <= sinceNs, true
}

// drainEvery bounds how long a record that did not wake the reader waits.
const drainEvery = 50 * time.Millisecond

// Read delivers what the kernel sends to sink until Flush is called and
// everything submitted before it has been read, then returns nil.
func (t *Tracer) Read(sink Sink) error {
	var ev Event
	var sample Sample
	var copies stackCopies
	record := func(b []byte) error {
		if compatRecord(b) {
			if err := t.attachCompatPath(); err != nil {
				return err
			}
		}
		// Every record starts with its kind (bpf/spawntrace.h).
		if len(b) >= 4 && *(*uint32)(unsafe.Pointer(&b[0])) == uint32(spawntraceEventKindEV_SAMPLE) {
			raw := recordAs[spawntraceSample](b)
			if raw == nil {
				return fmt.Errorf("short sample record: %d bytes", len(b))
			}
			if sink.Sample != nil {
				convertSample(raw, &sample)
				sink.Sample(&sample)
			}
			return nil
		}
		if len(b) >= 4 && *(*uint32)(unsafe.Pointer(&b[0])) == uint32(spawntraceEventKindEV_STACK_COPY) {
			return copies.add(b)
		}
		if err := convert(b, &ev); err != nil {
			return err
		}
		copies.attach(&ev)
		sink.Event(&ev)
		return nil
	}
	for {
		// Most records do not wake the reader (bpf submit()): it
		// wakes up now and then to take them.
		n, stop, err := t.reader.drain(record)
		if err != nil {
			return err
		}
		if n > 0 && sink.Drained != nil {
			sink.Drained()
		}
		if stop {
			return nil
		}
		t.reader.wait(drainEvery)
	}
}

// compatRecord says whether a record tells of the tree's first 32-bit
// calls: a fork by one, or an exec of a 32-bit program.
func compatRecord(b []byte) bool {
	h := recordAs[spawntraceEventHdr](b)
	return h != nil && (h.Kind == uint32(KindFork) || h.Kind == uint32(KindExec)) &&
		has(h.Flags, spawntraceEventFlagEVF_COMPAT)
}

// Flush makes Read return once it has drained what is in the ring buffer.
func (t *Tracer) Flush() error {
	return t.reader.flush()
}

// ExactTimedCalls and TimeSampleEvery are bpf/spawntrace.h's
// EXACT_TIMED_CALLS and TIME_SAMPLE_EVERY: each syscall number's first
// calls on a CPU are timed, then a random one in TimeSampleEvery.
const (
	ExactTimedCalls = 64
	TimeSampleEvery = 8
)

// maxSyscalls is bpf/spawntrace.h's MAX_SYSCALLS: syscall_stats holds the
// x86_64 table's numbers below it, then the i386 table's.
const maxSyscalls = 512

// timeSample is one syscall's times as the kernel keeps them: the calls
// timed in full (each number's first on a CPU, and spawn calls) and the
// random sample of the rest.
type timeSample struct {
	timedNs, timed     uint64
	sampledNs, sampled uint64
}

// estimate is the time of all calls: the timed ones' own, plus the calls
// not timed in full at the sample's mean (the timed ones' mean when the
// sample is empty). Exact when every call was timed in full.
func (t timeSample) estimate(calls uint64) uint64 {
	rest := calls - min(calls, t.timed)
	switch {
	case rest == 0:
		return t.timedNs
	case t.sampled > 0:
		return SatAdd(t.timedNs, scaled(t.sampledNs, t.sampled, rest))
	case t.timed > 0:
		return SatAdd(t.timedNs, scaled(t.timedNs, t.timed, rest))
	}
	return 0
}

// scaled is ns/n*m, at most the largest uint64.
func scaled(ns, n, m uint64) uint64 {
	v := float64(ns) / float64(n) * float64(m)
	if v >= math.MaxUint64 {
		return math.MaxUint64
	}
	return uint64(v)
}

// SyscallStats sums the per-CPU syscall totals; only syscalls called appear.
func (t *Tracer) SyscallStats() ([]SyscallStat, error) {
	m := t.coll.Maps["syscall_stats"]
	var out []SyscallStat
	add := func(key uint32, vals []spawntraceSyscallStat) {
		var s SyscallStat
		var t timeSample
		for _, v := range vals {
			s.Calls += v.Calls
			s.Errors += v.Errors
			t.timedNs += v.TimeNs
			t.timed += v.TimedCalls
			t.sampledNs += v.SampledNs
			t.sampled += v.SampledCalls
		}
		s.TimeNs, s.TimedCalls = t.estimate(s.Calls), t.timed+t.sampled
		if s.Calls > 0 {
			s.Nr = int(key % maxSyscalls)
			if key >= maxSyscalls {
				s.ABI = ABII386
			}
			out = append(out, s)
		}
	}
	// One batch read, where the kernel has them for arrays (5.6+): the
	// iteration below takes two syscalls per key, ~1 ms at every run's end.
	keys := make([]uint32, m.MaxEntries())
	vals := make([]spawntraceSyscallStat, len(keys)*t.ncpu)
	var cursor ebpf.MapBatchCursor
	n, err := m.BatchLookup(&cursor, keys, vals, nil)
	if n == len(keys) && (err == nil || errors.Is(err, ebpf.ErrKeyNotExist)) {
		for i, key := range keys {
			add(key, vals[i*t.ncpu:(i+1)*t.ncpu])
		}
		return out, nil
	}
	var key uint32
	vals = vals[:t.ncpu]
	iter := m.Iterate()
	for iter.Next(&key, &vals) {
		add(key, vals)
	}
	if err := iter.Err(); err != nil {
		return nil, fmt.Errorf("reading syscall totals: %w", err)
	}
	return out, nil
}

// Lost reads the kernel's counts of what it could not deliver or follow.
func (t *Tracer) Lost() (Lost, error) {
	m := t.coll.Maps["lost"]
	sum := func(kind uint32) (uint64, error) {
		vals := make([]uint64, t.ncpu)
		if err := m.Lookup(kind, &vals); err != nil {
			return 0, fmt.Errorf("reading lost counter %d: %w", kind, err)
		}
		var n uint64
		for _, v := range vals {
			n += v
		}
		return n, nil
	}
	var l Lost
	var err error
	for kind, dst := range map[spawntraceLostKind]*uint64{
		spawntraceLostKindLOST_RINGBUF:    &l.Events,
		spawntraceLostKindLOST_INFLIGHT:   &l.SyscallSlots,
		spawntraceLostKindLOST_SPAWN_SLOT: &l.SpawnSlots,
		spawntraceLostKindLOST_TRACKED:    &l.TrackedLimits,
		spawntraceLostKindLOST_COMPAT:     &l.CompatCalls,
	} {
		if *dst, err = sum(uint32(kind)); err != nil {
			return l, err
		}
	}
	skips, err := t.Skipped()
	if err != nil {
		return l, err
	}
	madeUp := make(map[string]uint64)
	for _, g := range probeGroups {
		for _, p := range g.points {
			t.compatMu.Lock()
			loaded := t.coll.Programs[p.prog] != nil
			t.compatMu.Unlock()
			if !p.again || !loaded {
				continue
			}
			vals := make([]uint64, t.ncpu)
			if err := t.coll.Maps["made_up"].Lookup(uint32(p.madeUp), &vals); err != nil {
				return l, fmt.Errorf("reading %s's runs made up: %w", p.prog, err)
			}
			for _, v := range vals {
				madeUp[p.prog] = SatAdd(madeUp[p.prog], v)
			}
		}
	}
	l.Skipped = notMadeUp(skips, func(prog string) (uint64, bool) {
		n, ok := madeUp[prog]
		return n, ok
	})
	return l, nil
}

// programNames lists the loaded programs' names, sorted.
func (t *Tracer) programNames() []string {
	t.compatMu.Lock() // attachCompatPath adds to them
	defer t.compatMu.Unlock()
	return slices.Sorted(maps.Keys(t.coll.Programs))
}

// Skipped lists the programs the kernel skipped runs of, by name, each
// counted alone (a first program and its second apart). The counts are
// the machine's, not the traced tree's alone.
func (t *Tracer) Skipped() ([]Skip, error) {
	var out []Skip
	for _, name := range t.programNames() {
		st, err := t.coll.Programs[name].Stats()
		if err != nil {
			return out, fmt.Errorf("reading %s's run counts: %w", name, err)
		}
		if st.RecursionMisses > 0 {
			s := Skip{Prog: name, Runs: st.RecursionMisses}
			if w, ok := programLoses()[name]; ok {
				s.Point, s.Measure = w.Point, w.Measure
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// notMadeUp keeps, of skips (Skipped's), the runs no second program made
// up for, by first program: its skips less the runs its second made up for
// (madeUp, by the second's name, where it is loaded). A second program's
// own skips lose nothing where the first ran, and are among the first's
// where it did not. Programs that feed no measurement (the pid iterator)
// are left out.
func notMadeUp(skips []Skip, madeUp func(again string) (uint64, bool)) []Skip {
	var out []Skip
	for _, s := range skips {
		if s.Measure == "" || strings.HasSuffix(s.Prog, againSuffix) {
			continue
		}
		if n, ok := madeUp(s.Prog + againSuffix); ok {
			// A second that ran where its first did but on another CPU
			// (the task moved) finds no mark and counts too: never below 0.
			s.Runs -= min(s.Runs, n)
		}
		if s.Runs > 0 {
			out = append(out, s)
		}
	}
	return out
}

// ProgramRun is how often the kernel ran one of the programs and the time
// it spent in them, counted only while kernel.bpf_stats_enabled is 1.
type ProgramRun struct {
	Prog      string
	Runs      uint64
	RunTimeNs uint64
}

// ProgramRuns lists the programs the kernel timed runs of, by name: the
// machine's runs, not the traced tree's alone.
func (t *Tracer) ProgramRuns() ([]ProgramRun, error) {
	var out []ProgramRun
	for _, name := range t.programNames() {
		st, err := t.coll.Programs[name].Stats()
		if err != nil {
			return out, fmt.Errorf("reading %s's run times: %w", name, err)
		}
		if st.RunCount > 0 {
			out = append(out, ProgramRun{Prog: name, Runs: st.RunCount, RunTimeNs: uint64(st.Runtime)})
		}
	}
	return out, nil
}

// Close detaches and unloads, in reverse order of setup. Safe on a partly
// opened or nil Tracer.
func (t *Tracer) Close() error {
	phase.Done("tracer closing")
	defer phase.Done("tracer closed")
	if t == nil {
		return nil
	}
	var errs []error
	// Closing the reader unmaps the ring (~1-6.5 ms for 16 MiB), and
	// detaching the last program of a tracepoint makes the kernel patch
	// its call sites on every CPU, which waits on the other CPUs (slow in
	// a VM), where the link is not pinned (see spawnPins; a pinned one's
	// close only drops a reference). They are independent: all at once.
	var wg sync.WaitGroup
	var readerErr error
	if t.reader != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			readerErr = t.reader.close()
		}()
	}
	for _, fd := range t.perfFDs {
		errs = append(errs, unix.Close(fd))
	}
	t.perfFDs = nil
	linkErrs := make([]error, len(t.links))
	for i, l := range t.links {
		wg.Add(1)
		go func() {
			defer wg.Done()
			linkErrs[i] = l.Close()
		}()
	}
	wg.Wait()
	phase.Done("ring reader closed, links detached")
	errs = append(errs, readerErr)
	errs = append(errs, linkErrs...)
	t.reader, t.links = nil, nil
	if t.ringMap != nil {
		errs = append(errs, t.ringMap.Close())
		t.ringMap = nil
	}
	errs = append(errs, t.closeSpawnCalls())
	phase.Done("spawn calls released")
	if t.coll != nil {
		t.coll.Close()
		t.coll = nil
	}
	return errors.Join(errs...)
}
