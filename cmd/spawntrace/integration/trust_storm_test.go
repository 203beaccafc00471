//go:build integration && linux

package integration

// Nothing lost: a spawn storm on every core, checked against the count the
// workload keeps of what it did.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

const (
	stormSpawners = 8
	// stormPer is the storm: 8 x 5000 = 40 000 spawns, ~200 000
	// kernel events, about 20 s on 2 cores (~2000 traced spawns a second).
	stormPer = 5000
	// stormLossyPer is enough to overflow a one-page ring buffer many times.
	stormLossyPer = 250
)

// runStorm runs trust_storm under spawntrace with extra flags and returns
// the result, the recording, and how many spawns the workload performed
// (each one clone3 and one successful execve of /bin/true).
func runStorm(t *testing.T, e *testEnv, per int, flags ...string) (*cmdResult, *recording.Recording, string, int) {
	t.Helper()
	dir := t.TempDir()
	countFile, rec := filepath.Join(dir, "count.txt"), filepath.Join(dir, "rec.json")
	args := append(append([]string{"-c", "-w", rec}, flags...),
		"--", e.Workload("trust_storm"), strconv.Itoa(stormSpawners), strconv.Itoa(per), countFile)
	r := e.spawntrace(t, runOpts{timeout: 90 * time.Second}, args...)
	if r.status != 0 {
		t.Fatalf("the storm failed: %s", r)
	}
	b, err := os.ReadFile(countFile)
	if err != nil {
		t.Fatalf("the workload wrote no count: %v\n%s", err, r)
	}
	var spawners, performed, failed int
	if _, err := fmt.Sscanf(string(b), "spawners %d spawns %d failed %d", &spawners, &performed, &failed); err != nil {
		t.Fatalf("count file %q: %v", b, err)
	}
	if spawners != stormSpawners || failed != 0 || performed != stormSpawners*per {
		t.Fatalf("the workload says %q; want %d spawners, %d spawns, none failed", b, stormSpawners, stormSpawners*per)
	}
	return r, loadRecording(t, rec), rec, performed
}

// TestTrustSpawnStormNothingLost: 8 spawners on 2 cores, each posix_spawning
// /bin/true in a loop. At default settings every spawn and every exec the
// workload performed is in the recording, and nothing is lost.
func TestTrustSpawnStormNothingLost(t *testing.T) {
	e := setupEnv(t)
	r, rec, _, performed := runStorm(t, e, stormPer)
	t.Logf("%d spawns performed in %v under spawntrace", performed, r.elapsed.Round(time.Millisecond))

	// The table is aggregated in the kernel: exact whatever the ring buffer did.
	tab := checkCOutput(t, r)
	checkRow(t, "spawntrace -c", tab, "clone3", uint64(performed), 0)
	checkRow(t, "spawntrace -c", tab, "clone", stormSpawners, 0)
	checkRow(t, "spawntrace -c", tab, "execve", uint64(performed)+1, 0)
	if lost := lostEvents(tab.Rest); lost != 0 {
		t.Errorf("footer says %d events lost at default settings, want 0:\n%s", lost, tab.Rest)
	}
	if w := warnLost(string(r.stderr)); w >= 0 {
		t.Errorf("a lost-events warning at default settings (%d)", w)
	}

	// The recording: one event per spawn and per exec, none missing.
	if rec.Lost.Total() != 0 {
		t.Errorf("recording says lost %+v, want nothing", rec.Lost)
	}
	c := tally(rec)
	if got := c.ok[sysno.Clone3]; got != performed {
		t.Errorf("recording has %d clone3 spawns, the workload performed %d", got, performed)
	}
	if got := c.ok[sysno.Clone]; got != stormSpawners {
		t.Errorf("recording has %d clone spawns (the spawners' forks), want %d", got, stormSpawners)
	}
	if got := c.ok[sysno.Execve]; got != performed+1 {
		t.Errorf("recording has %d successful execve, want %d (%d spawns + the workload's own)", got, performed+1, performed)
	}
	if got := c.execNames["/bin/true"]; got != performed {
		t.Errorf("recording has %d execs of /bin/true, want %d", got, performed)
	}
	if n := len(c.failed); n != 0 {
		t.Errorf("recording has failed spawn calls: %v", c.failed)
	}
	if want := performed + stormSpawners + 1; c.exits != want {
		t.Errorf("recording has %d process exits, want %d", c.exits, want)
	}
}

// TestTrustSpawnStormLossCounted: the same storm through a one-page ring
// buffer overflows it. The loss is counted, shown in the -c footer, in the
// warning line, in report and in compare, and what was recorded plus what
// was lost covers what the workload performed.
func TestTrustSpawnStormLossCounted(t *testing.T) {
	e := setupEnv(t)
	ring := os.Getpagesize()
	r, rec, recPath, performed := runStorm(t, e, stormLossyPer, "--ring-bytes", strconv.Itoa(ring))

	tab := checkCOutput(t, r)
	// Still exact: the table does not go through the ring buffer.
	checkRow(t, "spawntrace -c", tab, "clone3", uint64(performed), 0)
	checkRow(t, "spawntrace -c", tab, "execve", uint64(performed)+1, 0)

	lost := rec.Lost.Total()
	if lost == 0 || rec.Lost.Events == 0 {
		t.Fatalf("a %d-byte ring buffer under %d spawns lost nothing: %+v\n%s", ring, performed, rec.Lost, r.stderr)
	}
	if got := lostEvents(tab.Rest); got != int64(lost) {
		t.Errorf("-c footer says %d lost, the recording %d:\n%s", got, lost, tab.Rest)
	}
	if got := warnLost(string(r.stderr)); got != int64(lost) {
		t.Errorf("warning line says %d lost (-1: no warning line), the recording %d:\n%s", got, lost, r.stderr)
	}

	c := tally(rec)
	spawns, execs := c.ok[sysno.Clone3], c.ok[sysno.Execve]
	t.Logf("%d spawns performed; recorded %d spawns, %d execs, %d exits; lost %+v",
		performed, spawns, execs, c.exits, rec.Lost)
	if uint64(spawns)+rec.Lost.Events < uint64(performed) {
		t.Errorf("%d spawns recorded + %d events lost < %d spawns performed: loss undercounted", spawns, rec.Lost.Events, performed)
	}
	if uint64(execs)+rec.Lost.Events < uint64(performed)+1 {
		t.Errorf("%d execs recorded + %d events lost < %d execs performed: loss undercounted", execs, rec.Lost.Events, performed+1)
	}
	procs := performed + stormSpawners + 1
	if uint64(c.exits)+rec.Lost.Events < uint64(procs) {
		t.Errorf("%d exits recorded + %d events lost < %d processes: loss undercounted", c.exits, rec.Lost.Events, procs)
	}
	// Nor overcounted: each process sends at most 5 events (spawn call,
	// fork, exec, execve, exit).
	if max := uint64(5 * procs); uint64(len(rec.Events))+rec.Lost.Events > max {
		t.Errorf("%d events recorded + %d lost > %d, the most %d processes can send: loss overcounted",
			len(rec.Events), rec.Lost.Events, max, procs)
	}
	if spawns > performed || execs > performed+1 {
		t.Errorf("more recorded than performed: %d spawns, %d execs", spawns, execs)
	}

	// report: the warning and the footer again, from the recording.
	rep := e.report(t, recPath)
	if got := warnLost(string(rep.stdout) + string(rep.stderr)); got != int64(lost) {
		t.Errorf("report: warning says %d lost (-1: none), want %d:\nstdout:\n%s\nstderr:\n%s", got, lost, rep.stdout, rep.stderr)
	}
	if got := lostEvents(string(rep.stdout)); got != int64(lost) {
		t.Errorf("report: footer says %d lost (-1: none), want %d:\n%s", got, lost, rep.stdout)
	}

	// compare with a lossless recording of a few spawns: the loss is named.
	clean := filepath.Join(t.TempDir(), "clean.json")
	if r := e.spawntrace(t, runOpts{}, "-c", "-w", clean, "--", e.Workload("posix_spawn"), "20"); r.status != 0 {
		t.Fatalf("%s", r)
	}
	cmp := e.spawntrace(t, runOpts{}, "compare", "--names", "clean,lossy", clean, recPath)
	if cmp.status != 0 {
		t.Fatalf("compare: %s", cmp)
	}
	if !regexp.MustCompile(`\b`+strconv.FormatUint(rec.Lost.Events, 10)+`\b`).Match(cmp.stdout) ||
		!strings.Contains(strings.ToLower(string(cmp.stdout)), "lost") {
		t.Errorf("compare does not show the %d lost events of the lossy side:\n%s", rec.Lost.Events, cmp.stdout)
	}
}

// massExitSleepers is the mass exit: 25 000 processes killed in
// one kill(2), their exit records in the ring buffer at once.
const massExitSleepers = 25000

// TestTrustMassExitNothingLost: 25 000 sleepers killed at once under the
// default ring buffer. Every exit reaches the recording and nothing is
// lost: an exit's record is small (bpf/spawntrace.h sizes records by kind),
// where one record the size of a spawn's (~2 KB: strings and a stack) each
// lost 14 477 of them.
func TestTrustMassExitNothingLost(t *testing.T) {
	e := setupEnv(t)
	if b, err := os.ReadFile("/proc/sys/kernel/pid_max"); err == nil {
		if max, _ := strconv.Atoi(strings.TrimSpace(string(b))); max > 0 && max < massExitSleepers+2000 {
			t.Fatalf("pid_max %d leaves no room for %d sleepers", max, massExitSleepers)
		}
	}
	// One mass exit at a time on the machine: two test binaries running it
	// at once would need 50 000 pids (pid_max is often 32 768), and starve
	// every other test of them meanwhile.
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "spawntrace-mass-exit.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ready, rec := filepath.Join(dir, "ready"), filepath.Join(dir, "rec.json")
	r := e.start(t, 3*time.Minute, "-c", "-w", rec, "--",
		e.Workload("trust_mass_exit"), strconv.Itoa(massExitSleepers), ready)

	var group, sleepers int
	deadline := time.Now().Add(2 * time.Minute)
	for {
		b, err := os.ReadFile(ready)
		if err == nil {
			if _, err := fmt.Sscanf(string(b), "pgid %d sleepers %d", &group, &sleepers); err != nil {
				t.Fatalf("ready file %q: %v", b, err)
			}
			break
		}
		if r.ended(0) || time.Now().After(deadline) {
			res := r.wait(t)
			t.Fatalf("the sleepers were not all forked: %v\n%s", err, res)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Cleanup(func() { syscall.Kill(-group, syscall.SIGKILL) })
	if err := syscall.Kill(-group, syscall.SIGKILL); err != nil {
		t.Fatalf("killing the sleepers' group %d: %v", group, err)
	}
	res := r.wait(t)
	if res.status != 0 {
		done, _ := os.ReadFile(ready + ".done")
		t.Fatalf("the workload failed (%q): %s", done, res)
	}

	got := loadRecording(t, rec)
	var killed int
	for i := range got.Events {
		ev := &got.Events[i]
		if ev.Kind == tracer.KindExit && ev.GroupDead && ev.ExitCode == int32(syscall.SIGKILL) {
			killed++
		}
	}
	t.Logf("%d sleepers killed at once: %d exits by SIGKILL recorded, lost %+v", sleepers, killed, got.Lost)
	if got.Lost.Total() != 0 {
		t.Errorf("recording says lost %+v at the default ring size, want nothing", got.Lost)
	}
	if killed != massExitSleepers {
		t.Errorf("recording has %d exits by SIGKILL, want %d", killed, massExitSleepers)
	}
	if w := warnLost(string(res.stderr)); w >= 0 {
		t.Errorf("a lost-events warning (%d):\n%s", w, clip(res.stderr, 2000))
	}
}
