// Package recording is what one run saw, as it moves between hosts: the
// Recording (host facts, probes, syscall totals, events, stacks), the
// Recorder that builds it while tracing, its file format (Save, Load) and
// the spill files that keep its events on disk, read back in time order
// (EachEvent). Pure Go: it needs no root and no kernel.
package recording

import (
	"slices"

	"github.com/spawntrace/spawntrace/tracer"
)

// SchemaVersion is the recording format this build writes and the newest it reads.
const SchemaVersion = 1

// FormatName marks a file as a spawntrace recording.
const FormatName = "spawntrace-recording"

// Host holds the facts of the machine a recording was made on.
type Host struct {
	Hostname      string `json:"hostname"`
	KernelRelease string `json:"kernel_release"`
	Machine       string `json:"machine"` // uname -m
	CPUs          int    `json:"cpus"`
	MemBytes      uint64 `json:"mem_bytes"`
	PageBytes     int    `json:"page_bytes"`
	// THPMode is /sys/kernel/mm/transparent_hugepage/enabled's choice:
	// always, madvise or never ("" when unknown).
	THPMode string `json:"thp_mode,omitempty"`
	// Distro is PRETTY_NAME of /etc/os-release.
	Distro   string `json:"distro,omitempty"`
	CPUModel string `json:"cpu_model,omitempty"`
	// Virtualization is "none" on bare metal, else the hypervisor as far as
	// it could be told ("KVM (Firecracker)", "hypervisor"); "" when unknown.
	Virtualization string `json:"virtualization,omitempty"`
	// Libc is the C library of the traced programs, Features the kinds of
	// probes the kernel offered; each nil when not recorded. (Older
	// recordings carried spawntrace's own environment as "workload_env",
	// which is ignored: the workload's is measured at each exec.)
	Libc     *Libc            `json:"libc,omitempty"`
	Features *tracer.Features `json:"features,omitempty"`
}

// ProcessInfo is what user space read of a spawning process when it first
// forked (from /proc, while it was alive).
type ProcessInfo struct {
	Pid           uint32 `json:"pid"`
	Comm          string `json:"comm,omitempty"`
	RSSBytes      uint64 `json:"rss_bytes"`
	AnonHugeBytes uint64 `json:"anon_huge_bytes"` // AnonHugePages of smaps_rollup: memory in transparent huge pages
}

// SyscallStat is one row of the per-syscall totals of the whole tree.
type SyscallStat struct {
	// ABI is the table Nr is a number of: a recording made before it was
	// recorded has only x86_64 rows.
	ABI    tracer.ABI `json:"abi,omitempty"`
	Nr     int        `json:"nr"`
	Name   string     `json:"name"`
	Calls  uint64     `json:"calls"`
	Errors uint64     `json:"errors"`
	TimeNs uint64     `json:"time_ns"` // wall time, summed over calls
	// TimedCalls, set only when fewer calls than Calls were timed, is how
	// many were: TimeNs is then an estimate (see tracer.SyscallStat).
	// Absent (0), every call was timed and TimeNs is exact.
	TimedCalls uint64 `json:"timed_calls,omitempty"`
}

// TimeEstimated says whether s's time was estimated from a sample of its calls.
func (s SyscallStat) TimeEstimated() bool {
	return s.TimedCalls != 0 && s.TimedCalls < s.Calls
}

// Recording is everything one run saw; saved as versioned JSON, it is the
// unit that moves between hosts.
type Recording struct {
	Format  string `json:"format"`
	Schema  int    `json:"schema"`
	Version string `json:"spawntrace_version"`
	Host    Host   `json:"host"`

	Command   []string `json:"command,omitempty"`    // the workload, when spawntrace started it
	AttachPid int      `json:"attach_pid,omitempty"` // -p PID
	// StartUnixNs is when tracing began; MonoToUnixNs added to an event's
	// CLOCK_MONOTONIC time gives Unix time.
	StartUnixNs  int64  `json:"start_unix_ns"`
	MonoToUnixNs int64  `json:"mono_to_unix_ns"`
	StartMonoNs  uint64 `json:"start_mono_ns"`
	EndMonoNs    uint64 `json:"end_mono_ns"`
	// ExitStatus is the workload's, as spawntrace returned it (128+N when
	// killed by signal N); -1 when attached with -p.
	ExitStatus int `json:"exit_status"`

	Probes   []tracer.Probe `json:"probes"`
	Syscalls []SyscallStat  `json:"syscalls"`
	// SpawnCallsOnly: recorded with --spawns-only, Syscalls holds the
	// spawn-related calls alone (IsSpawnCall); the others were not counted.
	SpawnCallsOnly bool `json:"spawn_calls_only,omitempty"`
	// Backend is the tracer that recorded: tracer.BackendPtrace, or ""
	// for BPF (every recording made before there was another). See
	// BackendName.
	Backend string `json:"backend,omitempty"`
	// Events are the events of a recording built in memory (tests), in
	// the order they arrived. A recording run and a loaded one keep them
	// on disk instead (see EachEvent).
	Events []tracer.Event `json:"events"`
	// Threads counts the threads the tree created; recordings keep no
	// event per thread or per fork (the spawn calls carry the spawns).
	Threads int `json:"threads,omitempty"`
	// Spawners holds /proc facts of processes that forked, by first fork,
	// in recordings made before spawntrace stopped reading smaps_rollup
	// (it held the parent's mmap lock, delaying its forks); read, never
	// written now.
	Spawners []ProcessInfo `json:"spawners,omitempty"`
	Lost     tracer.Lost   `json:"lost"`

	// Stacks of spawns (Event.StackID) and of on-CPU samples, symbolized
	// while recording, and the files their frames are in (stacks.go).
	Stacks     []Stack     `json:"stacks,omitempty"`
	Mappings   []Mapping   `json:"mappings,omitempty"`
	SampleHz   int         `json:"sample_hz,omitempty"` // 0: not sampled
	CPUSamples []CPUSample `json:"cpu_samples,omitempty"`
	StackLoss  *StackLoss  `json:"stack_loss,omitempty"`
	// MainArgv is the argv of the program marked Main (Mapping.Main) as it
	// was exec'd: an interpreter's names its script (ProgramScript).
	MainArgv []string `json:"main_argv,omitempty"`

	// RustPrograms are the programs (as their exec events name them) that
	// forked and are Rust programs whose std spawns (symbolize.RustProgram):
	// Rust's Command fork fallback is named only for spawns by them.
	// RustChecked says the recording checked its forking programs; older
	// recordings did not, and the fallback's call pattern alone names it.
	RustPrograms []string `json:"rust_programs,omitempty"`
	RustChecked  bool     `json:"rust_checked,omitempty"`

	// Tracer is what spawntrace itself used while recording, nil when not
	// recorded (older recordings).
	Tracer *TracerUsage `json:"tracer,omitempty"`

	// spill holds a recording run's events, on disk, in place of Events
	// (Recorder.Fill), or a loaded recording's (Decode).
	spill *eventSpill
	// sortedLate: Decode found this many events out of time order beyond
	// the reorder window and sorted the spill first (SortedLate).
	sortedLate int
}

// RustProgram says whether exe (an exec event's filename) is a Rust
// program, and whether the recording checked at all (RustChecked).
func (r *Recording) RustProgram(exe string) (rust, checked bool) {
	if !r.RustChecked {
		return false, false
	}
	return slices.Contains(r.RustPrograms, exe), true
}

// BackendName is the tracer that made the recording, by name.
func (r *Recording) BackendName() string {
	if r.Backend == "" {
		return tracer.BackendBPF
	}
	return r.Backend
}

// TracerUsage is spawntrace's own resource use (getrusage RUSAGE_SELF:
// the tracer's process, not the workload), from its start to the end of
// recording.
type TracerUsage struct {
	CPUNs       uint64 `json:"cpu_ns"`        // user + system
	MaxRSSBytes uint64 `json:"max_rss_bytes"` // peak resident set
	// Spawners' stacks copied by the kernel for unwinding (--pprof, -w):
	// how many, their bytes in the ring buffer, and the time spent
	// unwinding and naming the frames of those unwound.
	StackCopies    int    `json:"stack_copies,omitempty"`
	StackCopyBytes uint64 `json:"stack_copy_bytes,omitempty"`
	StacksUnwound  int    `json:"stacks_unwound,omitempty"`
	UnwindNs       uint64 `json:"unwind_ns,omitempty"`
	// StackBytesReadMax is the most bytes of one copy an unwind used: what
	// the copy's size limit (bpf STACK_COPY_MAX) is measured against.
	StackBytesReadMax uint64 `json:"stack_bytes_read_max,omitempty"`
}
