//go:build integration && linux

package integration

// Privileges: -u USER runs the workload as that user (strace -u is the
// oracle), files written under sudo belong to the user who ran sudo, and
// environment values never reach a recording, an event line or a profile.

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

const nobodyID = 65534 // nobody and nogroup on Debian

// TestPrivilegesRunAsUser: `spawntrace -u nobody` runs the workload with
// the uid, gid and groups `strace -u nobody` gives it, traces its whole
// tree as strace -f does, and refuses bad uses with one line.
func TestPrivilegesRunAsUser(t *testing.T) {
	e := setupEnv(t)
	strace := requireTool(t, "strace")
	dir := openDir(t)
	// The ids, then two more spawns: one through PATH, one a subshell.
	script := "id -u; id -g; id -G; /bin/true; (exit 0)"
	argv := []string{"/bin/sh", "-c", script}

	table := filepath.Join(dir, "strace-c.txt")
	sr := runCmd(t, runOpts{}, append([]string{strace, "-f", "-c", "-w", "-u", "nobody", "-o", table, "--"}, argv...)...)
	if sr.status != 0 {
		t.Fatalf("strace -u nobody: %s", sr)
	}
	b, err := os.ReadFile(table)
	if err != nil {
		t.Fatal(err)
	}
	want, err := parseTable(string(b))
	if err != nil {
		t.Fatalf("strace's table: %v\n%s", err, b)
	}

	rec := filepath.Join(dir, "rec.json")
	r := e.spawntrace(t, runOpts{}, append([]string{"-u", "nobody", "-c", "-w", rec, "--"}, argv...)...)
	if r.status != 0 {
		t.Fatalf("spawntrace -u nobody: %s", r)
	}
	if string(r.stdout) != string(sr.stdout) {
		t.Errorf("the workload's ids under spawntrace -u nobody:\n%s\nunder strace -u nobody:\n%s", r.stdout, sr.stdout)
	}
	if !strings.HasPrefix(string(r.stdout), "65534\n65534\n") {
		t.Errorf("the workload did not run as nobody:nogroup: %q", r.stdout)
	}
	got := checkCOutput(t, r)
	for _, name := range []string{"clone", "clone3", "fork", "vfork", "execve", "wait4"} {
		if got.Calls(name) != want.Calls(name) || got.Errors(name) != want.Errors(name) {
			t.Errorf("%s: spawntrace %d calls (%d errors), strace -f -u nobody %d (%d)",
				name, got.Calls(name), got.Errors(name), want.Calls(name), want.Errors(name))
		}
	}
	if tableSpawns(got) < 4 {
		t.Errorf("%d spawns, want at least 4 (id x3, /bin/true):\n%s", tableSpawns(got), got.Text)
	}

	// Bad uses: one line, a non-zero status, nothing run.
	marker := filepath.Join(dir, "ran")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-u", "no-such-user-x", "--", "/bin/sh", "-c", "echo > " + marker}, "-u no-such-user-x"},
		{[]string{"-u", "nobody", "-p", "1"}, "-u applies to a command"},
	} {
		r := e.spawntrace(t, runOpts{}, c.args...)
		msg := strings.TrimSuffix(string(r.stderr), "\n")
		if r.status == 0 || strings.Contains(msg, "\n") || !strings.Contains(msg, c.want) {
			t.Errorf("spawntrace %s: want a non-zero status and one line containing %q; got %s", strings.Join(c.args, " "), c.want, r)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("the workload ran although -u named no user")
	}
}

// TestPrivilegesSudoOwnership: run as root with sudo's SUDO_UID/SUDO_GID,
// every file spawntrace writes (-w, -o, the --pprof directory it made and
// its profiles) belongs to that user; a directory that was already there
// and a device (-o /dev/null) are left alone.
func TestPrivilegesSudoOwnership(t *testing.T) {
	e := setupEnv(t)
	dir := openDir(t)
	rec := filepath.Join(dir, "rec.json.gz")
	events := filepath.Join(dir, "events.txt")
	prof := filepath.Join(dir, "prof")
	env := append(os.Environ(), "SUDO_UID=65534", "SUDO_GID=65534", "SUDO_USER=nobody")
	r := e.spawntrace(t, runOpts{env: env}, "-c", "-w", rec, "-o", events, "--pprof", prof, "--", "/bin/sh", "-c", "/bin/true")
	if r.status != 0 {
		t.Fatalf("%s", r)
	}
	for _, p := range []string{rec, events, prof, filepath.Join(prof, "spawns.pb.gz"), filepath.Join(prof, "cpu.pb.gz")} {
		uid, gid := ownerOf(t, p)
		if uid != nobodyID || gid != nobodyID {
			t.Errorf("%s belongs to %d:%d, want the sudo user's 65534:65534", p, uid, gid)
		}
	}
	if uid, _ := ownerOf(t, dir); uid == nobodyID {
		t.Errorf("the directory that held the outputs was chowned too")
	}
	r = e.spawntrace(t, runOpts{env: env}, "-o", "/dev/null", "--", "/bin/true")
	if uid, _ := ownerOf(t, "/dev/null"); r.status != 0 || uid != 0 {
		t.Errorf("-o /dev/null under sudo: status %d, /dev/null owned by %d:\n%s", r.status, uid, r)
	}

	// Not under sudo (SUDO_UID absent): root's files stay root's.
	plain := filepath.Join(dir, "plain.json")
	var noSudo []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SUDO_") {
			noSudo = append(noSudo, kv)
		}
	}
	if r := e.spawntrace(t, runOpts{env: noSudo}, "-c", "-w", plain, "--", "/bin/true"); r.status != 0 {
		t.Fatalf("%s", r)
	}
	if uid, _ := ownerOf(t, plain); uid != 0 {
		t.Errorf("without sudo the recording belongs to %d, want root", uid)
	}
}

func ownerOf(t *testing.T, path string) (uid, gid uint32) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("%v", err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return st.Uid, st.Gid
}

// TestPrivilegesEnvValuesNotStored: an environment value (a secret, say)
// appears in no output: not the recording, the -o event lines, the
// profiles or the summary. Only counts and sizes of environments are kept.
func TestPrivilegesEnvValuesNotStored(t *testing.T) {
	e := setupEnv(t)
	dir := openDir(t)
	const secret = "hunter2-Zq8vX3-not-to-be-stored"
	rec := filepath.Join(dir, "rec.json")
	events := filepath.Join(dir, "events.txt")
	prof := filepath.Join(dir, "prof")
	env := append(os.Environ(), "SPAWNTRACE_TEST_SECRET="+secret)
	// The children get the secret inherited and in a variable the shell
	// exports (an envp it builds; the value is in no argv), and a failed
	// PATH search of a missing program carries it too.
	r := e.spawntrace(t, runOpts{env: env}, "-w", rec, "-o", events, "--pprof", prof, "--",
		"/bin/sh", "-c", `export OTHER_SECRET="$SPAWNTRACE_TEST_SECRET-2"; /bin/true; no-such-program-q7 2>/dev/null; exit 0`)
	if r.status != 0 {
		t.Fatalf("%s", r)
	}
	outputs := map[string][]byte{"stderr (summary)": r.stderr}
	for _, p := range []string{rec, events, filepath.Join(prof, "spawns.pb.gz"), filepath.Join(prof, "cpu.pb.gz")} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(p, ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			if b, err = io.ReadAll(zr); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
		}
		outputs[p] = b
	}
	for name, b := range outputs {
		if bytes.Contains(b, []byte(secret)) {
			t.Errorf("%s holds the environment value %q", name, secret)
		}
	}
	// The environment was seen, as counts: the exec line says how many.
	if !bytes.Contains(outputs[events], []byte(" vars */")) {
		t.Errorf("no execve line counts its environment (\"/* N vars */\") in -o:\n%s", clip(outputs[events], 20))
	}
}
