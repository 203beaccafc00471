package live

import (
	"fmt"
	"os/signal"
	"sync/atomic"

	"github.com/spawntrace/spawntrace/tracer/ptrace"
)

// LaunchPtrace is Launch with the ptrace backend: the workload starts
// through spawntrace's shim, seized before its first instruction of its
// own, and the session ends when the whole tree has.
func LaunchPtrace(t *ptrace.Tracer, args []string, opts Options) (*Session, error) {
	s, err := newSession(t, opts)
	if err != nil {
		return nil, err
	}
	s.backend = ptrace.Name
	s.tracked = t.Tracked
	pid, err := t.Start()
	if err != nil {
		signal.Stop(s.sigs)
		if pid > 0 {
			// The shim failed after it was seized: the tree ends with it.
			t.WaitRoot()
			t.Flush()
			<-s.readDone
		}
		s.rec.Close()
		return nil, fmt.Errorf("starting %s: %w", args[0], err)
	}
	s.setMain(pid)
	s.readHostMeanwhile()
	done := make(chan struct{})
	var forced atomic.Bool
	go s.forwardSignals(pid, args[0], done, &forced)
	ws := t.WaitRoot()
	close(done)
	switch {
	case ws.Signaled():
		s.status = 128 + int(ws.Signal())
	case ws.Exited():
		s.status = ws.ExitStatus()
	default:
		s.status = 1 // it never ran
	}
	if !forced.Load() {
		s.waitTree()
	}
	return s, nil
}
