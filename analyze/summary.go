package analyze

import (
	"sort"

	"golang.org/x/sys/unix"

	"github.com/spawntrace/spawntrace/tracer"
)

// CloneFlags returns the clone flags of a spawning syscall event: fork()
// behaves as clone(SIGCHLD), vfork() as clone(CLONE_VM|CLONE_VFORK|SIGCHLD).
func CloneFlags(ev *tracer.Event) (flags uint64, ok bool) {
	switch ev.Nr {
	case NrClone:
		if len(ev.Args) > 0 {
			return ev.Args[0], true
		}
	case NrClone3:
		if ev.Clone3 != nil {
			return ev.Clone3.Flags | ev.Clone3.ExitSignal&0xff, true
		}
	case NrFork:
		return uint64(unix.SIGCHLD), true
	case NrVfork:
		return unix.CLONE_VM | unix.CLONE_VFORK | uint64(unix.SIGCHLD), true
	}
	return 0, false
}

// MechanismOf classifies clone flags; ok is false for threads, which are
// not spawns.
func MechanismOf(flags uint64) (m Mechanism, ok bool) {
	switch {
	case flags&unix.CLONE_THREAD != 0:
		return "", false
	case flags&unix.CLONE_VM != 0 && flags&unix.CLONE_VFORK != 0:
		return MechVfork, true
	case flags&unix.CLONE_VM != 0:
		return MechCloneVM, true
	default:
		return MechFork, true
	}
}

// IsExec reports whether a syscall number is execve or execveat.
func IsExec(nr int) bool { return nr == NrExecve || nr == NrExecveat }

// sortedEvents returns the events in time order; the ring buffer delivers
// them nearly, not exactly, in order across CPUs.
func sortedEvents(rec *Recording) []*tracer.Event {
	evs := make([]*tracer.Event, len(rec.Events))
	for i := range rec.Events {
		evs[i] = &rec.Events[i]
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].TimeNs < evs[j].TimeNs })
	return evs
}

// Summarize assembles the spawns of a recording and counts them.
func Summarize(rec *Recording) Summary {
	s := Summary{ByMechanism: map[Mechanism]int{}, Threads: rec.Threads}
	if rec.EndMonoNs > rec.StartMonoNs {
		s.WallNs = rec.EndMonoNs - rec.StartMonoNs
	}
	procs := map[uint32]bool{}
	// byChild finds the spawn that made a process, to charge its execs to.
	byChild := map[uint32]int{}
	// Per thread: when its last spawn call returned, and its last socketpair
	// (half of Rust's fork-fallback signature).
	lastSpawnEnd := map[uint32]uint64{}
	lastSocketpair := map[uint32]*tracer.Event{}
	for _, ev := range sortedEvents(rec) {
		procs[ev.Pid] = true
		switch ev.Kind {
		case tracer.KindFork:
			if ev.Thread {
				s.Threads++
			} else {
				procs[ev.ChildPid] = true
			}
		case tracer.KindSyscall:
			if IsExec(ev.Nr) {
				s.addExec(ev, byChild)
				continue
			}
			if ev.Nr == NrSocketpair {
				if ev.Ret == 0 {
					lastSocketpair[ev.Tid] = ev
				}
				continue
			}
			flags, isSpawn := CloneFlags(ev)
			if !isSpawn || ev.Ret <= 0 {
				continue
			}
			mech, isProcess := MechanismOf(flags)
			if !isProcess {
				continue
			}
			s.ByMechanism[mech]++
			byChild[uint32(ev.Ret)] = len(s.Spawns)
			sp := Spawn{
				TimeNs: ev.TimeNs, ParentPid: ev.Pid, ParentTid: ev.Tid, Comm: ev.Comm,
				Syscall: SyscallName(ev.Nr), Flags: flags, Mechanism: mech,
				ChildPid: uint32(ev.Ret), CloneDurNs: ev.DurNs, StackID: ev.StackID,
				CopyNs: ev.CopyNs, CopyOffCPUNs: ev.CopyOffCPUNs, LockStallNs: ev.LockStallNs, BlockedNs: ev.BlockedNs, Parent: ev.Parent,
			}
			if end, ok := lastSpawnEnd[ev.Tid]; ok && ev.TimeNs > end {
				sp.GapNs = ev.TimeNs - end
			}
			lastSpawnEnd[ev.Tid] = ev.TimeNs + ev.DurNs
			sp.Signature = signature(ev, &sp, lastSocketpair[ev.Tid])
			delete(lastSocketpair, ev.Tid)
			s.Spawns = append(s.Spawns, sp)
		}
	}
	s.Processes = len(procs)
	s.Stats = mechanismStats(s.Spawns)
	s.Fit = FitCopy(s.Spawns)
	s.Findings = Findings(rec, &s)
	return s
}

// addExec counts an exec and charges it to the spawn of its process: failed
// ones until the first success (a PATH search), then that success.
func (s *Summary) addExec(ev *tracer.Event, byChild map[uint32]int) {
	if ev.Ret != 0 {
		s.ExecFailed++
	} else {
		s.ExecOK++
	}
	i, ok := byChild[ev.Pid]
	if !ok {
		return
	}
	sp := &s.Spawns[i]
	// Failed execs count whenever they come: a program exec'd first may
	// search PATH itself (env, sh -c), and that search is this spawn's cost.
	if ev.Ret != 0 {
		sp.FailedExecs++
		sp.FailedExecNs += ev.DurNs
		return
	}
	if sp.ExecOK {
		return
	}
	sp.ExecOK = true
	sp.Exe = ev.Filename
	sp.TeardownNs = ev.TeardownNs
	sp.EnvCount = ev.EnvCount
	sp.EnvBytes = ev.EnvBytes
	if end := ev.TimeNs + ev.DurNs; end > sp.TimeNs {
		sp.SpawnToExecNs = end - sp.TimeNs
	}
}
