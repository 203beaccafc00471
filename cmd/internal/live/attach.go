package live

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/spawntrace/spawntrace/tracer"
)

// CheckPidRange refuses a value that cannot be a pid (an int larger than
// 32 bits would otherwise wrap to another process's number).
func CheckPidRange(pid int) error {
	if hi := pidMax() - 1; pid < 1 || pid > hi {
		return fmt.Errorf("PID must be between 1 and %d", hi)
	}
	return nil
}

// CheckAttachTarget says, in one line the caller prefixes with the pid,
// why Attach cannot trace pid: it is not a process of spawntrace's pid
// namespace, or it is spawntrace itself, a kernel thread (no syscalls of
// its own), a zombie (nothing left to run) or a thread of another process. The pid is looked up in /proc, which
// must be this namespace's: a container's pid is never taken for the host
// process of that number.
func CheckAttachTarget(pid int) error {
	if err := CheckPidRange(pid); err != nil {
		return err
	}
	if pid == os.Getpid() {
		return errors.New("that is spawntrace itself")
	}
	if err := ProcIsOurs(); err != nil {
		return err
	}
	t, err := readProcTask(pid)
	if errors.Is(err, fs.ErrNotExist) {
		return errors.New("no such process in this pid namespace")
	}
	if err != nil {
		return err
	}
	name := t.comm // the caller escapes the line for the terminal
	switch {
	case t.flags&pfKthread != 0:
		return fmt.Errorf("%s is a kernel thread: it makes no syscalls of its own to trace", name)
	case t.state == 'Z' || t.state == 'X':
		return fmt.Errorf("%s has exited (a zombie its parent has not reaped): nothing left to trace", name)
	case t.tgid != 0 && t.tgid != pid:
		return fmt.Errorf("a thread of process %d: attach to %d", t.tgid, t.tgid)
	}
	return nil
}

// Attach seeds the tree with pid and its descendants and waits for pid to
// exit or for a signal.
func Attach(t *tracer.Tracer, pid int, opts Options) (*Session, error) {
	tree, err := descendants(pid)
	if err != nil {
		return nil, err
	}
	if err := t.Track(tree...); err != nil {
		return nil, err
	}
	s, err := newSession(t, opts)
	if err != nil {
		return nil, err
	}
	s.setMain(pid)
	s.readHostMeanwhile()
	if n := len(tree) - 1; n > 0 {
		fmt.Fprintf(opts.Warn, "spawntrace: attached to %d and its %d descendants; Ctrl-C to stop\n", pid, n)
	} else {
		fmt.Fprintf(opts.Warn, "spawntrace: attached to %d; Ctrl-C to stop\n", pid)
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for processAlive(pid) {
		select {
		case <-s.sigs:
			s.status = -1
			return s, nil
		case <-tick.C:
		}
	}
	s.status = -1
	return s, nil
}
