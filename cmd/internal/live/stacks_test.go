package live

import (
	"io"
	"os"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/tracer"
)

// An exec whose file name could not be read (the ptrace backend's, when
// the name's pointer was unreadable) has nothing to index; its job must not
// be taken for a spawn stack, which the symbolizer would look up in no
// process at all.
func TestStackProbeExecWithoutFilename(t *testing.T) {
	rec, err := recording.NewRecorder()
	if err != nil {
		t.Fatal(err)
	}
	p := newStackProbe(nil, rec, false, io.Discard)
	pid := uint32(os.Getpid())
	p.Observe(&tracer.Event{Kind: tracer.KindExec, Pid: pid, Tid: pid, TimeNs: 1, NameUnread: true})
	p.Observe(&tracer.Event{Kind: tracer.KindExec, Pid: pid, Tid: pid, TimeNs: 2, Filename: "/proc/self/exe"})
	r := &recording.Recording{}
	p.Finish(r) // waits for the symbolizing goroutine, which must not have panicked
	if p.dropped != 0 {
		t.Errorf("%d spawn stacks dropped, want 0: there were none", p.dropped)
	}
}
