package benchworker

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestBenchEnv(t *testing.T) {
	for _, n := range []int{1, 20, 200} {
		env := Env(n)
		if len(env) != n || env[0] != "PATH="+PATH {
			t.Fatalf("Env(%d): %d variables, first %q", n, len(env), env[0])
		}
		seen := map[string]bool{}
		for _, v := range env {
			name, _, ok := strings.Cut(v, "=")
			if !ok || seen[name] || (name != "PATH" && len(v) != 63) {
				t.Errorf("Env(%d): bad or repeated variable %q", n, v)
			}
			seen[name] = true
		}
	}
}

func TestBenchSteps(t *testing.T) {
	p := Params{N: 1, RSSBytes: []uint64{0, 1 << 30}, EnvVars: []int{20, 200}, Methods: []string{"sh", "fork", "exec"}}
	var got []string
	for _, s := range Steps(p) {
		got = append(got, s.String())
	}
	// PATH lookups at the first RSS only; sh last, holding nothing.
	want := []string{
		"fork /bin/true        RSS 0        env 20",
		"fork true via PATH    RSS 0        env 20",
		"exec /bin/true        RSS 0        env 20",
		"exec true via PATH    RSS 0        env 20",
		"fork /bin/true        RSS 0        env 200",
		"fork true via PATH    RSS 0        env 200",
		"exec /bin/true        RSS 0        env 200",
		"exec true via PATH    RSS 0        env 200",
		"fork /bin/true        RSS 1G       env 20",
		"exec /bin/true        RSS 1G       env 20",
		"fork /bin/true        RSS 1G       env 200",
		"exec /bin/true        RSS 1G       env 200",
		"sh   /bin/true        RSS 0        env 20",
		"sh   true via PATH    RSS 0        env 20",
		"sh   /bin/true        RSS 0        env 200",
		"sh   true via PATH    RSS 0        env 200",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// sigBlk reads the calling thread's blocked-signal mask.
func sigBlk(t *testing.T) string {
	b, err := os.ReadFile("/proc/thread-self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "SigBlk:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatal("no SigBlk in /proc/thread-self/status")
	return ""
}

// The raw fork needs no root: it runs here like any fork.
func TestRawFork(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	mask := sigBlk(t)

	run := func(paths, argv, env []string) syscall.WaitStatus {
		t.Helper()
		job, err := newRawForkJob(paths, argv, env)
		if err != nil {
			t.Fatal(err)
		}
		ws, err := job.run()
		if err != nil {
			t.Fatal(err)
		}
		if got := sigBlk(t); got != mask {
			t.Fatalf("signal mask after the fork %s, before %s", got, mask)
		}
		return ws
	}
	if ws := run([]string{"/bin/true"}, []string{"true"}, nil); ws.ExitStatus() != 0 {
		t.Errorf("/bin/true: status %v", ws)
	}
	if ws := run([]string{"/bin/false"}, []string{"false"}, nil); ws.ExitStatus() != 1 {
		t.Errorf("/bin/false: status %d, want 1", ws.ExitStatus())
	}
	// A PATH walk: missing directories and a directory where a file is
	// expected fail with ENOENT and ENOTDIR, and the walk goes on.
	dir := t.TempDir()
	walk := []string{dir + "/nope/true", "/etc/passwd/true", dir + "/true", "/bin/true"}
	if ws := run(walk, []string{"true"}, nil); ws.ExitStatus() != 0 {
		t.Errorf("PATH walk: status %v", ws)
	}
	if ws := run(walk[:3], []string{"true"}, nil); ws.ExitStatus() != 127 {
		t.Errorf("nothing to exec: status %d, want 127", ws.ExitStatus())
	}
	// The child execs with exactly the environment given and the signal
	// mask the parent had: none of the signals blocked around the fork.
	// (grep, not sh: dash clears the mask itself.)
	if ws := run([]string{"/usr/bin/grep", "/bin/grep"}, []string{"grep", "-q", "^SigBlk:[[:space:]]*" + mask + "$", "/proc/self/status"}, nil); ws.ExitStatus() != 0 {
		t.Errorf("the child's signal mask is not the parent's %s (grep status %d)", mask, ws.ExitStatus())
	}
	// /proc/$$/environ is the block execve got, before the shell adds PWD.
	script := `[ "$A" = 1 ] && [ "$B" = 2 ] && [ "$(tr '\0' '\n' </proc/$$/environ | wc -l)" = 3 ]`
	if ws := run([]string{"/bin/sh"}, []string{"sh", "-c", script}, []string{"A=1", "B=2", "PATH=" + PATH}); ws.ExitStatus() != 0 {
		t.Errorf("the child's environment is wrong (status %d)", ws.ExitStatus())
	}
}

func TestTouchAnon(t *testing.T) {
	before := rssAnon(t)
	b, err := touchAnon(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	grown := rssAnon(t) - before
	unmapAnon(b)
	// The touched pages are resident (the Go heap may move a little meanwhile).
	if grown < 60<<20 || grown > 72<<20 {
		t.Errorf("RssAnon grew by %d MiB, want 64", grown>>20)
	}
	if b, err := touchAnon(0); b != nil || err != nil {
		t.Errorf("touchAnon(0) = %d bytes, %v", len(b), err)
	}
}

func rssAnon(t *testing.T) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no RssAnon in /proc/self/status")
	return 0
}
