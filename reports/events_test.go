package reports

import (
	"bytes"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spawntrace/spawntrace/analyze/recording"
	"github.com/spawntrace/spawntrace/tracer"
	"github.com/spawntrace/spawntrace/tracer/sysno"
)

// The recordings here pretend that CLOCK_MONOTONIC read monoBase at
// midnight UTC of the day the strace runs were made.
const monoBase = 1_000_000_000_000

var midnight = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

// clock is the monotonic time of a time of day "15:04:05.000000" plus ns.
func clock(t *testing.T, hms string, ns uint64) uint64 {
	t.Helper()
	d, err := time.Parse("15:04:05.000000", hms)
	if err != nil {
		t.Fatal(err)
	}
	sinceMidnight := d.Sub(time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC))
	return monoBase + uint64(sinceMidnight) + ns
}

func newRecording(evs []tracer.Event) *recording.Recording {
	return &recording.Recording{
		Format:       recording.FormatName,
		Schema:       recording.SchemaVersion,
		MonoToUnixNs: midnight.UnixNano() - monoBase,
		Events:       evs,
	}
}

// realEvents are the spawn calls and exits of two real runs,
//
//	strace -f -tt -T -o out ./execs   and   strace -f -tt -T -o out ./spawn
//
// (testdata/cprog), whose lines are in testdata/strace_ftt_events.txt. Each
// time has sub-microsecond nanoseconds added, which strace's output drops.
func realEvents(t *testing.T) []tracer.Event {
	call := func(tid uint32, hms string, durNs uint64, nr int, ret int64, args ...uint64) tracer.Event {
		ev := sys(tid, nr, ret, args...)
		ev.TimeNs, ev.DurNs = clock(t, hms, 789), durNs+999
		return ev
	}
	exec := func(ev tracer.Event, name string, argv []string, envc int) tracer.Event {
		ev.Filename, ev.Argv, ev.EnvCount = name, argv, envc
		return ev
	}
	exit := func(tid uint32, hms string, status int32, group bool) tracer.Event {
		return tracer.Event{Kind: tracer.KindExit, Tid: tid, Pid: tid, TimeNs: clock(t, hms, 1),
			ExitCode: status, GroupDead: group}
	}
	const fork = 0x01200011 // CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD
	pair := call(8857, "19:55:26.924340", 90_000, sysno.Socketpair, 0, 1, 0x80005, 0, 0x7ffda36768b0)
	pair.Fds = []int32{3, 4}
	thread := call(8857, "19:55:26.926767", 172_000, sysno.Clone3, 8862, 0x7ffda3676800, 88)
	thread.Clone3 = &tracer.Clone3Args{Flags: 0x3d0f00, ChildTid: 0x7f9f767bb990, ParentTid: 0x7f9f767bb990,
		Stack: 0x7f9f75fbb000, StackSize: 0x7fff80, TLS: 0x7f9f767bb6c0}
	return []tracer.Event{
		call(8835, "19:55:26.670065", 200_000, sysno.Clone, 8836, fork, 0, 0, 0x7f845d5bea10, 0),
		exec(call(8836, "19:55:26.670528", 215_000, sysno.Execve, 0, 0x4a2004, 0x7ffe36624b40, 0x7ffe36624b20),
			"/bin/true", []string{"/bin/echo", "tab\there", "nl\nx", "q\"b\\s", "\0017x", "\001x", "\377\200", "\033[1m"}, 1),
		exit(8836, "19:55:26.672696", 0, true),
		call(8835, "19:55:26.719706", 1_502_000, sysno.Clone, 8839, fork, 0, 0, 0x7f845d5bea10, 0),
		exec(call(8839, "19:55:26.721957", 1_045_000, sysno.Execve, -2, 0x4a2010, 0x7ffe36624d60, 0x7ffe36624d78),
			"/nonexistent", []string{"x"}, 35),
		exit(8839, "19:55:26.724281", 127<<8, true),
		exec(call(8849, "19:55:26.780043", 113_000, sysno.Execveat, -2, 0xffffffffffffff9c, 0x4a2010, 0x7ffe36624d60, 0x7ffe36624d78, 0),
			"/nonexistent", []string{"y"}, 35),
		call(8835, "19:55:26.820105", 368_000, sysno.Clone, 8852, fork, 0, 0, 0x7f845d5bea10, 0),
		exit(8852, "19:55:26.823845", 9, true),
		exit(8853, "19:55:26.838092", 11|0x80, true),
		exit(8854, "19:55:26.842304", 255<<8, true),
		exit(8835, "19:55:26.843280", 0, true),
		exec(call(8861, "19:55:26.915439", 79_000, sysno.Execve, -2, 0x55d0d8a1e004, 0x7ffda3676a00, 0x7ffda36769f8),
			"/usr/local/go/bin/true", []string{"true"}, 35),
		exec(call(8861, "19:55:26.915626", 75_000, sysno.Execve, -2, 0x55d0d8a1e004, 0x7ffda3676a00, 0x7ffda36769f8),
			"/root/go/bin/true", []string{"true"}, 35),
		pair,
		call(8857, "19:55:26.924863", 94_000, sysno.Socketpair, -95, 2, 1, 0, 0x7ffda36768b0),
		thread,
		exit(8862, "19:55:26.928007", 0, false),
		exit(8857, "19:55:26.928383", 0, true),
	}
}

// TestEventLinesMatchStrace: fed what strace saw, WriteEventLines prints
// what strace printed, byte for byte, whatever order the events come in,
// and without the fork and exec events the recorder also keeps.
func TestEventLinesMatchStrace(t *testing.T) {
	evs := realEvents(t)
	// Reverse, and mix in events that must not print.
	var mixed []tracer.Event
	for i := len(evs) - 1; i >= 0; i-- {
		mixed = append(mixed, evs[i])
		if evs[i].Nr == sysno.Clone {
			mixed = append(mixed, tracer.Event{Kind: tracer.KindFork, TimeNs: evs[i].TimeNs + 1, Tid: evs[i].Tid,
				ChildTid: uint32(evs[i].Ret), ChildPid: uint32(evs[i].Ret)})
		}
		if evs[i].Nr == sysno.Execve && evs[i].Ret == 0 {
			mixed = append(mixed, tracer.Event{Kind: tracer.KindExec, TimeNs: evs[i].TimeNs + 2, Tid: evs[i].Tid,
				Filename: evs[i].Filename})
		}
	}
	var buf bytes.Buffer
	if err := writeEventLines(&buf, newRecording(mixed), EventOptions{Stamp: StampMicros, Durations: true, loc: time.UTC}); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/strace_ftt_events.txt")
	if err != nil {
		t.Fatal(err)
	}
	if buf.String() != string(want) {
		t.Errorf("got:\n%s\nwant (strace's):\n%s", buf.Bytes(), want)
	}
}

// TestEventLinesGolden covers what the real runs did not: a vfork-like
// spawn whose child execs inside the parent's call (strace splits the
// parent's line; spawntrace prints it whole, at its entry), equal
// timestamps, a six-digit tid, a thread's exit, and durations over a second.
func TestEventLinesGolden(t *testing.T) {
	at := func(hms string) uint64 { return clock(t, hms, 0) }
	spawn := sys(123456, sysno.Clone3, 123460, 0x7ffc1000, 88)
	spawn.TimeNs, spawn.DurNs = at("23:59:59.999999"), 1_234_567_891
	spawn.Clone3 = &tracer.Clone3Args{Flags: 0x4100, ExitSignal: 17, Stack: 0x7f0000001000, StackSize: 0x9000}
	walk := sys(123460, sysno.Execve, -2, 0x7f00000020a0, 0x7ffc2000, 0x7ffc3000)
	walk.TimeNs, walk.DurNs = at("23:59:59.999999")+500, 60_000
	walk.Filename, walk.Argv, walk.EnvCount = "/usr/local/bin/sleep", []string{"sleep", "1"}, 200
	ok := walk
	ok.Ret, ok.TimeNs, ok.Filename = 0, at("00:00:00.000100")+86_400e9, "/usr/bin/sleep"
	vf := sys(123456, sysno.Vfork, 123470)
	vf.TimeNs, vf.DurNs = ok.TimeNs, 1_000
	evs := []tracer.Event{
		{Kind: tracer.KindExit, Tid: 123461, Pid: 123456, TimeNs: ok.TimeNs + 5e9, ExitCode: 0},
		{Kind: tracer.KindExit, Tid: 123460, Pid: 123460, TimeNs: ok.TimeNs + 1e9, ExitCode: 0, GroupDead: true},
		// A leader killed by its thread 123462's execve.
		{Kind: tracer.KindExit, Tid: 123456, Pid: 123456, TimeNs: ok.TimeNs + 6e9, ExitCode: 9, SupersededBy: 123462},
		ok, vf, walk, spawn,
	}
	var buf bytes.Buffer
	if err := writeEventLines(&buf, newRecording(evs), EventOptions{Stamp: StampMicros, Durations: true, loc: time.UTC}); err != nil {
		t.Fatal(err)
	}
	golden(t, "events.golden", buf.Bytes())
}

func TestEventLinesWriteError(t *testing.T) {
	err := WriteEventLines(failWriter{}, newRecording(realEvents(t)))
	if !errors.Is(err, errFull) {
		t.Errorf("WriteEventLines to a failing writer returned %v, want %v", err, errFull)
	}
	// An empty recording writes nothing and so cannot fail.
	if err := WriteEventLines(failWriter{}, newRecording(nil)); err != nil {
		t.Errorf("WriteEventLines of nothing: %v", err)
	}
}

// TestEventOptions: -t, -ttt, no stamp, no -T, -s and -e status=failed
// shape each line as strace's flags do.
func TestEventOptions(t *testing.T) {
	for _, c := range []struct {
		opts EventOptions
		re   string
	}{
		{EventOptions{Stamp: StampSeconds}, `^[0-9]+ +[0-9]{2}:[0-9]{2}:[0-9]{2} [^<]*$`},
		{EventOptions{Stamp: StampEpoch, Durations: true}, `^[0-9]+ +[0-9]{10}\.[0-9]{6} .*( <[0-9]+\.[0-9]{6}>| \+\+\+)$`},
		{EventOptions{Durations: true}, `^[0-9]+ +([a-z]|\+\+\+).*( <[0-9]+\.[0-9]{6}>| \+\+\+)$`},
		{EventOptions{FailedOnly: true}, `^[0-9]+ +(\+\+\+ .*|.* = -1 E[A-Z]+ .*)$`},
	} {
		var buf bytes.Buffer
		c.opts.loc = time.UTC
		if err := writeEventLines(&buf, newRecording(realEvents(t)), c.opts); err != nil {
			t.Fatal(err)
		}
		re := regexp.MustCompile(c.re)
		for _, l := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
			if !re.MatchString(l) {
				t.Errorf("%+v: line %q does not match %s", c.opts, l, c.re)
				break
			}
		}
	}
}

// TestEventOptionsStrlen: -s 4 shows 4 bytes of each argv element and 4
// elements, as strace's printargv and printstr.
func TestEventOptionsStrlen(t *testing.T) {
	var buf bytes.Buffer
	if err := writeEventLines(&buf, newRecording(realEvents(t)), EventOptions{Strlen: 4, loc: time.UTC}); err != nil {
		t.Fatal(err)
	}
	argvRe := regexp.MustCompile(`, (\[.*\]), `)
	long := regexp.MustCompile(`"[A-Za-z0-9/._-]{5,}"`)
	seen := 0
	for _, l := range strings.Split(buf.String(), "\n") {
		m := argvRe.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		seen++
		if long.MatchString(m[1]) {
			t.Errorf("-s 4: argv %s", m[1])
		}
	}
	if seen == 0 {
		t.Fatalf("no execve lines:\n%s", buf.String())
	}
}
