package tracer

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"unsafe"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/link"
	"golang.org/x/sys/unix"
)

// spawnCallPoints is --spawns-only's spawn calls' own syscall tracepoints,
// made ready from Open's start: the probe group, the bpffs instance their
// links are pinned in, and their perf events, opened meanwhile. An open
// waits for the kernel's event_mutex, which the release of a previous
// run's events (spawnPins) holds through an RCU grace period for each
// event (tracepoint_synchronize_unregister, 16 in a row, ~0.6 s after
// every run): a run started within that waited for one or two grace
// periods at attach; here the kernel's BTF is decoded and the programs
// load meanwhile, which hides one.
type spawnCallPoints struct {
	ready  chan struct{} // group, pins and why are set
	opened chan struct{} // events and openErr are set
	group  probeGroup
	pins   *spawnPins
	why    string // why they cannot be used ("" when they can)
	// events are the opened events' fds by tracefs id, also on failure.
	events  map[uint64]int
	openErr error
}

// startSpawnCalls starts making the spawn calls' tracepoints ready. Before
// Linux 5.15 (no perf-event links, no bpf_task_pt_regs for the arguments)
// it does not start: whether the kernel has what they need is decided
// from its BTF (spawnTracepoints), and events opened for nothing would
// each wait out a grace period when closed.
func startSpawnCalls(release string) *spawnCallPoints {
	if !spawnCallsUsable(release) {
		return nil
	}
	c := &spawnCallPoints{ready: make(chan struct{}), opened: make(chan struct{})}
	go func() {
		defer close(c.opened)
		g, err := spawnCallsGroup()
		if err == nil {
			// Before any event: without the instance (CAP_SYS_ADMIN)
			// none is opened.
			c.pins, err = newSpawnPins()
		}
		if err != nil {
			c.why = err.Error()
			close(c.ready)
			return
		}
		c.group = g
		close(c.ready)
		c.events, c.openErr = openSpawnEvents(g)
	}()
	return c
}

// spawnCallsUsable says whether --spawns-only may take the spawn calls'
// own tracepoints on the kernel of release: from 5.15, and not where the
// kernel preempts BPF programs (skippedPerfPrograms).
func spawnCallsUsable(release string) bool {
	var major, minor int
	if _, err := fmt.Sscanf(release, "%d.%d", &major, &minor); err != nil || major < 5 || major == 5 && minor < 15 {
		return false
	}
	return !preemptibleTracepoints(release)
}

// drop closes what c made, without waiting for it: c is not used.
func (c *spawnCallPoints) drop() {
	if c == nil {
		return
	}
	go func() {
		<-c.opened
		for _, fd := range c.events {
			unix.Close(fd)
		}
		c.pins.close()
	}()
}

// skippedPerfPrograms is why --spawns-only keeps the raw pair where the
// kernel preempts tasks inside BPF programs (preemptibleTracepoints): the
// spawn calls' tracepoints run their programs through perf events, which
// the kernel skips on a CPU while any task there holds its one count of
// such programs (bpf_prog_active), and no second program can make up for
// that; the raw pair's second programs can. 7.3 skipped 1-3 spawn call
// exits in 10 of 16 runs of a 5-fork loop, an execve's among them in 2.
const skippedPerfPrograms = "the kernel may preempt a task inside a BPF program and then skips their perf-event programs on that CPU, which no second program can make up for"

// spawnTracepoints says whether --spawns-only can take the spawn calls'
// own syscall tracepoints (started by startSpawnCalls, or else now), or
// why not: before Linux 5.15 (no perf-event links, no bpf_task_pt_regs
// for the arguments), where the kernel preempts BPF programs
// (skippedPerfPrograms), without tracefs, or without the right to make a
// bpffs instance (CAP_SYS_ADMIN). Unused, c is dropped.
func spawnTracepoints(c *spawnCallPoints, preemptible bool, kernelBTF *btf.Spec, btfErr error) (*spawnCallPoints, string) {
	if why := helperMissing(helperFeature{fn: "BPF_FUNC_task_pt_regs", since: "5.15"}, kernelBTF, btfErr); why != "" {
		c.drop()
		return nil, why
	}
	if preemptible {
		c.drop()
		return nil, skippedPerfPrograms
	}
	if c == nil {
		c = startSpawnCalls("5.15")
	}
	<-c.ready
	if c.why != "" {
		return nil, c.why
	}
	return c, ""
}

// spawnPins is a bpffs instance of this run's own, mounted nowhere, that
// holds a second reference to each link. Releasing a perf-event
// tracepoint's last event waits out RCU grace periods, serialized under
// the kernel's event_mutex: ~36 ms for each of the 16 spawn calls' events,
// 0.57 s at exit whether closed in a row or from 16 goroutines; detaching
// a raw tracepoint's last program patches its call sites on every CPU,
// which waits for the other CPUs (1-40 ms here, more under a busy VM
// host). Released through the pins instead, the last reference goes when
// the instance's inodes are freed, in an RCU callback, which hands the
// release to a kernel worker: spawntrace exits at once, and nothing of it
// lingers in user space (the programs stay attached for that grace period,
// their runs sent nowhere). Also when spawntrace is killed: its mount fd
// closes with it.
type spawnPins struct {
	mnt int // fsmount's fd of the instance
	n   int // pins made
}

func newSpawnPins() (*spawnPins, error) {
	fs, err := unix.Fsopen("bpf", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("making a bpffs instance for the links: %w", err)
	}
	defer unix.Close(fs)
	if err := unix.FsconfigCreate(fs); err != nil {
		return nil, fmt.Errorf("making a bpffs instance for the links: %w", err)
	}
	mnt, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("making a bpffs instance for the links: %w", err)
	}
	return &spawnPins{mnt: mnt}, nil
}

// pin adds the instance's reference to l.
func (p *spawnPins) pin(l link.Link) error {
	p.n++
	return l.Pin(fmt.Sprintf("/proc/self/fd/%d/link%d", p.mnt, p.n))
}

// pinLink pins l where the tracer has an instance, so that its last
// reference goes after spawntrace (see spawnPins); one not pinned is
// detached by Close.
func (t *Tracer) pinLink(l link.Link) {
	if t.pins != nil {
		t.pins.pin(l)
	}
}

// close drops the instance, and with it the last reference to each link
// pinned there.
func (p *spawnPins) close() error {
	if p == nil || p.mnt < 0 {
		return nil
	}
	err := unix.Close(p.mnt)
	p.mnt = -1
	return err
}

// attachPerf attaches prog to the perf-event tracepoint of p, whose event
// openSpawnEvents opened as fd, and pins the link.
func (t *Tracer) attachPerf(p attachPoint, prog *ebpf.Program, fd int) error {
	l, err := link.AttachRawLink(link.RawLinkOptions{Target: fd, Program: prog, Attach: ebpf.AttachPerfEvent})
	if err != nil {
		return fmt.Errorf("attaching %s to %s:%s: %w", p.prog, p.group, p.name, err)
	}
	t.spawnLinks = append(t.spawnLinks, l)
	if err := t.pins.pin(l); err != nil {
		return fmt.Errorf("pinning %s's link: %w", p.name, err)
	}
	return nil
}

// openSpawnEvents opens the perf events of the group's perf-event points,
// by tracefs id, all at once: an event's open waits for the kernel's
// event_mutex, which the release of a previous run's events (spawnPins)
// holds through an RCU grace period each, ~36 ms; opened one after the
// other, a run started right after another waited ~0.5 s. Opened together,
// they wait for one, and once open keep their tracepoints registered, so
// that the old events' release no longer waits at all. The events opened
// are returned also on failure.
func openSpawnEvents(g probeGroup) (map[uint64]int, error) {
	var ids []uint64
	for _, p := range g.points {
		if p.perfID != 0 {
			ids = append(ids, p.perfID)
		}
	}
	fds := make([]int, len(ids))
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fds[i], errs[i] = openTracepoint(id)
		}()
	}
	wg.Wait()
	byID := map[uint64]int{}
	for i, id := range ids {
		if errs[i] == nil {
			byID[id] = fds[i]
		}
	}
	if err := errors.Join(errs...); err != nil {
		return byID, fmt.Errorf("opening the spawn calls' tracepoints: %w", err)
	}
	return byID, nil
}

// spawnEventsOpened waits for the spawn calls' events, which Close then
// releases.
func (t *Tracer) spawnEventsOpened() (map[uint64]int, error) {
	c := t.calls
	<-c.opened
	if t.spawnEvents == nil {
		for _, fd := range c.events {
			t.spawnEvents = append(t.spawnEvents, fd)
		}
	}
	return c.events, c.openErr
}

// openTracepoint opens a perf event on the tracepoint of that tracefs id,
// on CPU 0: a tracepoint's programs run on every CPU.
func openTracepoint(id uint64) (int, error) {
	attr := unix.PerfEventAttr{
		Type:        unix.PERF_TYPE_TRACEPOINT,
		Config:      id,
		Size:        uint32(unsafe.Sizeof(unix.PerfEventAttr{})),
		Sample_type: unix.PERF_SAMPLE_RAW,
		Sample:      1,
		Wakeup:      1,
	}
	return unix.PerfEventOpen(&attr, -1, 0, -1, unix.PERF_FLAG_FD_CLOEXEC)
}

// closeSpawnCalls drops this process's references to the spawn-call links
// and their events, then the pins' (see spawnPins): none of it waits.
func (t *Tracer) closeSpawnCalls() error {
	if t.calls != nil {
		t.spawnEventsOpened() // still opening, where Open failed before attaching
		t.calls = nil
	}
	var errs []error
	for _, l := range t.spawnLinks {
		errs = append(errs, l.Close())
	}
	for _, fd := range t.spawnEvents {
		errs = append(errs, unix.Close(fd))
	}
	t.spawnLinks, t.spawnEvents = nil, nil
	errs = append(errs, t.pins.close())
	t.pins = nil
	return errors.Join(errs...)
}

// attachCompatPath attaches the raw pair for the tree's 32-bit calls, once,
// when spawn calls go through their own tracepoints; then tells the
// programs it is there (compat_path).
func (t *Tracer) attachCompatPath() error {
	t.compatMu.Lock()
	defer t.compatMu.Unlock()
	g := t.compatPending
	if g == nil {
		return nil
	}
	t.compatPending = nil
	if t.compatSpec != nil {
		progs, err := loadPrograms(t.compatSpec, slices.Sorted(maps.Keys(t.compatSpec.Programs)), t.coll.Maps)
		t.compatSpec = nil
		maps.Copy(t.coll.Programs, progs) // closed with the others, also on failure
		if err != nil {
			return fmt.Errorf("loading the 32-bit syscall path: %w", err)
		}
	}
	if err := t.attach(exitsFirst(*g)); err != nil {
		return fmt.Errorf("attaching the 32-bit syscall path: %w", err)
	}
	t.compatOn = true
	if err := t.setSwitch("compat_path", 1); err != nil {
		return fmt.Errorf("setting compat_path: %w", err)
	}
	return nil
}

// exitsFirst orders a syscall group's exit programs before its entry ones.
// Attached while the tree runs, an entry program first would start a call
// whose exit no program yet sees: neither counted nor lost. Exit first, a
// call is either whole or its entry unseen, which the fork counts as lost.
// Each program keeps its second program after it.
func exitsFirst(g probeGroup) probeGroup {
	var exits, enters []attachPoint
	for _, p := range g.points {
		if strings.HasSuffix(p.name, "_exit") {
			exits = append(exits, p)
		} else {
			enters = append(enters, p)
		}
	}
	g.points = append(exits, enters...)
	return g
}

func boolU32(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}
