//go:build integration && linux

package integration

import (
	"debug/elf"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
)

// Two versions of one program, which differ only in the name of the
// function they spawn from and in how many times they do: built alike,
// their code sits at the same addresses, so a symbolizer that takes the
// second for the first names the second's spawns after the first's
// function. Each lives a while after its spawns, as pprofDeepSpawn does,
// so that its memory map is read while it runs.
const inplaceVersion = `#include <unistd.h>
#include <sys/wait.h>

__attribute__((noinline)) void SITE(void) {
	pid_t pid = fork();
	if (pid == 0) {
		execl("/bin/true", "true", (char *)0);
		_exit(127);
	}
	waitpid(pid, 0, 0);
}

int main(void) {
	for (int i = 0; i < SPAWNS; i++)
		SITE();
	usleep(500000);
	return 0;
}
`

// Spawns of each version: distinct, so that a count says which it is.
const (
	inplaceSpawnsA = 3
	inplaceSpawnsB = 4
)

// gnuBuildID is the hex GNU build ID of an ELF file.
func gnuBuildID(t *testing.T, path string) string {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := f.Section(".note.gnu.build-id")
	if s == nil {
		t.Fatalf("%s: no .note.gnu.build-id", path)
	}
	b, err := s.Data()
	if err != nil || len(b) < 16 {
		t.Fatalf("%s: .note.gnu.build-id: %v", path, err)
	}
	return hex.EncodeToString(b[16:]) // namesz, descsz, type, "GNU\0"
}

// TestPprofProgramRewrittenInPlace: a workload runs a program, then
// rewrites the same file in place (open O_TRUNC, write another program: the
// inode stays, as under cp or a build that rewrites its output) and runs it
// again. The spawn profile names each run's spawns after its own function,
// down to main, and has a mapping of the file with each version's build
// ID: the second is not taken for the first.
func TestPprofProgramRewrittenInPlace(t *testing.T) {
	cc := requireTool(t, "gcc")
	bin := setupEnv(t).bin
	dir := t.TempDir()
	src := filepath.Join(dir, "version.c")
	if err := os.WriteFile(src, []byte(inplaceVersion), 0o644); err != nil {
		t.Fatal(err)
	}
	build := func(site string, spawns int) string {
		out := filepath.Join(dir, site)
		cmd := exec.Command(cc, "-O2", "-Wl,--build-id", "-DSITE="+site, fmt.Sprintf("-DSPAWNS=%d", spawns), "-o", out, src)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gcc: %v\n%s", err, b)
		}
		return out
	}
	a := build("spawn_from_version_a", inplaceSpawnsA)
	b := build("spawn_from_version_b", inplaceSpawnsB)
	idA, idB := gnuBuildID(t, a), gnuBuildID(t, b)
	if idA == idB {
		t.Fatalf("versions a and b have one build ID, %s", idA)
	}
	prog := filepath.Join(dir, "inplace")
	if err := os.WriteFile(prog, mustRead(t, a), 0o755); err != nil {
		t.Fatal(err)
	}
	var before, after syscall.Stat_t
	if err := syscall.Stat(prog, &before); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	// cat's stdout is prog opened O_WRONLY|O_TRUNC: the same inode. Version
	// a ran for 0.5 s since it was written: b's change time is another. The
	// sleep leaves a symbolizer behind on a loaded machine a while to read
	// version a where it is, once its process has exited and before it is
	// rewritten (then its frames could only go unnamed).
	stderr := pprofRun(t, bin, "--pprof", out, "--", "/bin/sh", "-c", `"$0" && sleep 1 && cat "$1" > "$0" && "$0"`, prog, b)
	if err := syscall.Stat(prog, &after); err != nil {
		t.Fatal(err)
	}
	if before.Dev != after.Dev || before.Ino != after.Ino || after.Size != int64(len(mustRead(t, b))) {
		t.Fatalf("%s was not rewritten in place: inode %d:%d then %d:%d, %d bytes", prog, before.Dev, before.Ino, after.Dev, after.Ino, after.Size)
	}
	profile := filepath.Join(out, "spawns.pb.gz")
	pprofOpens(t, profile)
	cum, top := cumCounts(t, profile, "inplace")
	want := map[string]int{"spawn_from_version_a": inplaceSpawnsA, "spawn_from_version_b": inplaceSpawnsB,
		"main": inplaceSpawnsA + inplaceSpawnsB}
	for fn, n := range want {
		if cum[fn] != n {
			t.Errorf("%s: %d spawns in go tool pprof -top -cum, want %d", fn, cum[fn], n)
		}
	}
	ids := map[string]bool{}
	for _, m := range pprofParse(t, profile).Mapping {
		if m.File == prog {
			ids[m.BuildID] = true
		}
	}
	if !ids[idA] || !ids[idB] {
		t.Errorf("mappings of %s have build IDs %v, want a's %s and b's %s", prog, ids, idA, idB)
	}
	if t.Failed() {
		t.Logf("go tool pprof -top -cum:\n%s\n-traces:\n%s\nstderr:\n%s", top, pprofTraces(t, profile), stderr)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
