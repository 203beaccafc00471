package analyze

import "github.com/spawntrace/spawntrace/tracer"

// Mechanism is how a new process was made.
type Mechanism string

const (
	// MechFork: the child gets a copy of the parent's address space (fork(),
	// or clone/clone3 without CLONE_VM); the cost grows with the parent's RSS.
	MechFork Mechanism = "fork"
	// MechVfork: the child borrows the parent's address space until it execs
	// (vfork(), or clone/clone3 with CLONE_VM|CLONE_VFORK); the parent's
	// spawning thread is blocked meanwhile.
	MechVfork Mechanism = "vfork"
	// MechCloneVM: CLONE_VM without CLONE_VFORK (a process sharing memory,
	// not a thread): rare, counted apart.
	MechCloneVM Mechanism = "clone-vm"
)

// Spawn is one new process of the tree and what it cost.
//
// A summary holds a row only while its process lives (it may still exec,
// or fail to); finished rows go to a spill file (spawnRows), so a long
// run's summary does not grow with its spawns. Its strings are shared:
// Syscall and Mechanism are constants, Comm, Exe and Signature interned.
type Spawn struct {
	// Seq is the spawn's place in time order, from 0: rows are finished,
	// and handed out by Summary.EachSpawn, in another order.
	Seq       int       `json:"seq"`
	TimeNs    uint64    `json:"t_ns"` // entry of the spawning syscall
	ParentPid uint32    `json:"parent_pid"`
	ParentTid uint32    `json:"parent_tid"`
	Comm      string    `json:"comm"` // the parent's
	Syscall   string    `json:"syscall"`
	Flags     uint64    `json:"flags"`
	Mechanism Mechanism `json:"mechanism"`
	ChildPid  uint32    `json:"child_pid"`
	StackID   int       `json:"stack_id,omitempty"` // the spawning thread's stack (Recording.StackOf)
	// CloneDurNs is the spawning syscall's wall time in the parent: for
	// vfork-like spawns it includes the child's run up to its exec.
	CloneDurNs uint64 `json:"clone_dur_ns"`

	// Signature names the runtime or library the spawn pattern belongs to
	// (glibc posix_spawn, Go os/exec, ...), when recognised.
	Signature string `json:"signature,omitempty"`

	// Anatomy; zero when not measured (see Recording.Probes).
	CopyNs       uint64             `json:"copy_ns,omitempty"`        // the address-space copy (dup_mmap), on CPU
	CopyOffCPUNs uint64             `json:"copy_offcpu_ns,omitempty"` // the copying thread preempted meanwhile
	LockStallNs  uint64             `json:"lock_stall_ns,omitempty"`  // the parent's other threads waiting meanwhile
	BlockedNs    uint64             `json:"blocked_ns,omitempty"`     // the spawning thread off CPU in the call
	TeardownNs   uint64             `json:"teardown_ns,omitempty"`    // the child's exec tearing the copy down
	Parent       *tracer.ParentSize `json:"parent,omitempty"`
	// GapNs is the time since the same thread's previous spawn call
	// returned: user-space work between spawns (and waiting for children).
	GapNs uint64 `json:"gap_ns,omitempty"`

	Exe           string `json:"exe,omitempty"` // the child's successful exec
	ExecOK        bool   `json:"exec_ok"`
	FailedExecs   int    `json:"failed_execs"`
	FailedExecNs  uint64 `json:"failed_exec_ns"`
	SpawnToExecNs uint64 `json:"spawn_to_exec_ns,omitempty"` // spawn entry to the child's successful exec
	EnvCount      int    `json:"env_count,omitempty"`
	EnvBytes      int    `json:"env_bytes,omitempty"`
}

// Summary is the spawn section of a report. Its rows (one per spawn) are
// read with EachSpawn; everything else is computed as they were made.
type Summary struct {
	ByMechanism map[Mechanism]int `json:"by_mechanism"`
	Threads     int               `json:"threads"`
	ExecOK      int               `json:"exec_ok"`     // successful execs, the workload's first included
	ExecFailed  int               `json:"exec_failed"` // failed execve/execveat calls
	Processes   int               `json:"processes"`   // distinct processes seen, the workload included
	WallNs      uint64            `json:"wall_ns"`     // tracing start to end

	Stats    []MechanismStats `json:"stats"`              // per mechanism, in MechFork, MechVfork, MechCloneVM order
	Fit      *Fit             `json:"fit,omitempty"`      // copy time against parent RSS, fork-like spawns
	Findings []Finding        `json:"findings,omitempty"` // ranked by the time they cost
	Classes  []Class          `json:"classes,omitempty"`  // like spawns grouped, in order of first appearance

	rows *spawnRows // the finished rows, in memory or on disk
}

// Dist summarizes one measurement over many spawns.
type Dist struct {
	N     int    `json:"n"`
	SumNs uint64 `json:"sum_ns"`
	P50Ns uint64 `json:"p50_ns"`
	P90Ns uint64 `json:"p90_ns"`
	P99Ns uint64 `json:"p99_ns"`
	MaxNs uint64 `json:"max_ns"`
	// Approx: the percentiles come from a histogram, within DistRelErr of
	// the exact ones (more than exactMax values); N, SumNs and MaxNs are
	// exact.
	Approx bool `json:"approx,omitempty"`
}

// DistRelErr is the largest relative error of an approximate Dist's
// percentiles; DistExactMax is the most values a Dist is exact for, and
// DistExactPool the most all of a summary's hold exactly between them.
const (
	DistRelErr    = histRelErr
	DistExactMax  = exactMax
	DistExactPool = exactPoolValues
)

// MeanNs is the average, 0 for no samples.
func (d Dist) MeanNs() uint64 {
	if d.N == 0 {
		return 0
	}
	return d.SumNs / uint64(d.N)
}

// MechanismStats is the cost of one spawn mechanism.
type MechanismStats struct {
	Mechanism   Mechanism `json:"mechanism"`
	Count       int       `json:"count"`
	Clone       Dist      `json:"clone"`
	Copy        Dist      `json:"copy"` // only spawns whose copy was measured
	SpawnToExec Dist      `json:"spawn_to_exec"`
	Blocked     Dist      `json:"blocked"`
	Teardown    Dist      `json:"teardown"`
}
