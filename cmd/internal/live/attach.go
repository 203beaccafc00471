package live

import (
	"fmt"
	"time"

	"github.com/spawntrace/spawntrace/tracer"
)

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
	s.env = workloadEnv(pid) // before the process can exit
	s.stacks.setMain(pid)
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
