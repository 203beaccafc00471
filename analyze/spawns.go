package analyze

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
type Spawn struct {
	TimeNs    uint64    `json:"t_ns"` // entry of the spawning syscall
	ParentPid uint32    `json:"parent_pid"`
	ParentTid uint32    `json:"parent_tid"`
	Comm      string    `json:"comm"` // the parent's
	Syscall   string    `json:"syscall"`
	Flags     uint64    `json:"flags"`
	Mechanism Mechanism `json:"mechanism"`
	ChildPid  uint32    `json:"child_pid"`
	// CloneDurNs is the spawning syscall's wall time in the parent: for
	// vfork-like spawns it includes the child's run up to its exec.
	CloneDurNs uint64 `json:"clone_dur_ns"`

	Exe           string `json:"exe,omitempty"` // the child's successful exec
	ExecOK        bool   `json:"exec_ok"`
	FailedExecs   int    `json:"failed_execs"`
	FailedExecNs  uint64 `json:"failed_exec_ns"`
	SpawnToExecNs uint64 `json:"spawn_to_exec_ns,omitempty"` // spawn entry to the child's successful exec
	EnvCount      int    `json:"env_count,omitempty"`
	EnvBytes      int    `json:"env_bytes,omitempty"`
}

// Summary is the spawn section of a report.
type Summary struct {
	Spawns      []Spawn           `json:"spawns"` // processes only, in time order
	ByMechanism map[Mechanism]int `json:"by_mechanism"`
	Threads     int               `json:"threads"`
	ExecOK      int               `json:"exec_ok"`     // successful execs, the workload's first included
	ExecFailed  int               `json:"exec_failed"` // failed execve/execveat calls
	Processes   int               `json:"processes"`   // distinct processes seen, the workload included
	WallNs      uint64            `json:"wall_ns"`     // tracing start to end
}
