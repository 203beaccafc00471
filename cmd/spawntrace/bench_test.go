package main

import (
	"bytes"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint64
	}{
		{"0", 0}, {"4096", 4096}, {"64K", 64 << 10}, {"256M", 256 << 20}, {"256m", 256 << 20},
		{"1G", 1 << 30}, {"1.5G", 3 << 29}, {"512MiB", 512 << 20}, {"2GB", 2 << 30}, {"1T", 1 << 40},
	} {
		got, err := parseSize(c.in)
		if err != nil || got != c.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
		if c.want > 0 {
			back, err := parseSize(benchSize(c.want))
			if err != nil || back != c.want {
				t.Errorf("parseSize(benchSize(%d)) = %d, %v", c.want, back, err)
			}
		}
	}
	for _, bad := range []string{"", "M", "-1G", "1Q", "lots", "2P", "1e30"} {
		if got, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", bad, got)
		}
	}
}

func TestBenchParams(t *testing.T) {
	o := benchOptions{n: 20, rss: "0, 64M,512M", env: "20", methods: "exec,fork,sh"}
	p, err := o.params()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"-n", "20", "--rss", "0,67108864,536870912", "--env", "20", "--methods", "exec,fork,sh"}
	if got := p.args(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("worker args = %q, want %q", got, want)
	}
	// The worker parses what bench passes it to the same parameters.
	fs := newFlagSet("w", &bytes.Buffer{})
	var w benchOptions
	w.register(fs)
	if err := fs.Parse(p.args()); err != nil {
		t.Fatal(err)
	}
	if wp, err := w.params(); err != nil || strings.Join(wp.args(), " ") != strings.Join(want, " ") {
		t.Errorf("worker's parameters = %+v, %v", wp, err)
	}

	for _, bad := range []benchOptions{
		{n: 0, rss: "0", env: "20", methods: "exec"},
		{n: benchMaxN + 1, rss: "0", env: "20", methods: "exec"},
		{n: 1, rss: "1X", env: "20", methods: "exec"},
		{n: 1, rss: "", env: "20", methods: "exec"},
		{n: 1, rss: "0", env: "0", methods: "exec"},
		{n: 1, rss: "0", env: "20000", methods: "exec"},
		{n: 1, rss: "0", env: "", methods: "exec"},
		{n: 1, rss: "0", env: "20", methods: "posix_spawn"},
		{n: 1, rss: "0", env: "20", methods: ""},
	} {
		if _, err := bad.params(); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

func TestBenchUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-n", "0"},
		{"--methods", "spawn"},
		{"--rss", "100T"}, // more than any test host has
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(t.Context(), append([]string{"bench"}, args...), &stdout, &stderr); code != exitUsage {
			t.Errorf("bench %q: exit %d, want %d; stderr: %s", args, code, exitUsage, stderr.String())
		}
		if stdout.Len() > 0 || !strings.HasPrefix(stderr.String(), "spawntrace: bench: ") {
			t.Errorf("bench %q: stdout %q stderr %q", args, stdout.String(), stderr.String())
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run(t.Context(), []string{"bench", "-h"}, &stdout, &stderr); code != 0 ||
		!strings.Contains(stderr.String(), "--methods LIST") || !strings.Contains(stderr.String(), "Examples:") {
		t.Errorf("bench -h: exit %d, stderr:\n%s", code, stderr.String())
	}
}

func TestBenchEnv(t *testing.T) {
	for _, n := range []int{1, 20, 200} {
		env := benchEnv(n)
		if len(env) != n || env[0] != "PATH="+benchPATH {
			t.Fatalf("benchEnv(%d): %d variables, first %q", n, len(env), env[0])
		}
		seen := map[string]bool{}
		for _, v := range env {
			name, _, ok := strings.Cut(v, "=")
			if !ok || seen[name] || (name != "PATH" && len(v) != 63) {
				t.Errorf("benchEnv(%d): bad or repeated variable %q", n, v)
			}
			seen[name] = true
		}
	}
}

func TestBenchSteps(t *testing.T) {
	p := benchParams{n: 1, rss: []uint64{0, 1 << 30}, envs: []int{20, 200}, methods: []string{"sh", "fork", "exec"}}
	var got []string
	for _, s := range benchSteps(p) {
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
	if ws := run([]string{"/bin/sh"}, []string{"sh", "-c", script}, []string{"A=1", "B=2", "PATH=" + benchPATH}); ws.ExitStatus() != 0 {
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
