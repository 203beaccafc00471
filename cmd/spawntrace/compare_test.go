package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// cmpRecording is a small recording: n posix_spawn-like (or fork) spawns.
func cmpRecording(n int, fork bool) *recording.Recording {
	rec := &recording.Recording{Version: "test", Command: []string{"./bench"}, StartMonoNs: 1e9,
		Host:   recording.Host{KernelRelease: "6.1.0", Libc: &recording.Libc{Name: "glibc", Version: "2.36"}},
		Probes: []tracer.Probe{{Name: "mmap_lock:copy-timing", Available: true}, {Name: "sched:sched_switch", Available: true}}}
	t := rec.StartMonoNs
	for i := 0; i < n; i++ {
		child := uint32(500 + i)
		ev := tracer.Event{Kind: tracer.KindSyscall, TimeNs: t, DurNs: 100_000, Pid: 10, Tid: 10, Comm: "bench", Ret: int64(child)}
		if fork {
			ev.Nr, ev.Args, ev.CopyNs = sysno.Clone, []uint64{0x01200011, 0}, 60_000
		} else {
			ev.Nr, ev.Args, ev.BlockedNs = sysno.Clone3, []uint64{0, 88}, 80_000
			ev.Clone3 = &tracer.Clone3Args{Flags: 0x4100, ExitSignal: 17, Stack: 0x7000}
		}
		rec.Events = append(rec.Events, ev, tracer.Event{Kind: tracer.KindSyscall, TimeNs: t + 120_000, DurNs: 50_000,
			Pid: child, Tid: child, Nr: sysno.Execve, Filename: "/bin/true", EnvCount: 20})
		t += 200_000
	}
	rec.EndMonoNs = t + 1
	rec.Syscalls = []recording.SyscallStat{{Nr: sysno.Execve, Name: "execve", Calls: uint64(n), TimeNs: uint64(n) * 50_000}}
	return rec
}

func saveRec(t *testing.T, dir, name string, rec *recording.Recording) string {
	t.Helper()
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := recording.Save(f, recording.EncodingFor(p), strings.HasSuffix(p, ".gz"), rec); err != nil {
		t.Fatal(err)
	}
	return p
}

func runCmp(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), append([]string{"compare"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// TestCompareCommand compares a JSON recording with a gzipped binary one.
func TestCompareCommand(t *testing.T) {
	dir := t.TempDir()
	a := saveRec(t, dir, "laptop.json", cmpRecording(5, false))
	b := saveRec(t, dir, "cluster.strec.gz", cmpRecording(5, true))
	code, out, errs := runCmp(a, b)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"Comparing A = laptop with B = cluster", "cluster forks where laptop uses vfork",
		"clone(SIGCHLD) -> execve"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	code, out, _ = runCmp("--names", "x,y", "--format", "markdown", a, b)
	if code != 0 || !strings.HasPrefix(out, "# spawntrace compare: x (A) and y (B)") {
		t.Errorf("markdown: exit %d\n%s", code, out)
	}
	code, out, _ = runCmp("-f", "json", a, b)
	if code != 0 || !strings.Contains(out, `"format": "spawntrace-comparison"`) {
		t.Errorf("json: exit %d\n%s", code, out)
	}
	outFile := filepath.Join(dir, "cmp.txt")
	if code, _, errs := runCmp("-o", outFile, a, b); code != 0 {
		t.Errorf("-o: exit %d: %s", code, errs)
	}
	if b, err := os.ReadFile(outFile); err != nil || !strings.Contains(string(b), "Findings") {
		t.Errorf("-o file: %v\n%s", err, b)
	}
}

func TestCompareBadInput(t *testing.T) {
	dir := t.TempDir()
	good := saveRec(t, dir, "good.json", cmpRecording(3, false))
	full, _ := os.ReadFile(good)
	truncated := filepath.Join(dir, "truncated.json")
	os.WriteFile(truncated, full[:len(full)/2], 0o644)
	newer := filepath.Join(dir, "newer.json")
	os.WriteFile(newer, []byte(`{"format":"spawntrace-recording","schema":99}`), 0o644)
	garbage := filepath.Join(dir, "garbage.json")
	os.WriteFile(garbage, []byte("\x00\x01 not json at all\n{{{"), 0o644)
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"truncated", []string{good, truncated}, exitFailure, "truncated recording"},
		{"newer schema", []string{newer, good}, exitFailure, "schema 99 is newer"},
		{"garbage", []string{good, garbage}, exitFailure, "not a spawntrace recording"},
		{"missing", []string{good, filepath.Join(dir, "nope.json")}, exitFailure, "no such file"},
		{"one file", []string{good}, exitUsage, "compare needs two recordings (or three or more, a fleet), got 1 " +
			"(usage: spawntrace compare [flags] A.rec B.rec; spawntrace compare -h for more)"},
		{"no file", nil, exitUsage, "compare needs two recordings (or three or more, a fleet), got 0"},
		{"bad format", []string{"--format", "yaml", good, good}, exitUsage, "must be text, json or markdown"},
		{"bad names", []string{"--names", "onlyone", good, good}, exitUsage, "two names"},
		{"same names", []string{"--names", "a,a", good, good}, exitUsage, "must differ"},
		{"bad flag", []string{"--bogus", good, good}, exitUsage, "flag provided but not defined"},
	} {
		code, out, errs := runCmp(c.args...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit %d and %q", c.name, code, errs, c.code, c.want)
		}
		if c.code != 0 && (strings.Count(strings.TrimSpace(errs), "\n") != 0 || out != "") {
			t.Errorf("%s: want one line on stderr and nothing on stdout, got %q / %q", c.name, errs, out)
		}
	}
}

func TestCompareNoSpawnsAndDifferentWorkloads(t *testing.T) {
	dir := t.TempDir()
	empty := cmpRecording(0, false)
	empty.Command = []string{"/bin/true"}
	a := saveRec(t, dir, "a.json", cmpRecording(4, false))
	b := saveRec(t, dir, "b.json", empty)
	code, out, errs := runCmp(a, b)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"note: b has no spawns", "note: different workloads", "Host facts"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The same name on both sides: A and B.
	code, out, _ = runCmp(a, a)
	if code != 0 || !strings.Contains(out, "Comparing A = A with B = B") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

func TestComparePprof(t *testing.T) {
	dir := t.TempDir()
	a := saveRec(t, dir, "a.json", cmpRecording(3, false))
	b := saveRec(t, dir, "b.json", cmpRecording(3, true))
	prof := filepath.Join(dir, "prof")
	code, _, errs := runCmp("--pprof", prof, a, b)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, f := range []string{"A-spawns.pb.gz", "B-spawns.pb.gz"} {
		if st, err := os.Stat(filepath.Join(prof, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if !strings.Contains(errs, "go tool pprof -diff_base") {
		t.Errorf("stderr lacks the pprof command: %s", errs)
	}
}

func TestCompareNames(t *testing.T) {
	for _, c := range []struct{ flag, a, b, wantA, wantB string }{
		{"", "/x/laptop.json", "/y/cluster.json.gz", "laptop", "cluster"},
		{"", "/x/run.json", "/y/run.json", "A", "B"},
		{" fast , slow ", "a", "b", "fast", "slow"},
	} {
		a, b, err := compareNames(c.flag, c.a, c.b)
		if err != nil || a != c.wantA || b != c.wantB {
			t.Errorf("compareNames(%q, %q, %q) = %q, %q, %v", c.flag, c.a, c.b, a, b, err)
		}
	}
}
