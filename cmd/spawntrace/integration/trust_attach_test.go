//go:build integration && linux

package integration

// -p checked before anything is traced: a number that is not a pid, a
// kernel thread and a zombie are refused in one line; attached to one of
// its own ancestors, spawntrace leaves its own tasks out.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// shWaitAttached is sh that waits (up to a minute) until a tracer has
// written "attached" to its stderr, the file errFile: spawntrace's
// "attached to PID", strace's "Process PID attached". A fixed sleep was too
// short on a loaded machine.
func shWaitAttached(errFile string) string {
	return fmt.Sprintf(`i=0; until grep -q attached %s 2>/dev/null; do i=$((i+1)); [ $i -gt 1200 ] && break; sleep 0.05; done`, errFile)
}

// checkOneLine checks that a refused -p said so in one line containing want.
func checkOneLine(t *testing.T, r *cmdResult, status int, want string) {
	t.Helper()
	msg := strings.TrimSpace(string(r.stderr))
	if r.status != status || strings.Count(msg, "\n") != 0 || !strings.Contains(msg, want) {
		t.Fatalf("want status %d and one line saying %q; got %s", status, want, r)
	}
}

func TestAttachRefusesWhatCannotBeTraced(t *testing.T) {
	e := setupEnv(t)
	o := runOpts{timeout: 20 * time.Second}

	t.Run("overflow", func(t *testing.T) {
		// 2^32 + 4000000: as a 32-bit pid it would be 4000000, above any
		// pid_max here (so a build that wraps it fails without attaching).
		r := e.spawntrace(t, o, "-p", strconv.FormatInt(1<<32+4000000, 10))
		b, err := os.ReadFile("/proc/sys/kernel/pid_max")
		if err != nil {
			t.Fatal(err)
		}
		max, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		checkOneLine(t, r, 2, fmt.Sprintf("PID must be between 1 and %d", max-1))
	})
	t.Run("kernel-thread", func(t *testing.T) {
		comm, _, _, ok := procStat(2)
		if !ok || comm != "kthreadd" {
			// In a container pid 2 is a process of its own; CI runs on a
			// host, where a skip would hide the case.
			if os.Getenv("CI") == "true" {
				t.Fatalf("pid 2 is %q here, not kthreadd, and CI=true", comm)
			}
			t.Skipf("pid 2 is %q here, not kthreadd", comm)
		}
		r := e.spawntrace(t, o, "-p", "2")
		checkOneLine(t, r, 1, "kthreadd is a kernel thread")
	})
	t.Run("zombie", func(t *testing.T) {
		// sh starts sleep in the background and stops itself: its child
		// stays a zombie while the stopped shell cannot reap it.
		dir := t.TempDir()
		pidFile := filepath.Join(dir, "pid")
		sh := exec.Command("/bin/sh", "-c", fmt.Sprintf("sleep 0.2 & echo $! > %s; kill -STOP $$", pidFile))
		if err := sh.Start(); err != nil {
			t.Fatal(err)
		}
		defer sh.Wait()
		defer sh.Process.Kill()
		var pid int
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			b, _ := os.ReadFile(pidFile)
			if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				if _, _, st, ok := procStat(p); ok && st == 'Z' {
					pid = p
					break
				}
			}
		}
		if pid == 0 {
			t.Fatal("no zombie within 5 s")
		}
		r := e.spawntrace(t, o, "-p", strconv.Itoa(pid))
		checkOneLine(t, r, 1, "zombie")
	})
}

// TestAttachToAncestorLeavesSpawntraceOut: `spawntrace -p $$` from a shell
// traces the shell and what it runs, not spawntrace's own threads (whose
// futex and epoll calls filled the table) nor spawntrace in the events.
// (sleep makes futex calls of its own: only epoll is spawntrace's alone.)
func TestAttachToAncestorLeavesSpawntraceOut(t *testing.T) {
	e := setupEnv(t)
	dir := openDir(t)
	rec, out := filepath.Join(dir, "rec.json"), filepath.Join(dir, "events.txt")
	script := fmt.Sprintf(`%s -p $$ -w %s -o %s 2>%s/stderr & sp=$!
%s; /bin/true; /bin/true; sleep 0.3; kill -INT $sp; wait $sp; echo $sp`, e.bin, rec, out, dir, shWaitAttached(dir+"/stderr"))
	r := runCmd(t, runOpts{timeout: 30 * time.Second}, "/bin/sh", "-c", script)
	stderr, _ := os.ReadFile(filepath.Join(dir, "stderr"))
	if r.status != 0 {
		t.Fatalf("%s\nspawntrace's stderr:\n%s", r, stderr)
	}
	sp, err := strconv.Atoi(strings.TrimSpace(string(r.stdout)))
	if err != nil {
		t.Fatalf("no spawntrace pid: %q", r.stdout)
	}
	got := loadRecording(t, rec)
	defer got.Close()
	c := tally(got)
	if c.execNames["/bin/true"] != 2 {
		t.Errorf("the shell's 2 execs of /bin/true: got %d (%v)\nstderr:\n%s", c.execNames["/bin/true"], c.execNames, stderr)
	}
	for _, ev := range got.Events {
		if ev.Pid == uint32(sp) || ev.Comm == "spawntrace" {
			t.Fatalf("spawntrace (pid %d) traced itself: %+v", sp, ev)
		}
	}
	for _, s := range got.Syscalls {
		if strings.HasPrefix(s.Name, "epoll") {
			t.Errorf("%s x%d in the table: spawntrace's own ring-buffer polls (a shell, sleep and true make none)", s.Name, s.Calls)
		}
	}
	evs, _ := readEvents(t, out)
	for _, ev := range evs {
		if ev.Pid == sp {
			t.Fatalf("-o line of spawntrace itself: %s", ev.Line)
		}
	}
}
