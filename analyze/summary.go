package analyze

import (
	"slices"

	"golang.org/x/sys/unix"

	"github.com/spawntrace/spawntrace/analyze/internal/intern"
	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/syscalls"
	"github.com/spawntrace/spawntrace/tracer"
)

// CloneFlags returns the clone flags of a spawning syscall event: fork()
// behaves as clone(SIGCHLD), vfork() as clone(CLONE_VM|CLONE_VFORK|SIGCHLD).
func CloneFlags(ev *tracer.Event) (flags uint64, ok bool) {
	switch ev.Nr64() {
	case syscalls.NrClone:
		if len(ev.Args) > 0 {
			return ev.Args[0], true
		}
	case syscalls.NrClone3:
		if ev.Clone3 != nil {
			return ev.Clone3.Flags | ev.Clone3.ExitSignal&0xff, true
		}
	case syscalls.NrFork:
		return uint64(unix.SIGCHLD), true
	case syscalls.NrVfork:
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

// IsSpawnCall reports whether a syscall is one spawntrace sends in detail
// (and the only ones counted with --spawns-only).
func IsSpawnCall(nr int) bool {
	switch nr {
	case syscalls.NrClone, syscalls.NrClone3, syscalls.NrFork, syscalls.NrVfork, syscalls.NrExecve, syscalls.NrExecveat, syscalls.NrSocketpair:
		return true
	}
	return false
}

// IsExec reports whether a syscall number is execve or execveat.
func IsExec(nr int) bool { return nr == syscalls.NrExecve || nr == syscalls.NrExecveat }

// Summarize assembles the spawns of a recording and counts them. Its
// memory is what is open at each moment (processes alive, their rows not
// finished yet, threads between spawns), not the events nor the rows: a
// row is finished when its process exits (until then an exec may still
// come, or a failed one count), goes into the statistics, and then to the
// summary's rows (EachSpawn), in memory or on disk. For a recording run, a
// failure to read the events back leaves the summary short: see ReadErr;
// one to store the rows, see Summary.Err. Close releases the rows.
func Summarize(rec *recording.Recording) Summary {
	s := Summary{ByMechanism: map[Mechanism]int{}, Threads: rec.Threads, rows: &spawnRows{}}
	if rec.EndMonoNs > rec.StartMonoNs {
		s.WallNs = rec.EndMonoNs - rec.StartMonoNs
	}
	b := newSummaryBuilder(rec, &s)
	var procs pidSet
	// byChild finds the open row of the spawn that made a process, to
	// charge its execs to, until the process exits.
	byChild := map[uint32]*openSpawn{}
	// Per thread, until it exits: when its last spawn call returned, and
	// its last socketpair (half of Rust's fork-fallback signature).
	lastSpawnEnd := map[uint32]uint64{}
	lastSocketpair := map[uint32]*tracer.Event{}
	var strs intern.Table
	seq := 0
	rec.EachEvent(func(ev *tracer.Event) error {
		procs.add(ev.Pid)
		switch ev.Kind {
		case tracer.KindFork:
			if ev.Thread {
				s.Threads++
			} else {
				procs.add(ev.ChildPid)
			}
		case tracer.KindExit:
			// A pid or tid used again later is another process or thread.
			if ev.GroupDead {
				if o := byChild[ev.Pid]; o != nil {
					delete(byChild, ev.Pid)
					b.finish(o)
				}
				procs.remove(ev.Pid)
			}
			delete(lastSpawnEnd, ev.Tid)
			delete(lastSocketpair, ev.Tid)
			b.links.threadExit(ev.Tid)
		case tracer.KindSyscall:
			if IsExec(ev.Nr64()) {
				s.addExec(ev, byChild, &strs)
				return nil
			}
			if ev.Nr64() == syscalls.NrSocketpair {
				if ev.Ret == 0 {
					lastSocketpair[ev.Tid] = recording.KeptCopy(ev)
				}
				return nil
			}
			flags, isSpawn := CloneFlags(ev)
			if !isSpawn || ev.Ret <= 0 {
				return nil
			}
			mech, isProcess := MechanismOf(flags)
			if !isProcess {
				return nil
			}
			s.ByMechanism[mech]++
			// The kernel's fork names the child (the return value is the
			// caller's pid namespace's number: another process's here when
			// the workload made a namespace of its own).
			child := ev.SpawnedChild()
			if old := byChild[child]; old != nil {
				b.finish(old) // its exit was not seen, and the pid is another process's now
			}
			o := b.open(ev.Tid, ev.TimeNs)
			o.row = Spawn{
				Seq: seq, TimeNs: ev.TimeNs, ParentPid: ev.Pid, ParentTid: ev.Tid, Comm: strs.String(ev.Comm),
				Syscall: syscalls.SyscallName(ev.ABI, ev.Nr), Flags: flags, Mechanism: mech,
				ChildPid: child, CloneDurNs: ev.DurNs, StackID: ev.StackID,
				CopyNs: ev.CopyNs, CopyOffCPUNs: ev.CopyOffCPUNs, LockStallNs: ev.LockStallNs, BlockedNs: ev.BlockedNs, Parent: ev.Parent,
			}
			seq++
			byChild[child] = o
			sp := &o.row
			if end, ok := lastSpawnEnd[ev.Tid]; ok && ev.TimeNs > end {
				sp.GapNs = ev.TimeNs - end
			}
			lastSpawnEnd[ev.Tid] = ev.TimeNs + ev.DurNs
			sp.Signature = strs.String(signature(ev, sp, lastSocketpair[ev.Tid]))
			delete(lastSocketpair, ev.Tid)
		}
		return nil
	})
	// Processes still alive at the end (or whose exit was lost), in time
	// order: what they add must not depend on map order.
	alive := make([]*openSpawn, 0, len(byChild))
	for _, o := range byChild {
		alive = append(alive, o)
	}
	slices.SortFunc(alive, func(a, b *openSpawn) int { return a.row.Seq - b.row.Seq })
	for _, o := range alive {
		b.finish(o)
	}
	s.Processes = procs.len()
	b.done()
	return s
}

// addExec counts an exec and charges it to the spawn of its process: failed
// ones until the first success (a PATH search), then that success.
func (s *Summary) addExec(ev *tracer.Event, byChild map[uint32]*openSpawn, strs *intern.Table) {
	if ev.Ret != 0 {
		s.ExecFailed++
	} else {
		s.ExecOK++
	}
	o, ok := byChild[ev.Pid]
	if !ok {
		return
	}
	sp := &o.row
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
	sp.Exe = strs.String(ev.Filename)
	sp.TeardownNs = ev.TeardownNs
	sp.EnvCount = ev.EnvCount
	sp.EnvBytes = ev.EnvBytes
	if end := ev.TimeNs + ev.DurNs; end > sp.TimeNs {
		sp.SpawnToExecNs = end - sp.TimeNs
	}
}
