//go:build integration && linux

package integration

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/spawn"
)

// lateRun is spawntrace -w REC -- /bin/sh -c SCRIPT, whose records are read
// late: spawntrace is stopped (SIGSTOP) while the script runs what the
// test releases, then continued. The script's own processes left running
// keep spawntrace waiting until it is interrupted (SIGINT), so that they
// are alive all the while it reads and names their stacks; their stderr
// must not be spawntrace's (2>/dev/null), which the test reads to its end.
type lateRun struct {
	t      *testing.T
	dir    string
	fifos  map[string]string
	cmd    *exec.Cmd
	stderr strings.Builder // guarded by done: read once the scanner is through
	done   chan struct{}
	wait   chan struct{} // closed at spawntrace's "waiting for" line
}

func newLateRun(t *testing.T, fifos ...string) *lateRun {
	r := &lateRun{t: t, dir: t.TempDir(), fifos: map[string]string{}, done: make(chan struct{}), wait: make(chan struct{})}
	for _, name := range fifos {
		r.fifos[name] = filepath.Join(r.dir, name)
		if err := syscall.Mkfifo(r.fifos[name], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// start runs spawntrace on script, its arguments args (fifos by name, or
// else as they are), and returns once the script opened fifo "go", with
// spawntrace stopped.
func (r *lateRun) start(bin, rec, script string, args ...string) {
	t := r.t
	argv := []string{"-w", rec, "--", "/bin/sh", "-c", script, "sh"}
	for _, a := range args {
		if p, ok := r.fifos[a]; ok {
			a = p
		}
		argv = append(argv, a)
	}
	r.cmd = exec.Command(bin, argv...)
	pipe, err := r.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.cmd.Process.Signal(syscall.SIGCONT)
		r.cmd.Process.Kill()
		r.cmd.Wait()
		// What the script left waiting on a fifo, on a failure: a writer
		// that comes and goes lets its read end.
		for _, p := range r.fifos {
			if f, err := os.OpenFile(p, os.O_RDWR|syscall.O_NONBLOCK, 0); err == nil {
				f.Write([]byte("x\n"))
				time.AfterFunc(time.Second, func() { f.Close() })
			}
		}
	})
	go func() {
		defer close(r.done)
		sc := bufio.NewScanner(pipe)
		seen := false
		for sc.Scan() {
			r.stderr.WriteString(sc.Text() + "\n")
			if !seen && strings.Contains(sc.Text(), "spawntrace: workload exited; waiting for") {
				seen = true
				close(r.wait)
			}
		}
		io.Copy(io.Discard, pipe)
	}()
	// Opening a FIFO waits for its other end: the script runs, traced.
	g, err := os.OpenFile(r.fifos["go"], os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	g.Write([]byte("x\n"))
	g.Close()
}

// release lets the script past `read x < "$FIFO"`.
func (r *lateRun) release(name string) {
	if err := os.WriteFile(r.fifos[name], []byte("x\n"), 0o600); err != nil {
		r.t.Fatal(err)
	}
}

// finish continues spawntrace, releases the script's last fifo (end), and
// interrupts spawntrace once it waits for what the script left running.
func (r *lateRun) finish() string {
	t := r.t
	if err := r.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	r.release("end")
	select {
	case <-r.wait:
	case <-r.done:
		r.cmd.Wait()
		t.Fatalf("spawntrace ended without waiting for the processes left running:\n%s", r.stderr.String())
	case <-time.After(2 * time.Minute):
		t.Fatal("spawntrace never said it waits for the processes left running")
	}
	if err := r.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	<-r.done
	if err := r.cmd.Wait(); err != nil {
		t.Fatalf("spawntrace: %v\n%s", err, r.stderr.String())
	}
	return r.stderr.String()
}

// spawnStacks gives the stacks of the recording's spawns whose child exec'd
// a program named exe.
func spawnStacks(t *testing.T, path, exe string) (stacks []*recording.Stack, rec *recording.Recording) {
	rec = loadRecording(t, path)
	sum := summarized(t, rec)
	defer sum.Close()
	sum.EachSpawn(func(sp *spawn.Spawn) error {
		if filepath.Base(sp.Exe) == exe {
			stacks = append(stacks, rec.StackOf(sp.StackID))
		}
		return nil
	})
	return stacks, rec
}

func frameNames(rec *recording.Recording, st *recording.Stack) []string {
	var out []string
	for _, f := range st.Frames {
		file := "?"
		if f.Mapping > 0 {
			file = filepath.Base(rec.Mappings[f.Mapping-1].File)
		}
		out = append(out, f.Func+"@"+file)
	}
	return out
}

// lateSubshell starts, from a shell of its own (inner, not the workload,
// whose memory map spawntrace reads at its start), a subshell that spawns
// /bin/true three times once that shell has exited, and lives on.
const lateSubshell = `echo $$ > "$1"
read x < "$2"
( read y < "$3"; for i in 1 2 3; do /bin/true; done; echo ran > "$4"; read z < "$5" ) 2>/dev/null &
exit 0
`

// TestStacksReadLateFromLiveSubshell: a subshell spawns after the shell it
// was forked from exited; its spawn records are read late (spawntrace
// stopped meanwhile), and the subshell still lives then: its stacks are
// unwound from its own memory map, which is the shell's as forked, down to
// main. (They were read from the gone shell's pid, and all truncated.)
func TestStacksReadLateFromLiveSubshell(t *testing.T) {
	bin := setupEnv(t).bin
	r := newLateRun(t, "go", "go2", "ran", "end", "end2")
	inner := filepath.Join(r.dir, "inner.sh")
	spid := filepath.Join(r.dir, "spid")
	if err := os.WriteFile(inner, []byte(lateSubshell), 0o644); err != nil {
		t.Fatal(err)
	}
	rec := filepath.Join(r.dir, "rec.strec")
	// The workload runs inner.sh as a child (not in its place: it waits
	// for it), which opens go.
	r.start(bin, rec, `/bin/sh "$1" "$2" "$3" "$4" "$5" "$6"; read w < "$7"`,
		inner, spid, "go", "go2", "ran", "end2", "end")
	b, err := os.ReadFile(spid)
	if err != nil {
		t.Fatal(err)
	}
	shell, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// The inner shell forks the subshell and exits; the workload reaps it.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat("/proc/" + strconv.Itoa(shell)); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the inner shell %d never exited", shell)
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.release("go2")
	if _, err := os.ReadFile(r.fifos["ran"]); err != nil {
		t.Fatal(err)
	}
	stderr := r.finish()
	r.release("end2") // the subshell, alive until spawntrace is done

	stacks, rc := spawnStacks(t, rec, "true")
	if len(stacks) != 3 {
		t.Fatalf("%d spawns of /bin/true, want 3:\n%s", len(stacks), stderr)
	}
	for i, st := range stacks {
		if st == nil || st.Truncated() || st.MapGone || st.Unwound != recording.UnwoundCFI {
			var frames []string
			if st != nil {
				frames = frameNames(rc, st)
			}
			t.Errorf("spawn %d of /bin/true: stack %+v %v, want one unwound by CFI to main", i, st, frames)
		}
	}
}

// execAfterSpawn forks /bin/true from a function of its own, then execs
// cat, which waits on the fifo argv[1]. Its addresses are not randomized
// (it runs itself again so): cat's map then places libc where this
// program had it, and its own code where this program's was.
const execAfterSpawn = `#include <unistd.h>
#include <sys/personality.h>
__attribute__((noinline)) void spawn_then_exec(const char *fifo) {
	if (fork() == 0) {
		execl("/bin/true", "true", (char *)0);
		_exit(127);
	}
	execl("/bin/cat", "cat", fifo, (char *)0);
}
int main(int argc, char **argv) {
	if (!(personality(0xffffffff) & ADDR_NO_RANDOMIZE)) {
		personality(ADDR_NO_RANDOMIZE);
		execv("/proc/self/exe", argv);
	}
	spawn_then_exec(argv[1]);
	return 1;
}
`

// TestStacksReadLateAfterExec: a process that exec'd another program
// after its spawn, read late, must not have its stack named from the new
// program's memory map (wrong frames, worse than none): it is said to be
// truncated for want of its map. (Its map was read from cat, and the
// stack unwound through cat's code.)
func TestStacksReadLateAfterExec(t *testing.T) {
	bin := setupEnv(t).bin
	r := newLateRun(t, "go", "ran", "end", "end2")
	prog := compileC(t, r.dir, "execafter", execAfterSpawn)
	rec := filepath.Join(r.dir, "rec.strec")
	r.start(bin, rec, `read x < "$1"; "$4" "$5" 2>/dev/null & echo ran > "$2"; read x < "$3"`, "go", "ran", "end", prog, "end2")
	if _, err := os.ReadFile(r.fifos["ran"]); err != nil {
		t.Fatal(err)
	}
	// cat opened end2: the program has spawned and exec'd it.
	end2, err := os.OpenFile(r.fifos["end2"], os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	stderr := r.finish()
	end2.Close() // cat, alive until spawntrace is done

	stacks, rc := spawnStacks(t, rec, "true")
	if len(stacks) != 1 || stacks[0] == nil {
		t.Fatalf("stacks of the spawns of /bin/true %v, want 1:\n%s", stacks, stderr)
	}
	st := stacks[0]
	names := frameNames(rc, st)
	for _, n := range names {
		if strings.HasSuffix(n, "@cat") {
			t.Errorf("the spawner's stack has a frame in cat, which it exec'd after the spawn: %v", names)
		}
	}
	if !st.MapGone || !st.Truncated() {
		t.Errorf("the spawner's stack %v (unwound %q, map gone %v): want it truncated for want of its map",
			names, st.Unwound, st.MapGone)
	}
}
