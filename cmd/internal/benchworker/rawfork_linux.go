package benchworker

// A real fork (clone with SIGCHLD only, no CLONE_VM) from Go without cgo, so
// that `spawntrace bench` can measure what copying a large parent costs.
// Go's own os/exec never forks like this: it uses clone(CLONE_VM|CLONE_VFORK).

import (
	"fmt"
	"runtime"
	"syscall"
	"unsafe"
)

// rawSigset is the kernel's sigset_t as rt_sigprocmask takes it: 64 signals
// on x86_64 and arm64.
type rawSigset uint64

const rawSigsetBytes = unsafe.Sizeof(rawSigset(0))

const sigSetmask = 2 // SIG_SETMASK

// rawForkJob holds everything the child needs, built before the fork so the
// child allocates nothing.
type rawForkJob struct {
	// paths are tried in turn, as execvp walks PATH: the next one only
	// after ENOENT, ENOTDIR or EACCES.
	paths []*byte
	argv  []*byte // nil-terminated
	envp  []*byte // nil-terminated
	what  string  // for errors: the program as given
}

func newRawForkJob(paths, argv, env []string) (*rawForkJob, error) {
	if len(paths) == 0 || len(argv) == 0 {
		return nil, fmt.Errorf("raw fork: nothing to run")
	}
	j := &rawForkJob{what: argv[0]}
	for _, p := range paths {
		b, err := syscall.BytePtrFromString(p)
		if err != nil {
			return nil, err
		}
		j.paths = append(j.paths, b)
	}
	var err error
	if j.argv, err = syscall.SlicePtrFromStrings(argv); err != nil {
		return nil, err
	}
	if j.envp, err = syscall.SlicePtrFromStrings(env); err != nil {
		return nil, err
	}
	return j, nil
}

// run forks, execs the job in the child and waits for it. A child that could
// exec nothing exits with status 127.
func (j *rawForkJob) run() (syscall.WaitStatus, error) {
	// The signal mask is per thread: block, fork and restore on one thread.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// Held by os/exec while it makes descriptors that are not yet
	// close-on-exec; taking it keeps them out of this child too.
	syscall.ForkLock.Lock()
	block, saved := ^rawSigset(0), rawSigset(0)
	pid, errno := rawForkExec(&block, &saved, &j.paths[0], len(j.paths), &j.argv[0], &j.envp[0])
	syscall.ForkLock.Unlock()
	runtime.KeepAlive(j)
	if errno != 0 {
		return 0, fmt.Errorf("fork for %s: %w", j.what, errno)
	}
	var ws syscall.WaitStatus
	for {
		_, err := syscall.Wait4(int(pid), &ws, 0, nil)
		if err == nil {
			return ws, nil
		}
		if err != syscall.EINTR {
			return 0, fmt.Errorf("wait4 %d: %w", pid, err)
		}
	}
}

// rawForkExec blocks every signal, forks, and in the child restores the
// mask and execs paths[0..npaths) in turn with argv and envp, or exits with
// 127. It returns the child's pid in the parent, with the mask restored.
//
// Why the child is safe although it is a copy of a running Go process with
// only the calling thread:
//   - It runs nothing of the Go runtime. The only calls are to
//     syscall.RawSyscall/RawSyscall6, which are nosplit and go straight to
//     the assembly syscall stub: no entersyscall, no scheduler, no locks
//     (which other threads may have held at the fork), no allocation.
//   - It cannot grow its stack: this function and everything it calls are
//     nosplit, so no stack check can call morestack (the linker rejects a
//     nosplit chain that would overflow the guard area). It reads only the
//     byte arrays the parent built before the fork, and its own frame.
//   - No Go signal handler runs in it before execve while the mask is
//     blocked. Between restoring the mask and execve only a signal sent to
//     the child from outside (its pid or process group: a Ctrl-C) could
//     arrive; the runtime's own (preemption, profiling timers) target the
//     parent's threads, and timers are not inherited by fork. Such a signal
//     finds Go's handler, which for a terminating signal kills the child,
//     which is what it would do to /bin/true anyway.
//   - The parent's thread runs with every signal blocked during the clone,
//     so it is not preempted in the middle, and the goroutine stack that the
//     child continues on cannot be moved by the runtime while it is copied.
//
// execve resets the handlers Go installed to their defaults; the restored
// mask is inherited by the new program, as it must be.
//
//go:nosplit
//go:norace
//go:nocheckptr
func rawForkExec(block, saved *rawSigset, paths **byte, npaths int, argv, envp **byte) (pid uintptr, errno syscall.Errno) {
	_, _, errno = syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, sigSetmask,
		uintptr(unsafe.Pointer(block)), uintptr(unsafe.Pointer(saved)), rawSigsetBytes, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	// clone(SIGCHLD): fork() on every architecture whose clone takes flags
	// first (all but s390x). The zero arguments: same stack, no tids, no TLS.
	pid, _, errno = syscall.RawSyscall6(syscall.SYS_CLONE, uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if errno != 0 || pid != 0 {
		// The parent, or a failed fork.
		syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, sigSetmask, uintptr(unsafe.Pointer(saved)), 0, rawSigsetBytes, 0, 0)
		return pid, errno
	}

	// The child.
	syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, sigSetmask, uintptr(unsafe.Pointer(saved)), 0, rawSigsetBytes, 0, 0)
	for i := 0; i < npaths; i++ {
		path := *(**byte)(unsafe.Add(unsafe.Pointer(paths), uintptr(i)*unsafe.Sizeof(paths)))
		_, _, e := syscall.RawSyscall(syscall.SYS_EXECVE,
			uintptr(unsafe.Pointer(path)), uintptr(unsafe.Pointer(argv)), uintptr(unsafe.Pointer(envp)))
		if e != syscall.ENOENT && e != syscall.ENOTDIR && e != syscall.EACCES {
			break
		}
	}
	for {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 127, 0, 0)
	}
}
