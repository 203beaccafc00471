package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/analyze/summary"
	"github.com/spawntrace/spawntrace/cmd/internal/benchworker"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// termHostile is what a forged recording or a traced program puts in a
// string: a colour change and a screen clear (CSI), an OSC 8 link, an OSC
// 52 clipboard write, a carriage return, a newline forging spawntrace's
// own "lost events: 0" line, a right-to-left override, an 8-bit CSI as a
// UTF-8 C1 control and as a raw byte, a line separator.
const termHostile = "\x1b[31mred\x1b[2J\x1b]8;;https://evil.example/\x07link\x1b]8;;\x07" +
	"\x1b]52;c;cm0gLXJmIH4=\x07\rhidden\nspawntrace: lost events: 0\n\u202etxt.exe\u009b2J\x9b\u2028end"

// poisonStrings appends termHostile to every string v holds (fields,
// slices, pointers), but the recording's format name, which must stay
// for the file to load.
func poisonStrings(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			poisonStrings(v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if f := v.Type().Field(i); f.IsExported() && f.Name != "Format" {
				poisonStrings(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			poisonStrings(v.Index(i))
		}
	case reflect.String:
		if v.CanSet() {
			v.SetString(v.String() + termHostile)
		}
	}
}

// hostileRecording has spawns of each kind (fork-like with a copy, a PATH
// search failing in two directories, exec'd children with argv), every
// host fact, probes with and without reasons, spawners, a stack and a
// syscall table; every string in it ends in termHostile; it lost events,
// so that a forged "lost events: 0" line would be a lie.
func hostileRecording() *recording.Recording {
	rec := &recording.Recording{Version: "test", Command: []string{"./runner", "--jobs", "8"}, StartMonoNs: 1e9,
		Host: recording.Host{Hostname: "builder", KernelRelease: "6.1.0", Machine: "x86_64", CPUs: 2, MemBytes: 8 << 30,
			PageBytes: 4096, THPMode: "madvise", Distro: "Debian 12", CPUModel: "AMD EPYC", Virtualization: "kvm",
			Libc: &recording.Libc{Name: "glibc", Version: "2.17", Path: "/lib64/libc.so.6", Source: "mapped by runner"}},
		Probes: []tracer.Probe{{Name: "mmap_lock:copy-timing", Available: true}, {Name: "sched:sched_switch", Available: true},
			{Name: "syscalls:vfork", Reason: "tracepoint not found"}, {Name: "kprobe/dup_mmap"}},
		Spawners: []recording.ProcessInfo{{Pid: 10, Comm: "runner", RSSBytes: 1 << 30}},
		Stacks:   []recording.Stack{{}},
		Lost:     tracer.Lost{Events: 3},
	}
	t := rec.StartMonoNs
	for i := 0; i < 20; i++ {
		child := uint32(500 + i)
		parent := &tracer.ParentSize{RSSAnonBytes: 1 << 30, PgtablesBytes: 2 << 20, MapCount: 80}
		rec.Events = append(rec.Events,
			tracer.Event{Kind: tracer.KindSyscall, TimeNs: t, DurNs: 9_000_000, Pid: 10, Tid: 10, PPid: 1, Comm: "runner",
				Nr: sysno.Clone, Args: []uint64{0x01200011, 0}, Ret: int64(child), CopyNs: 8_000_000, Parent: parent},
			tracer.Event{Kind: tracer.KindFork, TimeNs: t + 1, Pid: 10, Tid: 10, Comm: "runner", ChildTid: child, ChildPid: child},
			tracer.Event{Kind: tracer.KindSyscall, TimeNs: t + 100_000, DurNs: 20_000, Pid: child, Tid: child, PPid: 10,
				Comm: "runner", Nr: sysno.Execve, Ret: -2, Filename: "/usr/local/bin/tool", Argv: []string{"tool", "-x"}, EnvCount: 30},
			tracer.Event{Kind: tracer.KindSyscall, TimeNs: t + 150_000, DurNs: 20_000, Pid: child, Tid: child, PPid: 10,
				Comm: "runner", Nr: sysno.Execve, Ret: -2, Filename: "/usr/bin/tool", Argv: []string{"tool", "-x"}, EnvCount: 30},
			tracer.Event{Kind: tracer.KindSyscall, TimeNs: t + 200_000, DurNs: 50_000, Pid: child, Tid: child, PPid: 10,
				Comm: "runner", Nr: sysno.Execve, Filename: "/bin/tool", Argv: []string{"tool", "-x"}, EnvCount: 30, TeardownNs: 2_000_000},
			tracer.Event{Kind: tracer.KindExec, TimeNs: t + 250_000, Pid: child, Tid: child, PPid: 10, Comm: "tool",
				Filename: "/bin/tool", Argv: []string{"tool", "-x"}, Argc: 2, EnvCount: 30, EnvBytes: 2000},
			tracer.Event{Kind: tracer.KindExit, TimeNs: t + 5_000_000, Pid: child, Tid: child, PPid: 10, Comm: "tool", GroupDead: true},
		)
		t += 10_000_000
	}
	rec.EndMonoNs = t + 1
	rec.Syscalls = []recording.SyscallStat{
		{Nr: sysno.Clone, Name: "clone", Calls: 20, TimeNs: 180_000_000},
		{Nr: sysno.Execve, Name: "execve", Calls: 60, Errors: 40, TimeNs: 1_800_000},
		{Nr: 999, Name: "mystery", Calls: 1, TimeNs: 10},
	}
	poisonStrings(reflect.ValueOf(rec))
	return rec
}

// termUnsafe says where text holds what a terminal would act on: a
// control byte other than a newline, a C1 control, a byte that is not
// UTF-8, a Unicode format character (bidi overrides) or a line or
// paragraph separator; "" when there is none.
func termUnsafe(text []byte) string {
	for i := 0; i < len(text); {
		r, n := utf8.DecodeRune(text[i:])
		bad := ""
		switch {
		case r == utf8.RuneError && n == 1:
			bad = "a byte that is not UTF-8"
		case r < ' ' && r != '\n', r == 0x7f:
			bad = "a control byte"
		case r >= 0x80 && r < 0xa0:
			bad = "a C1 control"
		case unicode.Is(unicode.Cf, r), unicode.Is(unicode.Zl, r), unicode.Is(unicode.Zp, r):
			bad = "a format or separator character"
		}
		if bad != "" {
			lo := bytes.LastIndexByte(text[:i], '\n') + 1
			return bad + " in " + strconvQuote(text[lo:min(i+40, len(text))])
		}
		i += n
	}
	return ""
}

func strconvQuote(b []byte) string { return strings.TrimSpace(string(appendQuoted(nil, b))) }

func appendQuoted(dst, b []byte) []byte {
	for _, c := range b {
		if c < ' ' || c >= 0x7f {
			dst = append(dst, '\\', 'x', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
		} else {
			dst = append(dst, c)
		}
	}
	return dst
}

// TestHostileStringsEscaped: a recording whose every string carries
// escape sequences, a carriage return, a newline forging a line, bidi
// overrides and C1 controls reaches no terminal raw, in any text output of
// report and compare (and their stderr), nor in the -o event lines; and no
// line says "lost events: 0" of a recording that lost events.
func TestHostileStringsEscaped(t *testing.T) {
	dir := t.TempDir()
	path := saveRec(t, dir, "hostile.json.gz", hostileRecording())
	// Another command, so that compare's note quotes both, cut.
	other := hostileRecording()
	other.Command = append(other.Command, "--keep-going"+termHostile)
	otherPath := saveRec(t, dir, "other.strec", other)
	evFile := filepath.Join(dir, "events.txt")
	runs := [][]string{
		{"report", path},
		{"report", "-c", path},
		{"report", "-o", evFile, path},
		{"compare", path, path},
		{"compare", "--format", "markdown", path, path},
		{"compare", "--format", "json", path, path},
		{"compare", "--names", "a" + termHostile + ",b", path, path},
		{"compare", path, otherPath},
		{"compare", "--format", "markdown", path, otherPath},
		{"compare", "--format", "json", path, otherPath},
	}
	for _, args := range runs {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, &out, &errb)
		if code != 0 {
			t.Errorf("%v: exit %d\n%s", args[:len(args)-1], code, errb.String())
			continue
		}
		for _, s := range []struct {
			name string
			text []byte
		}{{"stdout", out.Bytes()}, {"stderr", errb.Bytes()}} {
			if bad := termUnsafe(s.text); bad != "" {
				t.Errorf("%v: %s holds %s", args[:len(args)-1], s.name, bad)
			}
			for _, line := range strings.Split(string(s.text), "\n") {
				// spawntrace's own lines start in the first column;
				// wrapped text is indented.
				if strings.HasPrefix(line, "spawntrace: lost events: 0") {
					t.Errorf("%v: %s has a forged line %q", args[:len(args)-1], s.name, line)
				}
			}
		}
		if args[0] == "report" && len(args) == 2 && !strings.Contains(errb.String()+out.String(), `\x1b[31mred`) {
			t.Errorf("report: the hostile strings are not shown escaped anywhere (is the test reaching the writers?)\n%s", out.String())
		}
	}
	b, err := os.ReadFile(evFile)
	if err != nil {
		t.Fatal(err)
	}
	if bad := termUnsafe(b); bad != "" {
		t.Errorf("report -o: event lines hold %s", bad)
	}
}

// TestBenchViewHostile: what bench prints of a run (the host line, the
// class table, the anatomy) escapes the host's strings as report does: a
// hostname or kernel release is the host's to choose.
func TestBenchViewHostile(t *testing.T) {
	rec := hostileRecording()
	sum, err := summary.Summarize(rec)
	if err != nil {
		t.Fatal(err)
	}
	defer sum.Close()
	var out bytes.Buffer
	p := benchworker.Params{N: 20, RSSBytes: []uint64{0, 1 << 30}, EnvVars: []int{20}, Methods: []string{"fork"}}
	if err := writeBench(&out, rec, sum, p); err != nil {
		t.Fatal(err)
	}
	if bad := termUnsafe(out.Bytes()); bad != "" {
		t.Errorf("bench: stdout holds %s", bad)
	}
	first, _, _ := strings.Cut(out.String(), "\n")
	if !strings.HasPrefix(first, `spawntrace bench on builder\x1b[31mred`) || !strings.Contains(first, `Linux 6.1.0\x1b[31mred`) {
		t.Errorf("bench: first line %q: want the hostname and kernel release escaped", first)
	}
}
