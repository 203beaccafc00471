package live

import (
	"io"
	"os"
	"os/exec"
	"slices"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/symbolize"
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

// TestNeededLibs: the libraries the workload's map waits for are its
// program's DT_NEEDED entries; none for a static program.
func TestNeededLibs(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep")
	}
	cmd := exec.Command(sleep, "5")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if needed := symbolize.NeededLibraries(uint32(cmd.Process.Pid)); !slices.Contains(needed, "libc.so.6") {
		t.Errorf("%s needs %v, want libc.so.6 among them", sleep, needed)
	}
	if needed := symbolize.NeededLibraries(uint32(os.Getpid())); len(needed) != 0 {
		t.Errorf("a static Go test binary needs %v, want nothing", needed)
	}
}
