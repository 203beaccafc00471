//go:build integration && linux

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/recording"
)

// sleeper makes N nanosleeps of US µs, 500 failing fchdir calls, 300
// signals to itself (300 rt_sigreturn, whose exit sees orig_ax -1), then
// 20 clock_nanosleeps of 1 ms,
// each timed on its own from user space (CLOCK_MONOTONIC around the
// syscall, with a timer slack of 1 ns), and writes the two sums in ns to
// the file named by its first argument: the exact time in each call, plus
// the few hundred ns of the way in and out that the kernel side does not
// see.
const sleeper = `#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long long now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void on_usr1(int sig) { (void)sig; }

int main(int argc, char **argv) {
	if (argc != 4)
		return 2;
	long n = atol(argv[2]), us = atol(argv[3]);
	prctl(PR_SET_TIMERSLACK, 1);
	long long sleeps = 0, clocks = 0;
	for (long i = 0; i < n; i++) {
		struct timespec d = {0, us * 1000};
		long long t = now();
		syscall(SYS_nanosleep, &d, NULL);
		sleeps += now() - t;
	}
	for (int i = 0; i < 500; i++)
		syscall(SYS_fchdir, -1); /* EBADF */
	signal(SIGUSR1, on_usr1);
	for (int i = 0; i < 300; i++)
		raise(SIGUSR1); /* each handler returns through rt_sigreturn */
	for (int i = 0; i < 20; i++) {
		struct timespec d = {0, 1000000};
		long long t = now();
		syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &d, NULL);
		clocks += now() - t;
	}
	FILE *f = fopen(argv[1], "w");
	if (!f)
		return 1;
	fprintf(f, "%lld %lld\n", sleeps, clocks);
	return fclose(f) ? 1 : 0;
}
`

// TestSyscallTimeEstimate: past a syscall's first calls on a CPU the
// kernel side times a random 1 in 8 (bpf/spawntrace.h), and the table's
// time is then an estimate, which the recording and the -c notes say.
// On calls whose durations the workload measures itself, the estimate
// lies close to the measured time (median of five runs: a stall of the
// loaded machine in one sampled call weighs eight times), the calls are
// exact (errors too), and a syscall with fewer calls is timed in full: never more than
// the workload measured around the same calls, and not an estimate.
func TestSyscallTimeEstimate(t *testing.T) {
	e := setupEnv(t)
	dir := openDir(t)
	prog := compileC(t, dir, "sleeper", sleeper)
	const calls, us, runs = 1000, 200, 5
	var errs []float64
	for run := 0; run < runs; run++ {
		out := filepath.Join(dir, fmt.Sprintf("own.%d", run))
		rec := filepath.Join(dir, fmt.Sprintf("rec.%d.json", run))
		r := e.spawntrace(t, runOpts{}, "-c", "-w", rec, "--", prog, out, strconv.Itoa(calls), strconv.Itoa(us))
		if r.status != 0 {
			t.Fatalf("%s", r)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		var ownSleeps, ownClocks uint64
		if _, err := fmt.Sscan(string(b), &ownSleeps, &ownClocks); err != nil {
			t.Fatalf("the workload's own times %q: %v", b, err)
		}
		loaded, err := recording.Load(rec)
		if err != nil {
			t.Fatal(err)
		}
		row := func(name string) recording.SyscallStat {
			i := slices.IndexFunc(loaded.Syscalls, func(s recording.SyscallStat) bool { return s.Name == name })
			if i < 0 {
				t.Fatalf("no %s row in the recording: %+v", name, loaded.Syscalls)
			}
			return loaded.Syscalls[i]
		}
		sleeps, clocks, fchdirs, sigreturns := row("nanosleep"), row("clock_nanosleep"), row("fchdir"), row("rt_sigreturn")
		if sleeps.Calls != calls || sleeps.Errors != 0 || clocks.Calls != 20 || fchdirs.Calls != 500 || fchdirs.Errors != 500 || sigreturns.Calls != 300 {
			t.Fatalf("run %d: %d nanosleep (%d errors), %d clock_nanosleep, %d fchdir (%d errors) and %d rt_sigreturn calls, want %d (0), 20, 500 (500) and 300",
				run, sleeps.Calls, sleeps.Errors, clocks.Calls, fchdirs.Calls, fchdirs.Errors, sigreturns.Calls, calls)
		}
		// 1000 calls: 64 timed in full on each CPU the workload ran on,
		// then ~1 in 8 of the rest (~110, give or take 10).
		if !sleeps.TimeEstimated() || sleeps.TimedCalls < 64+(calls-128)/16 || sleeps.TimedCalls > 128+calls/4 {
			t.Errorf("run %d: nanosleep: %d of %d calls timed, estimated: %v; want 64-128 timed in full, then 1 in 8",
				run, sleeps.TimedCalls, sleeps.Calls, sleeps.TimeEstimated())
		}
		if clocks.TimeEstimated() || clocks.TimeNs == 0 || clocks.TimeNs > ownClocks {
			t.Errorf("run %d: clock_nanosleep, 20 calls timed in full: %d ns (estimated: %v), the workload measured %d ns around them",
				run, clocks.TimeNs, clocks.TimeEstimated(), ownClocks)
		}
		rel := float64(sleeps.TimeNs)/float64(ownSleeps) - 1
		t.Logf("run %d: nanosleep estimated %d ns from %d of %d calls, measured %d ns (%+.1f%%)",
			run, sleeps.TimeNs, sleeps.TimedCalls, sleeps.Calls, ownSleeps, rel*100)
		errs = append(errs, rel)
		if run == 0 {
			if !strings.Contains(string(r.stderr), "spawntrace: estimated: ") {
				t.Errorf("the -c notes do not say the time is estimated:\n%s", r.stderr)
			}
		}
	}
	slices.Sort(errs)
	if med := errs[runs/2]; med < -0.15 || med > 0.15 {
		t.Errorf("nanosleep's estimated time is %+.1f%% off what the workload measured (median of %.3f)", med*100, errs)
	}
}
