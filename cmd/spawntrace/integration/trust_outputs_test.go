//go:build integration && linux

package integration

// Outputs as root: every file spawntrace writes is opened before the
// workload starts, never through a symlink, and written through that
// descriptor, so neither the workload nor another user can point root's
// writes at a file of their choosing.

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// makeSecret makes a root-only file (0600 in a 0700 directory) that no
// output may touch, and returns its path and content.
func makeSecret(t *testing.T) (path string, content []byte) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, "shadow")
	content = []byte("root:secret-hash:20000:0:99999:7:::\n")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return path, content
}

func checkUnchanged(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s was overwritten: now %d bytes starting %q", path, len(got), clip(got, 80))
	}
}

// oneLineFailure checks a refused command: a non-zero status and one line
// on stderr that contains want.
func oneLineFailure(t *testing.T, r *cmdResult, want string) {
	t.Helper()
	msg := strings.TrimSuffix(string(r.stderr), "\n")
	if r.status == 0 || strings.Contains(msg, "\n") || !strings.Contains(msg, want) {
		t.Errorf("want a non-zero status and one line containing %q; got %s", want, r)
	}
}

// TestOutputsNotRedirectedByWorkload: a workload run as nobody in a
// directory it owns swaps -w, -o and the --pprof directory for symlinks to
// root-only places while it runs. Root's writes still go to the files
// spawntrace opened before the workload started (renamed by the workload,
// they hold a recording, event lines and a profile), nothing reaches the
// symlinks' targets, and stderr says what was replaced.
func TestOutputsNotRedirectedByWorkload(t *testing.T) {
	e := setupEnv(t)
	secret, content := makeSecret(t)
	rootDir := t.TempDir() // root's own, 0700 in root's temp dir
	dir := openDir(t)
	if err := os.Chown(dir, nobodyID, nobodyID); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	script := `cd "$1" &&
mv run.json run.moved && ln -s "$2" run.json &&
mv events.txt events.moved && ln -s "$2" events.txt &&
mv prof prof.moved && ln -s "$3" prof &&
/bin/true`
	r := e.spawntrace(t, runOpts{}, "-u", "nobody", "-c", "-w", filepath.Join(dir, "run.json"),
		"-o", filepath.Join(dir, "events.txt"), "--pprof", filepath.Join(dir, "prof"),
		"--", "/bin/sh", "-c", script, "sh", dir, secret, rootDir)
	if r.status != 0 {
		t.Fatalf("%s", r)
	}
	checkUnchanged(t, secret, content)
	if ents, _ := os.ReadDir(rootDir); len(ents) != 0 {
		t.Errorf("root's directory got %d files through the swapped --pprof symlink (%s...)", len(ents), ents[0].Name())
	}
	rec := loadRecording(t, filepath.Join(dir, "run.moved"))
	if c := tally(rec); c.execNames["/bin/true"] != 1 {
		t.Errorf("the recording spawntrace opened holds %d execs of /bin/true, want 1", c.execNames["/bin/true"])
	}
	if evs, raw := readEvents(t, filepath.Join(dir, "events.moved")); len(evs) == 0 {
		t.Errorf("the event lines spawntrace opened are empty:\n%s", clip(raw, 400))
	}
	if fi, err := os.Stat(filepath.Join(dir, "prof.moved", "spawns.pb.gz")); err != nil || fi.Size() == 0 {
		t.Errorf("the spawn profile is not in the directory spawntrace opened: %v", err)
	}
	for _, name := range []string{"run.json", "events.txt", "prof"} {
		if !strings.Contains(string(r.stderr), filepath.Join(dir, name)+" was replaced") {
			t.Errorf("stderr does not say %s was replaced:\n%s", name, r.stderr)
		}
	}
}

// TestOutputsRefusedBeforeRun: an output that cannot be opened safely is
// refused in one line before the workload runs (it would otherwise be lost
// after a long run), and every file named stays as it was.
func TestOutputsRefusedBeforeRun(t *testing.T) {
	e := setupEnv(t)
	secret, content := makeSecret(t)
	dir := openDir(t)
	marker := filepath.Join(dir, "ran")
	workload := []string{"--", "/bin/sh", "-c", "echo > " + marker}
	at := func(name string) string { return filepath.Join(dir, name) }

	// A symlink planted by another user, a file with a second hard link
	// (to a root-only file), a directory that is not there, a parent that
	// is a file, a --pprof directory of another user or reached through a
	// symlink, and one file named twice.
	if err := os.Symlink(secret, at("planted.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(secret, at("linked.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(at("afile"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(at("theirs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(at("theirs"), nobodyID, nobodyID); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(t.TempDir(), at("dirlink")); err != nil {
		t.Fatal(err)
	}
	// A directory of nobody's, with a link of theirs to a root-only
	// directory holding a file that must not be overwritten.
	rootOnly := filepath.Dir(secret)
	if err := os.Symlink(rootOnly, at("theirs/sub")); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(at("theirs/sub"), nobodyID, nobodyID); err != nil {
		t.Fatal(err)
	}
	keep := []byte("an earlier run's lines\n")
	if err := os.WriteFile(at("twice.txt"), keep, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-w", at("planted.json")}, "is a symbolic link"},
		{[]string{"-o", at("planted.json")}, "is a symbolic link"},
		{[]string{"-w", at("linked.json")}, "has 2 hard links"},
		{[]string{"-w", at("no/such/dir/run.json")}, "no such file or directory"},
		{[]string{"-w", at("afile/run.json")}, "not a directory"},
		{[]string{"--pprof", at("theirs")}, "belongs to uid 65534"},
		{[]string{"--pprof", at("dirlink")}, "is a symbolic link"},
		{[]string{"-w", at("theirs/sub/" + filepath.Base(secret))}, "sub on its way is a symbolic link that belongs to uid 65534"},
		{[]string{"--pprof", at("theirs/sub/prof")}, "sub on its way is a symbolic link that belongs to uid 65534"},
		{[]string{"-o", at("twice.txt"), "-w", at("twice.txt")}, "are the same file"},
		{[]string{"-o", at("twice.txt"), "-w", at("./twice.txt")}, "are the same file"},
		{[]string{"--html", at("planted.json")}, "is a symbolic link"},
		{[]string{"--html", at("linked.json")}, "has 2 hard links"},
		{[]string{"--html", at("twice.txt"), "-w", at("twice.txt")}, "are the same file"},
	} {
		r := e.spawntrace(t, runOpts{}, append(append([]string{"-c"}, c.args...), workload...)...)
		t.Run(strings.Join(c.args, " "), func(t *testing.T) { oneLineFailure(t, r, c.want) })
		if _, err := os.Stat(marker); err == nil {
			t.Errorf("spawntrace %s: the workload ran although an output was refused", strings.Join(c.args, " "))
			os.Remove(marker)
		}
	}
	checkUnchanged(t, secret, content)
	checkUnchanged(t, at("twice.txt"), keep)
	if _, err := os.Stat(filepath.Join(rootOnly, "prof")); err == nil {
		t.Errorf("--pprof made a directory through another user's symlink")
	}

	// A link of root's on the way is followed, as the kernel would.
	if err := os.Symlink(t.TempDir(), at("rootlink")); err != nil {
		t.Fatal(err)
	}
	if r := e.spawntrace(t, runOpts{}, "-c", "-w", at("rootlink/run.json"), "--", "/bin/true"); r.status != 0 {
		t.Errorf("-w through root's own symlink: %s", r)
	}
	if _, err := os.Stat(at("theirs/spawns.pb.gz")); err == nil {
		t.Errorf("a profile was written into another user's directory")
	}

	// The same with report and compare: an output that is one of the
	// recordings read would destroy it.
	rec := at("rec.json")
	if r := e.spawntrace(t, runOpts{}, "-c", "-w", rec, "--", "/bin/true"); r.status != 0 {
		t.Fatalf("%s", r)
	}
	before, _ := os.ReadFile(rec)
	r := e.spawntrace(t, runOpts{}, "report", "-c", "-o", rec, rec)
	oneLineFailure(t, r, "are the same file")
	r = e.spawntrace(t, runOpts{}, "compare", "-o", rec, rec, rec)
	oneLineFailure(t, r, "are the same file")
	checkUnchanged(t, rec, before)
}

// TestOutputsFIFOAndStreams: -o to a FIFO with no reader fails at once
// (it used to hang after the workload), with a reader it works, and
// /dev/stderr names spawntrace's own stderr.
func TestOutputsFIFOAndStreams(t *testing.T) {
	e := setupEnv(t)
	dir := openDir(t)
	fifo := filepath.Join(dir, "lines.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(dir, "ran")
	r := e.spawntrace(t, runOpts{timeout: 20 * time.Second}, "-c", "-o", fifo, "--", "/bin/sh", "-c", "echo > "+marker)
	oneLineFailure(t, r, "FIFO with no reader")
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("the workload ran although -o was refused")
	}

	got := make(chan []byte, 1)
	go func() {
		f, err := os.Open(fifo) // blocks until spawntrace opens its end
		if err != nil {
			got <- nil
			return
		}
		defer f.Close()
		b := new(bytes.Buffer)
		b.ReadFrom(f)
		got <- b.Bytes()
	}()
	time.Sleep(100 * time.Millisecond) // let the reader open first: a FIFO without one is refused
	r = e.spawntrace(t, runOpts{timeout: 30 * time.Second}, "-c", "-o", fifo, "--", "/bin/sh", "-c", "/bin/true")
	if r.status != 0 {
		t.Fatalf("%s", r)
	}
	select {
	case b := <-got:
		if evs, err := parseEvents(string(b)); err != nil || len(evs) < 2 {
			t.Errorf("the FIFO's reader got %d event lines (%v):\n%s", len(evs), err, clip(b, 400))
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the FIFO's reader got no end of file")
	}

	r = e.spawntrace(t, runOpts{}, "-c", "-o", "/dev/stderr", "--", "/bin/true")
	if r.status != 0 || !strings.Contains(string(r.stderr), `execve("/bin/true"`) {
		t.Errorf("-o /dev/stderr: want the event lines on stderr; got %s", r)
	}
}

// TestOutputsFIFOStalledReader: -o names a FIFO whose reader (the
// workload, in a directory it owns, or anyone) holds it open and never
// reads. Once the pipe is full spawntrace cannot finish the lines; a
// Ctrl-C then gives up on that output and still prints the table, and
// spawntrace exits with the workload's status. It used to block in
// write(2) for good, and the Ctrl-C killed it: no table, status 130.
func TestOutputsFIFOStalledReader(t *testing.T) {
	e := setupEnv(t)
	fifo := filepath.Join(openDir(t), "lines.fifo")
	if err := syscall.Mkfifo(fifo, 0o666); err != nil {
		t.Fatal(err)
	}
	rfd, err := syscall.Open(fifo, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(rfd)
	// ~600 execs and exits: far more lines than a pipe holds (64 KiB).
	run := e.start(t, 60*time.Second, "-c", "-o", fifo, "--", "/bin/sh", "-c",
		"i=0; while [ $i -lt 600 ]; do /bin/true; i=$((i+1)); done; exit 3")
	full := false
	for deadline := time.Now().Add(45 * time.Second); !full && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		n, err := unix.IoctlGetInt(rfd, unix.TIOCINQ) // FIONREAD
		size, err2 := unix.FcntlInt(uintptr(rfd), unix.F_GETPIPE_SZ, 0)
		full = err == nil && err2 == nil && n >= size
	}
	if !full {
		t.Fatalf("the FIFO never filled up (spawntrace %v)", run.ended(0))
	}
	time.Sleep(300 * time.Millisecond)
	run.cmd.Process.Signal(syscall.SIGINT)
	if !run.ended(10 * time.Second) {
		t.Fatalf("spawntrace still blocked 10 s after SIGINT, writing to a FIFO nobody reads")
	}
	r := run.res
	if r == nil || r.status != 3 {
		t.Fatalf("want the workload's status 3; got %v", r)
	}
	if !strings.Contains(string(r.stderr), "-o "+fifo) || !strings.Contains(string(r.stderr), "interrupted") {
		t.Errorf("stderr does not say that -o %s was left incomplete:\n%s", fifo, r)
	}
	tab, err := parseTable(string(r.stderr))
	if err != nil {
		t.Fatalf("no table on stderr: %v\n%s", err, r)
	}
	checkRow(t, "spawntrace", tab, "execve", 601, 0)
}
