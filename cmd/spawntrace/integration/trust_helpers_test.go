//go:build integration && linux

package integration

// Helpers of the trust tests (trust_*_test.go: nothing lost under a spawn
// storm, hostile and broken input, probes disabled one at a time). They
// build on helpers_test.go (setupEnv compiles every
// testdata/workloads/*.c, trust_*.c included); identifiers start with "tr".

import (
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/spawn"
	"github.com/spawntrace/spawntrace/tracer"
)

// eventTally tallies the events of a recording that the trust tests check.
type eventTally struct {
	ok, failed map[int]int // syscall events by number: successful (ret >= 0), failed
	exits      int         // process exits (the last thread of a process)
	execNames  map[string]int
	comms      map[string]bool
}

func tally(rec *recording.Recording) eventTally {
	c := eventTally{ok: map[int]int{}, failed: map[int]int{}, execNames: map[string]int{}, comms: map[string]bool{}}
	for i := range rec.Events {
		ev := &rec.Events[i]
		if ev.Comm != "" {
			c.comms[ev.Comm] = true
		}
		switch ev.Kind {
		case tracer.KindSyscall:
			// A spawn is counted in the caller: the child's return (0) has no event.
			if ev.Ret < 0 {
				c.failed[ev.Nr]++
				continue
			}
			c.ok[ev.Nr]++
			if spawn.IsExec(ev.Nr) {
				c.execNames[ev.Filename]++
			}
		case tracer.KindExit:
			if ev.GroupDead {
				c.exits++
			}
		}
	}
	return c
}

// loadRecording loads a recording written by -w, failing the test if it does not
// load, with its events in memory (rec.Events), in time order, for the
// checks to index.
func loadRecording(t *testing.T, path string) *recording.Recording {
	t.Helper()
	rec, err := recording.Load(path)
	if err != nil {
		t.Fatalf("the recording does not load: %v", err)
	}
	var evs []tracer.Event
	if err := rec.EachEvent(func(ev *tracer.Event) error { evs = append(evs, *recording.KeptCopy(ev)); return nil }); err != nil {
		t.Fatalf("the recording's events do not read back: %v", err)
	}
	if err := rec.Close(); err != nil { // its events are in memory now
		t.Fatal(err)
	}
	rec.Events = evs
	return rec
}

var warnLostRe = regexp.MustCompile(`(?m)^spawntrace: warning: lost events: ([0-9]+)`)

// warnLost returns N of the "spawntrace: warning: lost events: N" line (-1 when absent).
func warnLost(text string) int64 {
	m := warnLostRe.FindStringSubmatch(text)
	if m == nil {
		return -1
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// splitLines splits text into its lines, without the newlines.
func splitLines(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// start starts spawntrace with args in the background; wait returns its
// result (and fails the test when it has not ended within timeout of the
// start).
type bgRun struct {
	cmd  *exec.Cmd
	done chan struct{}
	res  *cmdResult
	err  error
}

func (e *testEnv) start(t *testing.T, timeout time.Duration, args ...string) *bgRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	cmd := exec.CommandContext(ctx, e.bin, args...)
	r := &bgRun{cmd: cmd, done: make(chan struct{})}
	started := make(chan struct{})
	go func() {
		defer cancel()
		defer close(r.done)
		r.res, r.err = runDuring(cmd, runOpts{}, func() error { close(started); return nil })
		if ctx.Err() != nil && r.err == nil {
			r.err = fmt.Errorf("killed after %v: still running", timeout)
		}
	}()
	select {
	case <-started:
	case <-r.done:
		t.Fatalf("%s did not start: %v", strings.Join(cmd.Args, " "), r.err)
	}
	t.Cleanup(func() {
		if cmd.Process != nil {
			select {
			case <-r.done:
			default:
				cmd.Process.Kill()
				<-r.done
			}
		}
	})
	return r
}

// ended reports whether the run has ended, waiting up to d for it.
func (r *bgRun) ended(d time.Duration) bool {
	select {
	case <-r.done:
		return true
	case <-time.After(d):
		return false
	}
}

// wait waits for the run to end and returns its result.
func (r *bgRun) wait(t *testing.T) *cmdResult {
	t.Helper()
	<-r.done
	if r.err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(r.cmd.Args, " "), r.err, r.res)
	}
	return r.res
}

// workloadPid waits until the workload, a direct child of spawntrace
// whose comm is comm, has started, and returns its pid. The process is
// killed when the test ends, whatever happened to spawntrace.
func workloadPid(t *testing.T, r *bgRun, comm string) int {
	t.Helper()
	pid := descendant(r.cmd.Process.Pid, comm, 10*time.Second)
	if pid == 0 {
		t.Fatalf("%s did not start under spawntrace within 10s", comm)
	}
	t.Cleanup(func() {
		if alive(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	// Wait for it to say it is ready (it writes once its signals are set).
	time.Sleep(200 * time.Millisecond)
	return pid
}

// clip is at most n bytes of b, for messages.
func clip(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + fmt.Sprintf("\n... (%d more bytes)", len(b)-n)
}

// report runs `spawntrace report ARGS`, failing on a non-zero exit.
func (e *testEnv) report(t *testing.T, args ...string) *cmdResult {
	t.Helper()
	r := e.spawntrace(t, runOpts{}, append([]string{"report"}, args...)...)
	if r.status != 0 {
		t.Fatalf("report: %s", r)
	}
	return r
}
